"""Domains as a tree of paths, and what each kind of caller sees (path-prefix visibility)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from provisioner.db.schema import account
from provisioner.exceptions import ParamError, PermissionDeniedError, ResourceInUseError
from provisioner.services.identity import Domain, IdentityService, accounts, domains
from provisioner.services.identity.visibility import visible_condition
from provisioner.services.principal import Caller
from tests.unit.services.helpers import make_account, make_domain


def test_paths_rename_and_delete(identity: IdentityService, admin: Caller) -> None:
    sub = make_domain(identity, admin, "sub")
    child = make_domain(identity, admin, "child", sub)
    leaf = make_domain(identity, admin, "leaf", child)

    def get(uuid: str) -> Domain:
        return identity.transaction(lambda c: domains.get_domain(c, uuid))

    assert (get(sub).path, get(child).path, get(leaf).path) == ("/sub/", "/sub/child/", "/sub/child/leaf/")
    assert get(leaf).level == 3 and get(child).parent_id == sub and get(sub).has_child

    identity.transaction(lambda c: domains.update_domain(c, admin, sub, name="top"))
    assert (get(sub).path, get(child).path, get(leaf).path) == ("/top/", "/top/child/", "/top/child/leaf/")

    with pytest.raises(ParamError):
        make_domain(identity, admin, "child", sub)  # sibling names are unique
    with pytest.raises(ResourceInUseError):
        identity.transaction(lambda c: domains.delete_domain(c, admin, child))
    identity.transaction(lambda c: domains.delete_domain(c, admin, leaf))
    identity.transaction(lambda c: domains.delete_domain(c, admin, child))
    with pytest.raises(ParamError):
        get(child)


def test_domain_with_accounts_needs_cleanup(identity: IdentityService, admin: Caller) -> None:
    sub = make_domain(identity, admin, "sub")
    make_account(identity, admin, "bob", domain_uuid=sub)
    with pytest.raises(ResourceInUseError):
        identity.transaction(lambda c: domains.delete_domain(c, admin, sub))
    identity.transaction(lambda c: domains.delete_domain(c, admin, sub, cleanup=True))
    assert identity.find_api_key("nothing") is None


def test_like_wildcards_in_names_do_not_widen_a_subtree(identity: IdentityService, admin: Caller) -> None:
    odd = make_domain(identity, admin, "a_b")
    other = make_domain(identity, admin, "axb")
    _, dadmin = make_account(identity, admin, "odd-admin", account_type=2, domain_uuid=odd)
    make_account(identity, admin, "outsider", domain_uuid=other)
    total, seen = identity.transaction(lambda c: accounts.list_accounts(c, dadmin))
    assert [a.name for a in seen] == ["odd-admin"] and total == 1


def test_visibility_by_caller_kind(identity: IdentityService, admin: Caller) -> None:
    sales = make_domain(identity, admin, "sales")
    emea = make_domain(identity, admin, "emea", sales)
    ops = make_domain(identity, admin, "ops")
    _, sales_admin = make_account(identity, admin, "sales-admin", account_type=2, domain_uuid=sales)
    _, alice = make_account(identity, admin, "alice", domain_uuid=emea)
    make_account(identity, admin, "bob", domain_uuid=emea)
    make_account(identity, admin, "carol", domain_uuid=ops)

    def names(caller: Caller) -> set[str]:
        return {a.name for a in identity.transaction(lambda c: accounts.list_accounts(c, caller))[1]}

    assert names(admin) == {"admin", "sales-admin", "alice", "bob", "carol"}
    assert names(sales_admin) == {"sales-admin", "alice", "bob"}
    assert names(alice) == {"alice"}

    # The same condition filters any resource table with account/domain columns.
    with identity.engine.connect() as conn:
        query = select(account.c.name).where(visible_condition(sales_admin, account.c.id, account.c.domain_id))
        assert set(conn.execute(query).scalars()) == {"sales-admin", "alice", "bob"}

    domain_names = {d.name for d in identity.transaction(lambda c: domains.list_domains(c, sales_admin))[1]}
    assert domain_names == {"sales", "emea"}
    with pytest.raises(PermissionDeniedError):
        make_domain(identity, sales_admin, "rogue", ops)
    make_domain(identity, sales_admin, "apac", sales)
    with pytest.raises(PermissionDeniedError):
        identity.transaction(lambda c: accounts.set_account_state(c, alice, sales_admin.account_id, "disabled"))


def test_list_paging_in_sql(identity: IdentityService, admin: Caller) -> None:
    for index in range(7):
        make_domain(identity, admin, f"d{index}")
    total, page = identity.transaction(lambda c: domains.list_domains(c, admin, page=2, pagesize=3))
    assert total == 8 and len(page) == 3
    total, page = identity.transaction(lambda c: domains.list_domains(c, admin, keyword="d", pagesize=500))
    assert total == 7


def test_list_accounts_by_domain_is_recursive_only_when_asked(identity: IdentityService, admin: Caller) -> None:
    parent = make_domain(identity, admin, "sales")
    child = make_domain(identity, admin, "emea", parent=parent)
    make_account(identity, admin, "top", domain_uuid=parent)
    make_account(identity, admin, "below", domain_uuid=child)

    def names(domain_uuid: str, recursive: bool = False) -> tuple[int, set[str]]:
        total, rows = identity.transaction(
            lambda c: accounts.list_accounts(c, admin, domain_uuid=domain_uuid, recursive=recursive)
        )
        return total, {row.name for row in rows}

    assert names(parent) == (1, {"top"})
    assert names(parent, recursive=True) == (2, {"top", "below"})
    assert names(child, recursive=True) == (1, {"below"})
