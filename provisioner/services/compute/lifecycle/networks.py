"""The guest networks a deployment's NICs go on: the ones it names, else the account's default."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, bindparam, select

from provisioner.db.schema import domain, guest_network
from provisioner.exceptions import ParamError, PermissionDeniedError
from provisioner.services.networks.defaults import default_network_for_deploy
from provisioner.services.principal import Caller


def default_network(conn: Connection, owner: Any, zone_row: Any) -> int:
    """The network of a deployment without ``networkids`` (created with the VM when the account has none)."""
    return default_network_for_deploy(conn, owner, zone_row)


#: Built once (every deployment runs it): building a statement costs more than running it.
_LIVE_NETWORK = (
    select(guest_network, domain.c.path.label("domain_path"))
    .outerjoin(domain, domain.c.id == guest_network.c.domain_id)
    .where(guest_network.c.uuid == bindparam("uuid"), guest_network.c.removed.is_(None))
)


def usable_network(conn: Connection, caller: Caller, owner: Any, zone_id: int, uuid: str) -> Any:
    """A network named in ``networkids``: live, in the zone, and the owner's (or shared with its domain).

    Raises:
        ParamError: no such network, or it is in another zone (431).
        PermissionDeniedError: another account's network (531).
    """
    row = conn.execute(_LIVE_NETWORK, {"uuid": uuid.lower()}).first()
    if row is None:
        raise ParamError(f"Unable to find network by id {uuid}")
    if row.zone_id != zone_id:
        raise ParamError(f"Network {row.name} is in another zone than the one the VM is deployed in")
    if row.account_id == owner.id or caller.is_root_admin:
        return row
    if row.guest_type == "Shared" and (row.acl_type == "Domain" or row.account_id is None):
        owner_path = conn.execute(select(domain.c.path).where(domain.c.id == owner.domain_id)).scalar_one()
        if row.domain_path is None or str(owner_path).startswith(str(row.domain_path)):
            return row
    raise PermissionDeniedError(f"Account {owner.name} does not have permission to use network {row.name}")
