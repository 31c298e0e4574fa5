"""Changes to a VM's record: ``updateVirtualMachine``, SSH keys, password, user data (one transaction each)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from provisioner.compute.types import VMState
from provisioner.db.schema import instance_group_vm_map, os_type, user_data, utcnow, vm_instance
from provisioner.exceptions import ParamError
from provisioner.services.compute.lifecycle import guest_password
from provisioner.services.compute.lifecycle.deploy import Owner, check_hostname, check_userdata, join_group
from provisioner.services.compute.lifecycle.keys import keypair_names


def _require_stopped(vm: Any, what: str) -> None:
    if vm.state != VMState.STOPPED.value:
        raise ParamError(f"VM {vm.name} is {vm.state}; stop it before you {what}")


def _set_user_data(conn: Connection, vm: Any, data: str | None) -> int | None:
    if data is None:
        return None
    return int(
        conn.execute(
            insert(user_data).values(account_id=vm.account_id, domain_id=vm.domain_id, data=data)
        ).inserted_primary_key[0]  # type: ignore[index]
    )


def update_vm(conn: Connection, vm: Any, p: Mapping[str, Any]) -> None:
    """``updateVirtualMachine``: display name, host name (Stopped only), group, HA, OS type, user data, details.

    Raises:
        ParamError: a bad name, user data or OS type, or a rename of a VM that is not Stopped (431).
    """
    values: dict[str, Any] = {}
    if p.get("displayname"):
        values["display_name"] = p["displayname"]
    if p.get("name") and p["name"] != vm.name:
        _require_stopped(vm, "change its host name")
        values["name"] = check_hostname(p["name"])
    for key, column in (("haenable", "ha_enabled"), ("displayvm", "display_vm")):
        if p.get(key) is not None:
            values[column] = bool(p[key])
    if p.get("ostypeid"):
        found = conn.execute(select(os_type.c.id).where(os_type.c.uuid == p["ostypeid"].lower())).scalar()
        if found is None:
            raise ParamError(f"Unable to find OS type by id {p['ostypeid']}")
        values["guest_os_id"] = found
    if p.get("userdata"):
        values["user_data_id"] = _set_user_data(conn, vm, check_userdata(p["userdata"]))
    details = p.get("details")
    if details or p.get("cleanupdetails"):
        # The password hash is no detail of the caller's: it can be neither set nor cleaned up through here.
        cleanup = bool(p.get("cleanupdetails"))
        kept = {k: v for k, v in (vm.details or {}).items() if not cleanup or k == guest_password.HASH_DETAIL}
        given = {k: v for k, v in (details or {}).items() if k != guest_password.HASH_DETAIL}
        values["details"] = {**kept, **given}
    if values:
        conn.execute(update(vm_instance).where(vm_instance.c.id == vm.id).values(update_time=utcnow(), **values))
    if p.get("group") is not None:
        conn.execute(delete(instance_group_vm_map).where(instance_group_vm_map.c.vm_id == vm.id))
        if p["group"]:
            join_group(conn, Owner(vm.account_id, vm.domain_id, ""), vm.id, p["group"])


def reset_ssh_keys(conn: Connection, vm: Any, keypair: str | None, keypairs: list[str] | None) -> None:
    """``resetSSHKeyForVirtualMachine``: new key pairs for a Stopped VM (cloud-init installs them at start).

    Raises:
        ParamError: the VM is not Stopped, no key pair was named, or a name is unknown (431).
    """
    _require_stopped(vm, "reset its SSH keys")
    names = keypair_names(conn, vm.account_id, keypair, keypairs)
    if names is None:
        raise ParamError("Unable to reset SSH keys: pass keypair or keypairs")
    conn.execute(update(vm_instance).where(vm_instance.c.id == vm.id).values(keypair=names, update_time=utcnow()))


def new_password(conn: Connection, vm: Any) -> str:
    """``resetPasswordForVirtualMachine``: a fresh password for a Stopped VM whose template is password enabled.

    The password is returned once, in the job result; only its hash is kept, for the seed of the next start
    (:mod:`.guest_password`).

    Raises:
        ParamError: the VM is not Stopped or its template is not password enabled (431).
    """
    _require_stopped(vm, "reset its password")
    if not guest_password.template_password_enabled(conn, vm):
        raise ParamError(
            f"Fail to reset password for VM {vm.name}: its template is not password enabled "
            "(register the template with passwordenabled=true)"
        )
    return guest_password.set_new_password(conn, vm)


def user_data_of(conn: Connection, vm: Any) -> str | None:
    """The VM's user data as it was given (base64), None when it has none."""
    if vm.user_data_id is None:
        return None
    return conn.execute(select(user_data.c.data).where(user_data.c.id == vm.user_data_id)).scalar()
