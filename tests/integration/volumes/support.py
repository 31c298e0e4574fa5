"""The simulated cloud of the volume API tests: a zone, disk offerings, a template, a Running VM, user accounts."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from typing import Any

from cs import CloudStack

from tests.integration.infrastructure.support import BuiltZone, build_zone
from tests.integration.vm_operations.test_vm_operations_api import wait_ready
from tests.support.server import LiveServer
from tests.support.tools import require_tool

GIB = 1 << 30


@dataclass
class VolumeCloud:
    """Ids of what the tests use, and a client per caller (``root``, ``alice``, ``bob``, ``dadmin``)."""

    zone: BuiltZone
    fixed: str  # 5 GiB disk offering
    custom: str  # customised disk offering
    offering: str  # service offering
    template: str
    vm: dict[str, Any]
    clients: dict[str, CloudStack]


def _user(server: LiveServer, api: CloudStack, name: str, kind: int, domain: str) -> CloudStack:
    account = api.createAccount(
        username=name,
        password="correct horse battery staple",
        email=f"{name}@example.org",
        firstname=name,
        lastname="T",
        accounttype=kind,
        domainid=domain,
    )["account"]
    keys = api.registerUserKeys(id=account["user"][0]["id"])["userkeys"]
    return server.client(keys["apikey"], keys["secretkey"])


def build_volume_cloud(server: LiveServer) -> VolumeCloud:
    """The canonical simulated zone, offerings, a Ready template, a Running VM of root, and user accounts."""
    api = server.api
    built = build_zone(api, api)
    fixed = api.createDiskOffering(name="small-disk", displaytext="5 GB", disksize=5)["diskoffering"]["id"]
    custom = api.createDiskOffering(name="custom-disk", displaytext="custom", customized=True)["diskoffering"]["id"]
    offering = api.createServiceOffering(name="small", displaytext="small", cpunumber=1, cpuspeed=500, memory=512)
    template = api.registerTemplate(
        name="tiny",
        displaytext="tiny",
        url="http://198.18.0.9/tiny.qcow2",
        format="QCOW2",
        hypervisor="Simulator",
        zoneid=built.zone,
        ostypeid=api.listOsTypes()["ostype"][0]["id"],
        ispublic=True,
    )["template"][0]
    wait_ready(api, template["id"])
    vm = api.deployVirtualMachine(
        zoneid=built.zone,
        serviceofferingid=offering["serviceoffering"]["id"],
        templateid=template["id"],
        name="vm1",
    )["virtualmachine"]
    assert vm["state"] == "Running"
    domain = api.createDomain(name="d1")["domain"]["id"]
    clients = {
        "root": api,
        "alice": _user(server, api, "alice", 0, domain),
        "bob": _user(server, api, "bob", 0, domain),
        "dadmin": _user(server, api, "dadmin", 2, domain),
    }
    return VolumeCloud(built, fixed, custom, offering["serviceoffering"]["id"], template["id"], vm, clients)


def pool_allocated(api: CloudStack, pool_id: str) -> int:
    """The pool's ``disksizeallocated``."""
    return int(api.listStoragePools(id=pool_id)["storagepool"][0]["disksizeallocated"])


def qemu_io(uri: str, command: str, fmt: str = "qcow2") -> str:
    """Run one qemu-io command on an image (a path, ``nfs://`` or ``iscsi://`` URL; bounded); returns its output."""
    done = subprocess.run(
        [require_tool("qemu-io"), "-f", fmt, "-c", command, uri],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout
