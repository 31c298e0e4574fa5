"""``resource "provisioner_network"``: a guest network, with ``cloudstack_network``'s attributes.

Create: ``createNetwork`` with the offering and zone, and ``cidr`` turned into ``gateway``/``netmask`` (the
gateway defaults to the first address). Update in place: ``updateNetwork`` (async) for ``name``,
``display_text``, ``network_offering`` and ``network_domain``. ``zone``, ``cidr``, ``gateway``, ``start_ip``,
``end_ip`` and ``vlan`` force a new network. Delete: ``deleteNetwork`` (async).
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Any

from tf.schema import Attribute, Schema
from tf.types import Map, String

from provisioner_terraform.api import NETWORK_OFFERING, ZONE, ProviderFailure, same_ref
from provisioner_terraform.base import TIMEOUTS, ProviderResource, State, known
from provisioner_terraform.resources.tags import apply_tags, observed_tags

if TYPE_CHECKING:
    from provisioner.client import Json


def _replace(name: str, description: str, *, computed: bool = False) -> Attribute:
    return Attribute(name, String(), optional=True, computed=computed, requires_replace=True, description=description)


SCHEMA = Schema(
    attributes=[
        Attribute("id", String(), computed=True, description="The network's id."),
        Attribute("name", String(), required=True, description="The network's name."),
        Attribute("display_text", String(), optional=True, computed=True, description="Display text (default: name)."),
        Attribute("network_offering", String(), required=True, description="Network offering name or id."),
        Attribute("zone", String(), required=True, requires_replace=True, description="Zone name or id."),
        _replace("cidr", "The network's CIDR, e.g. 10.1.1.0/24.", computed=True),
        _replace("gateway", "The gateway (default: the CIDR's first address).", computed=True),
        _replace("start_ip", "First address handed to VMs."),
        _replace("end_ip", "Last address handed to VMs."),
        _replace("vlan", "VLAN id (admins, offerings that allow it)."),
        Attribute("network_domain", String(), optional=True, computed=True, description="DNS domain of the network."),
        Attribute("tags", Map(String()), optional=True, description="Resource tags."),
        Attribute("state", String(), computed=True, description="Allocated, Implemented, Setup..."),
        Attribute("type", String(), computed=True, description="Isolated, Shared or L2."),
    ],
    block_types=[TIMEOUTS],
    description="A guest network.",
)


class NetworkResource(ProviderResource):
    """A guest network."""

    type_suffix = "network"
    schema = SCHEMA

    def _read(self, state: State) -> State | None:
        network = self.api.get("listNetworks", "network", str(state["id"]), listall=True)
        return None if network is None else self._apply(state, network)

    def _apply(self, state: State, network: Json) -> State:
        state.update(
            id=network["id"],
            name=network.get("name"),
            display_text=network.get("displaytext"),
            network_offering=same_ref(
                state.get("network_offering"), network.get("networkofferingid"), network.get("networkofferingname")
            ),
            zone=same_ref(state.get("zone"), network.get("zoneid"), network.get("zonename")),
            cidr=network.get("cidr"),
            gateway=network.get("gateway"),
            network_domain=network.get("networkdomain"),
            state=network.get("state"),
            type=network.get("type"),
        )
        for name in ("start_ip", "end_ip", "vlan"):
            if not known(state.get(name)):
                state[name] = None
        state["tags"] = observed_tags(state, network)
        return state

    def _create(self, state: State) -> State:
        api = self.api
        params: dict[str, Any] = {
            "name": state["name"],
            "displaytext": state["display_text"] if known(state.get("display_text")) else state["name"],
            "networkofferingid": api.resolve(NETWORK_OFFERING, str(state["network_offering"]), "network_offering"),
            "zoneid": api.resolve(ZONE, str(state["zone"]), "zone"),
        }
        if known(state.get("cidr")):
            try:
                network = ipaddress.ip_network(str(state["cidr"]), strict=False)
            except ValueError as exc:
                raise ProviderFailure("Invalid cidr", str(exc), "cidr") from None
            params["netmask"] = str(network.netmask)
            params["gateway"] = (
                str(state["gateway"]) if known(state.get("gateway")) else str(network.network_address + 1)
            )
        elif known(state.get("gateway")):
            params["gateway"] = state["gateway"]
        optional = {"start_ip": "startip", "end_ip": "endip", "vlan": "vlan", "network_domain": "networkdomain"}
        params.update({key: state[attr] for attr, key in optional.items() if known(state.get(attr))})
        answer = api.run("createNetwork", self.timeout(state, "create"), **params)
        created = answer.get("network") or {}
        if not created.get("id"):
            raise ProviderFailure("createNetwork answered no network", f"The answer was {answer!r}.")
        state["id"] = str(created["id"])
        apply_tags(api, "Network", state["id"], None, state.get("tags"), timeout=self.timeout(state, "create"))
        return self._refreshed(state)

    def _update(self, state: State, planned: State) -> State:
        api = self.api
        network_id = str(state["id"])
        timeout = self.timeout(planned, "update")
        state["timeouts"] = planned.get("timeouts", [])
        params: dict[str, Any] = {}
        if planned.get("name") != state.get("name"):
            params["name"] = planned["name"]
        if known(planned.get("display_text")) and planned["display_text"] != state.get("display_text"):
            params["displaytext"] = planned["display_text"]
        if planned.get("network_offering") != state.get("network_offering"):
            offering = api.resolve(NETWORK_OFFERING, str(planned["network_offering"]), "network_offering")
            params["networkofferingid"] = offering
        if known(planned.get("network_domain")) and planned["network_domain"] != state.get("network_domain"):
            params["networkdomain"] = planned["network_domain"]
        if params:
            api.run("updateNetwork", timeout, id=network_id, **params)
            state["network_offering"] = planned["network_offering"]
        apply_tags(api, "Network", network_id, state.get("tags"), planned.get("tags"), timeout=timeout)
        state["tags"] = planned.get("tags")
        return self._refreshed(state)

    def _delete(self, state: State) -> None:
        self.api.remove("deleteNetwork", self.timeout(state, "delete"), id=str(state["id"]))
