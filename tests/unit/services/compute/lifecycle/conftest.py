"""Fixtures of the VM lifecycle service tests: a simulator cluster, a template, callers, a fresh simulated cloud."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import Connection, Engine, insert, select, update

from provisioner.compute.drivers.simulator.cloud import CLOUD
from provisioner.db.schema import (
    account,
    domain,
    guest_network,
    host,
    image_store,
    network_offering,
    role,
    service_offering,
    template_store_ref,
    user,
    vm_template,
    zone,
)
from provisioner.services.principal import Caller, RoleType
from tests.unit.services.compute.cloud import Cloud


@dataclass
class SimCloud:
    """The compute test cloud with a simulator cluster and what a deployment names."""

    cloud: Cloud
    engine: Engine
    cluster_id: int
    host_ids: list[int]
    pool_id: int
    offering: str
    template: str
    zone: str
    network: str
    alice: Caller
    bob: Caller
    admin: Caller

    def params(self, **extra: object) -> dict[str, object]:
        """deployVirtualMachine parameters by wire name."""
        return {
            "zoneid": self.zone,
            "serviceofferingid": self.offering,
            "templateid": self.template,
            "networkids": [self.network],
            **extra,
        }


def caller_for(engine: Engine, name: str, role_type: RoleType) -> Caller:
    """A Caller for account ``name`` (created when missing, in ROOT)."""
    with engine.begin() as conn:
        row = conn.execute(
            select(account.c.id, account.c.uuid, domain.c.uuid.label("d"), domain.c.path)
            .join(domain, domain.c.id == account.c.domain_id)
            .where(account.c.name == name)
        ).first()
        if row is None:
            role_id = conn.execute(select(role.c.id).where(role.c.role_type == role_type.value)).scalar()
            if role_id is None:
                role_id = conn.execute(
                    insert(role).values(name=role_type.value, role_type=role_type.value)
                ).inserted_primary_key[0]
            dom = conn.execute(select(domain.c.id).where(domain.c.path == "/")).scalar_one()
            conn.execute(insert(account).values(name=name, type=role_type.account_type, role_id=role_id, domain_id=dom))
            row = conn.execute(
                select(account.c.id, account.c.uuid, domain.c.uuid.label("d"), domain.c.path)
                .join(domain, domain.c.id == account.c.domain_id)
                .where(account.c.name == name)
            ).one()
        conn.execute(insert(user).values(username=f"u-{name}", password="x", account_id=row.id, domain_id=1))
        user_uuid = conn.execute(select(user.c.uuid).where(user.c.username == f"u-{name}")).scalar_one()
    return Caller(user_uuid, f"u-{name}", row.uuid, name, row.d, row.path, "r", role_type)


def offering_and_template(conn: Connection, cloud: Cloud, *, hypervisor: str, size: int) -> int:
    """The isolated network offering a deployment's network needs, and alice's public qcow2 template ``tiny``
    (its id)."""
    conn.execute(
        insert(network_offering).values(
            name="DefaultIsolatedNetworkOfferingWithSourceNatService",
            display_text="isolated",
            guest_ip_type="Isolated",
            availability="Required",
        )
    )
    key = conn.execute(
        insert(vm_template).values(
            name="tiny",
            display_text="tiny",
            format="QCOW2",
            hypervisor_type=hypervisor,
            is_public=True,
            password_enabled=True,
            size=size,
            account_id=cloud.accounts["alice"],
            domain_id=cloud.domain_id,
        )
    ).inserted_primary_key
    assert key is not None
    return int(key[0])


@pytest.fixture
def sim(db_engine: Engine) -> Iterator[SimCloud]:
    """Two simulator hosts (4 x 2000 MHz, 8 GiB), one NFS pool, a 1-vCPU offering, a template, alice's network."""
    cloud = Cloud(db_engine)
    cluster_id = cloud.cluster("c1", hypervisor="Simulator")
    hosts = [cloud.host(cluster_id, f"h{i}", hypervisor="Simulator") for i in range(2)]
    pool_id = cloud.pool("ps1", cluster_id=cluster_id)
    offering_id = cloud.offering("small", cpu=1, speed=1000, memory=1024, root_gib=10)
    with db_engine.begin() as conn:
        template_id = offering_and_template(conn, cloud, hypervisor="Simulator", size=1 << 30)
        store_id = conn.execute(
            insert(image_store).values(
                name="ss1", url="nfs://nfs.example/secondary", protocol="nfs", provider="NFS", zone_id=cloud.zone_id
            )
        ).inserted_primary_key[0]
        conn.execute(
            insert(template_store_ref).values(
                template_id=template_id,
                store_id=store_id,
                zone_id=cloud.zone_id,
                state="Ready",
                download_state="DOWNLOADED",
                download_pct=100,
                install_path="template/tmpl/1/tiny.qcow2",
                size=1 << 30,
            )
        )
    network_id = cloud.network("alice-net", account_id=cloud.accounts["alice"], domain_id=cloud.domain_id)
    with db_engine.begin() as conn:
        for index, host_id in enumerate(hosts):
            conn.execute(update(host).where(host.c.id == host_id).values(url=f"http://sim/c1/h{index}"))
        uuid = {
            "offering": conn.execute(
                select(service_offering.c.uuid).where(service_offering.c.id == offering_id)
            ).scalar_one(),
            "template": conn.execute(select(vm_template.c.uuid).where(vm_template.c.id == template_id)).scalar_one(),
            "zone": conn.execute(select(zone.c.uuid).where(zone.c.id == cloud.zone_id)).scalar_one(),
            "network": conn.execute(select(guest_network.c.uuid).where(guest_network.c.id == network_id)).scalar_one(),
        }
    CLOUD.reset()
    yield SimCloud(
        cloud,
        db_engine,
        cluster_id,
        hosts,
        pool_id,
        uuid["offering"],
        uuid["template"],
        uuid["zone"],
        uuid["network"],
        caller_for(db_engine, "alice", RoleType.USER),
        caller_for(db_engine, "bob", RoleType.USER),
        caller_for(db_engine, "root", RoleType.ADMIN),
    )
