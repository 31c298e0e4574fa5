"""IP allocation (first free, requested, exhausted, conflicts) and MAC allocation (format, uniqueness, release)."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from provisioner.db.schema import guest_network, ip_address, nic
from provisioner.exceptions import InsufficientCapacityError, ParamError, ResourceAllocationError
from provisioner.services.compute import ipam, macs
from provisioner.services.compute.vms import NicRequest, VmSpec, allocate_vm
from tests.unit.services.compute.cloud import Cloud


def allocate(cloud: Cloud, network_id: int, requested: str | None = None) -> str:
    with cloud.engine.begin() as conn:
        return ipam.allocate_ip(conn, ipam.load_range(conn, network_id), requested=requested)


def test_first_free_skips_the_gateway_and_reuses_released_addresses(cloud: Cloud) -> None:
    net = cloud.network()
    assert [allocate(cloud, net) for _ in range(3)] == ["10.1.1.2", "10.1.1.3", "10.1.1.4"]
    with cloud.engine.begin() as conn:
        assert ipam.release_ips(conn, ip_address.c.address == "10.1.1.3") == 1
    assert allocate(cloud, net) == "10.1.1.3"
    assert allocate(cloud, net) == "10.1.1.5"


def test_the_cursor_moves_with_allocations_and_back_on_release(cloud: Cloud) -> None:
    net = cloud.network("wide", cidr="10.8.0.0/22", gateway="10.8.0.1")
    handed = [allocate(cloud, net) for _ in range(300)]
    assert handed == [f"10.8.{n // 256}.{n % 256}" for n in range(2, 302)]
    with cloud.engine.begin() as conn:
        cursor = conn.execute(select(guest_network.c.ip_free_from).where(guest_network.c.id == net)).scalar_one()
        # Moved past every address handed out: it is the first free address (10.8.1.46).
        assert cursor == 0x0A080100 + 46
        assert ipam.release_ips(conn, ip_address.c.address.in_(["10.8.0.200", "10.8.0.7"])) == 2
    assert [allocate(cloud, net) for _ in range(3)] == ["10.8.0.7", "10.8.0.200", "10.8.1.46"]
    # Addresses taken by request above the cursor are stepped over, however many in a row.
    for n in range(47, 47 + ipam.WINDOW + 5):
        allocate(cloud, net, f"10.8.1.{n}")
    assert allocate(cloud, net) == f"10.8.1.{47 + ipam.WINDOW + 5}"


def test_a_network_filled_before_its_cursor_existed_is_searched_once(cloud: Cloud) -> None:
    net = cloud.network("old", cidr="10.7.0.0/23", gateway="10.7.0.1")
    with cloud.engine.begin() as conn:  # as after the upgrade that added the cursor: 200 taken, one gap at .150
        conn.execute(
            insert(ip_address),
            [
                {"network_id": net, "address": f"10.7.0.{n}", "number": 0x0A070000 + n}
                for n in range(2, 202)
                if n != 150
            ],
        )
    assert [allocate(cloud, net) for _ in range(2)] == ["10.7.0.150", "10.7.0.202"]


def test_requested_address(cloud: Cloud) -> None:
    net = cloud.network()
    assert allocate(cloud, net, "10.1.1.200") == "10.1.1.200"
    with pytest.raises(ParamError, match=r"10\.1\.1\.200 is already in use in network n1"):
        allocate(cloud, net, "10.1.1.200")
    with pytest.raises(ParamError, match="already in use"):
        allocate(cloud, net, "10.1.1.1")  # the gateway
    with pytest.raises(ParamError, match=r"not in the range of network n1 \(10\.1\.1\.1-10\.1\.1\.254\)"):
        allocate(cloud, net, "10.2.0.1")
    with pytest.raises(ParamError, match="Invalid IP address"):
        allocate(cloud, net, "10.1.1.300")


def test_start_and_end_ip_bound_the_range_and_exhaustion_is_533(cloud: Cloud) -> None:
    net = cloud.network("small", cidr="10.9.0.0/24", gateway="10.9.0.1", start_ip="10.9.0.10", end_ip="10.9.0.12")
    assert [allocate(cloud, net) for _ in range(3)] == ["10.9.0.10", "10.9.0.11", "10.9.0.12"]
    with pytest.raises(InsufficientCapacityError) as info:
        allocate(cloud, net)
    assert info.value.errortext == (
        "No free IP address in network small (10.9.0.0/24): all 3 addresses of 10.9.0.10-10.9.0.12 are in use"
    )


def test_unique_index_is_the_final_guard_and_a_lost_race_retries(cloud: Cloud, monkeypatch: pytest.MonkeyPatch) -> None:
    net = cloud.network()
    assert allocate(cloud, net) == "10.1.1.2"
    with pytest.raises(IntegrityError), cloud.engine.begin() as conn:
        conn.execute(insert(ip_address).values(network_id=net, address="10.1.1.2", number=0x0A010102))
    # A stale "first free" (another transaction took .2 after we looked) costs one retry, not the transaction.
    real = ipam.first_free
    stale: Iterator[int] = iter([0x0A010102])
    monkeypatch.setattr(
        ipam, "first_free", lambda conn, ip_range, start=None: next(stale, None) or real(conn, ip_range, start)
    )
    assert allocate(cloud, net) == "10.1.1.3"


def test_mac_format() -> None:
    rng = random.Random(1)
    for _ in range(100):
        mac = macs.random_mac(rng)
        assert mac.startswith("02:00:") and len(mac) == 17
        assert all(len(part) == 2 and int(part, 16) >= 0 for part in mac.split(":"))


def _vm(cloud: Cloud, net: int, name: str, source: macs.MacSource) -> tuple[int, str]:
    offering = cloud.offering(name)
    spec = VmSpec(
        name=name,
        zone_id=cloud.zone_id,
        service_offering_id=offering,
        account_id=cloud.accounts["alice"],
        domain_id=cloud.domain_id,
        start=False,
        nics=(NicRequest(net),),
    )
    with cloud.engine.begin() as conn:
        vm = allocate_vm(conn, spec, mac_source=source)
    return vm.id, vm.nics[0][1]


def test_mac_collisions_are_retried_and_released_macs_reused(cloud: Cloud) -> None:
    net = cloud.network()
    draws = iter(["02:00:00:00:00:01", "02:00:00:00:00:01", "02:00:00:00:00:02"])
    first_id, first = _vm(cloud, net, "a", lambda: next(draws))
    _, second = _vm(cloud, net, "b", lambda: next(draws))
    assert (first, second) == ("02:00:00:00:00:01", "02:00:00:00:00:02")
    with pytest.raises(ResourceAllocationError, match="unique MAC"):
        _vm(cloud, net, "c", lambda: "02:00:00:00:00:01")
    with cloud.engine.begin() as conn:
        assert macs.release_vm_nics(conn, first_id) == 1
    _, reused = _vm(cloud, net, "d", lambda: "02:00:00:00:00:01")
    assert reused == "02:00:00:00:00:01"
    with cloud.engine.connect() as conn:
        live = conn.execute(select(nic.c.mac_address).where(nic.c.removed.is_(None))).scalars().all()
        assert sorted(live) == ["02:00:00:00:00:01", "02:00:00:00:00:02"]
