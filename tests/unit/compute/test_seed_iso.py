"""The NoCloud seed image: what the guest reads from it, and who else may read it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from provisioner.compute.drivers.libvirt.seed import build_seed_iso
from provisioner.compute.types import CloudInitSeed
from provisioner.exceptions import DriverValueError
from tests.support.tools import require_tool

#: ``openssl passwd -6 -salt saltsalt secret`` (a fixed example: the test needs no password of its own).
HASH = "$6$saltsalt$TVLlQcbpFVof5W3Yz4DTP6gRstiNuHwwTt6GLc1E5n0U0aDehy0S5knV8wiOQSpT0Y77vwPZN.Pq.H91p5hVO1"


def iso_file(iso: Path, name: str) -> str:
    """One file of the image, read with isoinfo (Rock Ridge names)."""
    isoinfo = require_tool("isoinfo")
    result = subprocess.run(
        [isoinfo, "-R", "-i", str(iso), "-x", f"/{name}"], capture_output=True, text=True, check=True, timeout=30
    )
    return result.stdout


def test_the_seed_carries_root_password_hash_in_vendor_data_and_is_private(tmp_path: Path) -> None:
    seed = CloudInitSeed("iid-1", "web-1", "#cloud-config\n", password_hash=HASH)
    iso = build_seed_iso(seed, tmp_path / "web-1-cidata.iso")
    assert iso.stat().st_mode & 0o777 == 0o600
    vendor = iso_file(iso, "vendor-data")
    assert vendor.startswith("#cloud-config\n")
    assert f"echo 'root:{HASH}' | chpasswd -e" in vendor
    assert iso_file(iso, "user-data") == "#cloud-config\n"
    assert HASH not in repr(seed)


def test_a_rebuilt_seed_is_private_too_and_without_a_hash_has_no_vendor_data(tmp_path: Path) -> None:
    target = tmp_path / "web-2-cidata.iso"
    target.write_text("an older image, world readable")
    target.chmod(0o644)
    build_seed_iso(CloudInitSeed("iid-2", "web-2"), target)
    assert target.stat().st_mode & 0o777 == 0o600
    assert iso_file(target, "vendor-data") == ""


def test_each_new_hash_is_applied_once_under_its_own_name() -> None:
    first = CloudInitSeed("iid-3", "web-3", password_hash=HASH).vendor_data()
    second = CloudInitSeed("iid-3", "web-3", password_hash=HASH.replace("saltsalt", "pepper00")).vendor_data()
    names = {text.split("once, ")[1].split(",")[0] for text in (first, second)}
    assert len(names) == 2 and all(n.startswith("provisioner-password-") for n in names)
    assert CloudInitSeed("iid-3", "web-3").vendor_data() == ""


@pytest.mark.parametrize("bad", ["secret", "$6$salt$abc' ; reboot", "$6$$x"])
def test_only_a_crypt_hash_is_taken(bad: str) -> None:
    with pytest.raises(DriverValueError, match="crypt"):
        CloudInitSeed("iid-4", "web-4", password_hash=bad)
