"""``data "provisioner_service_offering"``: a compute offering by id or name."""

from __future__ import annotations

from tf.types import Bool, Number

from provisioner_terraform.api import SERVICE_OFFERING
from provisioner_terraform.data_sources import Field, LookupDataSource


class ServiceOfferingDataSource(LookupDataSource):
    """A service offering (``listServiceOfferings``)."""

    type_suffix = "service_offering"
    lookup = SERVICE_OFFERING
    description = "A service (compute) offering, found by id or name."
    fields = (
        Field("display_text", "displaytext", description="The offering's display text."),
        Field("cpu_number", "cpunumber", Number(), "Number of vCPUs."),
        Field("cpu_speed", "cpuspeed", Number(), "CPU speed in MHz."),
        Field("memory", "memory", Number(), "Memory in MiB."),
        Field("storage_type", "storagetype", description="shared or local."),
        Field("host_tags", "hosttags", description="Host tags the offering requires."),
        Field("offer_ha", "offerha", Bool(), "Whether VMs of this offering are highly available."),
        Field("is_customized", "iscustomized", Bool(), "Whether CPU and memory are chosen at deploy time."),
    )
