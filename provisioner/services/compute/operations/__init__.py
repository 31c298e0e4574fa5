"""VM operations: power-state sync with the hypervisors, maintenance evacuation, migration and scaling.

Builds on the allocator and the transitions of :mod:`provisioner.services.compute`; every hypervisor call
goes through :func:`~provisioner.services.compute.host_drivers.open_host_driver`, with no database
transaction open while it runs.
"""
