"""Guest networks, NICs, affinity and instance groups through ``cs`` on a live server with a simulated zone
(SQLite and PostgreSQL): the default network of a deployment, isolated and shared networks with their
visibility, NIC changes and addresses, deletion refused while VMs use a network, tags, anti-affinity
placement, and who may do what."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.networks.support import error_code, error_text, make_people, simulated_cloud
from tests.support.server import LiveServer

pytestmark = pytest.mark.integration


def _names(answer: dict[str, Any], key: str = "network") -> list[str]:
    return sorted(row["name"] for row in answer.get(key, []))


def test_networks_nics_groups(live_server: LiveServer) -> None:
    cloud = simulated_cloud(live_server)
    people = make_people(live_server)
    root, alice, bob, eve = (people.clients[n] for n in ("root", "alice", "bob", "eve"))
    offerings = {o["name"]: o["id"] for o in root.listNetworkOfferings()["networkoffering"]}
    deploy = {"zoneid": cloud.zone, "serviceofferingid": cloud.offering, "templateid": cloud.template}

    # A deployment without networkids creates the account's default isolated network, once.
    first = alice.deployVirtualMachine(name="a1", **deploy)["virtualmachine"]
    (default,) = alice.listNetworks()["network"]
    assert (default["name"], default["type"], default["state"], default["account"]) == (
        "alice-network",
        "Isolated",
        "Implemented",
        "alice",
    )
    assert (default["cidr"], default["gateway"]) == ("10.1.1.0/24", "10.1.1.1")
    assert default["networkofferingname"] == "DefaultIsolatedNetworkOfferingWithSourceNatService"
    assert "vlan" not in default  # admin-only
    assert [(n["networkid"], n["ipaddress"], n["isdefault"]) for n in first["nic"]] == [
        (default["id"], "10.1.1.2", True)
    ]
    second = alice.deployVirtualMachine(name="a2", startvm=False, **deploy)["virtualmachine"]
    assert second["nic"][0]["networkid"] == default["id"] and second["nic"][0]["ipaddress"] == "10.1.1.3"
    assert alice.listNetworks()["count"] == 1

    # Isolated networks for users, shared ones (zone-wide in ROOT) for root only.
    web = alice.createNetwork(
        name="web",
        zoneid=cloud.zone,
        networkofferingid=offerings["DefaultIsolatedNetworkOfferingWithSourceNatService"],
        gateway="10.20.0.1",
        netmask="255.255.255.0",
    )["network"]
    assert (web["cidr"], web["state"], web["acltype"]) == ("10.20.0.0/24", "Allocated", "Account")
    shared_args = {
        "zoneid": cloud.zone,
        "networkofferingid": offerings["DefaultSharedNetworkOffering"],
        "gateway": "10.30.0.1",
        "netmask": "255.255.255.0",
        "startip": "10.30.0.10",
        "endip": "10.30.0.20",
        "vlan": "120",
    }
    assert error_code(alice.createNetwork, name="mine", **shared_args) == 531
    shared = root.createNetwork(name="shared", **shared_args)["network"]
    assert (shared["type"], shared["state"], shared["acltype"], shared["vlan"]) == ("Shared", "Setup", "Domain", "120")
    assert "already being used" in error_text(root.createNetwork, name="again", **shared_args)
    assert _names(alice.listNetworks()) == ["alice-network", "shared", "web"]
    assert _names(bob.listNetworks()) == ["shared"]
    assert _names(eve.listNetworks()) == ["shared"]
    assert _names(people.clients["dadmin"].listNetworks(listall=True)) == ["alice-network", "shared", "web"]
    assert _names(root.listNetworks(listall=True, type="Isolated")) == ["alice-network", "web"]
    assert _names(alice.listNetworks(zoneid=cloud.zone, canusefordeploy=True, type="Shared")) == ["shared"]
    assert _names(alice.listNetworks(keyword="WE")) == ["web"]
    assert bob.listNetworks(id=web["id"]).get("count", 0) == 0
    assert error_code(bob.deleteNetwork, id=web["id"]) == 531
    assert error_code(alice.deleteNetwork, id=shared["id"]) == 531
    assert error_code(alice.listNetworks, id="00000000-0000-0000-0000-000000000000") == 431

    # NICs: add (first free or asked-for address), default, readdress, remove.
    with_web = alice.addNicToVirtualMachine(virtualmachineid=second["id"], networkid=web["id"])["virtualmachine"]
    assert [(n["networkid"], n["ipaddress"], n["isdefault"]) for n in with_web["nic"]] == [
        (default["id"], "10.1.1.3", True),
        (web["id"], "10.20.0.2", False),
    ]
    assert "A NIC already exists" in error_text(
        alice.addNicToVirtualMachine, virtualmachineid=second["id"], networkid=web["id"]
    )
    on_shared = alice.addNicToVirtualMachine(
        virtualmachineid=second["id"], networkid=shared["id"], ipaddress="10.30.0.15"
    )["virtualmachine"]
    assert on_shared["nic"][2]["ipaddress"] == "10.30.0.15"
    nics = alice.listNics(virtualmachineid=second["id"])["nic"]
    assert [n["deviceid"] for n in nics] == ["0", "1", "2"]
    assert alice.listNics(virtualmachineid=second["id"], networkid=web["id"])["nic"][0]["ipaddress"] == "10.20.0.2"
    assert error_code(bob.listNics, virtualmachineid=second["id"]) == 531
    web_nic, shared_nic = nics[1], nics[2]
    assert (
        error_code(
            alice.addNicToVirtualMachine, virtualmachineid=first["id"], networkid=shared["id"], ipaddress="10.30.0.15"
        )
        == 431
    )
    readdressed = alice.updateVmNicIp(nicid=shared_nic["id"], ipaddress="10.30.0.11")["virtualmachine"]
    assert readdressed["nic"][2]["ipaddress"] == "10.30.0.11"
    assert error_code(alice.updateVmNicIp, nicid=shared_nic["id"], ipaddress="10.30.0.99") == 431  # outside the range
    default_nic = alice.updateDefaultNicForVirtualMachine(virtualmachineid=second["id"], nicid=web_nic["id"])
    assert [n["isdefault"] for n in default_nic["virtualmachine"]["nic"]] == [False, True, False]
    assert "nic is default" in error_text(
        alice.removeNicFromVirtualMachine, virtualmachineid=second["id"], nicid=web_nic["id"]
    )

    # A network with VMs on it is not deleted; once they leave, it is.
    assert error_code(root.deleteNetwork, id=shared["id"]) == 530
    assert "not all user vms are expunged. Vm a2 is in Stopped state" in error_text(root.deleteNetwork, id=shared["id"])
    alice.removeNicFromVirtualMachine(virtualmachineid=second["id"], nicid=shared_nic["id"])
    assert root.deleteNetwork(id=shared["id"])["success"] is True
    assert _names(bob.listNetworks()) == []

    # Updates, restarts and tags.
    renamed = alice.updateNetwork(id=web["id"], name="www", displaytext="World Wide", networkdomain="w.lan")["network"]
    assert (renamed["name"], renamed["displaytext"], renamed["networkdomain"]) == ("www", "World Wide", "w.lan")
    assert alice.restartNetwork(id=web["id"])["success"] is True
    alice.createTags(resourceids=web["id"], resourcetype="Network", tags=[{"key": "tier", "value": "front"}])
    tagged = alice.listNetworks(tags=[{"key": "tier", "value": "front"}])["network"]
    assert [(n["name"], n["tags"][0]["value"]) for n in tagged] == [("www", "front")]
    assert (
        error_code(bob.createTags, resourceids=web["id"], resourcetype="Network", tags=[{"key": "k", "value": "v"}])
        == 531
    )

    # Anti-affinity: two VMs on the two hosts, a third does not fit; affinity groups change only when Stopped.
    types = [t["type"] for t in alice.listAffinityGroupTypes()["affinityGroupType"]]
    assert types == ["host anti-affinity", "host affinity"]
    spread = alice.createAffinityGroup(name="spread", type="host anti-affinity")["affinitygroup"]
    assert "already exists" in error_text(alice.createAffinityGroup, name="spread", type="host affinity")
    placed = [
        alice.deployVirtualMachine(name=f"s{i}", affinitygroupids=spread["id"], **deploy)["virtualmachine"]
        for i in (1, 2)
    ]
    hosts = {root.listVirtualMachines(id=vm["id"])["virtualmachine"][0]["hostid"] for vm in placed}  # admin-only field
    assert hosts == set(cloud.hosts)
    assert error_code(alice.deployVirtualMachine, name="s3", affinitygroupids=spread["id"], **deploy) == 533
    listed = alice.listAffinityGroups(name="spread")["affinitygroup"][0]
    assert sorted(listed["virtualmachineIds"]) == sorted(vm["id"] for vm in placed)
    assert error_code(alice.updateVMAffinityGroup, id=placed[0]["id"], affinitygroupids="") == 431
    alice.stopVirtualMachine(id=placed[0]["id"])
    left = alice.updateVMAffinityGroup(id=placed[0]["id"], affinitygroupnames="")["virtualmachine"]
    assert left["affinitygroup"] == []
    assert error_code(bob.deleteAffinityGroup, id=spread["id"]) == 531
    assert alice.deleteAffinityGroup(name="spread")["success"] is True
    assert alice.listAffinityGroups().get("count", 0) == 0

    # Instance groups.
    group = alice.createInstanceGroup(name="web")["instancegroup"]
    assert (group["name"], group["account"]) == ("web", "alice")
    assert alice.updateInstanceGroup(id=group["id"], name="www")["instancegroup"]["name"] == "www"
    assert _names(alice.listInstanceGroups(), "instancegroup") == ["www"]
    assert error_code(bob.deleteInstanceGroup, id=group["id"]) == 531
    assert alice.deleteInstanceGroup(id=group["id"])["success"] is True
    assert alice.listInstanceGroups().get("count", 0) == 0
