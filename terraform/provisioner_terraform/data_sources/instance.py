"""``data "provisioner_instance"``: a VM by id or name."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tf.types import List, Map, String

from provisioner_terraform.api import Lookup
from provisioner_terraform.data_sources import TAGS, Field, LookupDataSource

if TYPE_CHECKING:
    from provisioner.client import Json

#: VMs are looked up with listVirtualMachines (the zone, network and template come back with them).
VIRTUAL_MACHINE = Lookup("instance", "listVirtualMachines", "virtualmachine")


def nic_maps(row: Json) -> list[dict[str, str]]:
    """The VM's NICs as string maps (the framework has no object type)."""
    keys = {
        "id": "id",
        "network_id": "networkid",
        "network_name": "networkname",
        "ip_address": "ipaddress",
        "netmask": "netmask",
        "gateway": "gateway",
        "mac_address": "macaddress",
    }
    nics = []
    for nic in row.get("nic") or []:
        entry = {name: str(nic[key]) for name, key in keys.items() if nic.get(key) is not None}
        entry["is_default"] = "true" if nic.get("isdefault") else "false"
        nics.append(entry)
    return nics


def default_ip(row: Json) -> str | None:
    """The default NIC's address."""
    nics = row.get("nic") or []
    default = next((nic for nic in nics if nic.get("isdefault")), nics[0] if nics else None)
    return None if default is None else default.get("ipaddress")


NIC_FIELDS = (
    Field("ip_address", "ipaddress", description="The default NIC's IP address.", convert=default_ip),
    Field(
        "nics",
        "nic",
        List(Map(String())),
        "NICs: id, network_id, network_name, ip_address, netmask, gateway, mac_address, is_default.",
        nic_maps,
    ),
)


class InstanceDataSource(LookupDataSource):
    """A virtual machine (``listVirtualMachines``)."""

    type_suffix = "instance"
    lookup = VIRTUAL_MACHINE
    description = "A virtual machine, found by id or name."
    fields = (
        Field("display_name", "displayname", description="The VM's display name."),
        Field("state", "state", description="Running, Stopped, Starting, Stopping, Destroyed, Error..."),
        Field("host", "hostname", description="The host it runs on (admin view)."),
        Field("host_id", "hostid", description="The id of that host (admin view)."),
        Field("zone", "zonename", description="The zone's name."),
        Field("zone_id", "zoneid", description="The zone's id."),
        Field("template", "templatename", description="The template's name."),
        Field("template_id", "templateid", description="The template's id."),
        Field("service_offering", "serviceofferingname", description="The service offering's name."),
        Field("service_offering_id", "serviceofferingid", description="The service offering's id."),
        Field("keypair", "keypair", description="The SSH key pair's name."),
        *NIC_FIELDS,
        TAGS,
    )
