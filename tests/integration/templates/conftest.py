"""Fixtures of the template integration tests: a real NFS server (ganesha) on 127.0.0.1."""

from tests.support.nfs import nfs_server

__all__ = ["nfs_server"]
