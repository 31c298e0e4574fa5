"""Fixtures of the compute end-to-end tests: a hand-started libvirtd and the tiny guest image."""

from __future__ import annotations

import pytest

from tests.support.guest import GuestImage, build_guest
from tests.support.libvirtd import libvirtd

__all__ = ["guest_image", "libvirtd"]


@pytest.fixture(scope="session")
def guest_image(tmp_path_factory: pytest.TempPathFactory) -> GuestImage:
    """Kernel and initramfs of the tiny guest, built once per run."""
    return build_guest(tmp_path_factory.mktemp("guest"))
