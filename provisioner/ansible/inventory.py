"""Build the Ansible inventory of a cloud: topology groups, role groups, group vars and host vars."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from provisioner.ansible import facts
from provisioner.ansible.names import group_maker, host_name, unique_names
from provisioner.ansible.perf import collector_paused
from provisioner.ansible.servers import management_server_vars, storage_server_vars
from provisioner.model import Cloud, Cluster, PrimaryStorage, StorageScope, Zone

# Layout (documented for users in ``inventory/README.md``):
#
# - ``all`` > ``region_<r>`` > ``zone_<z>`` > ``pod_<p>`` > ``cluster_<c>`` > hypervisor hosts;
#   management servers sit in their region group, storage servers in their zone group.
# - Role groups, children of ``all``: ``kvm_hosts``, ``vmware_hosts``, ``xenserver_hosts``,
#   ``hyperv_hosts``, ``simulator_hosts``, ``nfs_servers``, ``iscsi_targets``, ``image_stores``,
#   ``management_servers``. They always exist, even empty, so playbooks can target them.
# - Facts shared by a level are group vars of that level (``provisioner_zone`` on the zone group,
#   ``<hv>_host_storage_pools`` on the cluster group, ...); what is specific to a machine is a host var.
#
# Everything is built as plain dicts and lists in document order, so serialising is one
# ``json.dumps`` and the same topology always gives the same bytes.

#: Role groups, in the order they are listed under ``all``.
ROLE_GROUPS = (
    "kvm_hosts",
    "vmware_hosts",
    "xenserver_hosts",
    "hyperv_hosts",
    "simulator_hosts",
    "nfs_servers",
    "iscsi_targets",
    "image_stores",
    "management_servers",
)


@dataclass(slots=True)
class Group:
    """An inventory group: its direct hosts, child groups and group vars (all in a stable order)."""

    name: str
    hosts: list[str] = field(default_factory=list)
    children: list[str] = field(default_factory=list)
    vars: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Inventory:
    """An Ansible inventory: groups by name (``all`` first) and the vars of every host."""

    groups: dict[str, Group]
    hostvars: dict[str, dict[str, Any]]

    def descendants(self, name: str) -> list[str]:
        """The groups below ``name`` (children, grandchildren, ...), each once, depth first."""
        seen: dict[str, None] = {}
        stack = list(reversed(self.groups[name].children))
        while stack:
            child = stack.pop()
            if child not in seen:
                seen[child] = None
                stack.extend(reversed(self.groups[child].children))
        return list(seen)

    def hosts_of(self, name: str) -> list[str]:
        """Every host of a group and of its descendants, each once, in Ansible's order."""
        hosts: dict[str, None] = dict.fromkeys(self.groups[name].hosts)
        for child in self.descendants(name):
            hosts.update(dict.fromkeys(self.groups[child].hosts))
        return list(hosts)


def _all_vars(cloud: Cloud) -> dict[str, Any]:
    settings = cloud.ansible
    out: dict[str, Any] = {
        "ansible_user": settings.ssh_user,
        "ansible_port": settings.ssh_port,
        "ansible_become": settings.become,
        "ansible_python_interpreter": settings.python_interpreter,
    }
    if settings.ssh_private_key is not None:
        if settings.ssh_private_key.file is not None:
            out["ansible_ssh_private_key_file"] = settings.ssh_private_key.file
        out["provisioner_ssh_private_key"] = facts.credential(settings.ssh_private_key)
    if settings.vault_password is not None:
        out["provisioner_vault_password"] = facts.credential(settings.vault_password)
    out["provisioner_cloud"] = cloud.name
    return out


