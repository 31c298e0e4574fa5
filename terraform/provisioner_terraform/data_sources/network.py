"""``data "provisioner_network"``: a guest network by id or name."""

from __future__ import annotations

from provisioner_terraform.api import NETWORK, ZONE
from provisioner_terraform.data_sources import TAGS, Field, Filter, LookupDataSource


class NetworkDataSource(LookupDataSource):
    """A guest network (``listNetworks``)."""

    type_suffix = "network"
    lookup = NETWORK
    description = "A guest network, found by id or name."
    filters = (Filter("zone", "zoneid", "Only networks in this zone (name or id).", resolve=ZONE),)
    fields = (
        Field("display_text", "displaytext", description="The network's display text."),
        Field("cidr", "cidr", description="The network's CIDR."),
        Field("gateway", "gateway", description="The network's gateway."),
        Field("netmask", "netmask", description="The network's netmask."),
        Field("network_offering", "networkofferingname", description="The network offering's name."),
        Field("network_offering_id", "networkofferingid", description="The network offering's id."),
        Field("zone_id", "zoneid", description="The network's zone."),
        Field("state", "state", description="Allocated, Implemented, Setup..."),
        Field("type", "type", description="Isolated, Shared or L2."),
        Field("vlan", "vlan", description="The VLAN, when the network has one."),
        Field("network_domain", "networkdomain", description="The DNS domain of the network."),
        TAGS,
    )
