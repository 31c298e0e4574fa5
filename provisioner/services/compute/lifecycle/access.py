"""Finding the VM a command names and checking that the caller may act on it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, bindparam, select

from provisioner.db.schema import account, domain, vm_instance
from provisioner.exceptions import ParamError, PermissionDeniedError
from provisioner.services.configuration import config_value
from provisioner.services.identity.visibility import can_manage_domain
from provisioner.services.principal import Caller

#: CloudStack's switch that lets users expunge and recover their own VMs (capability ``allowuserexpungerecovervm``).
USER_EXPUNGE_RECOVER = "allow.user.expunge.recover.vm"


#: Built once (every VM command looks its VM up with it).
_VM_BY_UUID = (
    select(vm_instance, account.c.uuid.label("account_uuid"), domain.c.path.label("domain_path"))
    .join(account, account.c.id == vm_instance.c.account_id)
    .join(domain, domain.c.id == vm_instance.c.domain_id)
    .where(vm_instance.c.uuid == bindparam("vm_uuid"), vm_instance.c.removed.is_(None))
)


def vm_by_uuid(conn: Connection, caller: Caller, uuid: str) -> Any:
    """The live VM with public id ``uuid`` that ``caller`` may act on.

    Raises:
        ParamError: no such VM (431).
        PermissionDeniedError: the VM belongs to an account the caller does not administer (531).
    """
    row = conn.execute(_VM_BY_UUID, {"vm_uuid": uuid.lower()}).first()
    if row is None:
        raise ParamError(f"Unable to find virtual machine by id {uuid}")
    if row.account_uuid != caller.account_id and not can_manage_domain(caller, row.domain_path):
        raise PermissionDeniedError(
            f"Account {caller.account_name} does not have permission to operate on virtual machine {uuid}"
        )
    return row


def check_expunge_recover(conn: Connection, caller: Caller, vm: Any, verb: str) -> None:
    """Users may expunge or recover ``vm`` only when ``allow.user.expunge.recover.vm`` (account scope) is true.

    Raises:
        PermissionDeniedError: a user asked while the setting is false (531).
    """
    if caller.is_root_admin or caller.is_domain_admin:
        return
    if str(config_value(conn, USER_EXPUNGE_RECOVER, "account", vm.account_id) or "false").lower() != "true":
        raise PermissionDeniedError(
            f"Parameter {USER_EXPUNGE_RECOVER} is false: account {caller.account_name} may not {verb} a virtual machine"
        )
