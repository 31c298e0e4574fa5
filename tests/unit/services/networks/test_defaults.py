"""The network a deployment without networkids gets: the account's isolated network, or the Basic zone's."""

from __future__ import annotations

import pytest
from sqlalchemy import insert, select, update

from provisioner.db.schema import (
    account,
    guest_network,
    ip_address,
    network_offering,
    physical_network,
    physical_network_traffic_type,
    zone,
)
from provisioner.exceptions import ParamError
from provisioner.services.networks.defaults import default_network_for_deploy, implement_network
from tests.unit.services.compute.cloud import Cloud


def _default(cloud: Cloud, name: str = "alice") -> int:
    with cloud.engine.begin() as conn:
        account_row = conn.execute(select(account).where(account.c.id == cloud.accounts[name])).one()
        zone_row = conn.execute(select(zone).where(zone.c.id == cloud.zone_id)).one()
        return default_network_for_deploy(conn, account_row, zone_row)


def test_advanced_zone_creates_the_account_network_once(cloud: Cloud) -> None:
    first = _default(cloud)
    assert _default(cloud) == first
    with cloud.engine.begin() as conn:
        row = conn.execute(select(guest_network).where(guest_network.c.id == first)).one()
        offering = conn.execute(
            select(network_offering.c.name).where(network_offering.c.id == row.network_offering_id)
        ).scalar_one()
        reserved = conn.execute(select(ip_address.c.address).where(ip_address.c.network_id == first)).scalars().all()
    assert (row.name, row.display_text, row.guest_type, row.acl_type, row.state) == (
        "alice-network",
        "alice-network",
        "Isolated",
        "Account",
        "Allocated",
    )
    assert (row.cidr, row.gateway, row.netmask) == ("10.1.1.0/24", "10.1.1.1", "255.255.255.0")
    assert offering == "DefaultIsolatedNetworkOfferingWithSourceNatService"
    assert row.account_id == cloud.accounts["alice"]
    assert row.network_domain == f"cs{cloud.accounts['alice']:x}cloud.internal"
    assert reserved == ["10.1.1.1"]
    # Each account gets its own network.
    other = _default(cloud, "bob")
    assert other != first
    with cloud.engine.begin() as conn:
        implement_network(conn, first)
        assert conn.execute(select(guest_network.c.state).where(guest_network.c.id == first)).scalar_one() == (
            "Implemented"
        )


def test_zone_guest_cidr_is_used(cloud: Cloud) -> None:
    with cloud.engine.begin() as conn:
        conn.execute(update(zone).where(zone.c.id == cloud.zone_id).values(guest_cidr="10.50.0.0/16"))
    network_id = _default(cloud)
    with cloud.engine.begin() as conn:
        row = conn.execute(select(guest_network).where(guest_network.c.id == network_id)).one()
    assert (row.cidr, row.gateway) == ("10.50.0.0/16", "10.50.0.1")


def test_two_isolated_networks_need_networkids(cloud: Cloud) -> None:
    for name in ("a", "b"):
        cloud.network(name, account_id=cloud.accounts["alice"], domain_id=cloud.domain_id, guest_type="Isolated")
    with pytest.raises(ParamError, match="More than 1 default Isolated networks are found for account alice"):
        _default(cloud)


def test_without_a_required_offering_the_error_says_so(cloud: Cloud) -> None:
    with cloud.engine.begin() as conn:
        conn.execute(
            update(network_offering).where(network_offering.c.guest_ip_type == "Isolated").values(state="Disabled")
        )
    with pytest.raises(ParamError, match="availability=Required"):
        _default(cloud)


def test_basic_zone_uses_its_shared_network(cloud: Cloud) -> None:
    with cloud.engine.begin() as conn:
        conn.execute(update(zone).where(zone.c.id == cloud.zone_id).values(network_type="Basic"))
    with pytest.raises(ParamError, match="Unable to find a default guest network in Basic zone z1"):
        _default(cloud)
    shared = cloud.network("guest", guest_type="Shared", acl_type="Domain")
    assert _default(cloud) == shared
    with cloud.engine.begin() as conn:
        count = conn.execute(select(guest_network.c.id)).all()
    assert len(count) == 1


def test_implementing_an_isolated_network_allocates_a_guest_vlan(cloud: Cloud) -> None:
    with cloud.engine.begin() as conn:
        physical_id = conn.execute(
            insert(physical_network).values(name="pn", zone_id=cloud.zone_id, vlan="100-101,105", state="Enabled")
        ).inserted_primary_key[0]  # type: ignore[index]
        conn.execute(
            insert(physical_network_traffic_type).values(physical_network_id=physical_id, traffic_type="Guest")
        )
    # A shared network already holds VLAN 100.
    cloud.network("shared", cidr="10.9.0.0/24", gateway="10.9.0.1", guest_type="Shared", vlan="vlan://100")
    networks = [_default(cloud, name) for name in ("alice", "bob")]
    third = cloud.network(
        "third", cidr="10.7.0.0/24", gateway="10.7.0.1", guest_type="Isolated", physical_network_id=physical_id
    )
    fourth = cloud.network(
        "fourth", cidr="10.8.0.0/24", gateway="10.8.0.1", guest_type="Isolated", physical_network_id=physical_id
    )
    with cloud.engine.begin() as conn:
        for network_id in (*networks, third, fourth):
            implement_network(conn, network_id)
        implement_network(conn, networks[0])  # a second implement changes nothing
        vlans = [
            conn.execute(select(guest_network.c.vlan).where(guest_network.c.id == n)).scalar_one()
            for n in (*networks, third, fourth)
        ]
    assert vlans == ["vlan://101", "vlan://105", None, None]  # the range is used up after two
