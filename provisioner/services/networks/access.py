"""Who may see and use a guest network.

An Account network is its account's (and its domain admins'); a Domain network (shared, ``acltype=Domain``)
serves every account of its domain and, with subdomain access as CloudStack grants by default, of the
domains below it: a network in ROOT is zone-wide.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, or_, select

from provisioner.db.schema import domain, guest_network
from provisioner.exceptions import PermissionDeniedError
from provisioner.services.identity.visibility import can_manage_domain, subtree_domain_ids
from provisioner.services.principal import Caller
from provisioner.services.volumes.ownership import check_owner_access


def ancestor_paths(path: str) -> list[str]:
    """``/a/b/`` → ``["/", "/a/", "/a/b/"]``: the domain and those above it."""
    parts = [part for part in path.split("/") if part]
    return ["/"] + ["/" + "/".join(parts[: i + 1]) + "/" for i in range(len(parts))]


def domain_network_condition(caller: Caller) -> ColumnElement[bool]:
    """Domain networks ``caller`` may use: in its domain or above it (and, for admins, below it)."""
    table = guest_network
    if caller.is_root_admin:
        return table.c.acl_type == "Domain"
    above = select(domain.c.id).where(domain.c.path.in_(ancestor_paths(caller.domain_path)))
    reach: ColumnElement[bool] = table.c.domain_id.in_(above)
    if caller.is_domain_admin:
        reach = or_(reach, table.c.domain_id.in_(subtree_domain_ids(caller.domain_path)))
    return and_(table.c.acl_type == "Domain", reach)


def check_network_access(conn: Connection, caller: Caller, row: Any) -> None:
    """Raise unless ``caller`` may use the network (deploy on it, add a NIC, tag, change it).

    Raises:
        PermissionDeniedError: 531 in CloudStack's words.
    """
    if caller.is_root_admin:
        return
    if row.acl_type == "Domain" or row.account_id is None:
        path = conn.execute(select(domain.c.path).where(domain.c.id == row.domain_id)).scalar()
        if path is not None and (
            str(path) in ancestor_paths(caller.domain_path) or can_manage_domain(caller, str(path))
        ):
            return
        raise PermissionDeniedError(
            f"Account {caller.account_name} does not have permission to access network {row.name}"
        )
    check_owner_access(conn, caller, row.account_id, row.domain_id, f"network {row.name}")
