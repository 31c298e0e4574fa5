"""Which shell reaches a host's links, and how made VLAN bridges reach the domain XML and come back."""

from __future__ import annotations

import pytest

from provisioner.compute.drivers.libvirt.domain_xml import RenderOptions, render_domain, vlan_bridges
from provisioner.compute.drivers.libvirt.vlans import VlanBridge, ensure, host_shell
from provisioner.compute.types import NicSpec, VMSpec
from provisioner.exceptions import DriverValueError

MIB = 1 << 20


@pytest.mark.parametrize(
    ("uri", "ssh", "expected"),
    [
        ("qemu:///system", None, []),
        ("qemu+ssh://root@kvm1/system", "/srv/ssh", ["/srv/ssh", "-l", "root", "--", "kvm1"]),
        ("qemu+ssh://kvm1:2222/system?keyfile=/k", None, ["ssh", "-p", "2222", "-i", "/k", "--", "kvm1"]),
        ("qemu+ssh://kvm1/system?command=/bin/myssh", "/srv/ssh", ["/bin/myssh", "--", "kvm1"]),
        ("qemu+tls://kvm1/system", "/srv/ssh", None),
        ("test:///default", None, None),
    ],
)
def test_host_shell(uri: str, ssh: str | None, expected: list[str] | None) -> None:
    assert host_shell(uri, ssh) == expected


def test_names_that_cannot_be_links_are_refused_before_anything_runs() -> None:
    with pytest.raises(DriverValueError, match="'cloud br0' VLAN 5 cannot name a Linux VLAN bridge"):
        ensure(["/nonexistent/ssh"], "kvm1", [("label", "cloud br0", 5)])
    with pytest.raises(DriverValueError, match="VLAN 4095"):
        ensure(["/nonexistent/ssh"], "kvm1", [("label", "cloudbr0", 4095)])


def test_made_bridges_name_the_nic_source_and_are_recorded() -> None:
    spec = VMSpec(
        name="i-2-3-VM",
        uuid="u",
        vcpus=1,
        memory_bytes=128 * MIB,
        nics=(NicSpec("02:00:00:00:00:01", "cloudbr0", 100), NicSpec("02:00:00:00:00:02", "cloudbr1", 7, device_id=1)),
    )
    made = (VlanBridge("cloudbr0", 100, "eth0", "breth0-100"),)
    xml = render_domain(spec, RenderOptions(domain_type="test", vlan_bridges=made))
    assert '<source bridge="breth0-100" />' in xml
    assert '<source bridge="brcloudbr1-7" />' in xml  # not made (no shell on the host): the default name
    assert vlan_bridges(xml) == [("eth0", 100)]
