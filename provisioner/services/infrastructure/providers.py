"""Network service providers and virtual router elements: records the zone-build order switches on.

``listNetworkServiceProviders`` → ``listVirtualRouterElements`` → ``configureVirtualRouterElement``
→ ``updateNetworkServiceProvider(state=Enabled)``, as Marvin's ``deployDataCenter.py`` does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, RowMapping, insert, select, update

from provisioner.db.schema import network_service_provider, physical_network, utcnow, virtual_router_element
from provisioner.exceptions import ParamError
from provisioner.services.common import list_page
from provisioner.services.infrastructure.common import Row, get_live, live, require_root, split_csv
from provisioner.services.infrastructure.zones import canonical
from provisioner.services.principal import Caller

_ROUTER_SERVICES = "Vpn,Dhcp,Dns,Gateway,Firewall,Lb,SourceNat,StaticNat,PortForwarding,UserData,NetworkACL"
#: Providers every physical network gets: (name, initial state, services, virtual router element type).
DEFAULT_PROVIDERS: tuple[tuple[str, str, str, str | None], ...] = (
    ("VirtualRouter", "Disabled", _ROUTER_SERVICES, "VirtualRouter"),
    ("VpcVirtualRouter", "Disabled", _ROUTER_SERVICES, "VPCVirtualRouter"),
    ("InternalLbVm", "Disabled", "Lb", None),
    ("ConfigDrive", "Enabled", "UserData", None),
)
SECURITY_GROUP_PROVIDER = ("SecurityGroupProvider", "Disabled", "SecurityGroup", None)
STATES = ("Enabled", "Disabled", "Shutdown")


def add_default_providers(conn: Connection, physical_network_id: int, *, security_groups: bool) -> None:
    """Create a new physical network's providers and their virtual router elements."""
    wanted = DEFAULT_PROVIDERS + ((SECURITY_GROUP_PROVIDER,) if security_groups else ())
    for name, state, services, element in wanted:
        nsp_id = conn.execute(
            insert(network_service_provider).values(
                physical_network_id=physical_network_id, name=name, state=state, services=services
            )
        ).inserted_primary_key
        assert nsp_id is not None
        if element is not None:
            conn.execute(insert(virtual_router_element).values(nsp_id=nsp_id[0], type=element, enabled=False))


def remove_providers(conn: Connection, physical_network_id: int) -> None:
    """Soft-delete a physical network's providers and elements."""
    now = utcnow()
    nsp_ids = select(network_service_provider.c.id).where(
        network_service_provider.c.physical_network_id == physical_network_id
    )
    conn.execute(update(virtual_router_element).where(virtual_router_element.c.nsp_id.in_(nsp_ids)).values(removed=now))
    conn.execute(
        update(network_service_provider)
        .where(network_service_provider.c.physical_network_id == physical_network_id)
        .values(removed=now)
    )


def provider_row(m: RowMapping) -> Row:
    """A provider as ``ProviderResponse``."""
    return {
        "id": m["uuid"],
        "name": m["name"],
        "physicalnetworkid": m["network_uuid"],
        "state": m["state"],
        "servicelist": split_csv(m["services"]),
        "destinationphysicalnetworkid": None,
        "canenableindividualservice": m["name"] in ("VirtualRouter", "VpcVirtualRouter"),
    }


def _provider_select() -> Any:
    table = network_service_provider
    return select(table, physical_network.c.uuid.label("network_uuid")).join(
        physical_network, physical_network.c.id == table.c.physical_network_id
    )


def list_network_service_providers(
    conn: Connection,
    caller: Caller,
    *,
    physicalnetworkid: str | None = None,
    name: str | None = None,
    state: str | None = None,
    keyword: str | None = None,
    page: int | None = None,
    pagesize: int | None = None,
) -> tuple[list[Row], int]:
    """List providers (``listNetworkServiceProviders``), root admin only."""
    require_root(caller, "listNetworkServiceProviders")
    table = network_service_provider
    conditions = [live(table)]
    if physicalnetworkid:
        conditions.append(physical_network.c.uuid == physicalnetworkid.lower())
    if name:
        conditions.append(table.c.name == name)
    if state:
        conditions.append(table.c.state == canonical(state, STATES, "state"))
    if keyword:
        conditions.append(table.c.name == keyword)
    rows, total = list_page(conn, _provider_select().where(*conditions), [table.c.id], page, pagesize)
    return [provider_row(m) for m in rows], total


def update_network_service_provider(
    conn: Connection,
    caller: Caller,
    id: str,
    *,
    state: str | None = None,
    servicelist: Sequence[str] | str | None = None,
) -> Row:
    """Enable, disable or shut down a provider (``updateNetworkServiceProvider``).

    Raises:
        ParamError: enabling a virtual router provider whose element is not configured, as CloudStack refuses.
    """
    require_root(caller, "updateNetworkServiceProvider")
    table = network_service_provider
    row = get_live(conn, table, id)
    values: dict[str, Any] = {}
    if state is not None:
        values["state"] = canonical(state, STATES, "state")
        if values["state"] == "Enabled" and _has_disabled_element(conn, row["id"]):
            raise ParamError(
                f"Provider is not ready, cannot Enable the provider, please configure the provider first: {row['name']}"
            )
    if servicelist is not None:
        values["services"] = ",".join(split_csv(servicelist))
    if values:
        conn.execute(update(table).where(table.c.id == row["id"]).values(**values))
    return provider_row(conn.execute(_provider_select().where(table.c.id == row["id"])).mappings().one())


def _has_disabled_element(conn: Connection, nsp_id: int) -> bool:
    element = virtual_router_element
    query = select(element.c.id).where(element.c.nsp_id == nsp_id, live(element), element.c.enabled.is_(False))
    return conn.execute(query.limit(1)).first() is not None


def element_row(m: RowMapping) -> Row:
    """A virtual router element as ``VirtualRouterProviderResponse``."""
    return {"id": m["uuid"], "nspid": m["nsp_uuid"], "enabled": bool(m["enabled"]), "account": "system"}


def _element_select() -> Any:
    element = virtual_router_element
    return select(element, network_service_provider.c.uuid.label("nsp_uuid")).join(
        network_service_provider, network_service_provider.c.id == element.c.nsp_id
    )


def list_virtual_router_elements(
    conn: Connection,
    caller: Caller,
    *,
    id: str | None = None,
    nspid: str | None = None,
    enabled: bool | None = None,
    page: int | None = None,
    pagesize: int | None = None,
) -> tuple[list[Row], int]:
    """List virtual router elements (``listVirtualRouterElements``), root admin only."""
    require_root(caller, "listVirtualRouterElements")
    element = virtual_router_element
    conditions = [live(element)]
    if id:
        conditions.append(element.c.uuid == id.lower())
    if nspid:
        conditions.append(network_service_provider.c.uuid == nspid.lower())
    if enabled is not None:
        conditions.append(element.c.enabled.is_(enabled))
    rows, total = list_page(conn, _element_select().where(*conditions), [element.c.id], page, pagesize)
    return [element_row(m) for m in rows], total


def configure_virtual_router_element(conn: Connection, caller: Caller, id: str, *, enabled: bool) -> Row:
    """Enable or disable a virtual router element (``configureVirtualRouterElement``)."""
    require_root(caller, "configureVirtualRouterElement")
    element = virtual_router_element
    row = get_live(conn, element, id)
    conn.execute(update(element).where(element.c.id == row["id"]).values(enabled=enabled))
    return element_row(conn.execute(_element_select().where(element.c.id == row["id"])).mappings().one())
