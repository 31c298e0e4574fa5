"""``resource "provisioner_template"``: a registered template, with ``cloudstack_template``'s attributes.

Create: ``registerTemplate`` (its id goes into the state at once), then ``listTemplates`` until the template
is ready in its zones, within ``is_ready_timeout`` seconds. Update in place: ``updateTemplate`` for
``name``, ``display_text``, ``os_type``, ``password_enabled`` and ``is_dynamically_scalable``. ``url``,
``format``, ``hypervisor``, ``zone`` and the visibility flags force a new template. Delete: ``deleteTemplate``.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from tf.schema import Attribute, Schema
from tf.types import Bool, Map, Number, String

from provisioner.exceptions import ApiError
from provisioner_terraform.api import OS_TYPE, ZONE, ProviderFailure, is_gone, same_ref
from provisioner_terraform.base import TIMEOUTS, ProviderResource, State, known
from provisioner_terraform.resources.tags import apply_tags, observed_tags

if TYPE_CHECKING:
    from provisioner.client import Json

#: Seconds between readiness polls.
POLL = 1.0


def _flag(name: str, description: str, *, replace: bool) -> Attribute:
    return Attribute(
        name, Bool(), optional=True, computed=True, requires_replace=replace or None, description=description
    )


SCHEMA = Schema(
    attributes=[
        Attribute("id", String(), computed=True, description="The template's id."),
        Attribute("name", String(), required=True, description="The template's name."),
        Attribute("display_text", String(), optional=True, computed=True, description="Display text (default: name)."),
        Attribute("format", String(), required=True, requires_replace=True, description="QCOW2, RAW, VHD, OVA..."),
        Attribute("hypervisor", String(), required=True, requires_replace=True, description="KVM, Simulator..."),
        Attribute("os_type", String(), required=True, description="Guest OS type description or id."),
        Attribute("url", String(), required=True, requires_replace=True, description="Where to download it from."),
        Attribute(
            "zone", String(), optional=True, requires_replace=True, description="Zone name or id (default: all)."
        ),
        _flag("is_public", "Whether every account may use it.", replace=True),
        _flag("is_featured", "Whether it is featured.", replace=True),
        _flag("is_extractable", "Whether it may be extracted.", replace=True),
        _flag("password_enabled", "Whether it supports password reset.", replace=False),
        _flag("is_dynamically_scalable", "Whether VMs from it can scale while running.", replace=False),
        Attribute("is_ready", Bool(), computed=True, description="Whether it is ready in every zone."),
        Attribute(
            "is_ready_timeout",
            Number(),
            optional=True,
            computed=True,
            default=300,
            description="Seconds to wait for the template to become ready (default 300).",
        ),
        Attribute("tags", Map(String()), optional=True, description="Resource tags."),
    ],
    block_types=[TIMEOUTS],
    description="A template registered from a URL.",
)
FLAGS = {
    "is_public": "ispublic",
    "is_featured": "isfeatured",
    "is_extractable": "isextractable",
    "password_enabled": "passwordenabled",
    "is_dynamically_scalable": "isdynamicallyscalable",
}


class TemplateResource(ProviderResource):
    """A template."""

    type_suffix = "template"
    schema = SCHEMA

    def _rows(self, template_id: str) -> list[Json]:
        try:
            rows = self.api.items("listTemplates", "template", id=template_id, templatefilter="all")
        except ApiError as exc:
            if is_gone(exc):
                return []
            raise
        return [row for row in rows if row.get("id") == template_id]

    def _read(self, state: State) -> State | None:
        rows = self._rows(str(state["id"]))
        return self._apply(state, rows) if rows else None

    def _apply(self, state: State, rows: list[Json]) -> State:
        first = rows[0]
        state.update(
            id=first["id"],
            name=first.get("name"),
            display_text=first.get("displaytext"),
            format=first.get("format"),
            hypervisor=first.get("hypervisor"),
            os_type=same_ref(state.get("os_type"), first.get("ostypeid"), first.get("ostypename")),
            is_ready=all(bool(row.get("isready")) for row in rows),
        )
        if known(state.get("zone")) and not first.get("crossZones"):
            state["zone"] = same_ref(state["zone"], first.get("zoneid"), first.get("zonename"))
        elif not known(state.get("zone")):
            state["zone"] = None if first.get("crossZones") or len(rows) > 1 else first.get("zonename")
        for attribute, key in FLAGS.items():
            state[attribute] = bool(first.get(key, False))
        if not known(state.get("is_ready_timeout")):
            state["is_ready_timeout"] = 300
        if not known(state.get("url")):
            state["url"] = first.get("url")
        state["tags"] = observed_tags(state, first)
        return state

    def _create(self, state: State) -> State:
        api = self.api
        params: dict[str, Any] = {
            "name": state["name"],
            "displaytext": state["display_text"] if known(state.get("display_text")) else state["name"],
            "format": state["format"],
            "hypervisor": state["hypervisor"],
            "url": state["url"],
            "ostypeid": api.resolve(OS_TYPE, str(state["os_type"]), "os_type"),
            "zoneid": api.resolve(ZONE, str(state["zone"]), "zone") if known(state.get("zone")) else "-1",
        }
        params.update({key: bool(state[attr]) for attr, key in FLAGS.items() if known(state.get(attr))})
        answer = api.request("registerTemplate", **params)
        rows = answer.get("template") or []
        if not rows:
            raise ProviderFailure("registerTemplate answered no template", f"The answer was {answer!r}.")
        state["id"] = str(rows[0]["id"])
        apply_tags(api, "Template", state["id"], None, state.get("tags"), timeout=self.timeout(state, "create"))
        limit = float(state["is_ready_timeout"]) if known(state.get("is_ready_timeout")) else 300.0
        return self._wait_ready(state, limit)

    def _wait_ready(self, state: State, limit: float) -> State:
        deadline = time.monotonic() + limit
        while True:
            rows = self._rows(str(state["id"]))
            if not rows:
                raise ProviderFailure("Template vanished", f"Template {state['id']} is gone while it downloads.")
            if all(row.get("isready") for row in rows):
                return self._apply(state, rows)
            if time.monotonic() + POLL > deadline:
                status = "; ".join(f"{row.get('zonename')}: {row.get('status')}" for row in rows)
                raise ProviderFailure(
                    "Template not ready",
                    f"Template {state['id']} is not ready after {limit:g} s ({status}); raise is_ready_timeout.",
                    "is_ready_timeout",
                )
            if self.provider.stop.wait(POLL):
                raise ProviderFailure("Interrupted", f"Stopped waiting for template {state['id']} to be ready.")

    def _update(self, state: State, planned: State) -> State:
        api = self.api
        template_id = str(state["id"])
        state["timeouts"] = planned.get("timeouts", [])
        params: dict[str, Any] = {}
        if planned.get("name") != state.get("name"):
            params["name"] = planned["name"]
        if known(planned.get("display_text")) and planned["display_text"] != state.get("display_text"):
            params["displaytext"] = planned["display_text"]
        if planned.get("os_type") != state.get("os_type"):
            params["ostypeid"] = api.resolve(OS_TYPE, str(planned["os_type"]), "os_type")
        for attribute in ("password_enabled", "is_dynamically_scalable"):
            if known(planned.get(attribute)) and planned[attribute] != state.get(attribute):
                params[FLAGS[attribute]] = bool(planned[attribute])
        if params:
            api.request("updateTemplate", id=template_id, **params)
        update_timeout = self.timeout(planned, "update")
        apply_tags(api, "Template", template_id, state.get("tags"), planned.get("tags"), timeout=update_timeout)
        state.update(
            tags=planned.get("tags"), is_ready_timeout=planned.get("is_ready_timeout"), os_type=planned["os_type"]
        )
        return self._refreshed(state)

    def _delete(self, state: State) -> None:
        self.api.remove("deleteTemplate", self.timeout(state, "delete"), id=str(state["id"]))
