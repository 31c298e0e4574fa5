"""domain_type=auto: kvm only where the host CPU has VT-x/AMD-V, whatever libvirt advertises."""

from __future__ import annotations

from pathlib import Path

import pytest

from provisioner.compute.drivers.libvirt.core import hardware_virtualization
from provisioner.compute.drivers.libvirt.driver import LibvirtDriver

WITH_VMX = "<capabilities><host><cpu><arch>x86_64</arch><model>Skylake</model><feature name='vmx'/></cpu></host>"
WITHOUT = (
    "<capabilities><host><cpu><arch>x86_64</arch><feature name='ss'/></cpu></host>"
    "<guest><arch name='x86_64'><domain type='qemu'/><domain type='kvm'/></arch></guest></capabilities>"
)


def cpuinfo(tmp_path: Path, flags: str) -> str:
    path = tmp_path / "cpuinfo"
    path.write_text(f"processor\t: 0\nflags\t\t: fpu sse2 {flags}\n")
    return str(path)


def test_host_cpu_features_in_the_capabilities_decide_for_remote_hosts(tmp_path: Path) -> None:
    assert hardware_virtualization(WITH_VMX, local=False)
    assert not hardware_virtualization(WITHOUT, local=False)
    # A guest <feature> after the host CPU does not count.
    assert not hardware_virtualization(WITHOUT + "<feature name='svm'/>", local=False)


def test_a_local_host_reads_proc_cpuinfo(tmp_path: Path) -> None:
    assert hardware_virtualization(WITHOUT, local=True, cpuinfo=cpuinfo(tmp_path, "svm lm"))
    assert not hardware_virtualization(WITHOUT, local=True, cpuinfo=cpuinfo(tmp_path, "lm"))
    assert not hardware_virtualization(WITHOUT, local=True, cpuinfo=str(tmp_path / "missing"))


@pytest.mark.parametrize(("uri", "local"), [("qemu:///system", True), ("qemu+ssh://root@h1/system", False)])
def test_local_uris_are_recognised(uri: str, local: bool) -> None:
    assert LibvirtDriver(uri)._is_local is local
