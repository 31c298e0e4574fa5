"""NFS primary storage and image stores, through a kernel mount or in user space (qemu-img, libnfs, RPC)."""

from provisioner.storage.drivers.nfs.driver import NfsSettings, NfsStorageDriver

__all__ = ["NfsSettings", "NfsStorageDriver"]
