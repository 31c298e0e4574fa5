"""The template a VM boots from: the lookup at deploy and its base image on the root disk's pool."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, or_, select

from provisioner.db.schema import account, template_permission, vm_template
from provisioner.exceptions import ParamError, PermissionDeniedError
from provisioner.services.principal import Caller


def template_for_deploy(conn: Connection, caller: Caller, template_uuid: str, zone_id: int) -> Any:
    """The live, non-ISO template ``template_uuid`` the caller may deploy from.

    Raises:
        ParamError: no such template, or it is an ISO (431).
        PermissionDeniedError: a private template of another account not shared with the caller (531).
    """
    row = conn.execute(
        select(vm_template).where(vm_template.c.uuid == template_uuid.lower(), vm_template.c.removed.is_(None))
    ).first()
    if row is None:
        raise ParamError(f"Unable to find template by id {template_uuid}")
    if row.format == "ISO":
        raise ParamError(f"{row.name} is an ISO; deploy from a template, or pass the ISO with a disk offering")
    if row.is_public or caller.is_root_admin:
        return row
    mine = select(account.c.id).where(account.c.uuid == caller.account_id).scalar_subquery()
    allowed = conn.execute(
        select(vm_template.c.id).where(
            vm_template.c.id == row.id,
            or_(
                vm_template.c.account_id == mine,
                vm_template.c.id.in_(
                    select(template_permission.c.template_id).where(template_permission.c.account_id == mine)
                ),
            ),
        )
    ).first()
    if allowed is None:
        raise PermissionDeniedError(
            f"Account {caller.account_name} does not have permission to use template {row.name}"
        )
    return row