class _Builder:
    """Walks a cloud once and fills an :class:`Inventory`."""

    def __init__(self, cloud: Cloud) -> None:
        self.cloud = cloud
        self.groups: dict[str, Group] = {"all": Group("all", vars=_all_vars(cloud))}
        self.hostvars: dict[str, dict[str, Any]] = {}
        self.server_ip = {server.name: server.ip for server in cloud.storage_servers}
        self.pod_cidrs = {id(pod): facts.pod_cidr(pod) for zone in cloud.zones for pod in zone.pods}
        self._bridge_cache: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
        self._names_for_groups()
        self._names_for_hosts()

    def _names_for_groups(self) -> None:
        cloud = self.cloud
        regions = [(r.name,) for r in cloud.regions]
        zones = [(z.region, z.name) for z in cloud.zones]
        pods = [(z.region, z.name, p.name) for z in cloud.zones for p in z.pods]
        clusters = [(z.region, z.name, p.name, c.name) for z, p, c in cloud.iter_clusters()]
        self.group_name: dict[tuple[str, ...], str] = {}
        for kind, paths in (("region", regions), ("zone", zones), ("pod", pods), ("cluster", clusters)):
            self.group_name.update(zip(paths, unique_names(paths, group_maker(kind)), strict=True))

    def _names_for_hosts(self) -> None:
        cloud = self.cloud
        names = [h.name for _, _, c in cloud.iter_clusters() for h in c.hosts]
        names += [s.name for s in cloud.storage_servers]
        names += [m.name for r in cloud.regions for m in r.management_servers]
        #: Inventory name by document path; None when every machine's own name is unique (the rule).
        self.host_names: dict[tuple[str, ...], str] | None = None
        if len(set(names)) == len(names):
            return
        paths: list[tuple[str, ...]] = [
            (zone.name, pod.name, cluster.name, host.name)
            for zone, pod, cluster in cloud.iter_clusters()
            for host in cluster.hosts
        ]
        paths += [("storage", s.name) for s in cloud.storage_servers]
        paths += [(r.name, m.name) for r in cloud.regions for m in r.management_servers]
        # Only clashing names get ".<parent>..." qualifiers.
        self.host_names = dict(zip(paths, unique_names(paths, host_name, separator="-"), strict=True))

    def host_name(self, *path: str) -> str:
        """The inventory name of the machine at ``path`` (its own name unless names clash)."""
        return path[-1] if self.host_names is None else self.host_names[path]

    def group(self, name: str, parent: str, variables: dict[str, Any] | None = None) -> Group:
        group = self.groups.get(name)
        if group is None:
            group = self.groups[name] = Group(name, vars=variables or {})
            self.groups[parent].children.append(name)
        return group

    @staticmethod
    def _named(name: str, own: str, variables: dict[str, Any]) -> dict[str, Any]:
        # provisioner_host carries the machine's own name only when the inventory name differs.
        return variables if name == own else {**variables, "provisioner_host": own}

    def add_host(self, name: str, group: str, variables: dict[str, Any]) -> None:
        self.groups[group].hosts.append(name)
        self.hostvars.setdefault(name, variables)

    def build(self) -> Inventory:
        cloud = self.cloud
        for region in cloud.regions:
            region_vars: dict[str, Any] = {"provisioner_region": region.name, "provisioner_region_id": region.id}
            if region.endpoint:
                region_vars["provisioner_region_endpoint"] = region.endpoint
            # The region's servers reach its KVM hosts' libvirt over qemu+ssh with these keys (public).
            keys = [m.ssh_public_key for m in region.management_servers if m.ssh_public_key]
            if keys:
                region_vars["kvm_host_management_ssh_public_keys"] = list(dict.fromkeys(keys))
            self.group(self.group_name[(region.name,)], "all", region_vars)
        for role in ROLE_GROUPS:
            self.group(role, "all")
        for region in cloud.regions:
            region_group = self.group_name[(region.name,)]
            for manager in region.management_servers:
                name = self.host_name(region.name, manager.name)
                self.add_host(name, region_group, self._named(name, manager.name, management_server_vars(manager)))
                self.add_host(name, "management_servers", {})
        for zone in cloud.zones:
            self._zone(zone)
        served = storage_server_vars(cloud, self.pod_cidrs)
        zone_groups = {z.name: self.group_name[(z.region, z.name)] for z in cloud.zones}
        for server in cloud.storage_servers:
            name = self.host_name("storage", server.name)
            variables, roles = served[server.name]
            variables = self._named(name, server.name, variables)
            groups = [zone_groups[server.zone]] if server.zone in zone_groups else []
            groups += roles
            if not groups:
                self.group("ungrouped", "all")
                groups = ["ungrouped"]
            for group in groups:
                self.add_host(name, group, variables)
        return Inventory(self.groups, self.hostvars)

    def _zone(self, zone: Zone) -> None:
        region_key = (zone.region,)
        parent = self.group_name.get(region_key, "all")
        zone_vars: dict[str, Any] = {
            "provisioner_zone": zone.name,
            "provisioner_zone_network_type": zone.network_type.value,
            "provisioner_zone_dns": list(zone.dns),
            "provisioner_zone_internal_dns": list(zone.internal_dns),
        }
        if zone.image_stores:
            zone_vars["provisioner_image_stores"] = [
                facts.image_store(s, zone.name, self.server_ip.get(s.server, s.server)) for s in zone.image_stores
            ]
        zone_group = self.group(self.group_name[(zone.region, zone.name)], parent, zone_vars).name
        shared_pools = self._shared_pools(zone)
        for pod in zone.pods:
            pod_key = (zone.region, zone.name, pod.name)
            pod_vars = {
                "provisioner_pod": pod.name,
                "provisioner_pod_cidr": self.pod_cidrs[id(pod)],
                "provisioner_pod_gateway": pod.gateway,
            }
            pod_group = self.group(self.group_name[pod_key], zone_group, pod_vars).name
            for cluster in pod.clusters:
                cluster_group = self._cluster(zone, pod_key, cluster, pod_group, shared_pools)
                self._hosts(zone, pod_key, cluster, cluster_group)

    def _bridges(self, zone: Zone, hypervisor: str, nics: dict[str, str]) -> list[dict[str, Any]]:
        # One list object per distinct (zone, hypervisor, cabling), shared by every host cabled that way.
        key = (zone.name, hypervisor, tuple(sorted(nics.items())))
        found = self._bridge_cache.get(key)
        if found is None:
            found = self._bridge_cache[key] = facts.bridges(zone.physical_networks, hypervisor, nics)
        return found

    def _shared_pools(self, zone: Zone) -> list[tuple[PrimaryStorage, dict[str, Any]]]:
        return [
            (pool, facts.storage_pool(pool, zone.name, self.server_ip.get(pool.server or "", pool.server)))
            for pool in zone.primary_storage
        ]

    def _cluster(
        self,
        zone: Zone,
        pod_key: tuple[str, ...],
        cluster: Cluster,
        pod_group: str,
        pools: list[tuple[PrimaryStorage, dict[str, Any]]],
    ) -> str:
        hypervisor = cluster.hypervisor.value
        prefix = facts.HYPERVISOR_ROLE[hypervisor]
        attached: list[dict[str, Any]] = [
            data
            for pool, data in pools
            if (
                pool.effective_scope is StorageScope.CLUSTER
                and pool.cluster == cluster.name
                and pool.pod in (None, pod_key[-1])
            )
            or (pool.effective_scope is StorageScope.ZONE and pool.hypervisor in (None, cluster.hypervisor))
        ]
        cluster_vars: dict[str, Any] = {
            "provisioner_cluster": cluster.name,
            "provisioner_hypervisor": hypervisor,
            f"{prefix}_storage_pools": attached,
            # The bridges of the cluster's first host; hosts cabled differently override them.
            f"{prefix}_bridges": self._bridges(zone, hypervisor, cluster.hosts[0].nics if cluster.hosts else {}),
        }
        if cluster.vcenter is not None:
            vcenter = cluster.vcenter
            cluster_vars["vmware_host_vcenter"] = {
                "host": vcenter.host,
                "datacenter": vcenter.datacenter,
                "cluster": vcenter.cluster or cluster.name,
                "credentials": facts.credential(vcenter.credentials),
            }
        if cluster.pool_master is not None:
            cluster_vars["xenserver_host_pool_master"] = cluster.pool_master
        return self.group(self.group_name[(*pod_key, cluster.name)], pod_group, cluster_vars).name

    def _hosts(
        self,
        zone: Zone,
        pod_key: tuple[str, ...],
        cluster: Cluster,
        cluster_group: str,
    ) -> None:
        hypervisor = cluster.hypervisor.value
        prefix = facts.HYPERVISOR_ROLE[hypervisor]
        role_group = f"{hypervisor}_hosts"
        default_bridges = self.groups[cluster_group].vars[f"{prefix}_bridges"]
        local_pools = [
            pool
            for pool in zone.primary_storage
            if pool.effective_scope is StorageScope.HOST and pool.cluster in (None, cluster.name)
        ]
        first_nics = cluster.hosts[0].nics if cluster.hosts else {}
        cluster_hosts = self.groups[cluster_group].hosts
        role_hosts = self.groups[role_group].hosts
        names = self.host_names
        hostvars = self.hostvars
        bridges_key = f"{prefix}_bridges"
        place = (zone.name, pod_key[-1], cluster.name)
        for host in cluster.hosts:
            name = host.name if names is None else names[(*place, host.name)]
            if host.ip and host.ssh_user is None and host.ssh_port is None:
                variables: dict[str, Any] = {"ansible_host": host.ip}  # the common case, without a call
            else:
                variables = facts.connection(host.ip, host.ssh_user, host.ssh_port)
            if name != host.name:
                variables["provisioner_host"] = host.name  # see _named
            if host.tags:
                variables["provisioner_host_tags"] = list(host.tags)
            if host.url is not None:
                variables["provisioner_host_url"] = host.url
            if host.credentials is not None:
                variables["provisioner_host_credentials"] = facts.credential(host.credentials)
            # The BMC is left out on purpose: power control is the management server's job, not a
            # role's, and 100k per-host dicts would cost a third of the inventory's memory.
            if host.nics != first_nics:
                bridges = self._bridges(zone, hypervisor, host.nics)
                if bridges is not default_bridges:
                    variables[bridges_key] = bridges
            if local_pools:
                mine = [pool for pool in local_pools if pool.host == host.name]
                if mine:
                    variables[f"{prefix}_local_storage_pools"] = [
                        facts.storage_pool(pool, zone.name, None) for pool in mine
                    ]
            # The hot loop of big fleets: append directly instead of going through add_host.
            cluster_hosts.append(name)
            role_hosts.append(name)
            hostvars[name] = variables


def build_inventory(cloud: Cloud) -> Inventory:
    """Build the inventory of a validated cloud.

    Args:
        cloud: the topology, as :func:`provisioner.config.load_topology` returns it.

    Returns:
        The inventory: every group (``all`` first, then the topology and role groups in document
        order) and the vars of every host. Secrets appear only as references.
    """
    with collector_paused():
        return _Builder(cloud).build()
