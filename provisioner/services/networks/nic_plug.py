"""``addNicToVirtualMachine`` and ``removeNicFromVirtualMachine`` end to end: record, plug, answer.

CloudStack hot-plugs a NIC into a running VM (``PlugNicCommand``, ``UnPlugNicCommand``). As attachVolume
does (``services/volumes/operations.py``), a transaction decides, the hypervisor is told with no
transaction open, and a transaction records the result:

* adding: the NIC is recorded (address and MAC taken) and committed, then plugged; when the plug into a
  running VM fails, the NIC is retired again (address and MAC freed) and the job fails naming the host;
* removing: the checks run, the NIC is unplugged, then retired; when the unplug from a running VM fails,
  nothing changed and the job fails.

A stopped VM keeps its domain on its last host (the next start reuses it): that definition is edited as
well, best effort, as a detach from a stopped VM does; the start then plugs any NIC still missing
(:func:`plug_missing_nics`). A hypervisor whose driver cannot plug NICs gets them at the next define.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, select

from provisioner.compute.base import HypervisorDriver
from provisioner.compute.types import Features, NicSpec, VMSpec
from provisioner.db.engine import run_in_transaction
from provisioner.db.schema import guest_network, nic, vm_instance
from provisioner.exceptions import DriverError, DriverValueError, InternalError, VMNotFoundError
from provisioner.services.compute.host_drivers import open_host_driver
from provisioner.services.compute.lifecycle import views
from provisioner.services.compute.lifecycle.specs import host_row, nic_spec
from provisioner.services.networks import nics
from provisioner.services.principal import Caller

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class NicWork:
    """One NIC to plug or unplug, read in the deciding transaction.

    Attributes:
        vm_id: the VM's id.
        nic_id: the NIC's id.
        instance_name: the VM's name on the hypervisor.
        network: the NIC's network, for errors.
        spec: the NIC as the driver sees it.
        host: the host row to tell (the running VM's host, or a stopped VM's last host), or None.
        running: the VM was Running: a failure on its host fails the command.
    """

    vm_id: int
    nic_id: int
    instance_name: str
    network: str
    spec: NicSpec
    host: dict[str, Any] | None
    running: bool


def _work(conn: Connection, vm_id: int, nic_id: int) -> NicWork:
    vm = conn.execute(
        select(
            vm_instance.c.instance_name, vm_instance.c.state, vm_instance.c.host_id, vm_instance.c.last_host_id
        ).where(vm_instance.c.id == vm_id)
    ).one()
    network = conn.execute(
        select(guest_network.c.name).join(nic, nic.c.network_id == guest_network.c.id).where(nic.c.id == nic_id)
    ).scalar_one()
    running = vm.state == "Running"
    host_id = vm.host_id if running else vm.last_host_id
    return NicWork(
        vm_id,
        nic_id,
        str(vm.instance_name),
        str(network),
        nic_spec(conn, vm_id, nic_id),
        host_row(conn, host_id) if host_id is not None else None,
        running,
    )


def _tell_host(work: NicWork, *, plug: bool) -> None:
    """Plug or unplug the NIC on the VM's host; a stopped VM's definition is edited best effort."""
    if work.host is None:
        return
    verb = "plug" if plug else "unplug"
    try:
        with open_host_driver(work.host) as driver:
            if not driver.supports(Features.NIC_ATTACH):
                log.info(
                    "host %s cannot %s NICs: VM %s gets its NICs at its next define",
                    work.host["name"],
                    verb,
                    work.instance_name,
                )
                return
            if plug:
                driver.attach_nic(work.instance_name, work.spec)
            else:
                driver.detach_nic(work.instance_name, work.spec)
    except VMNotFoundError as exc:
        if plug and work.running:
            raise _failed(work, verb, exc) from None
        # Unplugging what is not there (a plug that never reached the host), or a stopped VM not defined there.
        log.info("%sging NIC %s of VM %s: %s", verb, work.spec.mac, work.instance_name, exc)
    except DriverError as exc:
        if work.running:
            raise _failed(work, verb, exc) from None
        log.warning(
            "%sging NIC %s of stopped VM %s on its last host %s: %s (its next start brings its NICs up to date)",
            verb,
            work.spec.mac,
            work.instance_name,
            work.host["name"],
            exc,
        )


def _failed(work: NicWork, verb: str, exc: Exception) -> InternalError:
    assert work.host is not None
    if verb == "plug":
        return InternalError(
            f"Unable to plug NIC {work.spec.mac} on network {work.network} into running VM {work.instance_name} on "
            f"host {work.host['name']}: {exc}; the NIC was not added. Check the host, or stop the VM and add it then"
        )
    return InternalError(
        f"Unable to unplug NIC {work.spec.mac} on network {work.network} from running VM {work.instance_name} on "
        f"host {work.host['name']}: {exc}; the NIC was not removed. Check the host, or stop the VM and remove it then"
    )


def add_nic(
    engine: Engine,
    caller: Caller,
    *,
    virtualmachineid: str,
    networkid: str,
    ipaddress: str | None = None,
    macaddress: str | None = None,
) -> dict[str, Any]:
    """``addNicToVirtualMachine``: record the NIC, plug it into the VM, answer the VM.

    Raises:
        ApiError: the checks of :func:`nics.add_nic_row`.
        InternalError: the running VM's host refused the plug (530); the NIC is retired again.
    """

    def begin(conn: Connection) -> NicWork:
        vm_id, nic_id = nics.add_nic_row(
            conn,
            caller,
            virtualmachineid=virtualmachineid,
            networkid=networkid,
            ipaddress=ipaddress,
            macaddress=macaddress,
        )
        return _work(conn, vm_id, nic_id)

    work = run_in_transaction(engine, begin)
    try:
        _tell_host(work, plug=True)
    except BaseException:
        run_in_transaction(engine, lambda conn: nics.forget_nic(conn, work.nic_id))
        raise
    return run_in_transaction(engine, lambda conn: views.get_vm(conn, caller, work.vm_id))


def remove_nic(engine: Engine, caller: Caller, *, virtualmachineid: str, nicid: str) -> dict[str, Any]:
    """``removeNicFromVirtualMachine``: unplug the NIC from the VM, retire it, answer the VM.

    Raises:
        ApiError: the checks of :func:`nics.removable_nic`.
        InternalError: the running VM's host refused the unplug (530); the NIC stays.
    """

    def begin(conn: Connection) -> NicWork:
        vm_id, nic_id = nics.removable_nic(conn, caller, virtualmachineid=virtualmachineid, nicid=nicid)
        return _work(conn, vm_id, nic_id)

    work = run_in_transaction(engine, begin)
    _tell_host(work, plug=False)

    def finish(conn: Connection) -> dict[str, Any]:
        nics.forget_nic(conn, work.nic_id)
        return views.get_vm(conn, caller, work.vm_id)

    return run_in_transaction(engine, finish)


def plug_missing_nics(driver: HypervisorDriver, spec: VMSpec) -> None:
    """Give a stopped VM that is defined already the NICs it has now (one added while its host could not be
    told); a NIC the domain has keeps its place, so the guest names its interfaces as before."""
    if not driver.supports(Features.NIC_ATTACH):
        return
    for wanted in spec.nics:
        with contextlib.suppress(DriverValueError):  # already there
            driver.attach_nic(spec.name, wanted)


__all__ = ["NicWork", "add_nic", "plug_missing_nics", "remove_nic"]
