"""``data "provisioner_zone"``: a zone by id or name."""

from __future__ import annotations

from tf.types import Bool

from provisioner_terraform.api import ZONE
from provisioner_terraform.data_sources import TAGS, Field, LookupDataSource


class ZoneDataSource(LookupDataSource):
    """A zone (``listZones``)."""

    type_suffix = "zone"
    lookup = ZONE
    description = "A zone, found by id or name (with neither, the only zone)."
    fields = (
        Field("description", "description", description="The zone's description."),
        Field("network_type", "networktype", description="Basic or Advanced."),
        Field("allocation_state", "allocationstate", description="Enabled or Disabled."),
        Field("dns1", "dns1", description="The first DNS server for guests."),
        Field("internal_dns1", "internaldns1", description="The first DNS server for system VMs."),
        Field("guest_cidr_address", "guestcidraddress", description="The default guest CIDR."),
        Field("domain", "domain", description="The network domain of the zone's networks."),
        Field("local_storage_enabled", "localstorageenabled", Bool(), "Whether local storage offerings work."),
        Field("security_groups_enabled", "securitygroupsenabled", Bool(), "Whether security groups are on."),
        TAGS,
    )
