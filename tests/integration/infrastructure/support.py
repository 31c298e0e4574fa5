"""Helpers of the infrastructure API tests: the canonical zone build through ``cs``, and playbook runs."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cs import CloudStack

from tests.support.server import LiveServer
from tests.support.tools import require_tool

PLAYBOOKS = Path(__file__).parents[2] / "fixtures" / "playbooks" / "infrastructure"
#: Bound of the wait for hosts to come Up (simulator hosts are Up at once).
HOST_UP_TIMEOUT = 30.0


@dataclass(frozen=True)
class BuiltZone:
    """The public ids of a zone built in the canonical order."""

    zone: str
    physical_network: str
    pod: str
    cluster: str
    host: str
    pool: str
    store: str
    public_range: str


def wait_hosts_up(api: CloudStack, cluster_id: str, expected: int) -> list[dict[str, Any]]:
    """Poll ``listHosts`` (bounded) until ``expected`` hosts of the cluster are Up, as zone-build tools do."""
    deadline = time.monotonic() + HOST_UP_TIMEOUT
    while True:
        hosts = api.listHosts(clusterid=cluster_id, type="Routing").get("host", [])
        if len([host for host in hosts if host["state"] == "Up"]) == expected:
            return list(hosts)
        if time.monotonic() > deadline:
            raise AssertionError(f"hosts not Up after {HOST_UP_TIMEOUT} s: {hosts}")
        time.sleep(0.2)


def build_zone(reader: CloudStack, writer: CloudStack, name: str = "z1", net: int = 1) -> BuiltZone:
    """Marvin's ``deployDataCenter.py`` order (reference §14): ``writer`` changes, ``reader`` lists.

    Args:
        reader: a ``cs`` client for the lists (GET).
        writer: a ``cs`` client for the changes (POST, as cloudstack-go sends them).
        name: the zone's name; other names derive from it.
        net: picks the 198.18.<net*4 + k>.0/24 networks, so several zones do not overlap.
    """
    writer.updateConfiguration(name="expunge.delay", value="60")
    zone = writer.createZone(name=name, networktype="Advanced", dns1="198.18.0.53", internaldns1="198.18.0.54")["zone"]
    assert zone["allocationstate"] == "Disabled"
    physical = writer.createPhysicalNetwork(
        name=f"{name}-pnet", zoneid=zone["id"], isolationmethods="VLAN", broadcastdomainrange="Zone"
    )["physicalnetwork"]
    assert physical["state"] == "Disabled"
    for traffic in ("Guest", "Management", "Public"):
        added = writer.addTrafficType(physicalnetworkid=physical["id"], traffictype=traffic, kvmnetworklabel="cloudbr0")
        assert added["traffictype"]["traffictype"] == traffic
    nsp = reader.listNetworkServiceProviders(name="VirtualRouter", physicalnetworkid=physical["id"], state="Disabled")
    assert nsp["count"] == 1
    provider = nsp["networkserviceprovider"][0]
    element = reader.listVirtualRouterElements(nspid=provider["id"])["virtualrouterelement"][0]
    assert element["enabled"] is False
    assert writer.configureVirtualRouterElement(id=element["id"], enabled=True)["virtualrouterelement"]["enabled"]
    enabled = writer.updateNetworkServiceProvider(id=provider["id"], state="Enabled")["networkserviceprovider"]
    assert enabled["state"] == "Enabled"
    physical = writer.updatePhysicalNetwork(id=physical["id"], state="Enabled", vlan="100-200")["physicalnetwork"]
    assert (physical["state"], physical["vlan"]) == ("Enabled", "100-200")
    base = f"198.18.{net * 4}"
    pod = writer.createPod(
        name=f"{name}-pod",
        zoneid=zone["id"],
        gateway=f"{base}.1",
        netmask="255.255.255.0",
        startip=f"{base}.10",
        endip=f"{base}.100",
    )["pod"]
    public = f"198.18.{net * 4 + 1}"
    vlan = writer.createVlanIpRange(
        zoneid=zone["id"],
        forvirtualnetwork=True,
        vlan="50",
        gateway=f"{public}.1",
        netmask="255.255.255.0",
        startip=f"{public}.10",
        endip=f"{public}.50",
    )["vlan"]
    assert vlan["physicalnetworkid"] == physical["id"]
    cluster = writer.addCluster(
        clustername=f"{name}-c0", clustertype="CloudManaged", hypervisor="Simulator", podid=pod["id"], zoneid=zone["id"]
    )
    assert cluster["count"] == 1
    cluster_id = cluster["cluster"][0]["id"]
    host = writer.addHost(
        url=f"http://sim/{name}-c0/h0",
        hypervisor="Simulator",
        podid=pod["id"],
        zoneid=zone["id"],
        clusterid=cluster_id,
        username="root",
        password="password",
    )
    assert host["count"] == 1
    wait_hosts_up(reader, cluster_id, 1)
    pool = writer.createStoragePool(
        name=f"{name}-ps0",
        zoneid=zone["id"],
        podid=pod["id"],
        clusterid=cluster_id,
        url=f"nfs://198.18.{net * 4 + 2}.5/export/primary",
    )["storagepool"]
    store = writer.addImageStore(
        provider="NFS", zoneid=zone["id"], name=f"{name}-ss0", url=f"nfs://198.18.{net * 4 + 2}.6/export/secondary"
    )["imagestore"]
    opened = writer.updateZone(id=zone["id"], allocationstate="Enabled")["zone"]
    assert opened["allocationstate"] == "Enabled"
    return BuiltZone(
        zone["id"], physical["id"], pod["id"], cluster_id, host["host"][0]["id"], pool["id"], store["id"], vlan["id"]
    )


def run_playbook(server: LiveServer, playbook: Path, work: Path, *extra: str) -> str:
    """Run ``ansible-playbook`` on localhost against ``server`` with the admin keys (bounded); return stdout."""
    env = {
        **os.environ,
        "CLOUDSTACK_ENDPOINT": server.url,
        "CLOUDSTACK_KEY": server.apikey,
        "CLOUDSTACK_SECRET": server.secretkey,
        "CLOUDSTACK_TIMEOUT": "30",
        "ANSIBLE_LOCAL_TEMP": str(work / "ansible-tmp"),
        "ANSIBLE_HOME": str(work / "ansible-home"),
        "ANSIBLE_NOCOLOR": "1",
    }
    done = subprocess.run(
        [
            require_tool("ansible-playbook"),
            "-i",
            "localhost,",
            "-c",
            "local",
            "-e",
            f"ansible_python_interpreter={sys.executable}",
            *extra,
            str(playbook),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-8000:] + done.stderr[-2000:]
    assert "failed=0" in done.stdout
    assert server.secretkey not in done.stdout
    return done.stdout
