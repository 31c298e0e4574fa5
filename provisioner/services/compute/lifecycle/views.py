"""``listVirtualMachines``: VMs as CloudStack wire rows, a page in a constant number of statements.

One statement selects the page (VM joined with its zone, owner, offering, template, host and group:
each join yields at most one row per VM, so paging in SQL stays exact), then one statement each
fetches the page's NICs, affinity groups and tags, and one more counts when the page does not
prove the total. Nothing is fetched per VM (reference §13 rows 1, 2 and 6).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import (
    ColumnElement,
    Connection,
    FromClause,
    Select,
    Text,
    bindparam,
    cast,
    func,
    or_,
    select,
    true,
)

from provisioner.api.responses import format_date
from provisioner.db.schema import (
    account,
    affinity_group,
    affinity_group_vm_map,
    cluster,
    domain,
    guest_network,
    host,
    instance_group,
    instance_group_vm_map,
    nic,
    os_type,
    pod,
    service_offering,
    storage_pool,
    user_data,
    vm_instance,
    vm_iso,
    vm_template,
    volume,
    zone,
)
from provisioner.exceptions import ParamError, PermissionDeniedError
from provisioner.services.common import DEFAULT_PAGE_SIZE, contains, count_meanwhile, paginate
from provisioner.services.compute.lifecycle.guest_password import HASH_DETAIL
from provisioner.services.identity.visibility import account_pk, can_manage_domain, subtree_domain_ids
from provisioner.services.principal import Caller
from provisioner.services.tags import tagged_with, tags_by_query, tags_query

#: CloudStack's ``ResourceObjectType`` of user VMs (tags).
VM_RESOURCE_TYPE = "UserVm"
#: ``state=present`` lists every VM not on its way out.
_GONE = ("Destroyed", "Expunging")

Row = dict[str, Any]

_owner = account.alias("vm_owner")
_host = host.alias("vm_host")
_iso = vm_template.alias("vm_iso_template")


#: What one VM's row is built from, in the order :class:`_RowBuilder` unpacks it (only the columns the answer shows):
#: the VM's own columns, then those of the tables it joins.
_OWN_COLUMNS = (
    vm_instance.c.id,
    vm_instance.c.uuid,
    vm_instance.c.name,
    vm_instance.c.display_name,
    vm_instance.c.instance_name,
    vm_instance.c.state,
    vm_instance.c.hypervisor_type,
    vm_instance.c.created,
    vm_instance.c.update_time,
    vm_instance.c.cpu_number,
    vm_instance.c.cpu_speed,
    vm_instance.c.memory,
    # The JSON as text on both databases: most VMs have none, and "{}" needs no decoding (psycopg would decode
    # every row's with the standard library).
    cast(vm_instance.c.details, Text),
    vm_instance.c.keypair,
    vm_instance.c.ha_enabled,
    vm_instance.c.display_vm,
)
#: The columns a VM's row takes from the tables it joins; :class:`_RowBuilder` builds their fields once per page.
_JOINED_COLUMNS = (
    zone.c.uuid,
    zone.c.name,
    _owner.c.name,
    domain.c.uuid,
    domain.c.name,
    domain.c.path,
    service_offering.c.uuid,
    service_offering.c.name,
    vm_template.c.uuid,
    vm_template.c.name,
    vm_template.c.display_text,
    vm_template.c.format,
    vm_template.c.password_enabled,
    vm_template.c.dynamically_scalable,
    os_type.c.uuid,
    os_type.c.description,
    _host.c.uuid,
    _host.c.name,
    pod.c.uuid,
    pod.c.name,
    cluster.c.uuid,
    cluster.c.name,
    instance_group.c.uuid,
    instance_group.c.name,
    user_data.c.uuid,
    user_data.c.name,
    _iso.c.uuid,
    _iso.c.name,
    _iso.c.display_text,
)


def _base(leading: FromClause | None = None) -> Select[Any]:
    """The VM rows joined with everything they name; ``leading``, a page of VM ids, comes first in the FROM.

    PostgreSQL reorders at most ``join_collapse_limit`` (8) relations of a join: with the page last in a FROM
    of fourteen it hashed all 100,000 VMs before meeting the page's 500 ids (a second per list). First, the page
    drives a nested loop into each table by primary key, on both databases.
    """
    vms: FromClause = vm_instance if leading is None else leading.join(vm_instance, vm_instance.c.id == leading.c.id)
    return select(*_OWN_COLUMNS, *_JOINED_COLUMNS).select_from(
        vms.join(zone, zone.c.id == vm_instance.c.zone_id)
        .join(_owner, _owner.c.id == vm_instance.c.account_id)
        .join(domain, domain.c.id == vm_instance.c.domain_id)
        .join(service_offering, service_offering.c.id == vm_instance.c.service_offering_id)
        .outerjoin(vm_template, vm_template.c.id == vm_instance.c.template_id)
        .outerjoin(os_type, os_type.c.id == vm_template.c.os_type_id)
        .outerjoin(_host, _host.c.id == vm_instance.c.host_id)
        .outerjoin(pod, pod.c.id == vm_instance.c.pod_id)
        .outerjoin(cluster, cluster.c.id == vm_instance.c.cluster_id)
        .outerjoin(instance_group_vm_map, instance_group_vm_map.c.vm_id == vm_instance.c.id)
        .outerjoin(instance_group, instance_group.c.id == instance_group_vm_map.c.group_id)
        .outerjoin(user_data, user_data.c.id == vm_instance.c.user_data_id)
        .outerjoin(vm_iso, vm_iso.c.vm_id == vm_instance.c.id)  # at most one ISO per VM (unique vm_id)
        .outerjoin(_iso, _iso.c.id == vm_iso.c.template_id)
    )


def _present(entry: Row) -> Row:
    return {key: value for key, value in entry.items() if value is not None}


def _nics_query(ids: Any) -> Select[Any]:
    """The NICs of the VMs ``ids`` (a subquery of VM ids) selects, in VM and device order."""
    return (
        select(
            nic.c.vm_id,
            nic.c.uuid,
            guest_network.c.uuid,
            guest_network.c.name,
            nic.c.ip_address,
            nic.c.netmask,
            nic.c.gateway,
            nic.c.mac_address,
            nic.c.is_default,
            guest_network.c.traffic_type,
            guest_network.c.guest_type,
            nic.c.broadcast_uri,
            guest_network.c.vlan,
            nic.c.device_id,
            nic.c.mode,
        )
        .select_from(ids.join(nic, nic.c.vm_id == ids.c.id))
        .join(guest_network, guest_network.c.id == nic.c.network_id)
        .where(nic.c.removed.is_(None))
        .order_by(nic.c.vm_id, nic.c.device_id)
    )


def _nics(rows: Sequence[Sequence[Any]], vm_uuids: Mapping[int, str]) -> dict[int, list[Row]]:
    """The page's NICs in wire form (as ``nic_row`` answers ``listNics``, ``None`` fields left out)."""
    result: dict[int, list[Row]] = {}
    for vm_id, uuid, network, name, ip, netmask, gateway, mac, default, traffic, kind, uri, vlan, device, mode in rows:
        if vm_id not in vm_uuids:  # a VM that joined the page's id range after the page was read
            continue
        entry = {
            "id": uuid,
            "networkid": network,
            "networkname": name,
            "ipaddress": ip,
            "netmask": netmask,
            "gateway": gateway,
            "macaddress": mac,
            "isdefault": bool(default),
            "traffictype": traffic,
            "type": kind,
            "broadcasturi": uri or vlan,
            "isolationuri": uri or vlan,
            "deviceid": str(device),
            "mode": mode,
            "virtualmachineid": vm_uuids[vm_id],
        }
        result.setdefault(vm_id, []).append({key: value for key, value in entry.items() if value is not None})
    return result


