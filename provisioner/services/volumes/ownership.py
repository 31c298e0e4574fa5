"""Who owns a volume, snapshot or VM snapshot, and who may see or change it.

CloudStack's rules (``AccountManagerImpl.checkAccess`` and ``buildACLSearchParameters``): a user acts
on its own account's resources, a domain admin on those in its domain subtree, a root admin on all.
A list without ``listall`` shows the caller's own resources only, unless it names an ``id``, a
``domainid`` or an ``account``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, RowMapping, Select, Table, and_, select, update

from provisioner.api.params import unknown_id
from provisioner.db.schema import account, domain
from provisioner.exceptions import InternalError, ParamError, PermissionDeniedError
from provisioner.services.common import list_page
from provisioner.services.identity.visibility import can_manage_domain, subtree_domain_ids, visible_condition
from provisioner.services.principal import Caller
from provisioner.services.tags import OwnerLookup, tags_by_resource


@dataclass(frozen=True, slots=True)
class Owner:
    """An owning account as internal ids, with the domain path access checks need."""

    account_id: int
    domain_id: int
    domain_path: str
    account_name: str


def _owner_query() -> Any:
    return select(account.c.id, account.c.domain_id, domain.c.path, account.c.name).join(
        domain, domain.c.id == account.c.domain_id
    )


def caller_owner(conn: Connection, caller: Caller) -> Owner:
    """The caller's own account."""
    row = conn.execute(_owner_query().where(account.c.uuid == caller.account_id)).one()
    return Owner(int(row[0]), int(row[1]), str(row[2]), str(row[3]))


def resolve_owner(conn: Connection, caller: Caller, account_name: str | None, domain_uuid: str | None) -> Owner:
    """The account a new resource belongs to: ``account`` + ``domainid`` when given, else the caller's.

    Raises:
        ParamError: ``account`` without ``domainid``, or no such account (431).
        PermissionDeniedError: the caller may not act for that account (531).
    """
    if not account_name:
        if domain_uuid:
            path = conn.execute(select(domain.c.path).where(domain.c.uuid == domain_uuid.lower())).scalar()
            if path is None:
                raise ParamError(f"Unable to find domain by id {domain_uuid}")
            if not can_manage_domain(caller, str(path)):
                raise PermissionDeniedError(
                    f"Account {caller.account_name} does not have permission to operate within domain id={domain_uuid}"
                )
        return caller_owner(conn, caller)
    if not domain_uuid:
        raise ParamError("Account name is specified without domain id; pass domainid too")
    row = conn.execute(
        _owner_query().where(
            account.c.name == account_name, domain.c.uuid == domain_uuid.lower(), account.c.removed.is_(None)
        )
    ).first()
    if row is None:
        raise ParamError(f"Unable to find account {account_name} in domain id={domain_uuid}")
    owner = Owner(int(row[0]), int(row[1]), str(row[2]), str(row[3]))
    check_owner_access(conn, caller, owner.account_id, owner.domain_id)
    return owner


def check_owner_access(conn: Connection, caller: Caller, account_id: int, domain_id: int, what: str = "") -> None:
    """Raise unless ``caller`` may act on a resource of this account.

    Raises:
        PermissionDeniedError: 531 in CloudStack's words.
    """
    if caller.is_root_admin:
        return
    mine = caller_owner(conn, caller)
    if mine.account_id == account_id:
        return
    path = conn.execute(select(domain.c.path).where(domain.c.id == domain_id)).scalar()
    if caller.is_domain_admin and path is not None and can_manage_domain(caller, str(path)):
        return
    target = f" {what}" if what else ""
    raise PermissionDeniedError(
        f"Account {caller.account_name} does not have permission to operate on{target}: it belongs to another account"
    )


def list_scope(
    conn: Connection,
    caller: Caller,
    account_col: Any,
    domain_col: Any,
    *,
    account_name: str | None = None,
    domain_uuid: str | None = None,
    listall: bool = False,
    isrecursive: bool = False,
    by_id: bool = False,
) -> ColumnElement[bool]:
    """The rows a list command shows, as one condition over the owner columns.

    Args:
        conn: the connection (resolves ``account``/``domainid`` to ids).
        caller: who lists.
        account_col: the rows' owning account id column.
        domain_col: the rows' domain id column.
        account_name: ``account`` (needs ``domainid``).
        domain_uuid: ``domainid``.
        listall: ``listall``.
        isrecursive: ``isrecursive`` (with ``domainid``).
        by_id: the list names an ``id``: admins then look beyond their own account.

    Raises:
        ParamError / PermissionDeniedError: as :func:`resolve_owner`.
    """
    visible = visible_condition(caller, account_col, domain_col)
    if account_name:
        owner = resolve_owner(conn, caller, account_name, domain_uuid)
        return and_(visible, account_col == owner.account_id)
    if domain_uuid:
        path = conn.execute(select(domain.c.path).where(domain.c.uuid == domain_uuid.lower())).scalar()
        if path is None:
            raise ParamError(f"Unable to find domain by id {domain_uuid}")
        if not can_manage_domain(caller, str(path)) and caller.domain_id != domain_uuid.lower():
            raise PermissionDeniedError(
                f"Account {caller.account_name} does not have permission to operate within domain id={domain_uuid}"
            )
        if isrecursive:
            return and_(visible, domain_col.in_(subtree_domain_ids(str(path))))
        domain_pk = select(domain.c.id).where(domain.c.uuid == domain_uuid.lower()).scalar_subquery()
        return and_(visible, domain_col == domain_pk)
    if caller.is_root_admin or caller.is_domain_admin:
        if listall or by_id:
            return visible
        return account_col == caller_owner(conn, caller).account_id  # type: ignore[no-any-return]
    return visible


