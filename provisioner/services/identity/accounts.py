"""Accounts: create (with their first user), update, enable/disable/lock, delete, list."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Row, delete, false, insert, select, update

from provisioner.db.schema import account, api_session, domain, role, user, utcnow
from provisioner.exceptions import ParamError, PermissionDeniedError
from provisioner.services.common import count_of, paginate, row_by_uuid
from provisioner.services.identity.models import Account
from provisioner.services.identity.roles import DEFAULT_ROLE_FOR_TYPE
from provisioner.services.identity.visibility import check_domain_access, subtree_domain_ids, visible_condition
from provisioner.services.principal import Caller, RoleType

ACCOUNT_TYPES = {0: RoleType.USER, 1: RoleType.ADMIN, 2: RoleType.DOMAIN_ADMIN, 3: RoleType.RESOURCE_ADMIN}
ACCOUNT_STATES = ("enabled", "disabled", "locked")


def account_query() -> Any:
    """Accounts joined with their role and domain."""
    return (
        select(
            account,
            role.c.uuid.label("role_uuid"),
            role.c.name.label("role_name"),
            role.c.role_type,
            domain.c.uuid.label("domain_uuid"),
            domain.c.name.label("domain_name"),
            domain.c.path.label("domain_path"),
        )
        .join(role, role.c.id == account.c.role_id)
        .join(domain, domain.c.id == account.c.domain_id)
        .where(account.c.removed.is_(None))
    )


def to_account(row: Row[Any]) -> Account:
    """Build an :class:`Account` from an :func:`account_query` row."""
    m = row._mapping
    return Account(
        id=m["uuid"],
        name=m["name"],
        account_type=m["type"],
        role_id=m["role_uuid"],
        role_name=m["role_name"],
        role_type=RoleType(m["role_type"]),
        domain_id=m["domain_uuid"],
        domain_name=m["domain_name"],
        domain_path=m["domain_path"],
        state=m["state"],
        network_domain=m["network_domain"],
        created=m["created"],
    )


def get_account(conn: Connection, uuid: str) -> Account:
    """The live account with public id ``uuid`` (431 when absent)."""
    row = conn.execute(account_query().where(account.c.uuid == uuid.lower())).first()
    if row is None:
        raise ParamError(f"Unable to find account by id {uuid}")
    return to_account(row)


def find_account(conn: Connection, name: str, domain_uuid: str) -> Account | None:
    """The live account called ``name`` in a domain, or None."""
    row = conn.execute(account_query().where(account.c.name == name, domain.c.uuid == domain_uuid.lower())).first()
    return to_account(row) if row else None


def _resolve_role(conn: Connection, account_type: int | None, role_uuid: str | None) -> tuple[int, int]:
    """Pick (account type, role pk) from either argument, checking they agree."""
    if role_uuid:
        role_row = row_by_uuid(conn, role, role_uuid, "role")
        kind = RoleType(role_row.role_type)
        if account_type is not None and ACCOUNT_TYPES.get(account_type) is not kind:
            raise ParamError("The account type and the role type do not match")
        return kind.account_type, int(role_row.id)
    if account_type not in ACCOUNT_TYPES:
        raise ParamError("Please provide either an account type or a role id")
    default = DEFAULT_ROLE_FOR_TYPE[ACCOUNT_TYPES[account_type]]
    return account_type, int(row_by_uuid(conn, role, default, "role").id)


def create_account_row(
    conn: Connection,
    caller: Caller,
    *,
    name: str,
    account_type: int | None = None,
    role_uuid: str | None = None,
    domain_uuid: str | None = None,
    network_domain: str | None = None,
    uuid: str | None = None,
) -> Row[Any]:
    """Insert an account (no user); :func:`provisioner.services.identity.users.create_account` adds one."""
    dom = row_by_uuid(conn, domain, domain_uuid or caller.domain_id, "domain")
    check_domain_access(caller, dom.path)
    kind, role_pk = _resolve_role(conn, account_type, role_uuid)
    if kind == 1 and not caller.is_root_admin:
        raise PermissionDeniedError("Only root admins may create root admin accounts")
    if find_account(conn, name, dom.uuid):
        raise ParamError(f"The specified account: {name} already exists")
    values: dict[str, Any] = {
        "name": name,
        "type": kind,
        "role_id": role_pk,
        "domain_id": dom.id,
        "network_domain": network_domain,
    }
    if uuid:
        values["uuid"] = uuid.lower()
    key = conn.execute(insert(account).values(**values)).inserted_primary_key
    assert key is not None
    return conn.execute(select(account).where(account.c.id == key[0])).one()


def _checked(conn: Connection, caller: Caller, uuid: str) -> Account:
    target = get_account(conn, uuid)
    check_domain_access(caller, target.domain_path)
    return target


def update_account(
    conn: Connection,
    caller: Caller,
    uuid: str,
    *,
    new_name: str | None = None,
    network_domain: str | None = None,
    role_uuid: str | None = None,
) -> Account:
    """``updateAccount``: rename, change network domain or role (same role type only)."""
    target = _checked(conn, caller, uuid)
    values: dict[str, Any] = {}
    if new_name and new_name != target.name:
        if find_account(conn, new_name, target.domain_id):
            raise ParamError(f"The specified account: {new_name} already exists")
        values["name"] = new_name
    if network_domain is not None:
        values["network_domain"] = network_domain
    if role_uuid:
        new_role = row_by_uuid(conn, role, role_uuid, "role")
        if RoleType(new_role.role_type) is not target.role_type:
            raise ParamError("The new role must have the same role type as the account's current role")
        values["role_id"] = new_role.id
    if values:
        conn.execute(update(account).where(account.c.uuid == target.id).values(**values))
    return get_account(conn, uuid)


def set_account_state(conn: Connection, caller: Caller, uuid: str, state: str) -> Account:
    """``enableAccount`` / ``disableAccount`` / ``lockAccount``; ends the account's sessions unless enabled."""
    if state not in ACCOUNT_STATES:
        raise ParamError(f"Invalid account state {state}")
    target = _checked(conn, caller, uuid)
    if target.id == caller.account_id and state != "enabled":
        raise PermissionDeniedError("An account cannot disable or lock itself")
    conn.execute(update(account).where(account.c.uuid == target.id).values(state=state))
    if state != "enabled":
        _end_sessions(conn, select(user.c.id).join(account).where(account.c.uuid == target.id))
    return get_account(conn, uuid)