def _groups_query(ids: Any) -> Select[Any]:
    """The affinity groups of the VMs ``ids`` (a subquery of VM ids) selects."""
    return (
        select(
            affinity_group_vm_map.c.vm_id,
            affinity_group.c.uuid,
            affinity_group.c.name,
            affinity_group.c.type,
            affinity_group.c.description,
        )
        .select_from(ids.join(affinity_group_vm_map, affinity_group_vm_map.c.vm_id == ids.c.id))
        .join(affinity_group, affinity_group.c.id == affinity_group_vm_map.c.affinity_group_id)
        .order_by(affinity_group_vm_map.c.vm_id, affinity_group.c.id)
    )


def _affinity_groups(rows: Any) -> dict[int, list[Row]]:
    result: dict[int, list[Row]] = {}
    for vm_id, uuid, name, kind, description in rows:
        result.setdefault(vm_id, []).append(
            _present({"id": uuid, "name": name, "type": kind, "description": description})
        )
    return result


def _details(raw: Any) -> dict[str, str]:
    if isinstance(raw, str):
        raw = orjson.loads(raw) if raw != "{}" else None
    return {str(k): str(v) for k, v in raw.items() if k != HASH_DETAIL} if raw else {}


def _date(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):  # never: the DateTime type parses SQLite's text; kept for type safety
        value = datetime.fromisoformat(value)
    return format_date(value)


