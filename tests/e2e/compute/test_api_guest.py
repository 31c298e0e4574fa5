"""End to end through the API on the local machine's libvirtd and a real QEMU (TCG) guest.

The machine is added as a KVM host with ``addHost`` (the host health round pings it through the libvirt
driver; ``domain_type=auto`` resolves to TCG, as /dev/kvm exists here but the CPU has no VT-x/AMD-V), the
tiny bootable template is registered from a loopback HTTP server into an NFS image store (ganesha), and a VM
is deployed from it with user-data: it runs in libvirt, its console shows it booted and read the user-data,
and it is scaled live (libvirt sees the hot-plugged vCPU and memory), stopped, scaled, started and destroyed through
the API. The test makes only the isolated Guest label bridge: the driver makes the VLAN bridge. The graceful reboot
through the API (``rebootVirtualMachine``: ACPI power-off, then the guest boots again) is checked by
test_libcloud_guest (Libcloud's ``reboot_node`` sends that command): the same server path, one guest boot fewer in the
libvirt unit, the run's longest chain.
"""

from __future__ import annotations

import base64
import functools
import http.server
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest
from cs import CloudStackApiException

from provisioner.compute.drivers.libvirt import LibvirtDriver
from tests.support.bridges import guest_label_fixture
from tests.support.guest import (
    ACPI_SHUTDOWN,
    BOOT_MARKER,
    CONSOLE_DIR,
    console_offsets,
    register_template,
    remove_test_domains,
    user_data_from_console,
    wait_for_console,
)
from tests.support.nfs import NfsServer, nfs_server
from tests.support.server import LiveServer, sqlite_server

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]
__all__ = ["nfs_server", "sqlite_server"]
#: The Guest traffic label ``e2ebr`` (a bridge without ports) and the only VLAN of the range: the driver puts the
#: guest NIC on the bridge ``br<label>-<vlan>`` it makes.
LABEL, VLAN = "e2ebr", 100
BRIDGE = f"br{LABEL}-{VLAN}"
USER_DATA = "#cloud-config\nruncmd:\n  - echo provisioner-api-e2e\n"

#: Bound of the waits for the host to come Up and to be pinged again.
WAIT = 60.0


def wait_for(what: str, check: object, timeout: float = WAIT) -> object:
    deadline = time.monotonic() + timeout
    while True:
        value = check()  # type: ignore[operator]
        if value:
            return value
        assert time.monotonic() < deadline, f"{what} did not happen within {timeout} s"
        time.sleep(0.5)


def check_host(api: Any, libvirtd: str, host_id: str) -> None:
    """The local libvirtd host is Up, TCG only (no VT-x/AMD-V here), and pinged again by the health round."""

    def up() -> dict[str, object] | None:
        rows = api.listHosts(id=host_id)["host"]
        return rows[0] if rows and rows[0]["state"] == "Up" else None

    host = wait_for("the host coming Up", up)
    assert isinstance(host, dict) and host["hypervisor"] == "KVM"
    assert "kvm" not in str(host.get("capabilities") or "").split(",")
    with LibvirtDriver(libvirtd) as driver:
        assert driver._resolve_domain_type() == "qemu"
    api.updateConfiguration(name="ping.interval", value="1")
    first = api.listHosts(id=host_id)["host"][0]["lastpinged"]
    wait_for("a health round pinging the host", lambda: api.listHosts(id=host_id)["host"][0]["lastpinged"] != first)


#: The Guest traffic label bridge (the test's), and after the test the VLAN bridge the driver made on it.
bridge = guest_label_fixture(LABEL, VLAN)


