"""``resource "provisioner_instance"``: a VM, with ``cloudstack_instance``'s attribute names.

- Create: ``deployVirtualMachine`` answers the new VM's id before its job ends; the id goes into the
  state at once, so a failure or an interrupt while the job runs leaves a (tainted) VM in the state that
  the next apply replaces, never an orphan.
- Read: one ``listVirtualMachines id=`` and nothing else; it never waits. A VM destroyed outside Terraform
  reads as gone (the next plan creates it); one stopped outside Terraform while ``start_vm`` is true plans
  an in-place update that starts it.
- Update in place: ``display_name`` and ``tags`` directly; ``service_offering``, ``name`` and ``user_data``
  stop the VM first when it runs and start it again after. ``template``, ``zone``, ``network_id``,
  ``ip_address``, ``keypair`` and ``root_disk_size`` force a new VM.
- Delete: ``destroyVirtualMachine`` (with ``expunge``); a VM already gone counts as deleted.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

from tf.iface import PlanContext
from tf.schema import Attribute, Schema
from tf.types import Bool, List, Map, Number, String, Unknown

from provisioner_terraform.api import SERVICE_OFFERING, TEMPLATE, ZONE, ProviderFailure, same_ref
from provisioner_terraform.base import TIMEOUTS, ProviderResource, State, known
from provisioner_terraform.data_sources.instance import default_ip, nic_maps
from provisioner_terraform.resources.tags import apply_tags, observed_tags

if TYPE_CHECKING:
    from provisioner.client import Json

#: States in which a VM counts as gone for Terraform (CloudStack's provider does the same).
GONE_STATES = frozenset({"Destroyed", "Expunging"})
#: Changes CloudStack applies only to a stopped VM.
NEEDS_STOP = ("service_offering", "name", "user_data")
#: Attributes the server decides during an update that stops or starts the VM.
MOVING = ("state", "host", "host_id", "nics")


def _attr(name: str, kind: Any, description: str, **flags: Any) -> Attribute:
    return Attribute(name, kind, description=description, **flags)


SCHEMA = Schema(
    attributes=[
        _attr("id", String(), "The VM's id.", computed=True),
        _attr("name", String(), "The VM's host name (default: the server picks one).", optional=True, computed=True),
        _attr("display_name", String(), "The name shown to users (default: name).", optional=True, computed=True),
        _attr(
            "service_offering",
            String(),
            "Service offering name or id; a change stops and starts the VM.",
            required=True,
        ),
        _attr(
            "template", String(), "Template name or id; a change replaces the VM.", required=True, requires_replace=True
        ),
        _attr("zone", String(), "Zone name or id; a change replaces the VM.", required=True, requires_replace=True),
        _attr(
            "network_id",
            String(),
            "Network for the default NIC (default: the account's network).",
            optional=True,
            computed=True,
            requires_replace=True,
        ),
        _attr(
            "ip_address",
            String(),
            "The default NIC's address (default: the next free one).",
            optional=True,
            computed=True,
            requires_replace=True,
        ),
        _attr("keypair", String(), "SSH key pair name to install.", optional=True, requires_replace=True),
        _attr(
            "user_data",
            String(),
            "User data (plain text; sent base64); a change stops and starts the VM.",
            optional=True,
        ),
        _attr("root_disk_size", Number(), "Root disk size in GiB.", optional=True, requires_replace=True),
        _attr("start_vm", Bool(), "Keep the VM running (default true).", optional=True, computed=True, default=True),
        _attr(
            "expunge",
            Bool(),
            "Expunge on destroy instead of leaving it Destroyed.",
            optional=True,
            computed=True,
            default=False,
        ),
        _attr("tags", Map(String()), "Resource tags.", optional=True),
        _attr("state", String(), "Running, Stopped, Starting, Stopping, Error...", computed=True),
        _attr("host", String(), "The host the VM runs on.", computed=True),
        _attr("host_id", String(), "The id of that host.", computed=True),
        _attr(
            "nics",
            List(Map(String())),
            "NICs: id, network_id, network_name, ip_address, netmask, gateway, mac_address, is_default.",
            computed=True,
        ),
    ],
    block_types=[TIMEOUTS],
    description="A virtual machine.",
)


class InstanceResource(ProviderResource):
    """A virtual machine."""

    type_suffix = "instance"
    schema = SCHEMA

    # -- plan ---------------------------------------------------------------------------------------
    def plan(self, ctx: PlanContext, current: State | None, planned: State) -> State:
        if current is None:
            return planned
        stopped_outside = planned.get("start_vm") is True and current.get("state") not in (None, "Running")
        if stopped_outside or ctx.changed_fields & set(NEEDS_STOP):
            for name in MOVING:
                planned[name] = Unknown
        if stopped_outside:
            planned["state"] = "Running"
        return planned

    # -- read ---------------------------------------------------------------------------------------
    def _fetch(self, vm_id: str) -> Json | None:
        vm = self.api.get("listVirtualMachines", "virtualmachine", vm_id)
        return None if vm is None or vm.get("state") in GONE_STATES else vm

    def _read(self, state: State) -> State | None:
        vm = self._fetch(str(state["id"]))
        return None if vm is None else self._apply(state, vm)

    def _apply(self, state: State, vm: Json) -> State:
        """The state updated from one ``listVirtualMachines`` row."""
        nics = vm.get("nic") or []
        default_nic = next((nic for nic in nics if nic.get("isdefault")), nics[0] if nics else {})
        state.update(
            id=vm["id"],
            name=vm.get("name"),
            display_name=vm.get("displayname") or vm.get("name"),
            service_offering=same_ref(
                state.get("service_offering"), vm.get("serviceofferingid"), vm.get("serviceofferingname")
            ),
            template=same_ref(state.get("template"), vm.get("templateid"), vm.get("templatename")),
            zone=same_ref(state.get("zone"), vm.get("zoneid"), vm.get("zonename")),
            network_id=default_nic.get("networkid"),
            ip_address=default_ip(vm),
            state=vm.get("state"),
            host=vm.get("hostname"),
            host_id=vm.get("hostid"),
            nics=nic_maps(vm),
        )
        if vm.get("keypair") or known(state.get("keypair")):
            state["keypair"] = vm.get("keypair") or state.get("keypair")
        state["tags"] = observed_tags(state, vm)
        if not known(state.get("start_vm")):
            state["start_vm"] = vm.get("state") != "Stopped"
        if not known(state.get("expunge")):
            state["expunge"] = False
        for name in ("keypair", "user_data", "root_disk_size"):
            if state.get(name) is Unknown:
                state[name] = None
        return state

    # -- create -------------------------------------------------------------------------------------
    def _create(self, state: State) -> State:
        api = self.api
        timeout = self.timeout(state, "create")
        zone_id = api.resolve(ZONE, str(state["zone"]), "zone")
        params: dict[str, Any] = {
            "zoneid": zone_id,
            "serviceofferingid": api.resolve(SERVICE_OFFERING, str(state["service_offering"]), "service_offering"),
            "templateid": api.resolve(
                TEMPLATE, str(state["template"]), "template", templatefilter="executable", zoneid=zone_id
            ),
            "startvm": state.get("start_vm") is not False,
        }
        optional = {
            "name": "name",
            "display_name": "displayname",
            "ip_address": "ipaddress",
            "keypair": "keypair",
            "root_disk_size": "rootdisksize",
        }
        params.update({param: state[attr] for attr, param in optional.items() if known(state.get(attr))})
        if isinstance(params.get("rootdisksize"), float):
            params["rootdisksize"] = int(params["rootdisksize"])
        if known(state.get("network_id")):
            params["networkids"] = [str(state["network_id"])]
        if known(state.get("user_data")):
            params["userdata"] = base64.b64encode(str(state["user_data"]).encode()).decode()
        # The id is known before the job ends: from then on a failure still records the VM.
        vm_id = api.create(
            "deployVirtualMachine", "virtualmachine", timeout, lambda new: state.update(id=new), **params
        )
        apply_tags(api, "UserVm", vm_id, None, state.get("tags"), timeout=timeout)
        return self._refreshed(state)

    # -- update -------------------------------------------------------------------------------------
    def _update(self, state: State, planned: State) -> State:
        api = self.api
        vm_id = str(state["id"])
        timeout = self.timeout(planned, "update")
        state["timeouts"] = planned.get("timeouts", [])
        vm = self._fetch(vm_id)
        if vm is None:
            raise ProviderFailure("VM gone", f"VM {vm_id} no longer exists; run terraform apply again to recreate it.")
        running = vm.get("state") == "Running"
        changed = {name for name in NEEDS_STOP if known(planned.get(name)) and planned.get(name) != state.get(name)}
        stopped = False
        if changed:
            if running:
                api.run("stopVirtualMachine", timeout, id=vm_id)
                state["state"], stopped = "Stopped", True
            if "service_offering" in changed:
                offering = api.resolve(SERVICE_OFFERING, str(planned["service_offering"]), "service_offering")
                api.run("changeServiceForVirtualMachine", timeout, id=vm_id, serviceofferingid=offering)
                state["service_offering"] = planned["service_offering"]
            update: dict[str, Any] = {}
            if "name" in changed:
                update["name"] = planned["name"]
            if "user_data" in changed:
                update["userdata"] = base64.b64encode(str(planned["user_data"]).encode()).decode()
            if update:
                api.run("updateVirtualMachine", timeout, id=vm_id, **update)
                state["name"] = planned["name"]
        state["user_data"] = planned.get("user_data")
        if known(planned.get("display_name")) and planned["display_name"] != state.get("display_name"):
            api.run("updateVirtualMachine", timeout, id=vm_id, displayname=planned["display_name"])
            state["display_name"] = planned["display_name"]
        apply_tags(api, "UserVm", vm_id, state.get("tags"), planned.get("tags"), timeout=timeout)
        state["tags"] = planned.get("tags")
        # Start when the VM should run (start_vm) or when only this update stopped it.
        if (planned.get("start_vm") is not False or stopped) and not (running and not stopped):
            api.run("startVirtualMachine", timeout, id=vm_id)
        state["start_vm"] = planned.get("start_vm")
        state["expunge"] = planned.get("expunge")
        return self._refreshed(state)

    # -- delete -------------------------------------------------------------------------------------
    def _delete(self, state: State) -> None:
        timeout = self.timeout(state, "delete")
        self.api.remove("destroyVirtualMachine", timeout, id=str(state["id"]), expunge=bool(state.get("expunge")))