_JOINED = len(_OWN_COLUMNS)


def _joined_part(joined: Sequence[Any], admin: bool) -> Row:
    """The fields a VM's row takes from the tables it joins (zone, owner, offering, template, host, ...).

    A page's VMs share a handful of these combinations: :class:`_RowBuilder` builds each once.
    """
    (
        zone_uuid,
        zone_name,
        account_name,
        domain_uuid,
        domain_name,
        domain_path,
        offering_uuid,
        offering_name,
        template_uuid,
        template_name,
        template_text,
        template_format,
        password_enabled,
        template_scalable,
        os_uuid,
        os_name,
        host_uuid,
        host_name,
        pod_uuid,
        pod_name,
        cluster_uuid,
        cluster_name,
        group_uuid,
        group_name,
        userdata_uuid,
        userdata_name,
        iso_uuid,
        iso_name,
        iso_text,
    ) = joined
    row = {
        "account": account_name,
        "domainid": domain_uuid,
        "domain": domain_name,
        "domainpath": "ROOT" + domain_path.rstrip("/"),
        "zoneid": zone_uuid,
        "zonename": zone_name,
        "templateid": template_uuid,
        "templatename": template_name,
        "templatedisplaytext": template_text,
        "templateformat": template_format,
        "passwordenabled": bool(password_enabled),
        "isdynamicallyscalable": bool(template_scalable),
        "guestosid": os_uuid,
        "ostypeid": os_uuid,
        "osdisplayname": os_name,
        "serviceofferingid": offering_uuid,
        "serviceofferingname": offering_name,
        "groupid": group_uuid,
        "group": group_name,
        "userdataid": userdata_uuid,
        "userdataname": userdata_name,
        "isoid": iso_uuid,
        "isoname": iso_name,
        "isodisplaytext": iso_text,
    }
    if admin:
        row |= {
            "hostid": host_uuid,
            "hostname": host_name,
            "podid": pod_uuid,
            "podname": pod_name,
            "clusterid": cluster_uuid,
            "clustername": cluster_name,
        }
    return _present(row)