def delete_account(conn: Connection, caller: Caller, uuid: str) -> None:
    """``deleteAccount``: soft-deletes the account and its users and ends their sessions."""
    target = _checked(conn, caller, uuid)
    if target.id == caller.account_id:
        raise PermissionDeniedError("An account cannot delete itself")
    row = conn.execute(select(account.c.id).where(account.c.uuid == target.id)).one()
    now = utcnow()
    _end_sessions(conn, select(user.c.id).where(user.c.account_id == row.id))
    conn.execute(update(user).where(user.c.account_id == row.id, user.c.removed.is_(None)).values(removed=now))
    conn.execute(update(account).where(account.c.id == row.id).values(removed=now, state="disabled"))


def _end_sessions(conn: Connection, user_ids: Any) -> None:
    conn.execute(delete(api_session).where(api_session.c.user_id.in_(user_ids)))


def list_accounts(
    conn: Connection,
    caller: Caller,
    *,
    uuid: str | None = None,
    name: str | None = None,
    domain_uuid: str | None = None,
    recursive: bool = False,
    account_type: int | None = None,
    state: str | None = None,
    keyword: str | None = None,
    page: int | None = None,
    pagesize: int | None = None,
) -> tuple[int, list[Account]]:
    """``listAccounts`` within what ``caller`` may see; returns (total count, one page).

    With ``domain_uuid`` only that domain's accounts are listed, or, when ``recursive``
    (``isrecursive=true``), those of its whole subtree.
    """
    query = account_query().where(visible_condition(caller, account.c.id, account.c.domain_id)).order_by(account.c.id)
    if uuid:
        query = query.where(account.c.uuid == uuid.lower())
    if name:
        query = query.where(account.c.name == name)
    if domain_uuid and recursive:
        path = conn.execute(select(domain.c.path).where(domain.c.uuid == domain_uuid.lower())).scalar()
        query = query.where(account.c.domain_id.in_(subtree_domain_ids(path))) if path else query.where(false())
    elif domain_uuid:
        query = query.where(domain.c.uuid == domain_uuid.lower())
    if account_type is not None:
        query = query.where(account.c.type == account_type)
    if state:
        query = query.where(account.c.state == state)
    if keyword:
        query = query.where(account.c.name.contains(keyword, autoescape=True))
    total = count_of(conn, query)
    return total, [to_account(row) for row in conn.execute(paginate(query, page, pagesize))]
