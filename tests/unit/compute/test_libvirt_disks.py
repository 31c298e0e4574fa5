"""Files the libvirt driver makes on a local host."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from provisioner.compute.drivers.libvirt.disks import create_overlay_local
from provisioner.compute.types import VolumeSpec
from provisioner.exceptions import DriverError

MIB = 1 << 20


def test_overlay_on_a_template(tmp_path: Path) -> None:
    if shutil.which("qemu-img") is None:
        pytest.skip("qemu-img is not installed")
    base = tmp_path / "tmpl.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(base), "64M"], check=True)
    overlay = VolumeSpec(str(tmp_path / "root.qcow2"), backing=str(base), size_bytes=128 * MIB)
    create_overlay_local(overlay)
    info = subprocess.run(["qemu-img", "info", str(overlay.source)], capture_output=True, text=True, check=True).stdout
    assert f"backing file: {base}" in info and "virtual size: 128 MiB" in info


def test_overlay_on_a_missing_template_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(DriverError, match="copy the template to primary first"):
        create_overlay_local(VolumeSpec(str(tmp_path / "root.qcow2"), backing=str(tmp_path / "nope.qcow2")))
