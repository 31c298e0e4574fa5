"""Resource limits and counts: defaults, explicit account and domain limits, who may change them, and the 535
a creation past a limit gets (``provisioner.services.identity.resource_limits``)."""

from __future__ import annotations

import pytest
from sqlalchemy import Connection, insert, select

from provisioner.db.schema import account, vm_template
from provisioner.exceptions import ParamError, PermissionDeniedError, ResourceAllocationError
from provisioner.services.identity import IdentityService
from provisioner.services.identity.resource_limits import (
    RESOURCE_TYPES,
    check_resource_limit,
    list_resource_limits,
    update_resource_count,
    update_resource_limit,
)
from provisioner.services.principal import Caller
from tests.unit.services.helpers import make_account, make_domain


def _template(conn: Connection, account_name: str, size: int) -> None:
    owner = conn.execute(select(account.c.id, account.c.domain_id).where(account.c.name == account_name)).one()
    conn.execute(
        insert(vm_template).values(
            name=f"t-{account_name}-{size}",
            format="QCOW2",
            type="USER",
            physical_size=size,
            details={},
            account_id=owner.id,
            domain_id=owner.domain_id,
        )
    )


def _account_id(conn: Connection, name: str) -> int:
    return int(conn.execute(select(account.c.id).where(account.c.name == name)).scalar_one())


def test_defaults_and_explicit_limits(identity: IdentityService, admin: Caller) -> None:
    sub = make_domain(identity, admin, "sub")
    _, alice = make_account(identity, admin, "alice", domain_uuid=sub)
    rows = identity.transaction(lambda conn: list_resource_limits(conn, alice))
    assert [row["resourcetype"] for row in rows] == [str(kind.ordinal) for kind in RESOURCE_TYPES]
    by_name = {row["resourcetypename"]: row for row in rows}
    assert (by_name["user_vm"]["max"], by_name["primary_storage"]["max"], by_name["memory"]["max"]) == (20, 200, 40960)
    assert by_name["volume"]["account"] == "alice" and by_name["volume"]["domainid"] == sub
    assert all(row["max"] == -1 for row in identity.transaction(lambda conn: list_resource_limits(conn, admin)))

    changed = identity.transaction(
        lambda conn: update_resource_limit(
            conn, admin, resourcetype=2, maximum=3, account_name="alice", domain_uuid=sub
        )
    )
    assert (changed["resourcetypename"], changed["max"], changed["account"]) == ("volume", 3, "alice")
    only = identity.transaction(lambda conn: list_resource_limits(conn, alice, resourcetypename="volume"))
    assert [(row["resourcetype"], row["max"]) for row in only] == [("2", 3)]
    domain_rows = identity.transaction(lambda conn: list_resource_limits(conn, admin, domain_uuid=sub))
    assert "account" not in domain_rows[0] and domain_rows[0]["max"] == 40  # max.domain.user.vms

    with pytest.raises(PermissionDeniedError):  # a user changes no limits, not even its own
        identity.transaction(lambda conn: update_resource_limit(conn, alice, resourcetype=0, maximum=99))
    with pytest.raises(ParamError):
        identity.transaction(lambda conn: update_resource_limit(conn, admin, resourcetype=12, maximum=1))
    with pytest.raises(ParamError):
        identity.transaction(lambda conn: update_resource_limit(conn, admin, resourcetype=0, maximum=-2))
    with pytest.raises(ParamError):  # ROOT is unlimited
        identity.transaction(
            lambda conn: update_resource_limit(conn, admin, resourcetype=0, maximum=5, domain_uuid=admin.domain_id)
        )


def test_a_creation_past_a_limit_is_a_535(identity: IdentityService, admin: Caller) -> None:
    sub = make_domain(identity, admin, "sub")
    make_account(identity, admin, "alice", domain_uuid=sub)
    make_account(identity, admin, "bob", domain_uuid=sub)

    def account_limit(conn: Connection) -> None:
        update_resource_limit(conn, admin, resourcetype=4, maximum=1, account_name="alice", domain_uuid=sub)
        alice = _account_id(conn, "alice")
        check_resource_limit(conn, alice, "template")  # 0 + 1 <= 1
        _template(conn, "alice", 5 << 30)
        with pytest.raises(ResourceAllocationError) as refused:
            check_resource_limit(conn, alice, "template")
        assert refused.value.errorcode == 535
        assert refused.value.errortext == (
            f"Maximum number of resources of type 'template' for account name=alice in domain id={sub} has been "
            "exceeded."
        )
        # Storage limits are GiB against a count in bytes: 5 GiB used of 400, so 395 GiB more fit, 396 do not.
        check_resource_limit(conn, alice, "secondary_storage", 395 << 30)
        with pytest.raises(ResourceAllocationError):
            check_resource_limit(conn, alice, "secondary_storage", 396 << 30)

    identity.transaction(account_limit)

    def domain_limit(conn: Connection) -> None:
        update_resource_limit(conn, admin, resourcetype=4, maximum=2, domain_uuid=sub)
        bob = _account_id(conn, "bob")
        _template(conn, "bob", 1 << 30)  # the subtree now holds two templates
        with pytest.raises(ResourceAllocationError, match=f"for domain id={sub} has been exceeded"):
            check_resource_limit(conn, bob, "template")
        check_resource_limit(conn, _account_id(conn, "admin"), "template")  # root admins are never limited

    identity.transaction(domain_limit)

    counts = identity.transaction(lambda conn: update_resource_count(conn, admin, domain_uuid=sub))
    by_name = {row["resourcetypename"]: row["resourcecount"] for row in counts}
    assert (by_name["template"], by_name["secondary_storage"], by_name["user_vm"]) == (2, 6 << 30, 0)
    alice_only = identity.transaction(
        lambda conn: update_resource_count(conn, admin, domain_uuid=sub, account_name="alice", resourcetype=4)
    )
    assert [(row["account"], row["resourcecount"]) for row in alice_only] == [("alice", 1)]
