"""The canonical zone-build order (Marvin's ``deployDataCenter.py``, reference §14) as one scenario."""

from __future__ import annotations

from sqlalchemy import Connection, select

from provisioner.db.schema import cluster as cluster_table
from provisioner.services.configuration import scoped_float
from provisioner.services.infrastructure import (
    clusters,
    hosts,
    image_stores,
    physical_networks,
    pods,
    providers,
    storage_pools,
    vlan_ranges,
    zones,
)
from provisioner.services.infrastructure.settings import CPU_OVERPROVISIONING
from provisioner.services.principal import Caller
from tests.unit.services.infrastructure.conftest import Run


def test_canonical_zone_build_order(run: Run[object], admin: Caller) -> None:
    def build(conn: Connection) -> None:
        zone = zones.create_zone(
            conn, admin, name="Sandbox-simulator", networktype="Advanced", dns1="8.8.8.8", internaldns1="198.18.0.2"
        )
        assert zone["allocationstate"] == "Disabled"
        assert zone["guestcidraddress"] == "10.1.1.0/24"

        network = physical_networks.create_physical_network(
            conn, admin, zoneid=zone["id"], name="Sandbox-pnet", isolationmethods="VLAN", broadcastdomainrange="Zone"
        )
        assert network["state"] == "Disabled"
        for traffic in ("Guest", "Management", "Public"):
            added = physical_networks.add_traffic_type(
                conn, admin, physicalnetworkid=network["id"], traffictype=traffic, kvmnetworklabel="cloudbr0"
            )
            assert added["traffictype"] == traffic

        found, count = providers.list_network_service_providers(
            conn, admin, physicalnetworkid=network["id"], name="VirtualRouter", state="Disabled"
        )
        assert count == 1
        nsp = found[0]
        elements, _ = providers.list_virtual_router_elements(conn, admin, nspid=nsp["id"])
        assert [element["enabled"] for element in elements] == [False]
        configured = providers.configure_virtual_router_element(conn, admin, elements[0]["id"], enabled=True)
        assert configured["enabled"] is True
        enabled = providers.update_network_service_provider(conn, admin, nsp["id"], state="Enabled")
        assert enabled["state"] == "Enabled"
        assert "SourceNat" in enabled["servicelist"]

        network = physical_networks.update_physical_network(conn, admin, network["id"], state="Enabled", vlan="100-200")
        assert (network["state"], network["vlan"]) == ("Enabled", "100-200")

        pod = pods.create_pod(
            conn,
            admin,
            zoneid=zone["id"],
            name="POD0",
            gateway="198.18.1.1",
            netmask="255.255.255.0",
            startip="198.18.1.10",
            endip="198.18.1.100",
        )
        assert pod["startip"] == ["198.18.1.10"] and pod["netmask"] == "255.255.255.0"

        public = vlan_ranges.create_vlan_ip_range(
            conn,
            admin,
            zoneid=zone["id"],
            gateway="198.18.2.1",
            netmask="255.255.255.0",
            startip="198.18.2.10",
            endip="198.18.2.50",
            vlan="50",
            forvirtualnetwork=True,
        )
        assert public["forvirtualnetwork"] is True
        assert public["physicalnetworkid"] == network["id"]
        assert public["vlan"] == "vlan://50"

        cluster = clusters.add_cluster(
            conn,
            admin,
            zoneid=zone["id"],
            podid=pod["id"],
            clustername="C0",
            hypervisor="simulator",
            clustertype="CloudManaged",
            cpuovercommitratio=2,
        )[0]
        assert cluster["hypervisortype"] == "Simulator"
        assert cluster["cpuovercommitratio"] == "2.0"

        host = hosts.add_host(
            conn,
            admin,
            zoneid=zone["id"],
            podid=pod["id"],
            clusterid=cluster["id"],
            hypervisor="Simulator",
            url="http://sim/c0/h0",
            username="root",
            password="password",
        )[0]
        listed, _ = hosts.list_hosts(conn, admin, clusterid=cluster["id"], type="Routing")
        assert [item["state"] for item in listed] == ["Up"]
        assert (host["cpunumber"], host["cpuspeed"], host["memorytotal"]) == (4, 8000, 8 << 30)
        assert host["cpuwithoverprovisioning"] == "64000"

        pool = storage_pools.create_storage_pool(
            conn,
            admin,
            zoneid=zone["id"],
            podid=pod["id"],
            clusterid=cluster["id"],
            name="PS0",
            url="nfs://198.18.3.5/export/primary",
        )
        assert (pool["type"], pool["scope"], pool["state"]) == ("NetworkFilesystem", "CLUSTER", "Up")
        assert pool["disksizetotal"] == 1 << 40  # simulated zones report 1 TiB without contacting the URL

        store = image_stores.add_image_store(
            conn, admin, provider="NFS", url="nfs://198.18.3.6/export/secondary", zoneid=zone["id"]
        )
        assert (store["protocol"], store["providername"], store["scope"]) == ("nfs", "NFS", "ZONE")

        opened = zones.update_zone(conn, admin, zone["id"], allocationstate="Enabled")
        assert opened["allocationstate"] == "Enabled"
        cluster_pk = conn.execute(select(cluster_table.c.id).where(cluster_table.c.uuid == cluster["id"])).scalar_one()
        assert scoped_float(conn, CPU_OVERPROVISIONING, "cluster", cluster_pk) == 2.0

    run(build)
