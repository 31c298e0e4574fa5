"""Storage: the driver contract, drivers for NFS, iSCSI, FC and local storage, and the image copy engine."""
