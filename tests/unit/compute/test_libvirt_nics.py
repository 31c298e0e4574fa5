"""NIC plug and unplug in the libvirt driver (test:///): the interface define time renders, and its VLAN bridge;
the VLAN bridges a peer-to-peer migration makes on its target."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from provisioner.compute.drivers.libvirt import LibvirtDriver, domain_xml, vlans
from provisioner.compute.drivers.libvirt.vlans import VlanBridge
from provisioner.compute.types import NicSpec
from provisioner.exceptions import DriverError
from tests.unit.compute.contract import DriverContract
from tests.unit.compute.test_libvirt_contract import node_uri

MADE = VlanBridge("cloudbr0", 200, "eth0", "breth0-200")
NIC = NicSpec("02:00:00:00:0d:01", "cloudbr0", vlan=200, device_id=1)


@pytest.fixture
def released() -> list[tuple[str, int]]:
    """The (device, VLAN) bridges the driver asked the host to remove when unused."""
    return []


@pytest.fixture
def driver(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, released: list[tuple[str, int]]) -> Iterator[LibvirtDriver]:
    """A test:/// driver whose host 'makes' breth0-200 for VLAN 200 and records which bridges it releases."""
    with LibvirtDriver(node_uri(tmp_path)) as drv:

        def made(wanted: list[tuple[str, str, int]]) -> tuple[VlanBridge, ...]:
            return tuple(MADE for _mode, _label, vlan in wanted if vlan == MADE.vlan)

        monkeypatch.setattr(drv, "_vlan_bridges", made)
        monkeypatch.setattr(drv, "_release_bridges", released.extend)
        drv.define_vm(DriverContract().make_spec("n-1", nics=(NicSpec("02:00:00:00:0d:00", "cloudbr0"),)))
        yield drv


def _interfaces(xml: str) -> list[ET.Element]:
    devices = ET.fromstring(xml).find("devices")
    assert devices is not None
    return devices.findall("interface")


def test_a_stopped_vm_gets_the_interface_define_time_renders_and_its_bridge_recorded(
    driver: LibvirtDriver, released: list[tuple[str, int]]
) -> None:
    driver.attach_nic("n-1", NIC)
    xml = driver.ex_domain_xml("n-1", inactive=True)
    plugged = domain_xml.find_interface(ET.fromstring(xml).find("devices"), NIC.mac)  # type: ignore[arg-type]
    assert plugged is not None
    rendered = domain_xml.interface_element(NIC, "bridge", (MADE,))
    assert domain_xml.interface_bridge(plugged) == domain_xml.interface_bridge(rendered) == "breth0-200"
    assert plugged.find("model").get("type") == "virtio"  # type: ignore[union-attr]
    assert domain_xml.vlan_bridges(xml) == [("eth0", 200)]
    assert released == [("eth0", 200)]  # no guest needs it before the VM starts, which makes it again
    released.clear()

    driver.detach_nic("n-1", NIC)
    xml = driver.ex_domain_xml("n-1", inactive=True)
    assert [i.find("mac").get("address") for i in _interfaces(xml)] == ["02:00:00:00:0d:00"]  # type: ignore[union-attr]
    assert domain_xml.vlan_bridges(xml) == []
    assert released == [("eth0", 200)]


def test_a_bridge_another_nic_is_on_stays_recorded(driver: LibvirtDriver, released: list[tuple[str, int]]) -> None:
    other = NicSpec("02:00:00:00:0d:02", "cloudbr0", vlan=200, device_id=2)
    driver.attach_nic("n-1", NIC)
    driver.attach_nic("n-1", other)
    released.clear()
    driver.detach_nic("n-1", NIC)
    assert domain_xml.vlan_bridges(driver.ex_domain_xml("n-1", inactive=True)) == [("eth0", 200)]
    assert released == []


def test_a_failed_hot_plug_releases_the_bridge_made_for_it(
    driver: LibvirtDriver, released: list[tuple[str, int]]
) -> None:
    driver.start_vm("n-1")
    # test:/// has no attachDeviceFlags: the plug fails as a refusing hypervisor would.
    with pytest.raises(DriverError, match="plugging NIC 02:00:00:00:0d:01 into VM n-1 failed"):
        driver.attach_nic("n-1", NIC)
    assert released == [("eth0", 200)]
    assert domain_xml.vlan_bridges(driver.ex_domain_xml("n-1", inactive=True)) == []


def test_a_running_vm_records_a_bridge_live_and_persistently(
    driver: LibvirtDriver, released: list[tuple[str, int]]
) -> None:
    driver.start_vm("n-1")
    driver._record_bridges(driver._domain("n-1"), (MADE,))
    for inactive in (False, True):
        assert domain_xml.vlan_bridges(driver.ex_domain_xml("n-1", inactive=inactive)) == [("eth0", 200)]


def test_a_peer_to_peer_migration_makes_the_bridges_on_the_target_first(
    driver: LibvirtDriver, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[str, list[str], str, list[tuple[str, str, int]]]] = []

    def ensure(shell: list[str], host: str, wanted: list[tuple[str, str, int]]) -> list[VlanBridge]:
        calls.append(("make", shell, host, list(wanted)))
        return [MADE]

    def remove_unused(shell: list[str], host: str, made: dict[tuple[str, int], None]) -> list[VlanBridge]:
        calls.append(("remove", shell, host, [("device", device, vlan) for device, vlan in made]))
        return []

    monkeypatch.setattr(vlans, "ensure", ensure)
    monkeypatch.setattr(vlans, "remove_unused", remove_unused)
    driver.attach_nic("n-1", NIC)
    driver.start_vm("n-1")
    monkeypatch.setattr(driver, "_is_test", False)  # as a qemu:// host would: the target's links are reachable
    target = "qemu+ssh://root@kvm2/system"
    # test:/// cannot migrate: the guest stays, and the bridge made for it on the target goes again when unused.
    with pytest.raises(DriverError, match="migrating VM n-1 failed"):
        driver.migrate_vm("n-1", target)
    shell = ["ssh", "-l", "root", "--", "kvm2"]
    assert calls == [
        ("make", shell, target, [("device", "eth0", 200)]),
        ("remove", shell, target, [("device", "eth0", 200)]),
    ]
