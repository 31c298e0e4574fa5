"""Desired state: the topology mapped to the CloudStack objects sync manages (a pure function)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from urllib.parse import urlsplit

from provisioner.client import Value
from provisioner.model import (
    Cloud,
    Cluster,
    CredentialRef,
    DiskOffering,
    GuestNetwork,
    HostPlace,
    Iso,
    NetworkOffering,
    PhysicalNetwork,
    PrimaryStorage,
    ServiceOffering,
    StorageProtocol,
    StorageScope,
    Template,
    Zone,
)
from provisioner.model.base import HypervisorType
from provisioner.services.sync.model import Kind, Resource

#: The Marvin/CloudStack name of the virtual router provider every physical network enables.
VIRTUAL_ROUTER = "VirtualRouter"
ENABLED = "Enabled"
#: ``addHost`` parameter carrying a credential reference (``env:NAME``...) instead of a password.
CREDENTIAL_REF_PARAM = "passwordref"


def csv(values: Iterable[str] | str | None) -> str:
    """Tags and lists compared as sorted, de-duplicated comma lists (the server may reorder them)."""
    if values is None:
        return ""
    items = values.split(",") if isinstance(values, str) else values
    return ",".join(sorted({item.strip() for item in items if item.strip()}))


def flag(value: object) -> str:
    """A boolean as CloudStack writes it."""
    return "true" if value in (True, "true", "True", 1) else "false"


def ratio(value: object) -> str:
    """An over-provisioning factor as the server prints it (``"2.0"``)."""
    return repr(float(str(value)))


def credential_ref(ref: CredentialRef | None) -> str | None:
    """``env:NAME``, ``file:/path`` or ``vault:NAME``: the reference, never the secret."""
    return f"{ref.kind}:{ref.reference}" if ref is not None else None


def selected_zones(cloud: Cloud, regions: Sequence[str] | None = None) -> list[Zone]:
    """The zones sync manages: all of the file's, or those of the named regions."""
    return [zone for zone in cloud.zones if not regions or zone.region in regions]


def regions_served_by(cloud: Cloud, url: str) -> list[str]:
    """The regions whose endpoint or a management server (ip and API port) is the API ``url``.

    Each region has its own management servers, so a sync against one of them should only manage
    that region's zones. Empty when nothing matches (then the caller decides, e.g. all zones).
    """
    target = urlsplit(url)
    host, port = (target.hostname or "").lower(), target.port or (443 if target.scheme == "https" else 80)
    found = []
    for region in cloud.regions:
        endpoint = urlsplit(region.endpoint or "")
        at_endpoint = bool(endpoint.hostname) and (endpoint.hostname or "").lower() == host
        at_server = any(server.ip == host and server.api_port == port for server in region.management_servers)
        if at_endpoint or at_server:
            found.append(region.name)
    return found


def desired_state(cloud: Cloud, regions: Sequence[str] | None = None) -> list[Resource]:
    """Every object the topology wants on the server, parents before children.

    Args:
        cloud: the topology.
        regions: only zones of these regions (all zones when empty).
    """
    servers = {server.name: server.ip for server in cloud.storage_servers}
    resources: list[Resource] = []
    for zone in selected_zones(cloud, regions):
        resources.extend(_zone(zone, servers))
    resources.extend(_service_offering(offering) for offering in cloud.service_offerings)
    resources.extend(_disk_offering(offering) for offering in cloud.disk_offerings)
    resources.extend(_network_offering(offering) for offering in cloud.network_offerings)
    zones = {zone.name for zone in selected_zones(cloud, regions)}
    resources.extend(_network(network) for network in cloud.networks if network.zone in zones)
    resources.extend(_template(template) for template in cloud.templates)
    resources.extend(_iso(iso) for iso in cloud.isos)
    return resources


