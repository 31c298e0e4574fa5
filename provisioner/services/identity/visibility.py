"""What a caller may see: SQL conditions over account and domain columns (no per-domain loops)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, ScalarSelect, select, true

from provisioner.db.schema import account, domain
from provisioner.exceptions import PermissionDeniedError
from provisioner.services.common import starts_with
from provisioner.services.principal import Caller


def account_pk(caller: Caller) -> ScalarSelect[Any]:
    """The caller's internal account id, as a scalar subquery."""
    return select(account.c.id).where(account.c.uuid == caller.account_id).scalar_subquery()


def subtree_domain_ids(path: str) -> Any:
    """A subquery of the ids of the domain at ``path`` and every domain below it (one indexed LIKE)."""
    return select(domain.c.id).where(starts_with(domain.c.path, path))


def visible_condition(caller: Caller, account_col: Any, domain_col: Any) -> ColumnElement[bool]:
    """Rows owned by these columns that ``caller`` may see.

    Users see their own account's rows, domain admins rows in their domain subtree (matched by
    path prefix), root admins everything.

    Args:
        caller: who is asking.
        account_col: the row's owning account id column (internal integer id).
        domain_col: the row's domain id column (internal integer id).
    """
    if caller.is_root_admin:
        return true()
    if caller.is_domain_admin:
        return domain_col.in_(subtree_domain_ids(caller.domain_path))  # type: ignore[no-any-return]
    return account_col == account_pk(caller)  # type: ignore[no-any-return]


def visible_domain_condition(caller: Caller, domain_col: Any) -> ColumnElement[bool]:
    """Domains ``caller`` may see: all (root admin), its subtree (domain admin), its own (user)."""
    if caller.is_root_admin:
        return true()
    if caller.is_domain_admin:
        return domain_col.in_(subtree_domain_ids(caller.domain_path))  # type: ignore[no-any-return]
    return domain_col == select(domain.c.id).where(domain.c.uuid == caller.domain_id).scalar_subquery()  # type: ignore[no-any-return]


def can_manage_domain(caller: Caller, domain_path: str) -> bool:
    """True when ``caller`` administers the domain at ``domain_path`` (root, or a domain admin above it)."""
    return caller.is_root_admin or (caller.is_domain_admin and domain_path.startswith(caller.domain_path))


def check_domain_access(caller: Caller, domain_path: str) -> None:
    """Raise unless ``caller`` administers the domain at ``domain_path``.

    Raises:
        PermissionDeniedError: 531 with CloudStack's wording.
    """
    if not can_manage_domain(caller, domain_path):
        raise PermissionDeniedError(
            f"Account {caller.account_name} does not have permission to operate within this domain"
        )


def check_account_access(caller: Caller, account_uuid: str, domain_path: str) -> None:
    """Raise unless ``caller`` may act on the account: its own, or one it administers.

    Raises:
        PermissionDeniedError: 531 with CloudStack's wording.
    """
    if account_uuid == caller.account_id or can_manage_domain(caller, domain_path):
        return
    raise PermissionDeniedError(f"Account {caller.account_name} does not have permission to operate on this account")
