"""listTemplates filters and visibility over a small cloud (both databases)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, insert

from provisioner.db.schema import template_permission, template_zone_ref
from provisioner.exceptions import ParamError, PermissionDeniedError
from provisioner.services.principal import RoleType
from provisioner.services.templates.listing import list_images
from tests.unit.services.compute.cloud import Cloud
from tests.unit.services.templates.test_deploy import add_store, add_template, caller_for, mark_ready


def names(engine: Engine, caller_name: str, templatefilter: str) -> list[str]:
    caller = caller_for(engine, caller_name)
    with engine.begin() as conn:
        rows, total = list_images(conn, caller, is_iso=False, templatefilter=templatefilter)
    assert total == len(rows)
    return sorted(f"{row['name']}:{row['isready']}" for row in rows)


def test_filters(db_engine: Engine, tmp_path: Path) -> None:
    cloud = Cloud(db_engine)
    store = add_store(cloud, tmp_path / "s")
    ids = {
        "own": add_template(cloud, "alice"),
        "public": add_template(cloud, "bob", public=True),
        "private": add_template(cloud, "bob"),
        "shared": add_template(cloud, "bob"),
        "unready": add_template(cloud, "bob", public=True),
    }
    for label, tid in ids.items():
        cloud.run(insert(template_zone_ref).values(template_id=tid, zone_id=cloud.zone_id))
        if label != "unready":
            mark_ready(cloud, tid, store, f"{label}.img")
    cloud.run(insert(template_permission).values(template_id=ids["shared"], account_id=cloud.accounts["alice"]))
    # add_template names every template tmpl-<owner>; the labels tell them apart through the ids.
    assert names(db_engine, "alice", "self") == ["tmpl-alice:True"]
    assert names(db_engine, "alice", "selfexecutable") == ["tmpl-alice:True"]
    assert names(db_engine, "alice", "sharedexecutable") == ["tmpl-bob:True"]
    assert names(db_engine, "alice", "community") == ["tmpl-bob:True"]  # the unready public one is left out
    assert names(db_engine, "alice", "executable") == ["tmpl-alice:True", "tmpl-bob:True", "tmpl-bob:True"]
    assert names(db_engine, "alice", "featured") == []
    with pytest.raises(PermissionDeniedError):
        names(db_engine, "alice", "all")
    with pytest.raises(ParamError):
        names(db_engine, "alice", "everything")
    admin = caller_for(db_engine, "bob", RoleType.ADMIN)
    with db_engine.begin() as conn:
        rows, total = list_images(conn, admin, is_iso=False, templatefilter="all")
    assert total == 5 and sum(1 for row in rows if not row["isready"]) == 1
    assert all("status" in row for row in rows)