def _zone(zone: Zone, servers: dict[str, str]) -> Iterator[Resource]:
    fields = {
        "networktype": zone.network_type.value,
        "dns1": zone.dns[0],
        "internaldns1": zone.internal_dns[0],
        "localstorageenabled": flag(zone.local_storage_enabled),
        "allocationstate": ENABLED,
    }
    optional = {
        "dns2": zone.dns[1] if len(zone.dns) > 1 else None,
        "internaldns2": zone.internal_dns[1] if len(zone.internal_dns) > 1 else None,
        "guestcidraddress": zone.guest_cidr,
        "domain": zone.domain,
    }
    fields.update({name: value for name, value in optional.items() if value is not None})
    yield Resource(Kind.ZONE, (zone.name,), fields)
    for network in zone.physical_networks:
        yield from _physical_network(zone, network)
    for pod in zone.pods:
        yield Resource(
            Kind.POD,
            (zone.name, pod.name),
            {"gateway": pod.gateway, "netmask": pod.netmask, "startip": pod.start_ip, "endip": pod.end_ip},
        )
        for cluster in pod.clusters:
            yield _cluster(zone, pod.name, cluster)
    for place in _places(zone):
        yield _host(place)
    for pool in zone.primary_storage:
        yield _pool(zone, pool, servers)
    for store in zone.image_stores:
        server = servers.get(store.server, store.server)
        yield Resource(Kind.IMAGE_STORE, (zone.name, store.name), {"url": f"nfs://{server}{store.path}"})


def _physical_network(zone: Zone, network: PhysicalNetwork) -> Iterator[Resource]:
    fields = {
        "isolationmethods": ",".join(network.isolation_methods),
        "state": ENABLED,
        "virtualrouter": ENABLED,
        "tags": csv(network.tags),
    }
    if network.vlan_ranges:
        fields["vlan"] = ",".join(f"{first}-{last}" for first, last in network.vlan_ranges)
    yield Resource(Kind.PHYSICAL_NETWORK, (zone.name, network.name), fields)
    for traffic in network.traffic:
        labels = {
            "kvmnetworklabel": traffic.kvm_label,
            "vmwarenetworklabel": traffic.vmware_label,
            "xennetworklabel": traffic.xen_label,
            "hypervnetworklabel": traffic.hyperv_label,
        }
        yield Resource(
            Kind.TRAFFIC_TYPE,
            (zone.name, network.name, traffic.type.value.capitalize()),
            {name: value for name, value in labels.items() if value is not None},
        )
    for ip_range in network.public_ip_ranges:
        yield Resource(
            Kind.IP_RANGE,
            (zone.name, network.name, f"{ip_range.start_ip}-{ip_range.end_ip}"),
            {
                "gateway": ip_range.gateway,
                "netmask": ip_range.netmask,
                "vlan": str(ip_range.vlan) if ip_range.vlan is not None else "untagged",
            },
        )


def _cluster(zone: Zone, pod: str, cluster: Cluster) -> Resource:
    params: dict[str, Value] = {"clustertype": "CloudManaged"}
    if cluster.vcenter is not None:
        vcenter = cluster.vcenter
        params = {
            # CloudStack adds a vCenter cluster as ExternalManaged, by its vCenter path.
            "clustertype": "ExternalManaged",
            "url": f"http://{vcenter.host}/{vcenter.datacenter}/{vcenter.cluster or cluster.name}",
            "username": vcenter.credentials.username,
            CREDENTIAL_REF_PARAM: credential_ref(vcenter.credentials),
        }
    return Resource(
        Kind.CLUSTER,
        (zone.name, pod, cluster.name),
        {
            "hypervisor": cluster.hypervisor.cloudstack_name,
            "cpu.overprovisioning.factor": ratio(cluster.cpu_overprovisioning),
            "mem.overprovisioning.factor": ratio(cluster.mem_overprovisioning),
        },
        params,
    )


def host_url(place: HostPlace) -> str:
    """The ``addHost`` URL: the host's own, else derived from its hypervisor and address."""
    host, cluster = place.host, place.cluster
    if host.url:
        return host.url
    hypervisor = host.hypervisor or cluster.hypervisor
    if hypervisor is HypervisorType.SIMULATOR:
        return f"http://sim/{cluster.name}/{host.name}"
    if hypervisor is HypervisorType.VMWARE and cluster.vcenter is not None:
        vcenter = cluster.vcenter
        return f"http://{vcenter.host}/{vcenter.datacenter}/{vcenter.cluster or cluster.name}/{host.ip}"
    return f"http://{host.ip}"


