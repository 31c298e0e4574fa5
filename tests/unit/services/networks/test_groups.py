"""Affinity and instance groups in the services on SQLite and PostgreSQL, and the allocator honouring
host anti-affinity and affinity through the groups' VM map."""

from __future__ import annotations

import pytest
from sqlalchemy import Connection, select

from provisioner.db.engine import run_in_transaction
from provisioner.db.schema import affinity_group, instance_group_vm_map, vm_instance
from provisioner.exceptions import InsufficientCapacityError, ParamError, PermissionDeniedError
from provisioner.services.compute import groups
from provisioner.services.compute.vms import VmSpec, allocate_vm
from tests.unit.services.compute.cloud import FIRSTFIT, Cloud
from tests.unit.services.networks.world import World, make_world


@pytest.fixture
def world(cloud: Cloud) -> World:
    return make_world(cloud)


def _group_pk(world: World, uuid: str) -> int:
    with world.cloud.engine.begin() as conn:
        return int(conn.execute(select(affinity_group.c.id).where(affinity_group.c.uuid == uuid)).scalar_one())


def _place(world: World, group_ids: tuple[int, ...], name: str) -> int | None:
    def work(conn: Connection) -> int | None:
        spec = VmSpec(
            name=name,
            zone_id=world.cloud.zone_id,
            service_offering_id=world.offering_id,
            account_id=world.cloud.accounts["alice"],
            domain_id=world.cloud.domain_id,
            affinity_group_ids=group_ids,
        )
        placed = allocate_vm(conn, spec, settings=FIRSTFIT)
        return placed.placement.host_id if placed.placement else None

    return run_in_transaction(world.cloud.engine, work)


def test_affinity_groups_crud(world: World) -> None:
    assert [t["type"] for t in world.run(groups.list_affinity_group_types, "alice")] == [
        "host anti-affinity",
        "host affinity",
    ]
    made = world.run(groups.create_affinity_group, "alice", name="spread", type="host anti-affinity", description="d")
    assert (made["name"], made["type"], made["description"], made["account"], made["virtualmachineIds"]) == (
        "spread",
        "host anti-affinity",
        "d",
        "alice",
        [],
    )
    with pytest.raises(ParamError, match="a group with name spread already exists"):
        world.run(groups.create_affinity_group, "alice", name="spread", type="host affinity")
    with pytest.raises(ParamError, match="invalid affinity group type"):
        world.run(groups.create_affinity_group, "alice", name="x", type="rack anti-affinity")
    assert world.run(groups.create_affinity_group, "bob", name="spread", type="host affinity")["account"] == "bob"
    assert [g["name"] for g in world.run(groups.list_affinity_groups, "alice")[0]] == ["spread"]
    assert world.run(groups.list_affinity_groups, "admin", listall=True)[1] == 2
    assert world.run(groups.list_affinity_groups, "alice", type="host affinity")[1] == 0
    with pytest.raises(PermissionDeniedError):
        world.run(groups.delete_affinity_group, "bob", id=made["id"])

    vm = world.vm("alice", ())
    world.run(groups.update_vm_affinity_groups, "alice", id=vm, affinitygroupnames=["spread"])
    assert world.run(groups.list_affinity_groups, "alice", virtualmachineid=vm)[0][0]["virtualmachineIds"] == [vm]
    with pytest.raises(ParamError, match="Unable to find affinity group"):
        world.run(groups.update_vm_affinity_groups, "alice", id=vm, affinitygroupnames=["nope"])
    with pytest.raises(ParamError, match="mutually exclusive"):
        world.run(
            groups.update_vm_affinity_groups, "alice", id=vm, affinitygroupids=[made["id"]], affinitygroupnames=[]
        )
    world.set_vm_state(vm, "Running")
    with pytest.raises(ParamError, match="make sure the virtual machine is stopped"):
        world.run(groups.update_vm_affinity_groups, "alice", id=vm, affinitygroupids=[])
    world.set_vm_state(vm, "Stopped")
    world.run(groups.update_vm_affinity_groups, "alice", id=vm)
    assert world.run(groups.list_affinity_groups, "alice", name="spread")[0][0]["virtualmachineIds"] == []

    world.run(groups.update_vm_affinity_groups, "alice", id=vm, affinitygroupids=[made["id"]])
    world.run(groups.delete_affinity_group, "alice", name="spread")
    assert world.run(groups.list_affinity_groups, "alice")[1] == 0


def test_allocator_honours_the_groups(world: World) -> None:
    """The world's host h1 plus h2: anti-affinity spreads two VMs and refuses a third; affinity packs."""
    cluster_id = world.cloud.cluster("c2")
    world.cloud.host(cluster_id, "h2", cores=64, memory_gib=256)
    world.cloud.pool("ps2", cluster_id=cluster_id)
    spread = world.run(groups.create_affinity_group, "alice", name="spread", type="host anti-affinity")
    pack = world.run(groups.create_affinity_group, "alice", name="pack", type="host affinity")
    spread_pk, pack_pk = _group_pk(world, spread["id"]), _group_pk(world, pack["id"])

    first = _place(world, (spread_pk,), "s1")
    second = _place(world, (spread_pk,), "s2")
    assert first is not None and second is not None and first != second
    with pytest.raises(InsufficientCapacityError):
        _place(world, (spread_pk,), "s3")

    packed = {_place(world, (pack_pk,), f"p{i}") for i in range(3)}
    assert len(packed) == 1
    listed = world.run(groups.list_affinity_groups, "alice", name="spread")[0][0]
    assert len(listed["virtualmachineIds"]) == 2


def test_instance_groups(world: World) -> None:
    made = world.run(groups.create_instance_group, "alice", name="web")
    assert (made["name"], made["account"], made["domain"]) == ("web", "alice", "ROOT")
    with pytest.raises(ParamError, match="already exists"):
        world.run(groups.create_instance_group, "alice", name="web")
    world.run(groups.create_instance_group, "bob", name="web")
    renamed = world.run(groups.update_instance_group, "alice", made["id"], name="www")
    assert renamed["name"] == "www"
    assert [g["name"] for g in world.run(groups.list_instance_groups, "alice")[0]] == ["www"]
    assert world.run(groups.list_instance_groups, "admin", listall=True)[1] == 2
    assert world.run(groups.list_instance_groups, "alice", keyword="W")[1] == 1
    with pytest.raises(PermissionDeniedError):
        world.run(groups.update_instance_group, "bob", made["id"], name="mine")
    vm = world.vm("alice", ())
    with world.cloud.engine.begin() as conn:
        vm_pk = conn.execute(select(vm_instance.c.id).where(vm_instance.c.uuid == vm)).scalar_one()
        group_pk = conn.execute(
            select(groups.instance_group.c.id).where(groups.instance_group.c.uuid == made["id"])
        ).scalar_one()
        conn.execute(instance_group_vm_map.insert().values(group_id=group_pk, vm_id=vm_pk))
    world.run(groups.delete_instance_group, "alice", made["id"])
    assert world.run(groups.list_instance_groups, "alice")[1] == 0
    with world.cloud.engine.begin() as conn:
        assert conn.execute(select(instance_group_vm_map)).all() == []
    # The name is free again once the group is deleted.
    assert world.run(groups.create_instance_group, "alice", name="www")["name"] == "www"
