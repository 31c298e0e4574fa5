"""Infrastructure services: zones, pods, clusters, hosts, storage, physical networks, offerings, capacity.

Every module holds plain functions over a SQLAlchemy ``Connection`` and a
:class:`~provisioner.services.principal.Caller`. They return dicts keyed by CloudStack's wire names
(``id`` is the UUID, ``zoneid``, ``zonename``...), so an API command only passes them on.
Lists return ``(rows, total)`` and cost a fixed number of statements whatever the page size.
"""