def _host(place: HostPlace) -> Resource:
    zone, pod, cluster, host = place.zone.name, place.pod.name, place.cluster.name, place.host
    credentials = host.credentials
    params: dict[str, Value] = {
        "url": host_url(place),
        "hypervisor": (host.hypervisor or place.cluster.hypervisor).cloudstack_name,
        "username": credentials.username if credentials is not None else None,
        CREDENTIAL_REF_PARAM: credential_ref(credentials),
    }
    aliases = ((zone, pod, cluster, host.ip),) if host.ip else ()
    return Resource(Kind.HOST, (zone, pod, cluster, host.name), {"hosttags": csv(host.tags)}, params, aliases=aliases)


def _places(zone: Zone) -> Iterator[HostPlace]:
    for pi, pod in enumerate(zone.pods):
        for ci, cluster in enumerate(pod.clusters):
            for hi, host in enumerate(cluster.hosts):
                yield HostPlace(zone, pod, cluster, host, (0, pi, ci, hi))


def _pod_of_cluster(zone: Zone, cluster: str | None) -> str | None:
    return next((pod.name for pod in zone.pods for c in pod.clusters if c.name == cluster), None)


def pool_url(pool: PrimaryStorage, server: str | None) -> tuple[str, str]:
    """The ``createStoragePool`` URL and the path the server reports for it."""
    path = (pool.path or "").rstrip("/") or "/"
    if pool.protocol is StorageProtocol.NFS:
        return f"nfs://{server}{path}", path
    if pool.protocol is StorageProtocol.ISCSI:
        return f"iscsi://{server}/{pool.iqn}/{pool.lun}", f"/{pool.iqn}/{pool.lun}"
    if pool.protocol is StorageProtocol.FC:
        # A path mounted on every host beforehand: KVM calls it a shared mount point, others pre-setup.
        scheme = "sharedmountpoint" if pool.hypervisor in (None, HypervisorType.KVM) else "presetup"
        return f"{scheme}://localhost{path}", path
    return f"file://localhost{path}", path


def _pool(zone: Zone, pool: PrimaryStorage, servers: dict[str, str]) -> Resource:
    scope = pool.effective_scope
    server = servers.get(pool.server, pool.server) if pool.server else None
    url, path = pool_url(pool, server)
    fields = {"scope": scope.value.upper(), "path": path, "tags": csv(pool.tags)}
    if pool.overprovisioning is not None:
        fields["storage.overprovisioning.factor"] = ratio(pool.overprovisioning)
    params: dict[str, Value] = {"url": url, "scope": scope.value, "provider": pool.provider}
    if pool.capacity is not None:
        params["capacitybytes"] = pool.capacity
    if scope is StorageScope.ZONE and pool.hypervisor is not None:
        params["hypervisor"] = pool.hypervisor.cloudstack_name
    if scope is StorageScope.CLUSTER:
        pod = pool.pod or _pod_of_cluster(zone, pool.cluster)
        params["pod_key"] = f"{zone.name}/{pod}"
        params["cluster_key"] = f"{zone.name}/{pod}/{pool.cluster}"
    if scope is StorageScope.HOST:
        place = next((place for place in _places(zone) if place.host.name == pool.host), None)
        if place is not None:
            params["host_key"] = f"{zone.name}/{place.pod.name}/{place.cluster.name}/{place.host.name}"
    return Resource(Kind.STORAGE_POOL, (zone.name, pool.name), fields, params)


def _service_offering(offering: ServiceOffering) -> Resource:
    fields = {
        "displaytext": offering.display_text or offering.name,
        "cpunumber": str(offering.cpu_number),
        "cpuspeed": str(offering.cpu_speed),
        "memory": str(offering.memory),
        "storagetype": offering.storage_type,
        "offerha": flag(offering.offer_ha),
        "limitcpuuse": flag(offering.limit_cpu_use),
        "hosttags": csv(offering.host_tags),
        "storagetags": csv(offering.storage_tags),
    }
    if offering.deployment_planner:
        fields["deploymentplanner"] = offering.deployment_planner
    return Resource(Kind.SERVICE_OFFERING, (offering.name,), fields)


