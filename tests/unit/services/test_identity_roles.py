"""Dynamic roles: ordered rules, wildcards, first match wins, fallback to the command's role types."""

from __future__ import annotations

import pytest

from provisioner.exceptions import PermissionDeniedError
from provisioner.services.identity import IdentityService, RolePermission, accounts, roles
from provisioner.services.identity.roles import SEED_ROLES, rule_matches
from provisioner.services.principal import Caller, RoleType
from tests.unit.services.helpers import make_account

ALL = frozenset(RoleType)
ADMIN_ONLY = frozenset({RoleType.ADMIN})


@pytest.mark.parametrize(
    ("rule", "command", "expected"),
    [
        ("listZones", "listZones", True),
        ("list*", "listVirtualMachines", True),
        ("list*", "deployVirtualMachine", False),
        ("*VirtualMachine*", "deployVirtualMachine", True),
        ("*", "anything", True),
        ("list.*", "listZones", False),  # regex characters are literal
        ("listZones", "listZonesMetrics", False),
    ],
)
def test_rule_matching(rule: str, command: str, expected: bool) -> None:
    assert rule_matches(rule, command) is expected


def test_root_admin_is_allowed_everything(identity: IdentityService, admin: Caller) -> None:
    assert identity.is_allowed(admin, "deleteEverything", frozenset())


def test_rules_in_order_first_match_wins(identity: IdentityService, admin: Caller) -> None:
    custom = identity.transaction(
        lambda c: roles.create_role(c, admin, "Ops", role_type=RoleType.USER, description="ops")
    )

    def add(rule: str, perm: str) -> RolePermission:
        return identity.transaction(lambda c: roles.create_role_permission(c, admin, custom.id, rule, perm))

    deny_zones = add("listZones", "deny")
    allow_list = add("list*", "allow")
    _, user = make_account(identity, admin, "opsuser")
    identity.transaction(lambda c: accounts.update_account(c, admin, user.account_id, role_uuid=custom.id))
    user = identity.login("opsuser", "correct horse battery staple")

    assert not identity.is_allowed(user, "listZones", ALL)  # first rule denies
    assert identity.is_allowed(user, "listHosts", ADMIN_ONLY)  # wildcard allows even an admin-only command
    assert identity.is_allowed(user, "deployVirtualMachine", ALL)  # no match: default role types
    assert not identity.is_allowed(user, "addHost", ADMIN_ONLY)

    # Reorder: list* first now allows listZones.
    identity.transaction(
        lambda c: roles.update_role_permission(c, admin, custom.id, rule_order=[allow_list.id, deny_zones.id])
    )
    assert identity.is_allowed(user, "listZones", ALL)
    listed = identity.transaction(lambda c: roles.list_role_permissions(c, admin, custom.id))
    assert [p.rule for p in listed] == ["list*", "listZones"]

    # Flip one rule's permission.
    identity.transaction(
        lambda c: roles.update_role_permission(c, admin, custom.id, permission_uuid=allow_list.id, permission="deny")
    )
    assert not identity.is_allowed(user, "listHosts", ALL)


def test_read_only_roles(identity: IdentityService, admin: Caller) -> None:
    read_only_user = next(seed for seed in SEED_ROLES if seed.name == "Read-Only User - Default")
    _, user = make_account(identity, admin, "viewer")
    identity.transaction(lambda c: accounts.update_account(c, admin, user.account_id, role_uuid=read_only_user.uuid))
    user = identity.login("viewer", "correct horse battery staple")
    assert identity.is_allowed(user, "listVirtualMachines", ALL)
    assert identity.is_allowed(user, "queryAsyncJobResult", ALL)
    assert not identity.is_allowed(user, "deployVirtualMachine", ALL)


def test_only_root_admins_manage_roles(identity: IdentityService, admin: Caller) -> None:
    _, user = make_account(identity, admin, "mallory")
    with pytest.raises(PermissionDeniedError):
        identity.transaction(lambda c: roles.create_role(c, user, "Mine", role_type=RoleType.ADMIN))
    with pytest.raises(PermissionDeniedError):
        identity.transaction(lambda c: roles.create_role_permission(c, admin, admin.role_id, "*", "deny"))


def test_clone_and_delete_role(identity: IdentityService, admin: Caller) -> None:
    read_only_admin = next(seed for seed in SEED_ROLES if seed.name == "Read-Only Admin - Default")
    clone = identity.transaction(lambda c: roles.create_role(c, admin, "Auditors", clone_from=read_only_admin.uuid))
    assert clone.role_type is RoleType.ADMIN
    rules = identity.transaction(lambda c: roles.list_role_permissions(c, admin, clone.id))
    assert rules[0].rule == "list*" and rules[-1].rule == "*"
    identity.transaction(lambda c: roles.delete_role(c, admin, clone.id))
    assert all(r.id != clone.id for r in identity.transaction(lambda c: roles.list_roles(c, admin)))
    with pytest.raises(PermissionDeniedError):
        identity.transaction(lambda c: roles.delete_role(c, admin, read_only_admin.uuid))


def test_update_role_unpublishes_a_role_so_only_root_admins_list_it(identity: IdentityService, admin: Caller) -> None:
    _, user = make_account(identity, admin, "alice")
    private = identity.transaction(lambda c: roles.create_role(c, admin, "Operators", role_type=RoleType.USER))
    assert any(r.id == private.id for r in identity.transaction(lambda c: roles.list_roles(c, user)))
    updated = identity.transaction(lambda c: roles.update_role(c, admin, private.id, is_public=False))
    assert updated.is_public is False
    assert all(r.id != private.id for r in identity.transaction(lambda c: roles.list_roles(c, user)))
    assert any(r.id == private.id for r in identity.transaction(lambda c: roles.list_roles(c, admin)))
