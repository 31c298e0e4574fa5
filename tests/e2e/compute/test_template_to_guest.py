"""The storage issue's composite chain through the API of a live server, on real components.

A template is registered over HTTP from a loopback origin into zone A's ganesha image store, copied with
``copyTemplate`` to zone B, whose ganesha image store receives it store to store (the origin sees one GET
only). Zone B is a KVM zone on this machine's libvirtd (QEMU TCG) with two primary pools: the ganesha
``primary`` export (NFS) and a tgt iSCSI LUN (2 GiB, added to the test target for this test). This machine
cannot mount NFS, so the host reaches the NFS pool in user space: the template's base image is copied once
to the export, the VM's root disk is a qcow2 overlay made on the export whose backing is the base image's
``nfs://`` URL, and the domain opens it as an ``nfs`` network disk. The VM boots from it; a data volume on
the LUN is attached while it runs and the guest writes a marker on its second disk, read back from the LUN
with ``qemu-img dd`` over ``iscsi://`` after the VM is stopped. The stopped VM, its iSCSI volume still
attached, is started again: it gets the same ``iscsi`` network disk as the hot attach, and the guest marks
the LUN again at boot. Its domain undefined (a rebuilt host), the next start defines it afresh from the database
with the same disks. The expunge deletes the root overlay. A second VM deployed with a data disk on the LUN
pool (``diskofferingid``) gets the LUN at its start, as the attach did, and marks it at its first boot; with
its expunge, the base image loses its last user and goes.
"""

from __future__ import annotations

import base64
import contextlib
import http.server
import json
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest

from provisioner.compute.drivers.libvirt import LibvirtDriver
from provisioner.exceptions import DriverError
from tests.e2e.compute.test_api_guest import check_host, kvm_zone, wait_for
from tests.support.bridges import guest_label_fixture
from tests.support.guest import BOOT_MARKER, DISK_MARKER, DISK_MARKER_REQUEST, DISK_MARKER_WRITTEN, wait_for_console
from tests.support.iscsi import IscsiTarget, iscsi_target
from tests.support.nfs import NfsServer, nfs_server
from tests.support.origin import OriginHandler
from tests.support.server import LiveServer, sqlite_server
from tests.support.tools import require_tool

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]
__all__ = ["iscsi_target", "nfs_server", "sqlite_server"]

#: Own Guest traffic label and VLAN: the bridge and domains must not collide with test_api_guest's.
LABEL, VLAN = "e2est", 101
#: The storage tag that puts the root disk on the NFS pool.
NFS_TAG = "e2enfs"
#: The LUN this test adds to the session's tgt target (tid 1, "primary"): 2 GiB sparse, so a 1 GiB disk (the API's
#: smallest) stays under the allocator's 85 % threshold.
LUN = 7
GIB = 1 << 30
USER_DATA = f"#cloud-config\n# {DISK_MARKER_REQUEST}\n"


#: This module's own Guest label (test_api_guest's bridges may not be gone yet on a rerun).
bridge = guest_label_fixture(LABEL, VLAN)


@pytest.fixture
def stores(nfs_server: NfsServer) -> Iterator[NfsServer]:
    """The two image store exports and the primary export, empty before and after (names repeat across servers)."""
    for export in ("secondary", "secondary2", "primary"):
        nfs_server.empty(export)
    yield nfs_server
    for export in ("secondary", "secondary2", "primary"):
        nfs_server.empty(export)


@pytest.fixture
def lun(iscsi_target: IscsiTarget, tmp_path: Path) -> Iterator[str]:
    """A 2 GiB sparse LUN added to the target's ``primary`` target, removed afterwards; its iscsi:// URL."""
    tgtadm = require_tool("tgtadm")
    control = str(iscsi_target.port % 30000 + 1)  # as tests/support/iscsi.py derives it
    backing = tmp_path / "lun-e2e.img"
    with open(backing, "wb") as handle:
        handle.truncate(2 * GIB)
    base = [tgtadm, "-C", control, "--lld", "iscsi", "--mode", "logicalunit", "--tid", "1", "--lun", str(LUN)]
    subprocess.run([*base, "--op", "new", "-b", str(backing)], check=True, capture_output=True, timeout=30)
    try:
        yield iscsi_target.url("primary", LUN)
    finally:
        subprocess.run([*base, "--op", "delete"], check=False, capture_output=True, timeout=30)


