"""Pure visibility helpers: who administers which domain path."""

from __future__ import annotations

import pytest

from provisioner.exceptions import PermissionDeniedError
from provisioner.services.identity.domains import normalize_path
from provisioner.services.identity.visibility import can_manage_domain, check_account_access, check_domain_access
from provisioner.services.principal import Caller, RoleType


def caller(role_type: RoleType, path: str, account: str = "acc") -> Caller:
    return Caller("u", "name", account, "acct", "d", path, "r", role_type)


@pytest.mark.parametrize(
    ("role_type", "own", "target", "expected"),
    [
        (RoleType.ADMIN, "/", "/a/b/", True),
        (RoleType.DOMAIN_ADMIN, "/a/", "/a/", True),
        (RoleType.DOMAIN_ADMIN, "/a/", "/a/b/", True),
        (RoleType.DOMAIN_ADMIN, "/a/", "/ab/", False),  # a prefix of the name is not a subtree
        (RoleType.DOMAIN_ADMIN, "/a/b/", "/a/", False),
        (RoleType.USER, "/a/", "/a/", False),
    ],
)
def test_can_manage_domain(role_type: RoleType, own: str, target: str, expected: bool) -> None:
    assert can_manage_domain(caller(role_type, own), target) is expected


def test_checks_raise_531() -> None:
    user = caller(RoleType.USER, "/a/", account="mine")
    check_account_access(user, "mine", "/a/")
    with pytest.raises(PermissionDeniedError) as info:
        check_account_access(user, "theirs", "/a/")
    assert info.value.errorcode == 531
    with pytest.raises(PermissionDeniedError):
        check_domain_access(user, "/a/")


@pytest.mark.parametrize(
    ("given", "expected"), [("", "/"), ("/", "/"), ("ROOT", "/"), ("/ROOT/", "/"), ("sub", "/sub/"), ("/a/b", "/a/b/")]
)
def test_normalize_path(given: str, expected: str) -> None:
    assert normalize_path(given) == expected
