"""Apache Libcloud's CloudStack driver runs the node lifecycle against the real server on a simulated zone."""

from __future__ import annotations

import pytest
from libcloud.compute.providers import get_driver
from libcloud.compute.types import NodeState, Provider

from tests.integration.networks.support import simulated_cloud
from tests.support.server import LiveServer

pytestmark = pytest.mark.integration


def test_create_list_reboot_destroy_nodes(live_server: LiveServer) -> None:
    cloud = simulated_cloud(live_server)
    driver = get_driver(Provider.CLOUDSTACK)(
        key=live_server.apikey, secret=live_server.secretkey, url=live_server.url, secure=False
    )
    location = next(loc for loc in driver.list_locations() if loc.id == cloud.zone)
    size = next(s for s in driver.list_sizes() if s.id == cloud.offering)
    image = next(i for i in driver.list_images(location=location) if i.id == cloud.template)

    # Libcloud sends startvm=false unless told otherwise, and then the VM stays Stopped, as in CloudStack.
    parked = driver.create_node(name="lc-parked", size=size, image=image, location=location)
    assert parked.state == NodeState.STOPPED
    assert driver.destroy_node(parked) is True
    node = driver.create_node(name="lc-node", size=size, image=image, location=location, ex_start_vm=True)
    assert node.state == NodeState.RUNNING and node.name == "lc-node"
    assert node.private_ips, "the default NIC's address is the node's private IP"

    nodes = {n.id: n for n in driver.list_nodes()}
    assert node.id in nodes
    assert nodes[node.id].state == NodeState.RUNNING
    assert nodes[node.id].private_ips == node.private_ips

    assert driver.reboot_node(nodes[node.id]) is True
    assert driver.ex_stop(nodes[node.id]) == "Stopped"
    assert driver.ex_start(nodes[node.id]) == "Running"
    assert driver.destroy_node(nodes[node.id]) is True
    assert {n.id: n.state for n in driver.list_nodes()} == {
        node.id: NodeState.TERMINATED,
        parked.id: NodeState.TERMINATED,
    }