@pytest.fixture
def template_url(guest_template: Path) -> Iterator[str]:
    """The tiny template served over HTTP on 127.0.0.1 (a thread, stopped after the test)."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(guest_template.parent))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/{guest_template.name}"
    finally:
        httpd.shutdown()
        thread.join(10)


def kvm_zone(
    api: Any, libvirtd: str, store: str, pool_dir: Path, *, name: str = "e2e", label: str = LABEL, vlan: int = VLAN
) -> dict[str, str]:
    """A KVM zone on this machine: VLAN physical network, the local libvirtd host, a local pool, an NFS store.

    ``name`` prefixes every object, ``label``/``vlan`` make the guest bridge ``br<label>-<vlan>``, and the pod and
    public ranges are 198.18.(2*vlan-192).0/24 and the next /24 (8 and 9 for VLAN 100), so zones of several tests
    stay apart.
    """
    api.updateConfiguration(name="secstorage.allow.private.download", value="true")
    zone = api.createZone(name=name, networktype="Advanced", dns1="198.18.0.53", internaldns1="198.18.0.54")["zone"]
    physical = api.createPhysicalNetwork(
        name=f"{name}-pnet", zoneid=zone["id"], isolationmethods="VLAN", broadcastdomainrange="Zone"
    )["physicalnetwork"]
    for traffic in ("Guest", "Management", "Public"):
        api.addTrafficType(physicalnetworkid=physical["id"], traffictype=traffic, kvmnetworklabel=label)
    provider = api.listNetworkServiceProviders(name="VirtualRouter", physicalnetworkid=physical["id"])[
        "networkserviceprovider"
    ][0]
    element = api.listVirtualRouterElements(nspid=provider["id"])["virtualrouterelement"][0]
    api.configureVirtualRouterElement(id=element["id"], enabled=True)
    api.updateNetworkServiceProvider(id=provider["id"], state="Enabled")
    api.updatePhysicalNetwork(id=physical["id"], state="Enabled", vlan=f"{vlan}-{vlan}")
    pod_net, public_net = f"198.18.{2 * vlan - 192}", f"198.18.{2 * vlan - 191}"
    pod = api.createPod(
        name=f"{name}-pod",
        zoneid=zone["id"],
        gateway=f"{pod_net}.1",
        netmask="255.255.255.0",
        startip=f"{pod_net}.10",
        endip=f"{pod_net}.20",
    )["pod"]
    api.createVlanIpRange(
        zoneid=zone["id"],
        forvirtualnetwork=True,
        vlan=str(vlan - 50),
        gateway=f"{public_net}.1",
        netmask="255.255.255.0",
        startip=f"{public_net}.10",
        endip=f"{public_net}.20",
    )
    cluster = api.addCluster(
        clustername=f"{name}-kvm", clustertype="CloudManaged", hypervisor="KVM", podid=pod["id"], zoneid=zone["id"]
    )["cluster"][0]
    host = api.addHost(
        url=libvirtd, hypervisor="KVM", podid=pod["id"], zoneid=zone["id"], clusterid=cluster["id"], username="root"
    )["host"][0]
    api.createStoragePool(
        name=f"{name}-local",
        zoneid=zone["id"],
        podid=pod["id"],
        clusterid=cluster["id"],
        hostid=host["id"],
        scope="host",
        url=f"file://{pool_dir}",
        capacitybytes=10 << 30,  # not probed: the API's storage layer measures only pools it mounts
    )
    api.addImageStore(provider="NFS", zoneid=zone["id"], name=f"{name}-ss", url=store)
    api.updateZone(id=zone["id"], allocationstate="Enabled")
    return {"zone": zone["id"], "host": host["id"], "cluster": cluster["id"], "pod": pod["id"]}


@pytest.mark.usefixtures("bridge")
def test_a_real_guest_through_the_api(
    libvirtd: str, server: LiveServer, nfs_server: NfsServer, template_url: str, tmp_path: Path
) -> None:
    api = server.client(server.apikey, server.secretkey, job_timeout=300)
    pool_dir = tmp_path / "primary"
    pool_dir.mkdir()
    ids = kvm_zone(api, libvirtd, nfs_server.url("secondary"), pool_dir)
    check_host(api, libvirtd, ids["host"])
    tiny = api.createServiceOffering(
        name="tiny", displaytext="tiny", cpunumber=1, cpuspeed=500, memory=128, storagetype="local"
    )
    bigger = api.createServiceOffering(
        name="tiny2", displaytext="tiny2", cpunumber=2, cpuspeed=500, memory=256, storagetype="local"
    )
    huge = api.createServiceOffering(
        name="tiny3", displaytext="tiny3", cpunumber=2, cpuspeed=500, memory=512, storagetype="local"
    )
    # VMs of a dynamically scalable template are defined with room to grow live: 2 vCPUs and 384 MiB here.
    api.updateConfiguration(name="enable.dynamic.scale.vm", value="true")  # CloudStack's default is false
    api.updateConfiguration(name="vm.serviceoffering.cpu.cores.max", value="2")
    api.updateConfiguration(name="vm.serviceoffering.ram.size.max", value="384")
    template = register_template(api, template_url, ids["zone"], "tiny", isdynamicallyscalable=True)
    try:
        run_guest(
            api,
            libvirtd,
            ids["zone"],
            template,
            tuple(offering["serviceoffering"]["id"] for offering in (tiny, bigger, huge)),
        )
    finally:
        remove_test_domains(libvirtd)


def running_size(libvirtd: str, name: str) -> tuple[int, int]:
    """(vCPUs, memory bytes) of a running domain as libvirt reports it."""
    with LibvirtDriver(libvirtd) as driver:
        _state, _max_kib, memory_kib, vcpus, _cpu_time = driver.ex_connection.lookupByName(name).info()
    return vcpus, memory_kib << 10


def run_guest(api: Any, libvirtd: str, zone: str, template: str, offerings: tuple[str, ...]) -> None:
    """Deploy the guest, see it boot with its user-data, scale it live, then stop, scale, start and destroy it;
    ``offerings``: its first size, a bigger one within its maxima and one past them."""
    offsets = console_offsets()
    vm = api.deployVirtualMachine(
        zoneid=zone,
        serviceofferingid=offerings[0],
        templateid=template,
        name="guest1",
        userdata=base64.b64encode(USER_DATA.encode()).decode(),
    )["virtualmachine"]
    assert vm["state"] == "Running"
    with LibvirtDriver(libvirtd) as driver:
        info = driver.get_vm(vm["instancename"])
        assert info.state.value == "Running"
        xml = driver.ex_domain_xml(vm["instancename"])
    assert "type='qemu'" in xml
    # The test made only the label bridge: the driver made the VLAN bridge and the guest's tap is on it.
    interface = ET.fromstring(xml).find("devices/interface")
    assert interface is not None
    source, target = interface.find("source"), interface.find("target")
    assert source is not None and target is not None and source.get("bridge") == BRIDGE
    assert (Path("/sys/class/net") / BRIDGE / "brif" / target.get("dev", "?")).exists()
    console = CONSOLE_DIR / f"{vm['instancename']}.console.log"
    text = wait_for_console(console, BOOT_MARKER, offset=offsets.get(console.name, 0), timeout=240)
    assert user_data_from_console(text) == USER_DATA.strip()

    # Live: a vCPU hot-plugged and 128 MiB more as a DIMM (Linux onlines memory in 128 MiB blocks: a smaller
    # DIMM stays unusable to the guest), as libvirt sees the running domain; past the maxima it was defined
    # with (384 MiB; the host has room), the API refuses and the VM keeps its size.
    assert api.scaleVirtualMachine(id=vm["id"], serviceofferingid=offerings[1])["success"] is True
    assert running_size(libvirtd, vm["instancename"]) == (2, 256 << 20)
    with pytest.raises(CloudStackApiException) as refused:
        api.scaleVirtualMachine(id=vm["id"], serviceofferingid=offerings[2])
    assert refused.value.error["errorcode"] == 431
    assert "can grow live to 2 vCPUs and 384 MiB, not 2 vCPUs and 512 MiB" in refused.value.error["errortext"]
    listed = api.listVirtualMachines(id=vm["id"])["virtualmachine"][0]
    assert (listed["state"], listed["cpunumber"], listed["memory"]) == ("Running", 2, 256)
    assert running_size(libvirtd, vm["instancename"]) == (2, 256 << 20)

    # A graceful stop: the guest powers off on the ACPI power button, not after the driver's 60 s stop timeout.
    offset = console.stat().st_size
    began = time.monotonic()
    api.stopVirtualMachine(id=vm["id"])
    assert time.monotonic() - began < 30, "the guest ignored the ACPI power button: the stop waited for its timeout"
    wait_for_console(console, ACPI_SHUTDOWN, offset=offset, timeout=5)
    assert api.listVirtualMachines(id=vm["id"])["virtualmachine"][0]["state"] == "Stopped"
    assert not (Path("/sys/class/net") / BRIDGE).exists()  # no guest left on it: the driver removed it
    api.scaleVirtualMachine(id=vm["id"], serviceofferingid=offerings[0])  # stopped: down is allowed
    offset = console.stat().st_size
    started = api.startVirtualMachine(id=vm["id"])["virtualmachine"]
    assert (started["state"], started["cpunumber"], started["memory"]) == ("Running", 1, 128)
    assert running_size(libvirtd, vm["instancename"]) == (1, 128 << 20)
    wait_for_console(console, BOOT_MARKER, offset=offset, timeout=240)
    api.destroyVirtualMachine(id=vm["id"], expunge=True)
    with LibvirtDriver(libvirtd) as driver:
        assert vm["instancename"] not in {d.name for d in driver.list_vms()}
    assert not (Path("/sys/class/net") / BRIDGE).exists()
