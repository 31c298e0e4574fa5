"""Network offerings and the services they provide (``listNetworkOfferings``, create/update/delete)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, RowMapping, insert, select, update

from provisioner.db.schema import network_offering, network_offering_service
from provisioner.exceptions import ParamError
from provisioner.services.common import list_page
from provisioner.services.infrastructure.common import (
    Row,
    common_filters,
    get_live,
    require_root,
    soft_delete,
    split_csv,
)
from provisioner.services.infrastructure.zones import canonical
from provisioner.services.principal import Caller

GUEST_TYPES = ("Isolated", "Shared", "L2")
AVAILABILITIES = ("Required", "Optional", "Unavailable")
STATES = ("Enabled", "Disabled")


def offering_row(m: RowMapping, services: Sequence[tuple[str, str]]) -> Row:
    """A ``network_offering`` row and its (service, provider) pairs as ``NetworkOfferingResponse``."""
    by_service: dict[str, list[str]] = {}
    for service, provider in services:
        by_service.setdefault(service, []).append(provider)
    return {
        "id": m["uuid"],
        "name": m["name"],
        "displaytext": m["display_text"],
        "guestiptype": m["guest_ip_type"],
        "traffictype": m["traffic_type"],
        "availability": m["availability"],
        "state": m["state"],
        "isdefault": bool(m["is_default"]),
        "specifyvlan": bool(m["specify_vlan"]),
        "specifyipranges": bool(m["specify_ip_ranges"]),
        "conservemode": bool(m["conserve_mode"]),
        "egressdefaultpolicy": bool(m["egress_default_policy"]),
        "forvpc": bool(m["for_vpc"]),
        "ispersistent": bool(m["is_persistent"]),
        "networkrate": m["network_rate"],
        "tags": m["tags"],
        "service": [
            {"name": service, "provider": [{"name": provider} for provider in providers]}
            for service, providers in by_service.items()
        ],
        "created": m["created"],
    }


def _services_of(conn: Connection, offering_ids: Sequence[int]) -> dict[int, list[tuple[str, str]]]:
    table = network_offering_service
    rows = conn.execute(
        select(table.c.network_offering_id, table.c.service, table.c.provider)
        .where(table.c.network_offering_id.in_(offering_ids))
        .order_by(table.c.id)
    ).all()
    result: dict[int, list[tuple[str, str]]] = {}
    for offering_id, service, provider in rows:
        result.setdefault(offering_id, []).append((service, provider))
    return result


def _one(conn: Connection, offering_id: int) -> Row:
    m = conn.execute(select(network_offering).where(network_offering.c.id == offering_id)).mappings().one()
    return offering_row(m, _services_of(conn, [offering_id]).get(offering_id, []))


def insert_network_offering(
    conn: Connection,
    *,
    name: str,
    displaytext: str,
    guestiptype: str,
    services: Mapping[str, str],
    **columns: Any,
) -> int:
    """Insert an offering and its service → provider map; returns the internal id (used by the seed too)."""
    new_id = conn.execute(
        insert(network_offering).values(
            name=name,
            display_text=displaytext,
            guest_ip_type=canonical(guestiptype, GUEST_TYPES, "guest IP type"),
            **columns,
        )
    ).inserted_primary_key
    assert new_id is not None
    if services:
        conn.execute(
            insert(network_offering_service),
            [{"network_offering_id": new_id[0], "service": s, "provider": p} for s, p in services.items()],
        )
    return int(new_id[0])


def create_network_offering(
    conn: Connection,
    caller: Caller,
    *,
    name: str,
    displaytext: str,
    guestiptype: str,
    traffictype: str = "Guest",
    supportedservices: str | Sequence[str] | None = None,
    serviceproviderlist: Sequence[Mapping[str, str]] | None = None,
    availability: str = "Optional",
    specifyvlan: bool = False,
    specifyipranges: bool = False,
    conservemode: bool = True,
    egressdefaultpolicy: bool = False,
    forvpc: bool = False,
    ispersistent: bool = False,
    networkrate: int | None = None,
    tags: str | None = None,
) -> Row:
    """Create a network offering (``createNetworkOffering``); it starts Disabled, as in CloudStack.

    ``serviceproviderlist`` holds ``{"service": ..., "provider": ...}`` entries (the unpacked
    ``serviceProviderList[i].service/provider`` map); services without one use VirtualRouter.
    """
    require_root(caller, "createNetworkOffering")
    if traffictype.lower() != "guest":
        raise ParamError("Only guest traffic type is supported for network offerings")
    providers = {entry["service"]: entry["provider"] for entry in serviceproviderlist or () if "service" in entry}
    services = {service: providers.get(service, "VirtualRouter") for service in split_csv(supportedservices)}
    new_id = insert_network_offering(
        conn,
        name=name,
        displaytext=displaytext,
        guestiptype=guestiptype,
        services=services,
        traffic_type="Guest",
        availability=canonical(availability, AVAILABILITIES, "availability"),
        state="Disabled",
        specify_vlan=specifyvlan,
        specify_ip_ranges=specifyipranges,
        conserve_mode=conservemode,
        egress_default_policy=egressdefaultpolicy,
        for_vpc=forvpc,
        is_persistent=ispersistent,
        network_rate=networkrate,
        tags=tags,
    )
    return _one(conn, new_id)


def update_network_offering(
    conn: Connection,
    caller: Caller,
    id: str,
    *,
    name: str | None = None,
    displaytext: str | None = None,
    state: str | None = None,
    availability: str | None = None,
) -> Row:
    """Rename, enable/disable or change the availability of an offering (``updateNetworkOffering``)."""
    require_root(caller, "updateNetworkOffering")
    row = get_live(conn, network_offering, id)
    values: dict[str, Any] = {}
    if name:
        values["name"] = name
    if displaytext:
        values["display_text"] = displaytext
    if state:
        values["state"] = canonical(state, STATES, "state")
    if availability:
        values["availability"] = canonical(availability, AVAILABILITIES, "availability")
    if values:
        conn.execute(update(network_offering).where(network_offering.c.id == row["id"]).values(**values))
    return _one(conn, row["id"])


def list_network_offerings(
    conn: Connection,
    caller: Caller,
    *,
    id: str | None = None,
    ids: Sequence[str] | None = None,
    name: str | None = None,
    keyword: str | None = None,
    guestiptype: str | None = None,
    availability: str | None = None,
    state: str | None = None,
    isdefault: bool | None = None,
    specifyvlan: bool | None = None,
    forvpc: bool | None = None,
    page: int | None = None,
    pagesize: int | None = None,
) -> tuple[list[Row], int]:
    """List network offerings (``listNetworkOfferings``); system offerings are never listed.

    Three statements at most: the page, the count, and the services of the page's offerings.
    """
    table = network_offering
    conditions = common_filters(table, id=id, ids=ids, name=name, keyword=keyword)
    conditions.append(table.c.is_system.is_(False))
    if guestiptype:
        conditions.append(table.c.guest_ip_type == canonical(guestiptype, GUEST_TYPES, "guest IP type"))
    if availability:
        conditions.append(table.c.availability == canonical(availability, AVAILABILITIES, "availability"))
    if state:
        conditions.append(table.c.state == canonical(state, STATES, "state"))
    for value, column in (
        (isdefault, table.c.is_default),
        (specifyvlan, table.c.specify_vlan),
        (forvpc, table.c.for_vpc),
    ):
        if value is not None:
            conditions.append(column.is_(value))
    rows, total = list_page(conn, select(table).where(*conditions), [table.c.id], page, pagesize)
    services = _services_of(conn, [m["id"] for m in rows]) if rows else {}
    return [offering_row(m, services.get(m["id"], [])) for m in rows], total


def delete_network_offering(conn: Connection, caller: Caller, id: str) -> None:
    """Remove an offering (``deleteNetworkOffering``); the default ones stay.

    Raises:
        ParamError: a default offering (431, CloudStack's text).
    """
    require_root(caller, "deleteNetworkOffering")
    row = get_live(conn, network_offering, id)
    if row["is_default"]:
        raise ParamError("Default network offering can't be deleted")
    soft_delete(conn, network_offering, row["id"])
