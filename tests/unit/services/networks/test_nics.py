"""NICs in the services on SQLite and PostgreSQL: list, add, remove, default, change of address, and no address
ever handed out twice when requests race."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from provisioner.db.schema import guest_network, ip_address, nic
from provisioner.exceptions import ApiError, InsufficientCapacityError, InternalError, ParamError, PermissionDeniedError
from provisioner.services.networks import nics
from tests.unit.services.compute.cloud import Cloud
from tests.unit.services.networks.world import World, make_world


@pytest.fixture
def world(cloud: Cloud) -> World:
    return make_world(cloud)


def _network(world: World, name: str, cidr: str, **values: object) -> tuple[int, str]:
    gateway = cidr.rsplit(".", 1)[0] + ".1"
    network_id = world.cloud.network(
        name,
        cidr=cidr,
        gateway=gateway,
        account_id=world.cloud.accounts["alice"],
        domain_id=world.cloud.domain_id,
        guest_type="Isolated",
        **values,
    )
    with world.cloud.engine.begin() as conn:
        uuid = conn.execute(select(guest_network.c.uuid).where(guest_network.c.id == network_id)).scalar_one()
    return network_id, str(uuid)


def _nics(world: World, vm: str, who: str = "alice") -> list[dict[str, object]]:
    rows, total = world.run(nics.list_nics, who, virtualmachineid=vm)
    assert total == len(rows)
    return rows


def test_add_remove_default_and_readdress(world: World) -> None:
    first, _ = _network(world, "n1", "10.1.1.0/24")
    _, second_uuid = _network(world, "n2", "10.2.2.0/24")
    vm = world.vm("alice", (first,))
    (only,) = _nics(world, vm)
    assert (only["ipaddress"], only["isdefault"], only["deviceid"], only["virtualmachineid"]) == (
        "10.1.1.2",
        True,
        "0",
        vm,
    )

    world.run(nics.add_nic, "alice", virtualmachineid=vm, networkid=second_uuid, ipaddress="10.2.2.50")
    listed = _nics(world, vm)
    assert [(n["ipaddress"], n["isdefault"], n["deviceid"], n["mode"]) for n in listed] == [
        ("10.1.1.2", True, "0", "Dhcp"),
        ("10.2.2.50", False, "1", "Static"),
    ]
    added = listed[1]
    assert world.run(nics.list_nics, "alice", virtualmachineid=vm, networkid=second_uuid)[1] == 1
    with pytest.raises(ParamError, match="A NIC already exists for VM"):
        world.run(nics.add_nic, "alice", virtualmachineid=vm, networkid=second_uuid)

    with pytest.raises(ParamError, match="nic is default"):
        world.run(nics.remove_nic, "alice", virtualmachineid=vm, nicid=str(only["id"]))
    world.run(nics.update_default_nic, "alice", virtualmachineid=vm, nicid=str(added["id"]))
    assert [n["isdefault"] for n in _nics(world, vm)] == [False, True]
    with pytest.raises(ParamError, match="already the default"):
        world.run(nics.update_default_nic, "alice", virtualmachineid=vm, nicid=str(added["id"]))

    # A new address: the old one is free again, the range and uniqueness are enforced.
    world.run(nics.update_nic_ip, "alice", nicid=str(only["id"]), ipaddress="10.1.1.77")
    assert _nics(world, vm)[0]["ipaddress"] == "10.1.1.77"
    other = world.vm("alice", (first,), name="other")
    assert _nics(world, other)[0]["ipaddress"] == "10.1.1.2"  # reused: the old address was released
    with pytest.raises(ParamError, match="already in use"):
        world.run(nics.update_nic_ip, "alice", nicid=str(_nics(world, other)[0]["id"]), ipaddress="10.1.1.77")
    with pytest.raises(ParamError, match="not in the range"):
        world.run(nics.update_nic_ip, "alice", nicid=str(only["id"]), ipaddress="10.9.9.9")
    world.run(nics.update_nic_ip, "alice", nicid=str(only["id"]))  # no address: the first free one
    assert _nics(world, vm)[0]["ipaddress"] == "10.1.1.3"

    world.run(nics.remove_nic, "alice", virtualmachineid=str(vm), nicid=str(only["id"]))
    assert [n["ipaddress"] for n in _nics(world, vm)] == ["10.2.2.50"]
    with world.cloud.engine.begin() as conn:
        held = conn.execute(select(ip_address.c.address).where(ip_address.c.network_id == first)).scalars().all()
    assert sorted(held) == ["10.1.1.1", "10.1.1.2"]  # gateway and the other VM's


def test_rules_and_permissions(world: World) -> None:
    first, _ = _network(world, "n1", "10.1.1.0/24")
    _, second_uuid = _network(world, "n2", "10.2.2.0/24")
    vm = world.vm("alice", (first,))
    with pytest.raises(PermissionDeniedError):
        _nics(world, vm, "bob")
    with pytest.raises(PermissionDeniedError):
        world.run(nics.add_nic, "bob", virtualmachineid=vm, networkid=second_uuid)
    bob_vm = world.vm("bob", (world.cloud.network("bobnet", cidr="10.3.3.0/24", gateway="10.3.3.1"),), name="b")
    with pytest.raises(PermissionDeniedError):  # alice's network is not bob's to use
        world.run(nics.add_nic, "bob", virtualmachineid=bob_vm, networkid=second_uuid)
    assert world.run(nics.add_nic, "admin", virtualmachineid=bob_vm, networkid=second_uuid)
    with pytest.raises(ParamError, match="Mac address is not valid"):
        world.run(nics.add_nic, "alice", virtualmachineid=vm, networkid=second_uuid, macaddress="01:00:00:00:00:01")
    world.set_vm_state(vm, "Starting")
    with pytest.raises(ParamError, match="only while it is Running or Stopped"):
        world.run(nics.add_nic, "alice", virtualmachineid=vm, networkid=second_uuid)
    world.set_vm_state(vm, "Running")
    world.run(nics.add_nic, "alice", virtualmachineid=vm, networkid=second_uuid, macaddress="02:00:aa:bb:cc:dd")
    added = _nics(world, vm)[1]
    assert added["macaddress"] == "02:00:aa:bb:cc:dd"
    with world.cloud.engine.begin() as conn:
        assert conn.execute(select(guest_network.c.state).where(guest_network.c.uuid == second_uuid)).scalar() == (
            "Implemented"
        )
    with pytest.raises(ParamError, match="VM is not Stopped"):  # isolated network: only a Stopped VM
        world.run(nics.update_nic_ip, "alice", nicid=str(added["id"]), ipaddress="10.2.2.99")
    with pytest.raises(PermissionDeniedError):
        world.run(nics.remove_nic, "alice", virtualmachineid=bob_vm, nicid=str(added["id"]))
    with pytest.raises(ParamError, match="does not belong to virtual machine"):
        world.run(nics.remove_nic, "admin", virtualmachineid=bob_vm, nicid=str(added["id"]))


def test_basic_zone_refuses_new_nics(world: World) -> None:
    from provisioner.db.schema import zone

    first, second_uuid = _network(world, "n1", "10.1.1.0/24")
    vm = world.vm("alice", (first,))
    with world.cloud.engine.begin() as conn:
        conn.execute(zone.update().values(network_type="Basic"))
    with pytest.raises(InternalError, match="Can't add a new NIC to a VM on a Basic Network"):
        world.run(nics.add_nic, "alice", virtualmachineid=vm, networkid=second_uuid)


def test_concurrent_requests_never_share_an_address(world: World) -> None:
    """Twelve VMs join one small network at once, then race for the same address: no duplicates."""
    first, _ = _network(world, "home", "10.1.1.0/24")
    _, shared_uuid = _network(world, "small", "10.5.5.0/28")  # 13 addresses once the gateway is reserved
    vms = [world.vm("alice", (first,), name=f"vm{i}") for i in range(14)]

    def add(vm: str) -> str:
        try:
            world.run(nics.add_nic, "alice", virtualmachineid=vm, networkid=shared_uuid)
        except ApiError as exc:
            return type(exc).__name__
        return "ok"

    with ThreadPoolExecutor(max_workers=6) as pool:
        outcomes = list(pool.map(add, vms))
    assert outcomes.count("ok") == 13
    assert outcomes.count(InsufficientCapacityError.__name__) == 1
    with world.cloud.engine.begin() as conn:
        network_id = conn.execute(select(guest_network.c.id).where(guest_network.c.uuid == shared_uuid)).scalar_one()
        addresses = conn.execute(select(nic.c.ip_address).where(nic.c.network_id == network_id)).scalars().all()
        rows = conn.execute(
            select(func.count()).select_from(ip_address).where(ip_address.c.network_id == network_id)
        ).scalar_one()
    assert len(addresses) == len(set(addresses)) == 13
    assert rows == 14  # 13 NICs and the gateway

    # Free two addresses, then let every NIC race for the same one: exactly one wins.
    home_nics = [_nics(world, vm)[0] for vm in vms[:8]]
    world.run(nics.remove_nic, "alice", virtualmachineid=vms[0], nicid=str(_nics(world, vms[0])[1]["id"]))

    def move(entry: dict[str, object]) -> str:
        try:
            world.run(nics.update_nic_ip, "alice", nicid=str(entry["id"]), ipaddress="10.1.1.200")
        except ParamError:
            return "taken"
        return "ok"

    with ThreadPoolExecutor(max_workers=6) as pool:
        moved = list(pool.map(move, home_nics))
    assert sorted(moved) == ["ok"] + ["taken"] * 7
    with world.cloud.engine.begin() as conn:
        holders = conn.execute(select(nic.c.id).where(nic.c.ip_address == "10.1.1.200")).all()
    assert len(holders) == 1
