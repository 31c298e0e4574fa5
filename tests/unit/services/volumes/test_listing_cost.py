"""``listVolumes``, ``listSnapshots`` and ``listVMSnapshot`` cost a constant number of statements per page,
however many rows (with tags, VMs, pools and offerings) the page holds."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import event

from provisioner.db.engine import run_in_transaction
from provisioner.services.snapshots import volume_snapshots
from provisioner.services.tags import create_tags
from provisioner.services.volumes import operations, records
from tests.unit.services.volumes.test_volumes import create
from tests.unit.services.volumes.world import World


def statements(world: World, work: Callable[[Any], Any]) -> tuple[int, Any]:
    """How many statements ``work(conn)`` sends, and what it returned."""
    count = 0

    def counter(*_: Any) -> None:
        nonlocal count
        count += 1

    event.listen(world.engine, "before_cursor_execute", counter)
    try:
        with world.engine.connect() as conn:
            result = work(conn)
    finally:
        event.remove(world.engine, "before_cursor_execute", counter)
    return count, result


def add_volumes(world: World, vm_uuid: str, n: int, start: int) -> None:
    for index in range(start, start + n):
        uuid = create(world, name=f"v{index}")
        if index % 2 == 0:
            operations.attach_volume(world.engine, world.alice, uuid, vm_uuid)
            operations.detach_volume(world.engine, world.alice, uuid)
        run_in_transaction(
            world.engine,
            lambda conn, uuid=uuid: create_tags(
                conn, world.alice, resourceids=[uuid], resourcetype="Volume", tags=[{"key": "k", "value": "v"}]
            ),
        )


def test_list_pages_cost_the_same_for_few_and_many_rows(world: World) -> None:
    vm = world.vm("web", running=True)
    add_volumes(world, vm["uuid"], 2, 0)

    def volumes(conn: Any, **page: Any) -> Any:
        return records.list_volumes(conn, world.alice, **page)

    def snaps(conn: Any) -> Any:
        return volume_snapshots.list_snapshots(conn, world.alice)

    few, (rows, _) = statements(world, volumes)
    few_snaps, _ = statements(world, snaps)
    assert len(rows) == 3  # ROOT + 2
    add_volumes(world, vm["uuid"], 20, 2)
    many, (rows, _) = statements(world, volumes)
    assert len(rows) == 23 and all(r["tags"] for r in rows if r["type"] == "DATADISK")
    assert many == few
    paged, (rows, total) = statements(world, lambda conn: volumes(conn, page=2, pagesize=5))
    assert (len(rows), total) == (5, 23) and paged <= few + 1  # the COUNT, when a page cannot prove the total
    assert statements(world, snaps)[0] == few_snaps
