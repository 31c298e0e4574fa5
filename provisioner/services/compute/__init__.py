"""Compute services: VM and volume persistence, the allocator, IP and MAC management.

Importing this package registers the ``VirtualMachine`` reconciler with the jobs service
(:mod:`.recovery`), so a server that serves compute commands recovers VMs after a crash.
"""

from provisioner.services.compute import recovery as recovery
