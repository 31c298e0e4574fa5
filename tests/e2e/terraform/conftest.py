"""Fixtures of the Terraform end-to-end test: the compute tier's libvirtd, tiny guest and template, and NFS."""

from __future__ import annotations

from tests.e2e.compute.conftest import guest_image, guest_template, libvirtd
from tests.support.nfs import nfs_server

__all__ = ["guest_image", "guest_template", "libvirtd", "nfs_server"]
