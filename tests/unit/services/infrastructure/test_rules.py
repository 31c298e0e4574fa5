"""CloudStack's rules: admin only, unknown ids, in-use deletes, ranges, hypervisors, host states."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Connection, select

from provisioner.compute.types import HostFacts
from provisioner.db.schema import host as host_table
from provisioner.exceptions import (
    HostUnreachableError,
    InternalError,
    ParamError,
    PermissionDeniedError,
    ResourceInUseError,
)
from provisioner.services.infrastructure import (
    clusters,
    hosts,
    physical_networks,
    pods,
    storage_pools,
    vlan_ranges,
    zones,
)
from provisioner.services.infrastructure.connectors import HostConnectRequest
from provisioner.services.infrastructure.host_states import (
    cancel_host_maintenance,
    mark_silent_hosts,
    prepare_host_for_maintenance,
    reconnect_host,
    record_ping,
)
from provisioner.services.principal import Caller
from tests.unit.services.infrastructure.builders import add_pool, sim_zone
from tests.unit.services.infrastructure.conftest import Run

UNKNOWN = "5a6f3c3e-0000-4000-8000-000000000000"


def test_infrastructure_is_root_admin_only(run: Run[object], admin: Caller, user: Caller) -> None:
    with pytest.raises(PermissionDeniedError) as error:
        run(
            lambda conn: zones.create_zone(
                conn, user, name="z", networktype="Basic", dns1="8.8.8.8", internaldns1="1.1.1.1"
            )
        )
    assert error.value.errorcode == 531
    with pytest.raises(PermissionDeniedError):
        run(lambda conn: hosts.list_hosts(conn, user))

    def user_sees_enabled_zones_only(conn: Connection) -> None:
        sim = sim_zone(conn, admin, host_count=0)
        assert zones.list_zones(conn, user) == ([], 0)
        zones.update_zone(conn, admin, sim.zone, allocationstate="Enabled")
        assert zones.list_zones(conn, user)[1] == 1

    run(user_sees_enabled_zones_only)


def test_unknown_ids_use_cloudstacks_text(run: Run[object], admin: Caller) -> None:
    with pytest.raises(ParamError) as error:
        run(lambda conn: zones.delete_zone(conn, admin, UNKNOWN))
    assert error.value.errortext == (
        f"Invalid parameter id value={UNKNOWN} due to incorrect long value format, or entity does not exist or "
        "due to incorrect parameter annotation for the field in api cmd class."
    )
    with pytest.raises(ParamError, match=f"Invalid parameter zoneid value={UNKNOWN} "):
        run(lambda conn: pods.create_pod(conn, admin, zoneid=UNKNOWN, name="p"))


def test_deleting_what_is_in_use(run: Run[object], admin: Caller) -> None:
    sim = run(lambda conn: sim_zone(conn, admin, host_count=1))
    with pytest.raises(ResourceInUseError, match="The zone is not deletable because there are servers in this zone"):
        run(lambda conn: zones.delete_zone(conn, admin, sim.zone))
    with pytest.raises(ResourceInUseError, match="hosts exist in this cluster") as error:
        run(lambda conn: clusters.delete_cluster(conn, admin, sim.cluster))
    assert error.value.errorcode == 536
    with pytest.raises(ResourceInUseError, match="there are servers in this pod"):
        run(lambda conn: pods.delete_pod(conn, admin, sim.pod))
    with pytest.raises(InternalError, match="not in maintenance mode"):
        run(lambda conn: hosts.delete_host(conn, admin, sim.hosts[0]))
    run(lambda conn: hosts.delete_host(conn, admin, sim.hosts[0], forced=True))
    pool = run(lambda conn: add_pool(conn, admin, sim))
    with pytest.raises(ResourceInUseError, match="primary storage pools exist in it"):
        run(lambda conn: clusters.delete_cluster(conn, admin, sim.cluster))
    with pytest.raises(ResourceInUseError, match="associated non-destroyed vols"):
        run(lambda conn: storage_pools.delete_storage_pool(conn, admin, pool, in_use=lambda _uuid: True))
    run(lambda conn: storage_pools.delete_storage_pool(conn, admin, pool))
    run(lambda conn: clusters.delete_cluster(conn, admin, sim.cluster))
    with pytest.raises(ResourceInUseError, match="there are pods in this zone"):
        run(lambda conn: zones.delete_zone(conn, admin, sim.zone))
    run(lambda conn: pods.delete_pod(conn, admin, sim.pod))
    run(lambda conn: zones.delete_zone(conn, admin, sim.zone))


def test_pod_range_must_fit_the_gateway_network(run: Run[object], admin: Caller) -> None:
    zone = run(
        lambda conn: zones.create_zone(
            conn, admin, name="z", networktype="Advanced", dns1="8.8.8.8", internaldns1="8.8.4.4"
        )
    )
    cases = {
        ("10.0.0.1", "255.255.255.0", "10.0.1.5", None): "start address of the IP range is not in the CIDR",
        ("10.0.0.1", "255.255.255.0", "10.0.0.5", "10.0.1.9"): "end address of the IP range is not in the CIDR",
        ("10.0.0.1", "255.255.255.0", "10.0.0.50", "10.0.0.10"): "lower value than the end",
        ("10.0.0.20", "255.255.255.0", "10.0.0.10", "10.0.0.30"): "gateway shouldn't overlap",
        ("10.0.0.1", "255.255.255.0", "not-an-ip", None): "valid IP address",
    }
    for (gateway, netmask, start, end), text in cases.items():
        with pytest.raises(ParamError, match=text):
            run(
                lambda conn, g=gateway, n=netmask, s=start, e=end: pods.create_pod(
                    conn, admin, zoneid=zone["id"], name="p", gateway=g, netmask=n, startip=s, endip=e
                )
            )
    pod = run(
        lambda conn: pods.create_pod(
            conn, admin, zoneid=zone["id"], name="p", gateway="10.0.0.1", netmask="255.255.255.0", startip="10.0.0.10"
        )
    )
    assert pod["endip"] == ["10.0.0.254"]
    with pytest.raises(ParamError, match="already exists in zone z"):
        run(lambda conn: pods.create_pod(conn, admin, zoneid=zone["id"], name="p"))


def test_names_and_spellings(run: Run[object], admin: Caller) -> None:
    sim = run(lambda conn: sim_zone(conn, admin, host_count=0))
    assert clusters.hypervisor_name("vmware") == "VMware"
    assert clusters.hypervisor_name("XENSERVER") == "XenServer"
    with pytest.raises(ParamError, match="Unable to resolve Hypervisor type: Qemu"):
        clusters.hypervisor_name("Qemu")
    with pytest.raises(ParamError, match="A zone with that name already exists"):
        run(
            lambda conn: zones.create_zone(
                conn, admin, name="z1", networktype="Basic", dns1="8.8.8.8", internaldns1="8.8.4.4"
            )
        )
    with pytest.raises(ParamError, match="whose hypervisor type is: Simulator"):
        run(
            lambda conn: hosts.add_host(
                conn,
                admin,
                zoneid=sim.zone,
                podid=sim.pod,
                clusterid=sim.cluster,
                hypervisor="KVM",
                url="http://10.0.0.5",
            )
        )
    basic = run(
        lambda conn: zones.create_zone(
            conn, admin, name="b", networktype="basic", dns1="8.8.8.8", internaldns1="8.8.4.4"
        )
    )
    assert (basic["networktype"], basic["securitygroupsenabled"], basic["guestcidraddress"]) == ("Basic", True, None)


def test_simulator_hosts_come_up_with_cloudstack_defaults(run: Run[object], admin: Caller) -> None:
    def check(conn: Connection) -> None:
        sim = sim_zone(conn, admin, host_count=1)
        host = hosts.list_hosts(conn, admin, id=sim.hosts[0])[0][0]
        assert (host["state"], host["resourcestate"], host["type"], host["hypervisor"]) == (
            "Up",
            "Enabled",
            "Routing",
            "Simulator",
        )
        assert (host["cpunumber"], host["cpuspeed"], host["memorytotal"]) == (4, 8000, 8 << 30)
        assert host["cpuallocated"] == "0%" and host["lastpinged"] is not None
        custom = hosts.add_host(
            conn,
            admin,
            zoneid=sim.zone,
            podid=sim.pod,
            clustername="z1-c1",
            hypervisor="Simulator",
            url="http://sim/z1-c1/big&cpuspeed=2400&cpucore=16&memory=68719476736",
            hosttags="big",
        )[0]
        assert (custom["cpunumber"], custom["cpuspeed"], custom["memorytotal"]) == (16, 2400, 64 << 30)
        assert custom["hosttags"] == "big" and custom["clusterid"] == sim.cluster
        with pytest.raises(ParamError, match="already exists"):
            hosts.add_host(
                conn,
                admin,
                zoneid=sim.zone,
                podid=sim.pod,
                clusterid=sim.cluster,
                hypervisor="Simulator",
                url="http://sim/z1-c1/h0",
            )

    run(check)


def test_add_host_goes_through_the_connector(run: Run[object], admin: Caller) -> None:
    seen: list[HostConnectRequest] = []

    def kvm(request: HostConnectRequest) -> HostFacts:
        seen.append(request)
        return HostFacts("kvm1", 2, 32, 64, 2600, 128 << 30, "KVM", "8.0.0", capabilities=frozenset({"kvm"}))

    def unreachable(request: HostConnectRequest) -> HostFacts:
        raise HostUnreachableError(f"{request.driver_uri} does not answer")

    def check(conn: Connection) -> None:
        sim = sim_zone(conn, admin, host_count=0)
        cluster = clusters.add_cluster(
            conn, admin, zoneid=sim.zone, podid=sim.pod, clustername="kvm", hypervisor="kvm"
        )[0]
        host = hosts.add_host(
            conn,
            admin,
            zoneid=sim.zone,
            podid=sim.pod,
            clusterid=cluster["id"],
            hypervisor="KVM",
            url="http://198.18.0.20",
            username="cloud",
            password="secret",
            connector=kvm,
        )[0]
        assert seen[0].driver == "libvirt" and seen[0].driver_uri == "qemu+ssh://cloud@198.18.0.20/system"
        assert (host["name"], host["ipaddress"], host["cpunumber"], host["capabilities"]) == (
            "kvm1",
            "198.18.0.20",
            32,
            "kvm",
        )
        stored = conn.exec_driver_sql("SELECT credential FROM host WHERE name = 'kvm1'").scalar_one()
        assert stored is None  # no SecretBox given: the password is not kept at all, never in clear
        referenced = hosts.add_host(
            conn,
            admin,
            zoneid=sim.zone,
            podid=sim.pod,
            clusterid=cluster["id"],
            hypervisor="KVM",
            url="http://198.18.0.22",
            password_ref="env:KVM_ROOT_PASSWORD",
            connector=kvm,
        )[0]
        stored = conn.execute(select(host_table.c.credential).where(host_table.c.uuid == referenced["id"])).scalar_one()
        assert stored == "env:KVM_ROOT_PASSWORD"
        with pytest.raises(ParamError, match="Invalid credential reference"):
            hosts.add_host(
                conn,
                admin,
                zoneid=sim.zone,
                podid=sim.pod,
                clusterid=cluster["id"],
                hypervisor="KVM",
                url="http://198.18.0.23",
                password_ref="hunter2",
                connector=kvm,
            )
        with pytest.raises(InternalError, match=r"Unable to add the host: .* does not answer"):
            hosts.add_host(
                conn,
                admin,
                zoneid=sim.zone,
                podid=sim.pod,
                clusterid=cluster["id"],
                hypervisor="KVM",
                url="http://198.18.0.21",
                connector=unreachable,
            )
        with pytest.raises(InternalError, match="Failed to reconnect"):
            reconnect_host(conn, admin, host["id"], connector=unreachable)
        assert hosts.list_hosts(conn, admin, id=host["id"])[0][0]["state"] == "Alert"
        assert reconnect_host(conn, admin, host["id"], connector=kvm)["state"] == "Up"

    run(check)


def test_host_maintenance_transitions(run: Run[object], admin: Caller) -> None:
    def check(conn: Connection) -> None:
        sim = sim_zone(conn, admin, host_count=2)
        first, second = sim.hosts
        with pytest.raises(ParamError, match="Cannot perform cancelMaintenance when resource state is Enabled"):
            cancel_host_maintenance(conn, admin, first)
        assert prepare_host_for_maintenance(conn, admin, first)["resourcestate"] == "Maintenance"
        with pytest.raises(ParamError, match="resource state is Maintenance"):
            prepare_host_for_maintenance(conn, admin, first)
        with pytest.raises(ParamError, match="Cannot transit"):
            hosts.update_host(conn, admin, first, allocationstate="Enable")
        assert cancel_host_maintenance(conn, admin, first)["resourcestate"] == "Enabled"
        stuck = prepare_host_for_maintenance(conn, admin, second, evacuate=lambda _uuid: False)
        assert stuck["resourcestate"] == "ErrorInPrepareForMaintenance"
        assert cancel_host_maintenance(conn, admin, second)["resourcestate"] == "Enabled"
        assert hosts.update_host(conn, admin, second, allocationstate="Disable")["resourcestate"] == "Disabled"
        assert prepare_host_for_maintenance(conn, admin, second)["resourcestate"] == "Maintenance"

        # Heartbeats: silent hosts go to Alert (PingTimeout), a ping brings them back Up.
        assert sorted(mark_silent_hosts(conn, timedelta(seconds=-1))) == sorted(sim.hosts)
        assert {row["state"] for row in hosts.list_hosts(conn, admin)[0]} == {"Alert"}
        record_ping(conn, [conn.execute(select(host_table.c.id).where(host_table.c.uuid == first)).scalar_one()])
        assert hosts.list_hosts(conn, admin, id=first)[0][0]["state"] == "Up"

    run(check)


def test_networks_and_ranges(run: Run[object], admin: Caller) -> None:
    def check(conn: Connection) -> None:
        sim = sim_zone(conn, admin, host_count=0)
        network = physical_networks.create_physical_network(conn, admin, zoneid=sim.zone, name="pn")
        physical_networks.add_traffic_type(conn, admin, physicalnetworkid=network["id"], traffictype="public")
        with pytest.raises(ParamError, match="already added"):
            physical_networks.add_traffic_type(conn, admin, physicalnetworkid=network["id"], traffictype="Public")
        with pytest.raises(ParamError, match="valid vlan range"):
            physical_networks.update_physical_network(conn, admin, network["id"], vlan="300-200")
        args = {"zoneid": sim.zone, "gateway": "198.18.5.1", "netmask": "255.255.255.0"}
        created = vlan_ranges.create_vlan_ip_range(conn, admin, startip="198.18.5.10", endip="198.18.5.20", **args)
        assert (created["vlan"], created["physicalnetworkid"], created["forvirtualnetwork"]) == (
            "untagged",
            network["id"],
            True,
        )
        with pytest.raises(ParamError, match="overlap"):
            vlan_ranges.create_vlan_ip_range(conn, admin, startip="198.18.5.15", endip="198.18.5.30", **args)
        with pytest.raises(ResourceInUseError, match="IP ranges still use it"):
            physical_networks.delete_physical_network(conn, admin, network["id"])
        with pytest.raises(ResourceInUseError, match="some IPs are in use"):
            vlan_ranges.delete_vlan_ip_range(conn, admin, created["id"], in_use=lambda _uuid: True)
        vlan_ranges.delete_vlan_ip_range(conn, admin, created["id"])
        assert vlan_ranges.list_vlan_ip_ranges(conn, admin, zoneid=sim.zone) == ([], 0)
        physical_networks.delete_physical_network(conn, admin, network["id"])
        assert physical_networks.list_physical_networks(conn, admin) == ([], 0)

    run(check)
