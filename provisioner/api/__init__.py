"""The CloudStack API protocol layer: signing, parameters, envelopes, the command registry and the app.

Entry point: :func:`provisioner.api.app.create_app`; the services implement
:class:`provisioner.api.backend.ApiBackend`; commands register with :func:`provisioner.api.registry.api_command`.
"""
