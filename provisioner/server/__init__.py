"""The management server: ``DatabaseBackend`` over the services, ``build_server`` and its lifecycle.

Start it with ``provisioner serve``; see :mod:`provisioner.server.app`.
"""
