"""Apache Libcloud's CloudStack driver (v1 signing, GET only) reads zones and offerings from the real server."""

from __future__ import annotations

import pytest
from libcloud.compute.providers import get_driver
from libcloud.compute.types import Provider

from tests.integration.infrastructure.support import build_zone
from tests.support.server import LiveServer

pytestmark = pytest.mark.integration


def test_list_locations_sizes_and_nodes(live_server: LiveServer) -> None:
    reader = live_server.api
    writer = live_server.client(live_server.apikey, live_server.secretkey, method="post")
    built = build_zone(reader, writer, name="lc-zone")
    writer.createServiceOffering(name="lc-large", displaytext="Large", cpunumber=4, cpuspeed=2000, memory=8192)
    driver = get_driver(Provider.CLOUDSTACK)(
        key=live_server.apikey, secret=live_server.secretkey, url=live_server.url, secure=False
    )

    locations = driver.list_locations()
    assert [(location.id, location.name) for location in locations] == [(built.zone, "lc-zone")]
    sizes = {size.name: size for size in driver.list_sizes()}
    assert {"Small Instance", "Medium Instance", "lc-large"} <= set(sizes)
    assert (sizes["lc-large"].ram, sizes["lc-large"].extra["cpu"]) == (8192, 4)
    # list_nodes always also lists public IPs and forwarding rules; with no VMs every list is {}.
    assert driver.list_nodes() == []
    assert driver.list_nodes(location=locations[0]) == []
