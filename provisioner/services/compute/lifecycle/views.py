"""``listVirtualMachines``: VMs as CloudStack wire rows, a page in a constant number of statements.

One statement selects the page (VM joined with its zone, owner, offering, template, host and group:
each join yields at most one row per VM, so paging in SQL stays exact), then one statement each
fetches the page's NICs, affinity groups and tags, and one more counts when the page does not
prove the total. Nothing is fetched per VM (reference §13 rows 1, 2 and 6).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, RowMapping, Select, or_, select, true

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
    vm_template,
    volume,
    zone,
)
from provisioner.exceptions import ParamError, PermissionDeniedError
from provisioner.services.common import contains, list_page
from provisioner.services.identity.visibility import account_pk, can_manage_domain, subtree_domain_ids
from provisioner.services.networks.nics import nic_row
from provisioner.services.principal import Caller
from provisioner.services.tags import tagged_with, tags_by_resource

#: CloudStack's ``ResourceObjectType`` of user VMs (tags).
VM_RESOURCE_TYPE = "UserVm"
#: ``state=present`` lists every VM not on its way out.
_GONE = ("Destroyed", "Expunging")

Row = dict[str, Any]

_owner = account.alias("vm_owner")
_host = host.alias("vm_host")


def _base() -> Select[Any]:
    return (
        select(
            vm_instance,
            zone.c.uuid.label("zone_uuid"),
            zone.c.name.label("zone_name"),
            _owner.c.name.label("account_name"),
            domain.c.uuid.label("domain_uuid"),
            domain.c.name.label("domain_name"),
            domain.c.path.label("domain_path"),
            service_offering.c.uuid.label("offering_uuid"),
            service_offering.c.name.label("offering_name"),
            vm_template.c.uuid.label("template_uuid"),
            vm_template.c.name.label("template_name"),
            vm_template.c.display_text.label("template_text"),
            vm_template.c.format.label("template_format"),
            vm_template.c.password_enabled.label("password_enabled"),
            vm_template.c.dynamically_scalable.label("template_scalable"),
            os_type.c.uuid.label("os_uuid"),
            os_type.c.description.label("os_name"),
            _host.c.uuid.label("host_uuid"),
            _host.c.name.label("host_name"),
            pod.c.uuid.label("pod_uuid"),
            pod.c.name.label("pod_name"),
            cluster.c.uuid.label("cluster_uuid"),
            cluster.c.name.label("cluster_name"),
            instance_group.c.uuid.label("group_uuid"),
            instance_group.c.name.label("group_name"),
            user_data.c.uuid.label("userdata_uuid"),
            user_data.c.name.label("userdata_name"),
        )
        .join(zone, zone.c.id == vm_instance.c.zone_id)
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
    )


def _nics(conn: Connection, vm_ids: Sequence[int]) -> dict[int, list[Row]]:
    rows = conn.execute(
        select(
            nic,
            vm_instance.c.uuid.label("vm_uuid"),
            guest_network.c.uuid.label("network_uuid"),
            guest_network.c.name.label("network_name"),
            guest_network.c.traffic_type,
            guest_network.c.guest_type,
            guest_network.c.vlan.label("network_vlan"),
        )
        .join(vm_instance, vm_instance.c.id == nic.c.vm_id)
        .join(guest_network, guest_network.c.id == nic.c.network_id)
        .where(nic.c.vm_id.in_(vm_ids), nic.c.removed.is_(None))
        .order_by(nic.c.vm_id, nic.c.device_id)
    ).mappings()
    result: dict[int, list[Row]] = {}
    for m in rows:
        result.setdefault(m["vm_id"], []).append(nic_row(m))
    return result


def _affinity_groups(conn: Connection, vm_ids: Sequence[int]) -> dict[int, list[Row]]:
    rows = conn.execute(
        select(
            affinity_group_vm_map.c.vm_id,
            affinity_group.c.uuid,
            affinity_group.c.name,
            affinity_group.c.type,
            affinity_group.c.description,
        )
        .join(affinity_group, affinity_group.c.id == affinity_group_vm_map.c.affinity_group_id)
        .where(affinity_group_vm_map.c.vm_id.in_(vm_ids))
        .order_by(affinity_group_vm_map.c.vm_id, affinity_group.c.id)
    )
    result: dict[int, list[Row]] = {}
    for vm_id, uuid, name, kind, description in rows:
        result.setdefault(vm_id, []).append({"id": uuid, "name": name, "type": kind, "description": description})
    return result


def _keypairs(value: str | None) -> list[str]:
    return [name for name in (value or "").split(",") if name]


def vm_row(m: RowMapping, caller: Caller, nics: list[Row], groups: list[Row], tags: list[Row]) -> Row:
    """One VM as ``UserVmResponse``; the host, instance name, pod and cluster only for root admins."""
    admin = caller.is_root_admin
    details = {str(k): str(v) for k, v in (m["details"] or {}).items()}
    keypairs = _keypairs(m["keypair"])
    return {
        "id": m["uuid"],
        "name": m["name"],
        "displayname": m["display_name"] or m["name"],
        "state": m["state"],
        "account": m["account_name"],
        "domainid": m["domain_uuid"],
        "domain": m["domain_name"],
        "domainpath": "ROOT" + m["domain_path"].rstrip("/"),
        "created": m["created"],
        "lastupdated": m["update_time"],
        "zoneid": m["zone_uuid"],
        "zonename": m["zone_name"],
        "templateid": m["template_uuid"],
        "templatename": m["template_name"],
        "templatedisplaytext": m["template_text"],
        "templateformat": m["template_format"],
        "passwordenabled": bool(m["password_enabled"]),
        "isdynamicallyscalable": bool(m["template_scalable"]),
        "guestosid": m["os_uuid"],
        "ostypeid": m["os_uuid"],
        "osdisplayname": m["os_name"],
        "serviceofferingid": m["offering_uuid"],
        "serviceofferingname": m["offering_name"],
        "cpunumber": m["cpu_number"],
        "cpuspeed": m["cpu_speed"],
        "memory": m["memory"],
        "hypervisor": m["hypervisor_type"],
        "haenable": bool(m["ha_enabled"]),
        "displayvm": bool(m["display_vm"]),
        "rootdeviceid": 0,
        "rootdevicetype": "ROOT",
        "keypair": ",".join(keypairs) or None,
        "keypairs": ",".join(keypairs) or None,
        "groupid": m["group_uuid"],
        "group": m["group_name"],
        "userdataid": m["userdata_uuid"],
        "userdataname": m["userdata_name"],
        "instancename": m["instance_name"] if admin else None,
        "hostid": m["host_uuid"] if admin else None,
        "hostname": m["host_name"] if admin else None,
        "podid": m["pod_uuid"] if admin else None,
        "podname": m["pod_name"] if admin else None,
        "clusterid": m["cluster_uuid"] if admin else None,
        "clustername": m["cluster_name"] if admin else None,
        "details": details,
        "nic": nics,
        "securitygroup": [],
        "affinitygroup": groups,
        "tags": tags,
    }


def rows_for(conn: Connection, caller: Caller, page: Sequence[RowMapping]) -> list[Row]:
    """Decorate a page of base rows with NICs, affinity groups and tags (three statements, whatever the page)."""
    if not page:
        return []
    ids = [m["id"] for m in page]
    nics = _nics(conn, ids)
    groups = _affinity_groups(conn, ids)
    tags = tags_by_resource(conn, VM_RESOURCE_TYPE, [m["uuid"] for m in page])
    return [vm_row(m, caller, nics.get(m["id"], []), groups.get(m["id"], []), tags.get(m["uuid"], [])) for m in page]


def get_vm(conn: Connection, caller: Caller, vm_id: int) -> Row:
    """One VM (by internal id) as a wire row; expunged VMs too (a job's last answer)."""
    m = conn.execute(_base().where(vm_instance.c.id == vm_id)).mappings().first()
    if m is None:
        raise ParamError(f"Unable to find virtual machine by id {vm_id}")
    return rows_for(conn, caller, [m])[0]


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
    """The VMs the caller may see that match the filters: (one page of wire rows, total count)."""
    conditions = filters(conn, caller, f)
    keys = select(vm_instance.c.id).where(*conditions)
    rows, total = list_page(conn, _base().where(*conditions), [vm_instance.c.id], page, pagesize, keys=keys)
    return rows_for(conn, caller, rows), total
