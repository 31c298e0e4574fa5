"""``resource "provisioner_volume"``: a data disk, with ``cloudstack_disk``'s attributes, and its attachment.

Create: ``createVolume`` (its id is in the state before the job ends), then ``attachVolume`` when ``attach``
is true. Update in place: ``resizeVolume`` for ``disk_offering``/``size``, ``detachVolume``/``attachVolume``
for ``attach``, ``virtual_machine_id`` and ``device_id``, tags. ``name`` and ``zone`` force a new volume.
Delete: detach first when attached, then ``deleteVolume``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tf.iface import PlanContext
from tf.schema import Attribute, Schema
from tf.types import Bool, Map, Number, String, Unknown

from provisioner_terraform.api import DISK_OFFERING, ZONE, ProviderFailure, same_ref
from provisioner_terraform.base import TIMEOUTS, ProviderResource, State, known
from provisioner_terraform.resources.tags import apply_tags, observed_tags

if TYPE_CHECKING:
    from provisioner.client import Json

GIB = 1 << 30

SCHEMA = Schema(
    attributes=[
        Attribute("id", String(), computed=True, description="The volume's id."),
        Attribute("name", String(), required=True, requires_replace=True, description="The volume's name."),
        Attribute("zone", String(), required=True, requires_replace=True, description="Zone name or id."),
        Attribute("disk_offering", String(), required=True, description="Disk offering name or id; a change resizes."),
        Attribute(
            "size", Number(), optional=True, description="Size in GiB (custom-size offerings); a change resizes."
        ),
        Attribute("shrink_ok", Bool(), optional=True, computed=True, default=False, description="Allow shrinking."),
        Attribute("attach", Bool(), optional=True, computed=True, default=False, description="Attach to the VM."),
        Attribute("virtual_machine_id", String(), optional=True, description="The VM to attach to."),
        Attribute("device_id", Number(), optional=True, computed=True, description="The device number on the VM."),
        Attribute("tags", Map(String()), optional=True, description="Resource tags."),
        Attribute("state", String(), computed=True, description="Allocated, Ready, ..."),
    ],
    block_types=[TIMEOUTS],
    description="A data volume, optionally attached to a VM.",
)


class VolumeResource(ProviderResource):
    """A data volume."""

    type_suffix = "volume"
    schema = SCHEMA

    def validate(self, diags: Any, type_name: str, config: dict[str, Any]) -> None:
        super().validate(diags, type_name, config)
        if config.get("attach") is True and config.get("virtual_machine_id") is None:
            diags.add_error(
                "Missing virtual_machine_id", "attach = true needs the VM's id.", path=["virtual_machine_id"]
            )

    def plan(self, ctx: PlanContext, current: State | None, planned: State) -> State:
        if current is not None and ctx.changed_fields & {"attach", "virtual_machine_id"}:
            planned["device_id"] = Unknown
        if current is not None and ctx.changed_fields & {"disk_offering", "size", "attach", "virtual_machine_id"}:
            planned["state"] = Unknown
        return planned

    def _read(self, state: State) -> State | None:
        volume = self.api.get("listVolumes", "volume", str(state["id"]))
        return None if volume is None or volume.get("state") in ("Expunged", "Destroy") else self._apply(state, volume)

    def _apply(self, state: State, volume: Json) -> State:
        vm_id = volume.get("virtualmachineid")
        state.update(
            id=volume["id"],
            name=volume.get("name"),
            zone=same_ref(state.get("zone"), volume.get("zoneid"), volume.get("zonename")),
            disk_offering=same_ref(
                state.get("disk_offering"), volume.get("diskofferingid"), volume.get("diskofferingname")
            ),
            attach=bool(vm_id),
            virtual_machine_id=vm_id if vm_id or state.get("attach") is not False else state.get("virtual_machine_id"),
            device_id=volume.get("deviceid"),
            state=volume.get("state"),
        )
        if known(state.get("size")) and volume.get("size") is not None:
            state["size"] = int(volume["size"]) // GIB
        elif state.get("size") is Unknown:
            state["size"] = None
        if not known(state.get("shrink_ok")):
            state["shrink_ok"] = False
        state["tags"] = observed_tags(state, volume)
        return state

    def _attach(self, state: State, planned: State, timeout: float) -> None:
        params: dict[str, Any] = {"id": str(state["id"]), "virtualmachineid": str(planned["virtual_machine_id"])}
        if known(planned.get("device_id")):
            params["deviceid"] = int(planned["device_id"])
        self.api.run("attachVolume", timeout, **params)
        state.update(attach=True, virtual_machine_id=planned["virtual_machine_id"])

    def _create(self, state: State) -> State:
        api = self.api
        timeout = self.timeout(state, "create")
        zone_id = api.resolve(ZONE, str(state["zone"]), "zone")
        params: dict[str, Any] = {
            "name": state["name"],
            "zoneid": zone_id,
            "diskofferingid": api.resolve(DISK_OFFERING, str(state["disk_offering"]), "disk_offering"),
        }
        if known(state.get("size")):
            params["size"] = int(state["size"])
        volume_id = api.create("createVolume", "volume", timeout, lambda new: state.update(id=new), **params)
        apply_tags(api, "Volume", volume_id, None, state.get("tags"), timeout=timeout)
        if state.get("attach") is True:
            self._attach(state, state, timeout)
        return self._refreshed(state)

    def _update(self, state: State, planned: State) -> State:
        api = self.api
        timeout = self.timeout(planned, "update")
        state["timeouts"] = planned.get("timeouts", [])
        volume_id = str(state["id"])
        resize: dict[str, Any] = {}
        if planned.get("disk_offering") != state.get("disk_offering"):
            resize["diskofferingid"] = api.resolve(DISK_OFFERING, str(planned["disk_offering"]), "disk_offering")
        if known(planned.get("size")) and planned.get("size") != state.get("size"):
            resize["size"] = int(planned["size"])
        if resize:
            api.run("resizeVolume", timeout, id=volume_id, shrinkok=bool(planned.get("shrink_ok")), **resize)
            state.update(disk_offering=planned["disk_offering"], size=planned.get("size"))
        # The attachment as it is now, not as planned: destroying a VM (a replacement) detaches its volumes.
        volume = api.get("listVolumes", "volume", volume_id)
        if volume is None:
            raise ProviderFailure("Volume gone", f"Volume {volume_id} no longer exists; apply again to recreate it.")
        attached_to = volume.get("virtualmachineid")
        wanted = planned.get("virtual_machine_id") if planned.get("attach") is True else None
        if attached_to and attached_to != wanted:
            api.run("detachVolume", timeout, id=volume_id)
            attached_to = None
            state.update(attach=False)
        if wanted and not attached_to:
            self._attach(state, planned, timeout)
        apply_tags(api, "Volume", volume_id, state.get("tags"), planned.get("tags"), timeout=timeout)
        state.update(tags=planned.get("tags"), shrink_ok=planned.get("shrink_ok"))
        state["virtual_machine_id"] = planned.get("virtual_machine_id")
        return self._refreshed(state)

    def _delete(self, state: State) -> None:
        api = self.api
        timeout = self.timeout(state, "delete")
        volume = api.get("listVolumes", "volume", str(state["id"]))
        if volume is None:
            return
        if volume.get("virtualmachineid"):
            api.remove("detachVolume", timeout, id=str(state["id"]))
        api.remove("deleteVolume", timeout, id=str(state["id"]))