class _RowBuilder:
    """Builds VMs' wire rows (``UserVmResponse``: JSON-ready, ``None`` fields left out, CloudStack dates).

    The host, instance name, pod and cluster are shown to root admins only.
    """

    def __init__(self, caller: Caller) -> None:
        self.admin = caller.is_root_admin
        self._joined: dict[tuple[Any, ...], Row] = {}

    def row(self, r: Sequence[Any], nics: list[Row], groups: list[Row], tags: list[Row]) -> Row:
        """One VM; ``r`` is a row of :data:`_OWN_COLUMNS` then :data:`_JOINED_COLUMNS`."""
        (
            _,
            uuid,
            name,
            display_name,
            instance_name,
            state,
            hypervisor,
            created,
            updated,
            cpu_number,
            cpu_speed,
            memory,
            details,
            keypair,
            ha_enabled,
            display_vm,
        ) = r[:_JOINED]
        joined = tuple(r[_JOINED:])
        shared = self._joined.get(joined)
        if shared is None:
            shared = self._joined[joined] = _joined_part(joined, self.admin)
        row = {
            "id": uuid,
            "name": name,
            "displayname": display_name or name,
            "state": state,
            "created": format_date(created),
            "cpunumber": cpu_number,
            "cpuspeed": cpu_speed,
            "memory": memory,
            "haenable": bool(ha_enabled),
            "displayvm": bool(display_vm),
            "rootdeviceid": 0,
            "rootdevicetype": "ROOT",
            "details": _details(details),
            "nic": nics,
            "securitygroup": [],
            "affinitygroup": groups,
            "tags": tags,
            **shared,
        }
        if updated is not None:
            row["lastupdated"] = _date(updated)
        if hypervisor is not None:
            row["hypervisor"] = hypervisor
        if keypair:
            keypairs = ",".join(name for name in keypair.split(",") if name)
            if keypairs:
                row["keypair"] = row["keypairs"] = keypairs
        if self.admin:
            row["instancename"] = instance_name
        return row


class _Decorations:
    """The three statements that read the NICs, affinity groups and tags of the VMs a query of ids selects.

    The decorations join that query rather than taking a page's 500 ids and UUIDs as 500 parameters each
    (their binding and, on PostgreSQL, their planning cost more than the rows).
    """

    def __init__(self, ids: Select[Any]) -> None:
        chosen = ids.subquery("chosen")
        self.nics = _nics_query(chosen)
        self.groups = _groups_query(chosen)
        self.tags = tags_query(VM_RESOURCE_TYPE, ids.with_only_columns(vm_instance.c.uuid))


class _Page:
    """A page of base rows with its NICs, affinity groups and tags as read; :meth:`rows` builds the wire rows."""

    def __init__(
        self,
        conn: Connection,
        page: Sequence[Sequence[Any]],
        decorations: _Decorations,
        params: Mapping[str, Any] | None = None,
    ) -> None:
        """Read the decorations of ``page`` (three statements, whatever its size)."""
        self.page = page
        self.nics: Sequence[Sequence[Any]] = ()
        self.groups: dict[int, list[Row]] = {}
        self.tags: Mapping[str, list[Row]] = {}
        if page:
            self.nics = conn.execute(decorations.nics, params).all()
            self.groups = _affinity_groups(conn.execute(decorations.groups, params))
            self.tags = tags_by_query(conn, decorations.tags, params)

    def rows(self, caller: Caller) -> list[Row]:
        """The page's VMs in wire form; runs no statement."""
        nics = _nics(self.nics, {r[0]: r[1] for r in self.page})
        tags = {uuid: [_present(tag) for tag in entries] for uuid, entries in self.tags.items()}
        groups, build = self.groups, _RowBuilder(caller).row
        return [build(r, nics.get(r[0], []), groups.get(r[0], []), tags.get(r[1], [])) for r in self.page]


#: Built once: every VM job answers with one VM, and building these statements (and their cache keys) cost more
#: than running them.
_ONE_VM = _base().where(vm_instance.c.id == bindparam("vm_id"))
_ONE_VM_DECORATIONS = _Decorations(select(vm_instance.c.id).where(vm_instance.c.id == bindparam("vm_id")))


def get_vm(conn: Connection, caller: Caller, vm_id: int) -> Row:
    """One VM (by internal id) as a wire row; expunged VMs too (a job's last answer)."""
    params = {"vm_id": vm_id}
    r = conn.execute(_ONE_VM, params).first()
    if r is None:
        raise ParamError(f"Unable to find virtual machine by id {vm_id}")
    return _Page(conn, [r], _ONE_VM_DECORATIONS, params).rows(caller)[0]


