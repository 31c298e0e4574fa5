"""createNetwork / listNetworks / updateNetwork / deleteNetwork in the services, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from provisioner.db.schema import guest_network, ip_address, network_offering, nic, utcnow
from provisioner.exceptions import InternalError, ParamError, PermissionDeniedError
from provisioner.services.networks import networks
from provisioner.services.tags import create_tags
from tests.unit.services.compute.cloud import Cloud
from tests.unit.services.networks.world import World, make_world


@pytest.fixture
def world(cloud: Cloud) -> World:
    return make_world(cloud)


def _offering(world: World, name: str) -> str:
    with world.cloud.engine.begin() as conn:
        return str(conn.execute(select(network_offering.c.uuid).where(network_offering.c.name == name)).scalar_one())


ISOLATED = "DefaultIsolatedNetworkOfferingWithSourceNatService"
SHARED = "DefaultSharedNetworkOffering"


def _isolated(world: World, who: str = "alice", **kwargs: object) -> dict[str, object]:
    return world.run(
        networks.create_network, who, networkofferingid=_offering(world, ISOLATED), zoneid=world.zone_uuid, **kwargs
    )


def _shared(world: World, **kwargs: object) -> dict[str, object]:
    values: dict[str, object] = {
        "name": "shared",
        "gateway": "10.9.0.1",
        "netmask": "255.255.255.0",
        "startip": "10.9.0.10",
        "endip": "10.9.0.20",
        "vlan": "300",
    }
    values.update(kwargs)
    return world.run(
        networks.create_network, "admin", networkofferingid=_offering(world, SHARED), zoneid=world.zone_uuid, **values
    )


def test_isolated_network_defaults(world: World) -> None:
    created = _isolated(world, name="web")
    assert (created["type"], created["acltype"], created["state"], created["account"]) == (
        "Isolated",
        "Account",
        "Allocated",
        "alice",
    )
    assert (created["cidr"], created["gateway"], created["netmask"]) == ("10.1.1.0/24", "10.1.1.1", "255.255.255.0")
    assert created["displaytext"] == "web"
    assert created["networkofferingname"] == ISOLATED
    assert {s["name"] for s in created["service"]} >= {"Dhcp", "SourceNat"}
    assert created["vlan"] is None and created["broadcasturi"] is None  # admin-only fields
    custom = _isolated(world, name="db", gateway="192.168.5.1", netmask="255.255.255.0", networkdomain="db.lan")
    assert (custom["cidr"], custom["networkdomain"]) == ("192.168.5.0/24", "db.lan")
    # Users cannot pick a VLAN, nor create shared networks.
    with pytest.raises(PermissionDeniedError):
        _isolated(world, name="v", vlan="12")
    with pytest.raises(PermissionDeniedError, match="Only Admins can create network with guest type Shared"):
        world.run(
            networks.create_network,
            "alice",
            networkofferingid=_offering(world, SHARED),
            zoneid=world.zone_uuid,
            name="s",
            gateway="10.9.0.1",
            netmask="255.255.255.0",
            startip="10.9.0.10",
        )
    for bad in (
        {"gateway": "10.0.0.1"},
        {"gateway": "10.0.0.0", "netmask": "255.255.255.0"},
        {"gateway": "x", "netmask": "255.255.255.0"},
    ):
        with pytest.raises(ParamError):
            _isolated(world, name="bad", **bad)


def test_shared_network_range_vlan_and_state(world: World) -> None:
    shared = _shared(world)
    assert (shared["type"], shared["acltype"], shared["state"], shared["account"]) == (
        "Shared",
        "Domain",
        "Setup",
        None,
    )
    assert (shared["vlan"], shared["broadcasturi"], shared["domain"]) == ("300", "vlan://300", "ROOT")
    with world.cloud.engine.begin() as conn:
        row = conn.execute(select(guest_network).where(guest_network.c.uuid == shared["id"])).one()
        reserved = conn.execute(select(ip_address.c.address).where(ip_address.c.network_id == row.id)).scalars().all()
    assert (row.start_ip, row.end_ip) == ("10.9.0.10", "10.9.0.20")
    assert reserved == []  # the gateway is outside the range VMs get addresses from
    with pytest.raises(ParamError, match="VLAN tag 300 is already being used by network shared"):
        _shared(world, name="again")
    with pytest.raises(ParamError, match="requires a vlan"):
        _shared(world, name="novlan", vlan=None)
    with pytest.raises(ParamError, match="startip"):
        _shared(world, name="norange", vlan="301", startip=None, endip=None)
    with pytest.raises(ParamError, match="not in the network"):
        _shared(world, name="outside", vlan="302", startip="10.10.0.5")
    with pytest.raises(ParamError, match="valid IP address for startip"):
        _shared(world, name="garbage", vlan="305", startip="10.9.0.x")
    with pytest.raises(ParamError, match="endip needs startip"):
        _shared(world, name="halfrange", vlan="304", startip=None, endip="10.9.0.30")
    with pytest.raises(ParamError, match="after the endip"):
        _shared(world, name="reversed", vlan="303", startip="10.9.0.30", endip="10.9.0.20")


def test_visibility_and_filters(world: World) -> None:
    web = _isolated(world, name="web")
    _isolated(world, "bob", name="bobnet")
    shared = _shared(world)

    def names(who: str, **filters: object) -> list[str]:
        rows, total = world.run(networks.list_networks, who, **filters)
        assert total == len(rows)
        return sorted(str(r["name"]) for r in rows)

    assert names("alice") == ["shared", "web"]
    assert names("bob") == ["bobnet", "shared"]
    assert names("admin") == ["shared"]  # the admin's own account has none; listall shows all
    assert names("admin", listall=True) == ["bobnet", "shared", "web"]
    assert names("alice", listall=True) == ["shared", "web"]
    assert names("alice", type="isolated") == ["web"]
    assert names("alice", type="Shared") == ["shared"]
    assert names("alice", acltype="domain") == ["shared"]
    assert names("alice", networkfilter="account") == ["web"]
    assert names("alice", keyword="WE") == ["web"]
    assert names("alice", id=str(web["id"])) == ["web"]
    assert names("alice", zoneid=world.zone_uuid, canusefordeploy=True) == ["shared", "web"]
    assert names("alice", supportedservices=["SourceNat"]) == ["web"]
    assert names("alice", issystem=True) == []
    assert names("alice", specifyipranges=True) == ["shared"]
    assert names("admin", listall=True, networkofferingid=_offering(world, SHARED)) == ["shared"]
    with pytest.raises(ParamError):
        names("alice", type="bogus")
    world.run(
        create_tags,
        "alice",
        resourceids=[str(web["id"])],
        resourcetype="Network",
        tags=[{"key": "tier", "value": "web"}],
    )
    assert names("alice", tags=[{"key": "tier", "value": "web"}]) == ["web"]
    rows, _ = world.run(networks.list_networks, "alice", id=str(web["id"]))
    assert [(t["key"], t["value"]) for t in rows[0]["tags"]] == [("tier", "web")]
    # Bob may not see or change alice's network; nobody but root changes the shared one.
    assert names("bob", id=str(web["id"])) == []
    with pytest.raises(PermissionDeniedError):
        world.run(networks.update_network, "bob", str(web["id"]), name="mine")
    with pytest.raises(PermissionDeniedError):
        world.run(networks.delete_network, "alice", str(shared["id"]))


def test_update_and_delete(world: World) -> None:
    web = _isolated(world, name="web")
    changed = world.run(
        networks.update_network, "alice", str(web["id"]), name="www", displaytext="W", networkdomain="w.lan"
    )
    assert (changed["name"], changed["displaytext"], changed["networkdomain"]) == ("www", "W", "w.lan")
    with pytest.raises(ParamError, match="is for Shared networks"):
        world.run(networks.update_network, "alice", str(web["id"]), networkofferingid=_offering(world, SHARED))
    with world.cloud.engine.begin() as conn:
        network_id = conn.execute(select(guest_network.c.id).where(guest_network.c.uuid == web["id"])).scalar_one()
    vm = world.vm("alice", (network_id,), name="web1")
    with pytest.raises(
        InternalError, match=r"Can't delete the network, not all user vms are expunged\. Vm web1 is in Stopped state"
    ):
        world.run(networks.delete_network, "alice", str(web["id"]))
    assert vm
    with world.cloud.engine.begin() as conn:
        conn.execute(nic.update().where(nic.c.network_id == network_id).values(removed=utcnow()))
    world.run(networks.delete_network, "alice", str(web["id"]))
    with world.cloud.engine.begin() as conn:
        row = conn.execute(select(guest_network).where(guest_network.c.id == network_id)).one()
        left = conn.execute(select(ip_address).where(ip_address.c.network_id == network_id)).all()
    assert row.state == "Destroy" and row.removed is not None and left == []
    assert world.run(networks.list_networks, "alice")[1] == 0
    with pytest.raises(ParamError):
        world.run(networks.delete_network, "alice", str(web["id"]))
