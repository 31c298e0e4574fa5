"""Volume snapshots (``createSnapshot``, ``listSnapshots``, ``deleteSnapshot``, ``revertSnapshot``) and VM
snapshots (``createVMSnapshot``, ``listVMSnapshot``, ``revertToVMSnapshot``, ``deleteVMSnapshot``)."""
