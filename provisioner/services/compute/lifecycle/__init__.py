"""The VM lifecycle behind the API: deploy, start, stop, reboot, destroy, recover, expunge, list, update.

Modules: :mod:`.deploy` (the create step), :mod:`.power` (start/stop/reboot through the host's driver),
:mod:`.expunge` (destroy/recover/expunge and the background expunger), :mod:`.changes` (record updates),
:mod:`.views` (``listVirtualMachines``), :mod:`.service` (what the commands call). Importing the package
registers the ``UserVm`` tag type and the ``VirtualMachine`` id resolver.
"""

from provisioner.services.compute.lifecycle import registration

__all__ = ["registration"]
