"""Fixtures of the compute end-to-end tests: a hand-started libvirtd and the tiny guest image."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.guest import GuestImage, build_guest, build_template
from tests.support.libvirtd import libvirt_python_missing, libvirtd

# Without libvirt-python these modules cannot even be imported: skip them (a failure under make test).
collect_ignore_glob = ["test_libvirt_*.py"] if libvirt_python_missing() else []

__all__ = ["guest_image", "guest_template", "libvirtd"]


@pytest.fixture(scope="session")
def guest_image(tmp_path_factory: pytest.TempPathFactory) -> GuestImage:
    """Kernel and initramfs of the tiny guest, built once per run."""
    return build_guest(tmp_path_factory.mktemp("guest"))


@pytest.fixture(scope="session")
def guest_template(guest_image: GuestImage, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bootable qcow2 template disk of the tiny guest (syslinux on FAT), built once per run."""
    return build_template(guest_image, tmp_path_factory.mktemp("template") / "tiny-template.qcow2")
