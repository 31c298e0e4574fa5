"""Resource tags: create, list with visibility, filter helpers, delete."""

from __future__ import annotations

import pytest
from sqlalchemy import Connection, select

from provisioner.db.schema import zone
from provisioner.exceptions import ParamError, PermissionDeniedError
from provisioner.services import tags
from provisioner.services.identity import IdentityService
from provisioner.services.principal import Caller
from tests.unit.services.helpers import make_account
from tests.unit.services.infrastructure.builders import sim_zone
from tests.unit.services.infrastructure.conftest import Run


def test_tags_on_zones_and_accounts(run: Run[object], admin: Caller, identity: IdentityService) -> None:
    alice, alice_caller = make_account(identity, admin, "alice")
    _bob, bob_caller = make_account(identity, admin, "bob")

    def check(conn: Connection) -> None:
        first = sim_zone(conn, admin, "a", host_count=0)
        second = sim_zone(conn, admin, "b", host_count=0)
        tags.create_tags(
            conn,
            admin,
            resourceids=[first.zone, second.zone],
            resourcetype="zone",
            tags=[{"key": "env", "value": "prod"}, {"key": "rack", "value": "r1"}],
        )
        with pytest.raises(ParamError, match="already exists"):
            tags.create_tags(
                conn, admin, resourceids=[first.zone], resourcetype="Zone", tags=[{"key": "env", "value": "x"}]
            )
        with pytest.raises(PermissionDeniedError):
            tags.create_tags(
                conn, alice_caller, resourceids=[first.zone], resourcetype="Zone", tags=[{"key": "k", "value": "v"}]
            )
        with pytest.raises(ParamError, match="Invalid resource type"):
            tags.create_tags(
                conn, admin, resourceids=[first.zone], resourcetype="Planet", tags=[{"key": "k", "value": "v"}]
            )

        rows, total = tags.list_tags(conn, admin, resourcetype="Zone", key="env")
        assert total == 2 and {row["resourceid"] for row in rows} == {first.zone, second.zone}
        assert rows[0]["account"] == "admin" and rows[0]["resourcetype"] == "Zone"
        by_zone = tags.tags_by_resource(conn, "Zone", [first.zone])
        assert sorted(row["key"] for row in by_zone[first.zone]) == ["env", "rack"]
        matching = conn.execute(
            select(zone.c.uuid).where(tags.tagged_with("Zone", zone.c.uuid, [{"key": "rack", "value": "r1"}]))
        ).scalars()
        assert set(matching) == {first.zone, second.zone}

        # Users tag what they own and see only their own tags.
        tags.create_tags(
            conn,
            alice_caller,
            resourceids=[alice.account_id],
            resourcetype="Account",
            tags=[{"key": "team", "value": "a"}],
        )
        with pytest.raises(PermissionDeniedError):
            tags.create_tags(
                conn,
                bob_caller,
                resourceids=[alice.account_id],
                resourcetype="Account",
                tags=[{"key": "t", "value": "b"}],
            )
        assert [row["key"] for row in tags.list_tags(conn, alice_caller)[0]] == ["team"]
        assert tags.list_tags(conn, bob_caller) == ([], 0)

        tags.delete_tags(conn, admin, resourceids=[first.zone], resourcetype="Zone", tags=[{"key": "env"}])
        assert tags.list_tags(conn, admin, resourceid=first.zone)[1] == 1
        tags.delete_tags(conn, admin, resourceids=[first.zone, second.zone], resourcetype="Zone")
        assert tags.list_tags(conn, admin, resourcetype="Zone") == ([], 0)

    run(check)