def _owners(conn: Connection, caller: Caller, f: Mapping[str, Any]) -> ColumnElement[bool]:
    """CloudStack's ACL search: account+domain, a domain (subtree with isrecursive), listall, else the caller's own.

    A request for one ``id`` lists it wherever the caller may see it, as CloudStack does.
    """
    account_name, domain_uuid = f.get("account"), f.get("domainid")
    if domain_uuid:
        target = conn.execute(select(domain.c.id, domain.c.path).where(domain.c.uuid == domain_uuid)).first()
        if target is None:
            raise ParamError(f"Unable to find domain by id {domain_uuid}")
        own = caller.domain_id == domain_uuid and account_name == caller.account_name
        if not caller.is_root_admin and not can_manage_domain(caller, target.path) and not own:
            raise PermissionDeniedError(
                f"Account {caller.account_name} does not have permission to list resources of domain {domain_uuid}"
            )
        if account_name:
            owner = select(account.c.id).where(
                account.c.domain_id == target.id, account.c.name == account_name, account.c.removed.is_(None)
            )
            found = conn.execute(owner).scalar()
            if found is None:
                raise ParamError(f"Unable to find account {account_name} in domain {domain_uuid}")
            return vm_instance.c.account_id == found  # type: ignore[no-any-return]
        if f.get("isrecursive"):
            return vm_instance.c.domain_id.in_(subtree_domain_ids(target.path))
        return vm_instance.c.domain_id == target.id  # type: ignore[no-any-return]
    if account_name:
        raise ParamError("Account name is given without domainid; pass both")
    if f.get("listall") or f.get("id") or f.get("ids"):
        if caller.is_root_admin:
            return true()
        if caller.is_domain_admin:
            return vm_instance.c.domain_id.in_(subtree_domain_ids(caller.domain_path))
    return vm_instance.c.account_id == account_pk(caller)


def _id_of(table: Any, uuid: str) -> Any:
    """The internal id of ``uuid`` in ``table``, as a scalar subquery."""
    return select(table.c.id).where(table.c.uuid == uuid.lower()).scalar_subquery()


def _uuid_filter(column: Any, table: Any, uuid: str | None) -> ColumnElement[bool] | None:
    if not uuid:
        return None
    return column == _id_of(table, uuid)  # type: ignore[no-any-return]