@dataclass(frozen=True, slots=True)
class Scope:
    """The ``account``/``domainid``/``listall``/``isrecursive`` parameters of a list command."""

    account_name: str | None = None
    domain_uuid: str | None = None
    listall: bool = False
    isrecursive: bool = False


def owned_page(
    conn: Connection,
    caller: Caller,
    table: Table,
    query: Select[Any],
    conditions: list[Any],
    *,
    scope: Scope,
    by_id: bool,
    resource_type: str,
    page: int | None,
    pagesize: int | None,
) -> tuple[list[tuple[RowMapping, list[dict[str, Any]]]], int]:
    """One page of an account-owned table's rows the caller may see, each with its tags, and the total.

    A constant number of statements: the page (ids picked by a keys-only query over ``table``), the
    count when the page does not prove it, and the page's tags.
    """
    visible = list_scope(
        conn,
        caller,
        table.c.account_id,
        table.c.domain_id,
        account_name=scope.account_name,
        domain_uuid=scope.domain_uuid,
        listall=scope.listall,
        isrecursive=scope.isrecursive,
        by_id=by_id,
    )
    where = [visible, *conditions]
    keys = select(table.c.id).where(*where)
    rows, total = list_page(conn, query.where(*where), [table.c.id], page, pagesize, keys=keys)
    found = tags_by_resource(conn, resource_type, [m["uuid"] for m in rows])
    return [(m, found.get(m["uuid"], [])) for m in rows], total


def owner_lookup(table: Table, live: Callable[[], Any]) -> OwnerLookup:
    """The tags service's owner lookup for an account-owned table (``live()`` says which rows count)."""

    def lookup(conn: Connection, uuids: Sequence[str]) -> dict[str, tuple[int | None, int | None]]:
        query = select(table.c.uuid, table.c.account_id, table.c.domain_id).where(table.c.uuid.in_(list(uuids)), live())
        return {u: (a, d) for u, a, d in conn.execute(query).tuples()}

    return lookup


def live_row(conn: Connection, table: Table, uuid: str, param: str, *conditions: Any) -> Any:
    """The row ``uuid`` of ``table`` that meets ``conditions``.

    Raises:
        ParamError: none, in CloudStack's verbatim unknown-id text naming ``param`` (431).
    """
    row = conn.execute(select(table).where(table.c.uuid == uuid.lower(), *conditions)).first()
    if row is None:
        raise unknown_id(param, uuid)
    return row


def move_state(conn: Connection, table: Table, row: Any, state: str, what: str, **values: Any) -> None:
    """``UPDATE … SET state WHERE id AND update_count = seen``: a change nobody else made meanwhile.

    Raises:
        InternalError: a concurrent operation changed the row since ``row`` was read (530).
    """
    changed = conn.execute(
        update(table)
        .where(table.c.id == row.id, table.c.update_count == row.update_count)
        .values(state=state, update_count=table.c.update_count + 1, **values)
    ).rowcount
    if changed != 1:
        raise InternalError(f"{what} was changed by another operation while in state {row.state}; try again")


def with_owner(query: Select[Any], table: Table) -> Select[Any]:
    """``query`` joined with the owning account and domain of ``table``'s rows (for :func:`owner_fields`)."""
    return (
        query.add_columns(
            account.c.name.label("account_name"),
            domain.c.uuid.label("domain_uuid"),
            domain.c.name.label("domain_name"),
            domain.c.path.label("domain_path"),
        )
        .join(account, account.c.id == table.c.account_id)
        .join(domain, domain.c.id == table.c.domain_id)
    )


def owner_fields(m: RowMapping) -> dict[str, Any]:
    """The owner fields every owned resource's response carries."""
    return {
        "account": m["account_name"],
        "domainid": m["domain_uuid"],
        "domain": m["domain_name"],
        "domainpath": "ROOT" + str(m["domain_path"]).rstrip("/"),
    }