@contextlib.contextmanager
def counting_origin(root: Path) -> Iterator[tuple[str, list[str]]]:
    """tests/support/origin.py's handler on 127.0.0.1, recording every request path."""
    seen: list[str] = []

    class Counting(OriginHandler):
        def do_GET(self) -> None:
            seen.append(self.path)
            super().do_GET()

        def do_HEAD(self) -> None:
            seen.append(f"HEAD {self.path}")
            self.send_response(200)
            self.send_header("Content-Length", str((root / self.path.rsplit("/", 1)[-1]).stat().st_size))
            self.end_headers()

    Counting.root = root
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Counting)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", seen
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def zone_a(api: Any, store: str) -> str:
    """The origin zone: only an image store."""
    zone = api.createZone(name="za", networktype="Advanced", dns1="198.18.0.53", internaldns1="198.18.0.54")["zone"]
    api.addImageStore(provider="NFS", zoneid=zone["id"], name="za-ss", url=store)
    return str(zone["id"])


def primary_pool(api: Any, ids: dict[str, str], name: str, url: str, *, tags: str, capacity: int | None) -> None:
    """A cluster-scope primary pool of zone B, tagged for the offering whose disks go there; its size is the one
    given, else what the storage reports."""
    sizing = {} if capacity is None else {"capacitybytes": capacity}
    api.createStoragePool(
        name=name,
        zoneid=ids["zone"],
        podid=ids["pod"],
        clusterid=ids["cluster"],
        scope="cluster",
        url=url,
        tags=tags,
        **sizing,
    )


def ready_in(api: Any, template: str, zone: str) -> bool:
    rows = api.listTemplates(id=template, templatefilter="all", zoneid=zone).get("template", [])
    return bool(rows) and bool(rows[0]["isready"])


@pytest.fixture
def www(guest_template: Path, tmp_path: Path) -> Path:
    """The origin's directory, holding the tiny template."""
    root = tmp_path / "www"
    root.mkdir()
    (root / guest_template.name).write_bytes(guest_template.read_bytes())
    return root


@pytest.mark.usefixtures("bridge")
def test_replicated_template_boots_and_writes_to_an_iscsi_lun(
    libvirtd: str, server: LiveServer, stores: NfsServer, lun: str, www: Path
) -> None:
    api = server.client(server.apikey, server.secretkey, job_timeout=300)
    api.updateConfiguration(name="secstorage.allow.private.download", value="true")
    name = next(www.iterdir()).name
    pool_dir = www.parent / "primary"
    pool_dir.mkdir()
    first = zone_a(api, stores.url("secondary"))
    ids = kvm_zone(api, libvirtd, stores.url("secondary2"), pool_dir, name="zb", label=LABEL, vlan=VLAN)
    primary_pool(api, ids, "zb-iscsi", lun, tags="e2elun", capacity=2 * GIB)  # the LUN's size
    # The export's size and use are its file system's (FSSTAT): a smaller size given here would put the pool past
    # the allocator's threshold once the storage stats record that use.
    primary_pool(api, ids, "zb-nfs", stores.url("primary"), tags=NFS_TAG, capacity=None)
    check_host(api, libvirtd, ids["host"])

    with counting_origin(www) as (base, seen):
        template = api.registerTemplate(
            name="tiny-st",
            displaytext="tiny-st",
            url=f"{base}/files/{name}",
            format="QCOW2",
            hypervisor="KVM",
            zoneid=first,
            ostypeid=api.listOsTypes()["ostype"][0]["id"],
        )["template"][0]
        wait_for("the download into zone A", lambda: ready_in(api, template["id"], first), timeout=180)
        downloads = [path for path in seen if not path.startswith("HEAD")]
        assert len(downloads) == 1, seen
        api.copyTemplate(id=template["id"], sourcezoneid=first, destzoneid=ids["zone"])
        wait_for("the store-to-store copy into zone B", lambda: ready_in(api, template["id"], ids["zone"]), timeout=180)
        # Replicated from zone A's store: the origin was not asked for the image again.
        assert [path for path in seen if not path.startswith("HEAD")] == downloads, seen
    replicated = stores.exports["secondary2"]
    assert any(path.is_file() and path.stat().st_size > 0 for path in replicated.rglob("*")), "zone B's store is empty"

    offering = api.createServiceOffering(
        name="tiny-st",
        displaytext="tiny-st",
        cpunumber=1,
        cpuspeed=500,
        memory=128,
        storagetype="shared",
        tags=NFS_TAG,
    )["serviceoffering"]
    disk = api.createDiskOffering(name="lun-st", displaytext="lun-st", disksize=1, tags="e2elun")["diskoffering"]
    try:
        run_guest(
            api,
            libvirtd=libvirtd,
            zone=ids["zone"],
            template=template["id"],
            offerings=(offering["id"], disk["id"]),
            lun=lun,
            readback=www,
            export=stores.exports["primary"],
        )
    finally:
        # A failed run must not leave its domain behind in libvirtd's persistent configuration; other tests' VMs
        # on the shared libvirtd have the same instance names (fresh databases), so this VM is known by its uuid.
        mine: set[str] = set()
        with contextlib.suppress(Exception):  # a dead server must not hide the test's own error
            mine = {vm["id"] for vm in api.listVirtualMachines(listall=True).get("virtualmachine", [])}
        with LibvirtDriver(libvirtd) as driver:
            for leftover in driver.list_vms():
                if leftover.uuid in mine:
                    with contextlib.suppress(DriverError):
                        driver.destroy_vm(leftover.name)


