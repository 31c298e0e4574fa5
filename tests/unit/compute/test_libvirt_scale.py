"""Room to grow live: the XML of a domain with maxima, what a running one can grow to, and the refusals."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from provisioner.compute.drivers.libvirt import LibvirtDriver
from provisioner.compute.drivers.libvirt.domain_xml import (
    RenderOptions,
    dimm_element,
    live_room,
    render_domain,
    set_vcpus_and_memory,
    vcpus_and_memory,
)
from provisioner.compute.types import VMSpec
from provisioner.exceptions import VMStateError
from tests.unit.compute.test_libvirt_contract import node_uri, spec

MIB = 1 << 20


@pytest.fixture
def driver(tmp_path: Path) -> Iterator[LibvirtDriver]:
    with LibvirtDriver(node_uri(tmp_path)) as driver:
        yield driver


def _kvm(max_vcpus: int | None, max_memory: int | None) -> ET.Element:
    vm = VMSpec("i-2-9-VM", "u", 1, 128 * MIB, max_vcpus=max_vcpus, max_memory_bytes=max_memory)
    return ET.fromstring(render_domain(vm, RenderOptions(domain_type="qemu")))


def _at(root: ET.Element, path: str) -> ET.Element:
    element = root.find(path)
    assert element is not None, path
    return element


def test_a_kvm_domain_with_maxima_has_memory_slots_and_a_numa_cell_for_every_vcpu() -> None:
    root = _kvm(4, 512 * MIB)
    assert _at(root, "maxMemory").attrib == {"slots": "16", "unit": "KiB"}
    assert root.findtext("maxMemory") == str(512 * 1024)
    assert root.findtext("memory") == root.findtext("currentMemory") == str(128 * 1024)
    assert _at(root, "cpu/numa/cell").attrib == {"id": "0", "cpus": "0-3", "memory": str(128 * 1024), "unit": "KiB"}
    assert (root.findtext("vcpu"), _at(root, "vcpu").get("current")) == ("4", "1")
    assert live_room(root) == (4, 512 * MIB, 16)
    _at(root, "devices").append(dimm_element(32 * MIB))
    assert live_room(root) == (4, 512 * MIB, 15)
    # Stopped and scaled: the hot-plugged DIMM folds into one block again.
    set_vcpus_and_memory(root, 2, 160 * MIB)
    assert root.find("devices/memory") is None
    assert _at(root, "cpu/numa/cell").get("memory") == root.findtext("memory") == str(160 * 1024)
    assert vcpus_and_memory(root) == (2, 160 * MIB)


def test_a_kvm_domain_without_maxima_has_no_room() -> None:
    root = _kvm(None, None)
    assert root.find("maxMemory") is None and root.find("cpu") is None
    assert live_room(root) == (1, 128 * MIB, None)


def test_running_vms_refuse_what_they_have_no_room_for(driver: LibvirtDriver) -> None:
    driver.define_vm(spec("vm-fixed"))
    driver.start_vm("vm-fixed")
    with pytest.raises(VMStateError, match=r"vm-fixed on test://.* has no room to grow live"):
        driver.scale_vm("vm-fixed", vcpus=2)
    driver.define_vm(spec("vm-room", max_vcpus=4, max_memory_bytes=512 * MIB))
    driver.start_vm("vm-room")
    with pytest.raises(VMStateError, match="can grow live to 4 vCPUs and 512 MiB, not 5 vCPUs and 256 MiB"):
        driver.scale_vm("vm-room", vcpus=5, memory_bytes=256 * MIB)
    driver.scale_vm("vm-room", vcpus=3)
    with pytest.raises(VMStateError, match="cannot shrink while running"):
        driver.scale_vm("vm-room", vcpus=2)
    # The persistent definition took the new size too: the next start has it.
    assert 'current="3"' in driver.ex_domain_xml("vm-room", inactive=True).replace("'", '"')
