"""Who may act on bob's (domain d1, user) networking resources: root, d1's domain admin, alice (a user of d1)
and eve (a user of d2), through ``cs`` on a live server (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from cs import CloudStack, CloudStackApiException

from tests.integration.networks.support import make_people, simulated_cloud
from tests.support.server import LiveServer

pytestmark = pytest.mark.integration

CALLERS = ("root", "dadmin", "alice", "eve")
Call = Callable[[CloudStack, str, dict[str, str]], Any]


def outcome(call: Callable[[], Any]) -> str | int:
    """``ok`` or ``none`` (an empty list), else the error code."""
    try:
        answer = call()
    except CloudStackApiException as exc:
        return int(exc.error["errorcode"])
    return "ok" if answer else "none"  # an empty list answers {}


#: (what, call(client, caller, ids), expected for root, dadmin, alice, eve)
MATRIX: tuple[tuple[str, Call, tuple[str | int, ...]], ...] = (
    ("list bob's network", lambda c, w, i: c.listNetworks(id=i["net"], listall=True), ("ok", "ok", "none", "none")),
    (
        "rename bob's network",
        lambda c, w, i: c.updateNetwork(id=i["net"], displaytext=f"by {w}"),
        ("ok", "ok", 531, 531),
    ),
    (
        "create a network for bob",
        lambda c, w, i: c.createNetwork(
            name=f"for-bob-{w}", zoneid=i["zone"], networkofferingid=i["isolated"], account="bob", domainid=i["d1"]
        ),
        ("ok", "ok", 531, 531),
    ),
    (
        "create a shared network",
        lambda c, w, i: c.createNetwork(
            name=f"shared-{w}",
            zoneid=i["zone"],
            networkofferingid=i["shared"],
            gateway="10.70.0.1",
            netmask="255.255.255.0",
            startip="10.70.0.10",
            vlan="170",
        ),
        ("ok", 531, 531, 531),
    ),
    ("list bob's NICs", lambda c, w, i: c.listNics(virtualmachineid=i["vm"]), ("ok", "ok", 531, 531)),
    (
        "plug bob's VM into his second network",
        lambda c, w, i: c.addNicToVirtualMachine(virtualmachineid=i["vm"], networkid=i["net2"]),
        ("ok", 431, 531, 531),  # after root plugged it, the domain admin's try finds the NIC there
    ),
    (
        "list bob's key pairs",
        lambda c, w, i: c.listSSHKeyPairs(account="bob", domainid=i["d1"]),
        ("ok", "ok", 531, 531),
    ),
    (
        "delete bob's key pair",
        lambda c, w, i: c.deleteSSHKeyPair(name="bobkey", account="bob", domainid=i["d1"]),
        ("ok", 431, 531, 531),  # root deleted it first
    ),
    (
        "list bob's affinity group",
        lambda c, w, i: c.listAffinityGroups(id=i["group"], listall=True),
        ("ok", "ok", "none", "none"),
    ),
    (
        "create an affinity group for bob",
        lambda c, w, i: c.createAffinityGroup(name=f"g-{w}", type="host affinity", account="bob", domainid=i["d1"]),
        ("ok", "ok", 531, 531),
    ),
    (
        "rename bob's instance group",
        lambda c, w, i: c.updateInstanceGroup(id=i["igroup"], name=f"ig-{w}"),
        ("ok", "ok", 531, 531),
    ),
)


def test_permission_matrix(live_server: LiveServer) -> None:
    cloud = simulated_cloud(live_server)
    people = make_people(live_server)
    root, bob = people.clients["root"], people.clients["bob"]
    offerings = {o["name"]: o["id"] for o in root.listNetworkOfferings()["networkoffering"]}
    isolated = offerings["DefaultIsolatedNetworkOfferingWithSourceNatService"]
    net = bob.createNetwork(name="bobnet", zoneid=cloud.zone, networkofferingid=isolated)["network"]
    net2 = bob.createNetwork(
        name="bobnet2", zoneid=cloud.zone, networkofferingid=isolated, gateway="10.71.0.1", netmask="255.255.255.0"
    )["network"]
    vm = bob.deployVirtualMachine(
        name="bobvm",
        zoneid=cloud.zone,
        serviceofferingid=cloud.offering,
        templateid=cloud.template,
        networkids=net["id"],
        startvm=False,
    )["virtualmachine"]
    bob.createSSHKeyPair(name="bobkey")
    ids = {
        "zone": cloud.zone,
        "d1": people.ids["d1"],
        "isolated": isolated,
        "shared": offerings["DefaultSharedNetworkOffering"],
        "net": net["id"],
        "net2": net2["id"],
        "vm": vm["id"],
        "group": bob.createAffinityGroup(name="bobgroup", type="host anti-affinity")["affinitygroup"]["id"],
        "igroup": bob.createInstanceGroup(name="bobig")["instancegroup"]["id"],
    }
    seen = {
        what: tuple(outcome(lambda c=people.clients[w], w=w, f=call: f(c, w, ids)) for w in CALLERS)
        for what, call, _ in MATRIX
    }
    assert seen == {what: expected for what, _, expected in MATRIX}
