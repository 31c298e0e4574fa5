"""``listCapacity``: capacity per zone, or per pod / cluster, aggregated in SQL (root admin only)."""

from __future__ import annotations

from provisioner.api.commands.infrastructure_common import ROOT_ONLY, CapacityResponse, listing
from provisioner.api.fields import BaseListParams, param
from provisioner.api.registry import CommandContext, api_command
from provisioner.api.responses import ListResult
from provisioner.services.infrastructure import capacity


class ListCapacityParams(BaseListParams):
    """Parameters of ``listCapacity``."""

    zoneid: str | None = param("lists capacity by the Zone ID", entity="Zone")
    podid: str | None = param("lists capacity by the Pod ID", entity="Pod")
    clusterid: str | None = param("lists capacity by the Cluster ID", entity="Cluster", since="3.0.0")
    type: int | None = param(
        "lists capacity by type* CAPACITY_TYPE_MEMORY = 0* CAPACITY_TYPE_CPU = 1* "
        "CAPACITY_TYPE_STORAGE = 2* CAPACITY_TYPE_STORAGE_ALLOCATED = 3* "
        "CAPACITY_TYPE_VIRTUAL_NETWORK_PUBLIC_IP = 4* CAPACITY_TYPE_PRIVATE_IP = 5* "
        "CAPACITY_TYPE_SECONDARY_STORAGE = 6* CAPACITY_TYPE_VLAN = 7* "
        "CAPACITY_TYPE_DIRECT_ATTACHED_PUBLIC_IP = 8* CAPACITY_TYPE_LOCAL_STORAGE = 9* "
        "CAPACITY_TYPE_GPU = 19* CAPACITY_TYPE_CPU_CORE = 90."
    )
    sortby: str | None = param("Sort the results. Available values: Usage", since="3.0.0")
    fetchlatest: bool | None = param("recalculate capacities and fetch the latest", since="4.3")


@api_command(
    "listCapacity",
    params=ListCapacityParams,
    response=CapacityResponse,
    response_key="capacity",
    list=True,
    since="1.0",
    authorized=ROOT_ONLY,
    description="Lists all the system wide capacities.",
)
def list_capacity(ctx: CommandContext, params: ListCapacityParams) -> ListResult[CapacityResponse]:
    """Capacity rows; always the latest figures (nothing is cached), so ``fetchlatest`` changes nothing."""
    return listing(
        ctx,
        CapacityResponse,
        capacity.list_capacity,
        zoneid=params.zoneid,
        podid=params.podid,
        clusterid=params.clusterid,
        type=params.type,
        sortby=params.sortby,
    )
