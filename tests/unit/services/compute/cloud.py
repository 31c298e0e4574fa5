"""A small cloud written straight into the tables: zone, pods, clusters, hosts, pools, offerings, networks.

Shared by the unit and integration tests of the compute services. Rows are inserted directly
(not through the infrastructure services) so each test states exactly the capacity it needs.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, Engine, insert, select

from provisioner.db.schema import (
    account,
    cluster,
    configuration,
    disk_offering,
    domain,
    host,
    host_tag,
    pod,
    role,
    service_offering,
    storage_pool,
    storage_pool_tag,
    user,
    zone,
)
from provisioner.services.compute import ipam
from provisioner.services.compute.allocator import PlannerSettings
from provisioner.services.configuration import set_scoped_value

GIB = 1024**3
MIB = 1024**2


class Cloud:
    """Builders over one engine; every method runs in its own short transaction and returns the new id."""

    def __init__(self, engine: Engine, zone_name: str = "z1") -> None:
        self.engine = engine
        with engine.begin() as conn:
            role_id = self._id(conn, insert(role).values(name="Admin", role_type="Admin"))
            self.domain_id = self._id(conn, insert(domain).values(name="ROOT", path="/"))
            self.accounts = {
                name: self._id(
                    conn, insert(account).values(name=name, type=0, role_id=role_id, domain_id=self.domain_id)
                )
                for name in ("alice", "bob")
            }
            self.user_id = self._id(
                conn,
                insert(user).values(
                    username="alice", password="x", account_id=self.accounts["alice"], domain_id=self.domain_id
                ),
            )
            self.zone_id = self._id(
                conn,
                insert(zone).values(
                    name=zone_name, network_type="Advanced", allocation_state="Enabled", zone_token="t"
                ),
            )
            self.pod_id = self._id(conn, insert(pod).values(name="p1", zone_id=self.zone_id))

    @staticmethod
    def _id(conn: Connection, statement: Any) -> int:
        key = conn.execute(statement).inserted_primary_key
        assert key is not None
        return int(key[0])

    def run(self, statement: Any) -> int:
        """Execute one insert and return its primary key."""
        with self.engine.begin() as conn:
            return self._id(conn, statement)

    def pod(self, name: str, allocation_state: str = "Enabled") -> int:
        """A further pod in the zone."""
        return self.run(insert(pod).values(name=name, zone_id=self.zone_id, allocation_state=allocation_state))

    def cluster(
        self, name: str, *, pod_id: int | None = None, hypervisor: str = "KVM", allocation_state: str = "Enabled"
    ) -> int:
        """A cluster in ``pod_id`` (default: the first pod)."""
        return self.run(
            insert(cluster).values(
                name=name,
                zone_id=self.zone_id,
                pod_id=pod_id or self.pod_id,
                hypervisor_type=hypervisor,
                allocation_state=allocation_state,
            )
        )

    def host(
        self,
        cluster_id: int,
        name: str,
        *,
        cores: int = 4,
        speed: int = 2000,
        memory_gib: int = 8,
        status: str = "Up",
        resource_state: str = "Enabled",
        hypervisor: str = "KVM",
        tags: Iterable[str] = (),
        cpu_allocated: int = 0,
        memory_allocated: int = 0,
    ) -> int:
        """A Routing host with the given capacity (and, for tests of thresholds, something already held)."""
        with self.engine.begin() as conn:
            pod_id = conn.execute(select(cluster.c.pod_id).where(cluster.c.id == cluster_id)).scalar_one()
            host_id = self._id(
                conn,
                insert(host).values(
                    name=name,
                    status=status,
                    resource_state=resource_state,
                    hypervisor_type=hypervisor,
                    url=f"http://sim/{name}",
                    cpu_cores=cores,
                    cpu_speed=speed,
                    memory=memory_gib * GIB,
                    cpu_allocated=cpu_allocated,
                    memory_allocated=memory_allocated,
                    zone_id=self.zone_id,
                    pod_id=pod_id,
                    cluster_id=cluster_id,
                    driver="simulator",
                ),
            )
            for tag in tags:
                conn.execute(insert(host_tag).values(host_id=host_id, tag=tag))
            return host_id

    def pool(
        self,
        name: str,
        *,
        cluster_id: int | None = None,
        host_id: int | None = None,
        scope: str = "CLUSTER",
        capacity_gib: int = 1000,
        used_gib: int = 0,
        state: str = "Up",
        tags: Iterable[str] = (),
        pool_type: str = "NetworkFilesystem",
        hypervisor: str | None = None,
    ) -> int:
        """A primary storage pool (cluster scope by default)."""
        with self.engine.begin() as conn:
            pod_id = None
            if cluster_id is not None:
                pod_id = conn.execute(select(cluster.c.pod_id).where(cluster.c.id == cluster_id)).scalar_one()
            pool_id = self._id(
                conn,
                insert(storage_pool).values(
                    name=name,
                    pool_type=pool_type,
                    scope=scope,
                    url=f"nfs://nfs.example/{name}",
                    capacity_bytes=capacity_gib * GIB,
                    used_bytes=used_gib * GIB,
                    state=state,
                    hypervisor_type=hypervisor,
                    zone_id=self.zone_id,
                    pod_id=pod_id,
                    cluster_id=cluster_id,
                    host_id=host_id,
                ),
            )
            for tag in tags:
                conn.execute(insert(storage_pool_tag).values(pool_id=pool_id, tag=tag))
            return pool_id

    def offering(
        self,
        name: str = "small",
        *,
        cpu: int = 1,
        speed: int = 1000,
        memory: int = 1024,
        root_gib: int = 10,
        host_tags: str | None = None,
        storage_tags: str | None = None,
        storage_type: str = "shared",
        planner: str | None = None,
    ) -> int:
        """A service offering (memory in MiB, root disk in GiB)."""
        return self.run(
            insert(service_offering).values(
                name=name,
                display_text=name,
                cpu_number=cpu,
                cpu_speed=speed,
                memory=memory,
                root_disk_size=root_gib * GIB,
                host_tags=host_tags,
                storage_tags=storage_tags,
                storage_type=storage_type,
                deployment_planner=planner,
            )
        )

    def disk_offering(self, name: str = "data", *, size_gib: int = 20, tags: str | None = None) -> int:
        """A disk offering for data disks."""
        return self.run(insert(disk_offering).values(name=name, display_text=name, disk_size=size_gib * GIB, tags=tags))

    def network(self, name: str = "n1", *, cidr: str = "10.1.1.0/24", gateway: str = "10.1.1.1", **values: Any) -> int:
        """A guest network with its gateway reserved."""
        with self.engine.begin() as conn:
            return ipam.create_guest_network(
                conn, {"name": name, "zone_id": self.zone_id, "cidr": cidr, "gateway": gateway, **values}
            )

    def setting(self, name: str, value: str, scope: str = "global", scope_id: int = 0) -> None:
        """Set a configuration value globally or for one zone, cluster or pool."""
        with self.engine.begin() as conn:
            if scope == "global":
                conn.execute(insert(configuration).values(name=name, value=value, scope="global", scope_id=0))
            else:
                set_scoped_value(conn, name, value, scope, scope_id)


FIRSTFIT = PlannerSettings(algorithm="firstfit")