def filters(conn: Connection, caller: Caller, f: Mapping[str, Any]) -> list[ColumnElement[bool]]:
    """The WHERE conditions of ``listVirtualMachines`` (every filter of the reference that has data here)."""
    conditions: list[ColumnElement[bool]] = [vm_instance.c.removed.is_(None), _owners(conn, caller, f)]
    if f.get("id"):
        conditions.append(vm_instance.c.uuid == f["id"].lower())
    if f.get("ids"):
        conditions.append(vm_instance.c.uuid.in_([i.lower() for i in f["ids"]]))
    if f.get("name"):
        conditions.append(vm_instance.c.name == f["name"])
    state = f.get("state")
    if state:
        if state.lower() == "present":
            conditions.append(vm_instance.c.state.not_in(_GONE))
        else:
            conditions.append(vm_instance.c.state == state[:1].upper() + state[1:].lower())
    if f.get("keyword"):
        keyword = f["keyword"]
        conditions.append(or_(contains(vm_instance.c.name, keyword), contains(vm_instance.c.display_name, keyword)))
    for column, table, key in (
        (vm_instance.c.zone_id, zone, "zoneid"),
        (vm_instance.c.pod_id, pod, "podid"),
        (vm_instance.c.cluster_id, cluster, "clusterid"),
        (vm_instance.c.host_id, host, "hostid"),
        (vm_instance.c.template_id, vm_template, "templateid"),
        (vm_instance.c.service_offering_id, service_offering, "serviceofferingid"),
        (vm_instance.c.user_data_id, user_data, "userdataid"),
    ):
        condition = _uuid_filter(column, table, f.get(key))
        if condition is not None:
            conditions.append(condition)
    if f.get("hypervisor"):
        conditions.append(vm_instance.c.hypervisor_type == f["hypervisor"])
    if f.get("haenable") is not None:
        conditions.append(vm_instance.c.ha_enabled.is_(bool(f["haenable"])))
    if f.get("displayvm") is not None:
        conditions.append(vm_instance.c.display_vm.is_(bool(f["displayvm"])))
    if f.get("keypair"):
        conditions.append(or_(vm_instance.c.keypair == f["keypair"], contains(vm_instance.c.keypair, f["keypair"])))
    if f.get("storageid"):
        on_pool = select(volume.c.vm_id).where(
            volume.c.pool_id == _id_of(storage_pool, f["storageid"]),
            volume.c.removed.is_(None),
        )
        conditions.append(vm_instance.c.id.in_(on_pool))
    if f.get("networkid"):
        in_network = select(nic.c.vm_id).where(
            nic.c.network_id == _id_of(guest_network, f["networkid"]),
            nic.c.removed.is_(None),
        )
        conditions.append(vm_instance.c.id.in_(in_network))
    if f.get("groupid"):
        grouped = select(instance_group_vm_map.c.vm_id).where(
            instance_group_vm_map.c.group_id == _id_of(instance_group, f["groupid"])
        )
        conditions.append(vm_instance.c.id.in_(grouped))
    if f.get("affinitygroupid"):
        members = select(affinity_group_vm_map.c.vm_id).where(
            affinity_group_vm_map.c.affinity_group_id
            == select(affinity_group.c.id)
            .where(affinity_group.c.uuid == f["affinitygroupid"].lower())
            .scalar_subquery()
        )
        conditions.append(vm_instance.c.id.in_(members))
    if f.get("tags"):
        conditions.append(tagged_with(VM_RESOURCE_TYPE, vm_instance.c.uuid, f["tags"]))
    if not caller.is_root_admin and not caller.is_domain_admin:
        conditions.append(vm_instance.c.display_vm.is_(True))
    return conditions


def list_vms(
    conn: Connection, caller: Caller, *, page: int | None = None, pagesize: int | None = None, **f: Any
) -> tuple[list[Row], int]:
    """The VMs the caller may see that match the filters: (one page of wire rows, total count).

    The page's ids are chosen over ``vm_instance`` alone (primary key order, the filters' indexes, the OFFSET
    walked in an index without joins), then only those rows are joined and decorated. The total is counted
    over the filters alone, last: on PostgreSQL while this process builds the page's wire rows
    (:func:`count_meanwhile`; counting 100,000 VMs takes as long as building 500 rows).
    """
    conditions = filters(conn, caller, f)
    keys = select(vm_instance.c.id).where(*conditions)
    chosen = paginate(keys.order_by(vm_instance.c.id), page, pagesize).subquery("page")
    statement = _base(chosen).order_by(chosen.c.id)
    if conn.dialect.name == "postgresql":
        # The joins are written in the order to run them (the page drives, the rest are key lookups): searching
        # the orders of fourteen relations cost PostgreSQL 15 ms of planning for a 2 ms page.
        conn.exec_driver_sql("SET LOCAL join_collapse_limit = 1")
    rows = conn.execute(statement).all()
    # The page is the matching VMs from its first id to its last: that range selects it again, exactly.
    page_ids = keys.where(vm_instance.c.id.between(rows[0][0], rows[-1][0])) if rows else keys
    decorated = _Page(conn, rows, _Decorations(page_ids))
    if page is None and pagesize is None:
        return decorated.rows(caller), len(rows)
    size = pagesize or DEFAULT_PAGE_SIZE
    if 0 < len(rows) < size or (not rows and (page or 1) == 1):
        # The last page, or nothing matches: the page proves the total.
        return decorated.rows(caller), ((page or 1) - 1) * size + len(rows)
    counting = keys.with_only_columns(func.count(), maintain_column_froms=True)
    with count_meanwhile(conn, counting) as total:
        built = decorated.rows(caller)
    return built, total.value
