"""Unit tests of provisioner.compute: the libvirt tests need libvirt-python (the dev extra)."""

from __future__ import annotations

from tests.support.libvirtd import libvirt_python_missing

collect_ignore_glob = ["test_libvirt_*.py"] if libvirt_python_missing() else []
