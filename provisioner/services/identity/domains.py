"""The domain tree: create, update (renames move the subtree's paths in one statement), delete, list."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Row, String, exists, func, insert, literal, select, update

from provisioner.db.schema import account, domain, user, utcnow
from provisioner.exceptions import ParamError, PermissionDeniedError, ResourceInUseError
from provisioner.services.common import count_of, paginate, row_by_uuid, starts_with
from provisioner.services.identity.models import Domain
from provisioner.services.identity.visibility import can_manage_domain, visible_domain_condition
from provisioner.services.principal import Caller

ROOT_PATH = "/"
_parent = domain.alias("parent")
_child = domain.alias("child")


def normalize_path(path: str) -> str:
    """Normalise a ``login domain=`` path: leading and trailing ``/`` (``ROOT`` → ``/``)."""
    inner = path.strip().strip("/")
    if inner.upper() in ("", "ROOT"):
        return ROOT_PATH
    return "/" + inner + "/"


def _query() -> Any:
    has_child = exists().where(_child.c.parent_id == domain.c.id, _child.c.removed.is_(None))
    return (
        select(
            domain,
            _parent.c.uuid.label("parent_uuid"),
            _parent.c.name.label("parent_name"),
            has_child.label("has_child"),
        )
        .outerjoin(_parent, _parent.c.id == domain.c.parent_id)
        .where(domain.c.removed.is_(None))
    )


def _to_domain(row: Row[Any]) -> Domain:
    m = row._mapping
    return Domain(
        id=m["uuid"],
        name=m["name"],
        path=m["path"],
        level=m["level"],
        parent_id=m["parent_uuid"],
        parent_name=m["parent_name"],
        state=m["state"],
        network_domain=m["network_domain"],
        created=m["created"],
        has_child=bool(m["has_child"]),
    )


def get_domain(conn: Connection, uuid: str) -> Domain:
    """The live domain with public id ``uuid`` (431 when absent)."""
    row = conn.execute(_query().where(domain.c.uuid == uuid.lower())).first()
    if row is None:
        raise ParamError(f"Unable to find domain by id {uuid}")
    return _to_domain(row)


def find_domain_by_path(conn: Connection, path: str) -> Row[Any] | None:
    """The live ``domain`` row at ``path`` (normalised), or None."""
    return conn.execute(select(domain).where(domain.c.path == normalize_path(path), domain.c.removed.is_(None))).first()


def create_root(conn: Connection) -> int:
    """Insert the ROOT domain (first start); returns its internal id."""
    key = conn.execute(insert(domain).values(name="ROOT", path=ROOT_PATH, level=0)).inserted_primary_key
    assert key is not None
    return int(key[0])


def create_domain(
    conn: Connection,
    caller: Caller,
    name: str,
    *,
    parent_uuid: str | None = None,
    network_domain: str | None = None,
    uuid: str | None = None,
) -> Domain:
    """``createDomain`` under ``parent_uuid`` (default: the caller's domain)."""
    if not name or "/" in name:
        raise ParamError("Domain name must be non-empty and cannot contain '/'")
    parent = row_by_uuid(conn, domain, parent_uuid or caller.domain_id, "domain")
    if not can_manage_domain(caller, parent.path):
        raise PermissionDeniedError(f"Account {caller.account_name} does not have permission to create domains here")
    path = f"{parent.path}{name}/"
    if conn.execute(select(domain.c.id).where(domain.c.path == path, domain.c.removed.is_(None))).first():
        raise ParamError(f"Domain with name {name} already exists for the parent id={parent.uuid}")
    values: dict[str, Any] = {
        "name": name,
        "parent_id": parent.id,
        "path": path,
        "level": parent.level + 1,
        "network_domain": network_domain,
    }
    if uuid:
        values["uuid"] = uuid.lower()
    conn.execute(insert(domain).values(**values))
    return _to_domain(conn.execute(_query().where(domain.c.path == path)).one())


def update_domain(
    conn: Connection, caller: Caller, uuid: str, *, name: str | None = None, network_domain: str | None = None
) -> Domain:
    """``updateDomain``: a rename rewrites the path of the whole subtree in one UPDATE."""
    row = row_by_uuid(conn, domain, uuid, "domain")
    if not can_manage_domain(caller, row.path) or (row.path == caller.domain_path and not caller.is_root_admin):
        raise PermissionDeniedError(f"Account {caller.account_name} does not have permission to update this domain")
    if network_domain is not None:
        conn.execute(update(domain).where(domain.c.id == row.id).values(network_domain=network_domain))
    if name and name != row.name:
        if row.path == ROOT_PATH:
            raise PermissionDeniedError("The ROOT domain cannot be renamed")
        if "/" in name:
            raise ParamError("Domain name cannot contain '/'")
        new_path = row.path[: -len(row.name) - 1] + name + "/"
        if conn.execute(select(domain.c.id).where(domain.c.path == new_path, domain.c.removed.is_(None))).first():
            raise ParamError(f"Domain with name {name} already exists for the same parent")
        conn.execute(update(domain).where(domain.c.id == row.id).values(name=name))
        conn.execute(
            update(domain)
            .where(starts_with(domain.c.path, row.path), domain.c.removed.is_(None))
            .values(path=literal(new_path) + func.substr(domain.c.path, len(row.path) + 1, type_=String))
        )
    return get_domain(conn, uuid)


def delete_domain(conn: Connection, caller: Caller, uuid: str, cleanup: bool = False) -> None:
    """``deleteDomain``: refused while it has child domains, or accounts unless ``cleanup``."""
    row = row_by_uuid(conn, domain, uuid, "domain")
    if row.path == ROOT_PATH:
        raise PermissionDeniedError("The ROOT domain cannot be deleted")
    if not can_manage_domain(caller, row.path) or row.path == caller.domain_path:
        raise PermissionDeniedError(f"Account {caller.account_name} does not have permission to delete this domain")
    children = select(domain.c.id).where(domain.c.parent_id == row.id, domain.c.removed.is_(None))
    if conn.execute(children).first():
        raise ResourceInUseError(f"Failed to delete domain {row.name}, because it has child domains")
    live_accounts = (account.c.domain_id == row.id) & account.c.removed.is_(None)
    if conn.execute(select(account.c.id).where(live_accounts)).first():
        if not cleanup:
            raise ResourceInUseError(f"Failed to delete domain {row.name}, because it has active accounts")
        now = utcnow()
        conn.execute(update(user).where(user.c.domain_id == row.id, user.c.removed.is_(None)).values(removed=now))
        conn.execute(update(account).where(live_accounts).values(removed=now, state="disabled"))
    conn.execute(update(domain).where(domain.c.id == row.id).values(removed=utcnow(), state="Inactive"))


def list_domains(
    conn: Connection,
    caller: Caller,
    *,
    uuid: str | None = None,
    name: str | None = None,
    level: int | None = None,
    keyword: str | None = None,
    page: int | None = None,
    pagesize: int | None = None,
) -> tuple[int, list[Domain]]:
    """``listDomains`` within what ``caller`` may see; returns (total count, one page)."""
    query = _query().where(visible_domain_condition(caller, domain.c.id)).order_by(domain.c.path)
    if uuid:
        query = query.where(domain.c.uuid == uuid.lower())
    if name:
        query = query.where(domain.c.name == name)
    if level is not None:
        query = query.where(domain.c.level == level)
    if keyword:
        query = query.where(domain.c.name.contains(keyword, autoescape=True))
    total = count_of(conn, query)
    return total, [_to_domain(row) for row in conn.execute(paginate(query, page, pagesize))]