def _disk_offering(offering: DiskOffering) -> Resource:
    customized = offering.customized or offering.disk_size is None
    fields = {
        "displaytext": offering.display_text or offering.name,
        "iscustomized": flag(customized),
        "storagetype": offering.storage_type,
        "provisioningtype": offering.provisioning_type,
        "tags": csv(offering.tags),
    }
    if not customized:
        fields["disksize"] = str(offering.disk_size)
    return Resource(Kind.DISK_OFFERING, (offering.name,), fields)


def zones_field(zones: Sequence[str] | str) -> str:
    """Where an image is registered: ``all`` (every zone, including later ones) or the sorted zone names."""
    return "all" if zones == "all" else csv(zones)


def _template(template: Template) -> Resource:
    fields = {
        "displaytext": template.display_text or template.name,
        "url": template.url,
        "format": template.format.value,
        "hypervisor": template.hypervisor.cloudstack_name,
        "zones": zones_field(template.zones),
        "ispublic": flag(template.public),
        "isfeatured": flag(template.featured),
        "isextractable": flag(template.extractable),
        "passwordenabled": flag(template.password_enabled),
        "sshkeyenabled": flag(template.ssh_key_enabled),
    }
    if template.checksum:
        fields["checksum"] = template.checksum
    return Resource(Kind.TEMPLATE, (template.name,), fields, {"ostype": template.os_type})


def _iso(iso: Iso) -> Resource:
    fields = {
        "displaytext": iso.display_text or iso.name,
        "url": iso.url,
        "zones": zones_field(iso.zones),
        "bootable": flag(iso.bootable),
        "ispublic": flag(iso.public),
        "isfeatured": flag(iso.featured),
    }
    if iso.checksum:
        fields["checksum"] = iso.checksum
    return Resource(Kind.ISO, (iso.name,), fields, {"ostype": iso.os_type})


#: The stock offering a guest network of each type uses when the topology names none.
STOCK_NETWORK_OFFERINGS = {
    "shared": "DefaultSharedNetworkOffering",
    "isolated": "DefaultIsolatedNetworkOfferingWithSourceNatService",
    "l2": "DefaultL2NetworkOffering",
}


def _network_offering(offering: NetworkOffering) -> Resource:
    fields = {
        "displaytext": offering.display_text or offering.name,
        "guestiptype": offering.guest_ip_type,
        "supportedservices": csv(offering.services),
        "state": ENABLED,  # CloudStack creates offerings Disabled; one nobody can use is not what a topology means
    }
    # A shared network takes its VLAN and address range from whoever creates it, so its offering must allow that.
    shared = offering.guest_ip_type == "Shared"
    params: dict[str, Value] = {"traffictype": "GUEST", "specifyvlan": shared, "specifyipranges": shared}
    return Resource(Kind.NETWORK_OFFERING, (offering.name,), fields, params)


def _network(network: GuestNetwork) -> Resource:
    fields = {
        "displaytext": network.display_text or network.name,
        "type": {"shared": "Shared", "isolated": "Isolated", "l2": "L2"}[network.type.value],
        "networkofferingname": network.offering or STOCK_NETWORK_OFFERINGS[network.type.value],
    }
    if network.vlan is not None:
        fields["vlan"] = str(network.vlan)
    if network.gateway is not None:
        fields["gateway"] = str(network.gateway)
    if network.netmask is not None:
        fields["netmask"] = str(network.netmask)
    params: dict[str, Value] = {
        "startip": str(network.start_ip) if network.start_ip else None,
        "endip": str(network.end_ip) if network.end_ip else None,
    }
    if network.physical_network:
        params["physical_network_key"] = f"{network.zone}/{network.physical_network}"
    return Resource(Kind.NETWORK, (network.zone, network.name), fields, params)
