"""Fixtures of the storage integration tests: real NFS (ganesha) and iSCSI (tgt) servers on 127.0.0.1."""

from tests.support.iscsi import iscsi_target
from tests.support.nfs import nfs_server

__all__ = ["iscsi_target", "nfs_server"]
