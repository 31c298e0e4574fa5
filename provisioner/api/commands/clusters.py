"""Clusters: ``addCluster`` (a one-element ``cluster[]`` list), ``updateCluster``, ``listClusters``, delete."""

from __future__ import annotations

from pydantic import Field

from provisioner.api.commands.infrastructure_common import ROOT_ONLY, CapacityResponse, call, first, listing, one
from provisioner.api.fields import BaseListParams, BaseParams, param
from provisioner.api.registry import CommandContext, api_command
from provisioner.api.responses import CsDateTime, ListResult, ResponseModel
from provisioner.services.infrastructure import clusters


class ClusterResponse(ResponseModel):
    """A cluster (``ClusterResponse``); the over-commit ratios are strings, as CloudStack sends them."""

    id: str = Field(description="the cluster ID")
    name: str = Field(description="the cluster name")
    zoneid: str = Field(description="the Zone ID of the cluster")
    zonename: str = Field(description="the Zone name of the cluster")
    podid: str = Field(description="the Pod ID of the cluster")
    podname: str = Field(description="the Pod name of the cluster")
    hypervisortype: str = Field(description="the hypervisor type of the cluster")
    clustertype: str = Field(description="the type of the cluster")
    allocationstate: str = Field(description="the allocation state of the cluster")
    managedstate: str = Field(description="whether this cluster is managed by cloudstack")
    cpuovercommitratio: str = Field(description="The cpu overcommit ratio of the cluster")
    memoryovercommitratio: str = Field(description="The memory overcommit ratio of the cluster")
    arch: str | None = Field(default=None, description="CPU Arch of the hosts in the cluster")
    created: CsDateTime | None = Field(default=None, description="the date the cluster was created")
    capacity: list[CapacityResponse] | None = Field(default=None, description="the capacity of the Cluster")


class AddClusterParams(BaseParams):
    """Parameters of ``addCluster``."""

    clustername: str = param("the cluster name", required=True)
    clustertype: str = param("type of the cluster: CloudManaged, ExternalManaged", required=True)
    hypervisor: str = param(
        "hypervisor type of the cluster: XenServer,KVM,VMware,Hyperv,BareMetal,Simulator,Ovm3", required=True
    )
    podid: str = param("the Pod ID for the host", required=True, entity="Pod")
    zoneid: str = param("the Zone ID for the cluster", required=True, entity="Zone")
    allocationstate: str | None = param("Allocation state of this cluster for allocation of new resources")
    url: str | None = param("the URL")
    username: str | None = param("the username for the cluster")
    password: str | None = param("the password for the host")
    cpuovercommitratio: float | None = param("value of the cpu overcommit ratio, defaults to 1")
    memoryovercommitratio: float | None = param("value of the default memory overcommit ratio, defaults to 1")


@api_command(
    "addCluster",
    params=AddClusterParams,
    response=ClusterResponse,
    response_key="cluster",
    list=True,
    since="1.0",
    authorized=ROOT_ONLY,
    description="Adds a new cluster",
)
def add_cluster(ctx: CommandContext, params: AddClusterParams) -> list[ClusterResponse]:
    """Add a cluster to a pod; the answer is a one-element list, as CloudStack's."""
    return first(
        ctx,
        ClusterResponse,
        clusters.add_cluster,
        zoneid=params.zoneid,
        podid=params.podid,
        clustername=params.clustername,
        hypervisor=params.hypervisor,
        clustertype=params.clustertype,
        allocationstate=params.allocationstate,
        url=params.url,
        cpuovercommitratio=params.cpuovercommitratio,
        memoryovercommitratio=params.memoryovercommitratio,
    )


class UpdateClusterParams(BaseParams):
    """Parameters of ``updateCluster``."""

    id: str = param("the ID of the Cluster", required=True, entity="Cluster")
    clustername: str | None = param("the cluster name")
    allocationstate: str | None = param("Allocation state of this cluster for allocation of new resources")
    managedstate: str | None = param("whether this cluster is managed by cloudstack")
    cpuovercommitratio: float | None = param("Value of cpu overcommit ratio")
    memoryovercommitratio: float | None = param("Value of memory overcommit ratio")
    hypervisor: str | None = param("hypervisor type of the cluster")
    clustertype: str | None = param("hypervisor type of the cluster")


@api_command(
    "updateCluster",
    params=UpdateClusterParams,
    response=ClusterResponse,
    response_key="cluster",
    since="1.0",
    authorized=ROOT_ONLY,
    description="Updates an existing cluster",
)
def update_cluster(ctx: CommandContext, params: UpdateClusterParams) -> ClusterResponse:
    """Rename a cluster, change its states or over-commit ratios (``hypervisor``/``clustertype`` stay)."""
    return one(
        ctx,
        ClusterResponse,
        clusters.update_cluster,
        params.id,
        clustername=params.clustername,
        allocationstate=params.allocationstate,
        managedstate=params.managedstate,
        cpuovercommitratio=params.cpuovercommitratio,
        memoryovercommitratio=params.memoryovercommitratio,
    )


class ListClustersParams(BaseListParams):
    """Parameters of ``listClusters``."""

    id: str | None = param("lists clusters by the cluster ID", entity="Cluster")
    name: str | None = param("lists clusters by the cluster name")
    zoneid: str | None = param("lists clusters by Zone ID", entity="Zone")
    podid: str | None = param("lists clusters by Pod ID", entity="Pod")
    hypervisor: str | None = param("lists clusters by hypervisor type")
    clustertype: str | None = param("lists clusters by cluster type")
    allocationstate: str | None = param("lists clusters by allocation state")
    managedstate: str | None = param("whether this cluster is managed by cloudstack")
    showcapacities: bool | None = param("flag to display the capacity of the clusters")


@api_command(
    "listClusters",
    params=ListClustersParams,
    response=ClusterResponse,
    response_key="cluster",
    list=True,
    since="1.0",
    authorized=ROOT_ONLY,
    description="Lists clusters.",
)
def list_clusters(ctx: CommandContext, params: ListClustersParams) -> ListResult[ClusterResponse]:
    """List clusters, with their capacities on request."""
    return listing(
        ctx,
        ClusterResponse,
        clusters.list_clusters,
        id=params.id,
        name=params.name,
        keyword=params.keyword,
        zoneid=params.zoneid,
        podid=params.podid,
        hypervisor=params.hypervisor,
        clustertype=params.clustertype,
        allocationstate=params.allocationstate,
        managedstate=params.managedstate,
        showcapacities=bool(params.showcapacities),
    )


class DeleteClusterParams(BaseParams):
    """Parameters of ``deleteCluster``."""

    id: str = param("the cluster ID", required=True, entity="Cluster")


@api_command(
    "deleteCluster",
    params=DeleteClusterParams,
    since="1.0",
    authorized=ROOT_ONLY,
    description="Deletes a cluster.",
)
def delete_cluster(ctx: CommandContext, params: DeleteClusterParams) -> None:
    """Delete a cluster without hosts or pools."""
    call(ctx, clusters.delete_cluster, params.id)
