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
    func,
    or_,
    select,
    true,
    type_coerce,
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
from provisioner.services.common import contains, paginate
from provisioner.services.compute.lifecycle.guest_password import HASH_DETAIL
from provisioner.services.identity.visibility import account_pk, can_manage_domain, subtree_domain_ids
from provisioner.services.principal import Caller
from provisioner.services.tags import tagged_with, tags_by_resource

#: CloudStack's ``ResourceObjectType`` of user VMs (tags).
VM_RESOURCE_TYPE = "UserVm"
#: ``state=present`` lists every VM not on its way out.
_GONE = ("Destroyed", "Expunging")

Row = dict[str, Any]

_owner = account.alias("vm_owner")
_host = host.alias("vm_host")
_iso = vm_template.alias("vm_iso_template")


#: What one VM's row is built from, in the order :func:`vm_row` unpacks it (only the columns the answer shows).
_COLUMNS = (
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
    # The raw JSON text on SQLite (most VMs have no details: no decoding for "{}"); psycopg decodes it itself.
    type_coerce(vm_instance.c.details, Text),
    vm_instance.c.keypair,
    vm_instance.c.ha_enabled,
    vm_instance.c.display_vm,
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
    return select(*_COLUMNS).select_from(
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


def _nics(conn: Connection, ids: Any, vm_uuids: Mapping[int, str]) -> dict[int, list[Row]]:
    """The page's NICs in wire form (as ``nic_row`` answers ``listNics``, ``None`` fields left out)."""
    rows = conn.execute(
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


def _affinity_groups(conn: Connection, ids: Any) -> dict[int, list[Row]]:
    rows = conn.execute(
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


def vm_row(r: Sequence[Any], caller: Caller, nics: list[Row], groups: list[Row], tags: list[Row]) -> Row:
    """One VM as ``UserVmResponse`` in wire form (JSON-ready, ``None`` fields left out, CloudStack dates).

    The host, instance name, pod and cluster are shown to root admins only. ``r`` is a row of :data:`_COLUMNS`.
    """
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
        *_,  # the total of a page
    ) = r
    keypairs = ",".join(name for name in (keypair or "").split(",") if name) or None
    row = {
        "id": uuid,
        "name": name,
        "displayname": display_name or name,
        "state": state,
        "account": account_name,
        "domainid": domain_uuid,
        "domain": domain_name,
        "domainpath": "ROOT" + domain_path.rstrip("/"),
        "created": format_date(created),
        "lastupdated": _date(updated),
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
        "cpunumber": cpu_number,
        "cpuspeed": cpu_speed,
        "memory": memory,
        "hypervisor": hypervisor,
        "haenable": bool(ha_enabled),
        "displayvm": bool(display_vm),
        "rootdeviceid": 0,
        "rootdevicetype": "ROOT",
        "keypair": keypairs,
        "keypairs": keypairs,
        "groupid": group_uuid,
        "group": group_name,
        "userdataid": userdata_uuid,
        "userdataname": userdata_name,
        "isoid": iso_uuid,
        "isoname": iso_name,
        "isodisplaytext": iso_text,
        "details": _details(details),
        "nic": nics,
        "securitygroup": [],
        "affinitygroup": groups,
        "tags": tags,
    }
    if caller.is_root_admin:
        row |= {
            "instancename": instance_name,
            "hostid": host_uuid,
            "hostname": host_name,
            "podid": pod_uuid,
            "podname": pod_name,
            "clusterid": cluster_uuid,
            "clustername": cluster_name,
        }
    return {key: value for key, value in row.items() if value is not None}


def rows_for(conn: Connection, caller: Caller, page: Sequence[Sequence[Any]], ids: Select[Any]) -> list[Row]:
    """Decorate a page of base rows with NICs, affinity groups and tags (three statements, whatever the page).

    ``ids`` selects exactly the page's VM ids (``vm_instance.id``): the decorations join it rather than
    taking the page's 500 ids and UUIDs as 500 parameters each (their binding and, on PostgreSQL, their
    planning cost more than the rows).
    """
    if not page:
        return []
    uuids = {r[0]: r[1] for r in page}
    chosen = ids.subquery("chosen")
    nics = _nics(conn, chosen, uuids)
    groups = _affinity_groups(conn, chosen)
    vm_tags = tags_by_resource(conn, VM_RESOURCE_TYPE, ids.with_only_columns(vm_instance.c.uuid))
    tags = {uuid: [_present(tag) for tag in entries] for uuid, entries in vm_tags.items()}
    return [vm_row(r, caller, nics.get(r[0], []), groups.get(r[0], []), tags.get(r[1], [])) for r in page]


#: Built once: every VM job answers with it, and building this statement (and its cache key) costs more than running it.
_ONE_VM = _base().where(vm_instance.c.id == bindparam("vm_id"))


def get_vm(conn: Connection, caller: Caller, vm_id: int) -> Row:
    """One VM (by internal id) as a wire row; expunged VMs too (a job's last answer)."""
    r = conn.execute(_ONE_VM, {"vm_id": vm_id}).first()
    if r is None:
        raise ParamError(f"Unable to find virtual machine by id {vm_id}")
    return rows_for(conn, caller, [r], select(vm_instance.c.id).where(vm_instance.c.id == vm_id))[0]


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
    walked in an index without joins), then only those rows are joined and decorated. The total rides along
    in the same statement as an uncorrelated subquery over the filters alone, evaluated once; only a page
    past the end needs a statement of its own to count.
    """
    conditions = filters(conn, caller, f)
    keys = select(vm_instance.c.id).where(*conditions)
    chosen = paginate(keys.order_by(vm_instance.c.id), page, pagesize).subquery("page")
    statement = _base(chosen).order_by(chosen.c.id)
    counting = keys.with_only_columns(func.count(), maintain_column_froms=True)
    paged = page is not None or pagesize is not None
    if paged:
        statement = statement.add_columns(counting.correlate(None).scalar_subquery().label("total"))
    if conn.dialect.name == "postgresql":
        # The joins are written in the order to run them (the page drives, the rest are key lookups): searching
        # the orders of fourteen relations cost PostgreSQL 15 ms of planning for a 2 ms page.
        conn.exec_driver_sql("SET LOCAL join_collapse_limit = 1")
    rows = conn.execute(statement).all()
    if not paged:
        total = len(rows)
    elif rows:
        total = int(rows[0][-1])
    else:
        total = int(conn.execute(counting).scalar_one()) if (page or 1) > 1 else 0
    # The page is the matching VMs from its first id to its last: that range selects it again, exactly.
    page_ids = keys.where(vm_instance.c.id.between(rows[0][0], rows[-1][0])) if rows else keys
    return rows_for(conn, caller, rows, page_ids), total
