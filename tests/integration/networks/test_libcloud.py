"""Apache Libcloud's CloudStack driver on guest networks, NICs and affinity groups against a live server with a
simulated zone (SQLite and PostgreSQL)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from libcloud.compute.drivers.cloudstack import CloudStackAffinityGroupType
from libcloud.compute.providers import get_driver
from libcloud.compute.types import Provider

from tests.integration.networks.support import simulated_cloud
from tests.support.server import LiveServer

pytestmark = pytest.mark.integration


def test_networks_nics_and_affinity_groups(live_server: LiveServer) -> None:
    cloud = simulated_cloud(live_server)
    driver = get_driver(Provider.CLOUDSTACK)(
        key=live_server.apikey, secret=live_server.secretkey, url=live_server.url, secure=False
    )
    assert driver.ex_list_networks() == []
    location = next(loc for loc in driver.list_locations() if loc.id == cloud.zone)
    size = next(s for s in driver.list_sizes() if s.id == cloud.offering)
    image = next(i for i in driver.list_images(location=location) if i.id == cloud.template)
    node = driver.create_node(name="lc-node", size=size, image=image, location=location)
    # The node got the account's default network, created with it; a second network is added beside it.
    # ex_list_network_offerings() reads ``serviceofferingid``, which listNetworkOfferings (infrastructure area) does
    # not answer for offerings without a router offering; ex_create_network needs only the offering's id.
    rows = live_server.api.listNetworkOfferings(name="DefaultIsolatedNetworkOfferingWithSourceNatService")
    offering = SimpleNamespace(id=rows["networkoffering"][0]["id"])
    created = driver.ex_create_network("Web tier", "lc-web", offering, location, "10.60.0.1", "255.255.255.0")
    listed = {net.name: net for net in driver.ex_list_networks()}
    assert set(listed) == {"admin-network", "lc-web"}
    assert (listed["lc-web"].id, listed["lc-web"].displaytext, listed["lc-web"].zoneid) == (
        created.id,
        "Web tier",
        cloud.zone,
    )
    assert listed["lc-web"].extra["netmask"] == "255.255.255.0"

    nics = driver.ex_list_nics(node)
    assert len(nics) == 1 and nics[0].is_default
    assert driver.ex_attach_nic_to_node(node, created, ip_address="10.60.0.9") is True
    added = next(nic for nic in driver.ex_list_nics(node) if nic.network_id == created.id)
    assert (added.ip_address, added.is_default, added.gateway) == ("10.60.0.9", False, "10.60.0.1")
    assert driver.ex_detach_nic_from_node(added, node) is True
    assert [nic.network_id for nic in driver.ex_list_nics(node)] == [nics[0].network_id]
    driver.ex_delete_network(created)
    assert [net.name for net in driver.ex_list_networks()] == ["admin-network"]

    types = [t.type for t in driver.ex_list_affinity_group_types()]
    assert types == ["host anti-affinity", "host affinity"]
    group = driver.ex_create_affinity_group("lc-spread", CloudStackAffinityGroupType("host anti-affinity"))
    assert [(g.id, g.name, g.type.type) for g in driver.ex_list_affinity_groups()] == [
        (group.id, "lc-spread", "host anti-affinity")
    ]
    assert driver.ex_delete_affinity_group(group) is True
    assert driver.ex_list_affinity_groups() == []