def disk_sources(libvirtd: str, instance: str) -> dict[str, dict[str, str]]:
    """The domain's disks by target device: type, and the source's protocol, name and host (as libvirt holds it)."""
    with LibvirtDriver(libvirtd) as driver:
        root = ET.fromstring(driver.ex_domain_xml(instance))
    found = {}
    for disk in root.iter("disk"):
        target, source = disk.find("target"), disk.find("source")
        if target is None or source is None:
            continue
        host = source.find("host")
        found[target.get("dev", "")] = {
            "type": disk.get("type", ""),
            "protocol": source.get("protocol", ""),
            "name": source.get("name", source.get("file", "")),
            "host": "" if host is None else f"{host.get('name')}:{host.get('port', '')}",
        }
    return found


def qemu_img(*args: str) -> str:
    done = subprocess.run([require_tool("qemu-img"), *args], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def lun_head(lun: str, readback: Path) -> bytes:
    """The LUN's first sector, read over ``iscsi://``."""
    copy = readback / "lun-head.raw"
    copy.unlink(missing_ok=True)
    qemu_img("dd", "-f", "raw", "-O", "raw", f"if={lun}", f"of={copy}", "bs=512", "count=1")
    return copy.read_bytes()


def cold_start_marks_the_lun(
    api: Any, vm: dict[str, Any], *, libvirtd: str, lun: str, readback: Path, console: Path
) -> dict[str, str]:
    """Wipe the LUN's first sector, start the stopped VM, wait for the guest's marker, stop it, find the marker
    on the LUN; returns the domain's second disk as it ran."""
    qemu_io = require_tool("qemu-io")
    wiped = subprocess.run(
        [qemu_io, "-f", "raw", "-c", "write -z 0 512", lun], capture_output=True, text=True, timeout=120, check=False
    )
    assert wiped.returncode == 0, wiped.stderr
    assert not lun_head(lun, readback).startswith(DISK_MARKER.encode())
    offset = console.stat().st_size
    assert api.startVirtualMachine(id=vm["id"])["virtualmachine"]["state"] == "Running"
    disk = disk_sources(libvirtd, vm["instancename"])["vdb"]
    wait_for_console(console, DISK_MARKER_WRITTEN, offset=offset, timeout=300)
    api.stopVirtualMachine(id=vm["id"], forced=True)
    assert lun_head(lun, readback).startswith(DISK_MARKER.encode() + b"\n")
    return disk


def run_guest(
    api: Any,
    *,
    libvirtd: str,
    zone: str,
    template: str,
    offerings: tuple[str, str],
    lun: str,
    readback: Path,
    export: Path,
) -> None:
    """Boot the VM from its NFS root, hot-plug a data volume on the LUN, wait for the guest's marker, stop, read
    the LUN; start the stopped VM with the volume attached and see the guest mark the LUN again; expunge."""
    offering, disk_offering = offerings
    # Console logs are appended to and named after the instance (i-<account>-<id>-VM, the same in every test's
    # fresh database): only what this guest writes after the deployment counts.
    logs = Path("/var/log/libvirt/qemu")
    offsets = {path.name: path.stat().st_size for path in logs.glob("*.console.log")}
    vm = api.deployVirtualMachine(
        zoneid=zone,
        serviceofferingid=offering,
        templateid=template,
        name="storage-e2e",
        userdata=base64.b64encode(USER_DATA.encode()).decode(),
    )["virtualmachine"]
    assert vm["state"] == "Running"
    console = logs / f"{vm['instancename']}.console.log"
    offset = offsets.get(console.name, 0)
    wait_for_console(console, BOOT_MARKER, offset=offset, timeout=240)

    # The root disk: an overlay on the export, opened by QEMU over nfs://, backed by the base image there.
    (root,) = api.listVolumes(virtualmachineid=vm["id"], type="ROOT")["volume"]
    assert root["storage"] == "zb-nfs"
    overlay = export / root["id"]
    assert overlay.is_file(), sorted(p.name for p in export.iterdir())
    (base,) = export.glob("tmpl-*.qcow2")
    info = json.loads(qemu_img("info", "-U", "--output=json", str(overlay)))
    assert info["format"] == "qcow2"
    assert info["backing-filename"] == f"nfs://127.0.0.1{base}"
    assert disk_sources(libvirtd, vm["instancename"])["vda"] == {
        "type": "network",
        "protocol": "nfs",
        "name": str(overlay),
        "host": "127.0.0.1:",
    }

    volume = api.createVolume(name="data-st", zoneid=zone, diskofferingid=disk_offering)["volume"]
    attached = api.attachVolume(id=volume["id"], virtualmachineid=vm["id"])["volume"]
    assert attached["virtualmachineid"] == vm["id"]
    assert attached["storage"] == "zb-iscsi"
    wait_for_console(console, DISK_MARKER_WRITTEN, offset=offset, timeout=300)
    running = disk_sources(libvirtd, vm["instancename"])
    hot = running["vdb"]
    exported = sorted(p.name for p in export.iterdir())
    assert hot["type"] == "network" and hot["protocol"] == "iscsi", hot

    started = time.monotonic()
    api.stopVirtualMachine(id=vm["id"], forced=True)
    assert api.listVirtualMachines(id=vm["id"])["virtualmachine"][0]["state"] == "Stopped"
    assert time.monotonic() - started < 120
    assert lun_head(lun, readback).startswith(DISK_MARKER.encode() + b"\n")

    # A cold start with the iSCSI volume attached again while the VM is stopped (its domain is still defined on the
    # host) gets the hot attach's network disk, and the guest (which marks its second disk at boot) writes the LUN
    # again after it was wiped.
    api.detachVolume(id=volume["id"])
    api.attachVolume(id=volume["id"], virtualmachineid=vm["id"])
    assert cold_start_marks_the_lun(api, vm, libvirtd=libvirtd, lun=lun, readback=readback, console=console) == hot
    # With the domain gone from the host, as after a host rebuild, the start defines it afresh from the database: the
    # same disks (the root overlay kept on the export, the LUN as the hot attach had it), opened by the QEMU that runs.
    # Its guest is not waited for: it would boot on those very disk definitions, which the boots before and after
    # (deploy_with_a_lun's domain is defined by its start too) see the guest write through.
    with LibvirtDriver(libvirtd) as driver:
        driver.ex_connection.lookupByName(vm["instancename"]).undefine()
    assert api.startVirtualMachine(id=vm["id"])["virtualmachine"]["state"] == "Running"
    assert disk_sources(libvirtd, vm["instancename"]) == running
    assert sorted(p.name for p in export.iterdir()) == exported
    api.stopVirtualMachine(id=vm["id"], forced=True)

    api.detachVolume(id=volume["id"])
    api.deleteVolume(id=volume["id"])
    api.destroyVirtualMachine(id=vm["id"], expunge=True)
    deploy_with_a_lun(api, zone=zone, template=template, offerings=offerings, libvirtd=libvirtd, lun=lun, hot=hot)
    assert lun_head(lun, readback).startswith(DISK_MARKER.encode() + b"\n")
    # The root overlays went with their VMs, and the base image with its last user.
    assert sorted(p.name for p in export.iterdir()) == []


def deploy_with_a_lun(
    api: Any, *, zone: str, template: str, offerings: tuple[str, str], libvirtd: str, lun: str, hot: dict[str, str]
) -> None:
    """Deploy a VM whose data disk (``diskofferingid``) goes to the LUN pool: its start gives the Allocated volume
    the free LUN as attachVolume does, the domain opens it as the hot attach's network disk, and the guest marks
    the LUN at its first boot. The VM is expunged, and its data volume (detached by the expunge) deleted."""
    qemu_io = require_tool("qemu-io")
    wiped = subprocess.run(
        [qemu_io, "-f", "raw", "-c", "write -z 0 512", lun], capture_output=True, text=True, timeout=120, check=False
    )
    assert wiped.returncode == 0, wiped.stderr
    logs = Path("/var/log/libvirt/qemu")
    offsets = {path.name: path.stat().st_size for path in logs.glob("*.console.log")}
    offering, disk_offering = offerings
    vm = api.deployVirtualMachine(
        zoneid=zone,
        serviceofferingid=offering,
        templateid=template,
        diskofferingid=disk_offering,
        name="storage-e2e-lun",
        userdata=base64.b64encode(USER_DATA.encode()).decode(),
    )["virtualmachine"]
    assert vm["state"] == "Running"
    (data,) = api.listVolumes(virtualmachineid=vm["id"], type="DATADISK")["volume"]
    assert (data["storage"], data["state"]) == ("zb-iscsi", "Ready")
    assert disk_sources(libvirtd, vm["instancename"])["vdb"] == hot
    console = logs / f"{vm['instancename']}.console.log"
    wait_for_console(console, DISK_MARKER_WRITTEN, offset=offsets.get(console.name, 0), timeout=300)
    api.stopVirtualMachine(id=vm["id"], forced=True)
    api.destroyVirtualMachine(id=vm["id"], expunge=True)
    api.deleteVolume(id=data["id"])
