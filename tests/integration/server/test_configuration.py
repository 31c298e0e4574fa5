"""Configuration through the API: global values, values scoped to a zone, and the admin-only rule."""

from __future__ import annotations

import pytest
from cs import CloudStackApiException

from tests.support.server import LiveServer

pytestmark = pytest.mark.integration

THRESHOLD = "pool.storage.capacity.disablethreshold"


def test_global_and_zone_scoped_values(live_server: LiveServer) -> None:
    api = live_server.api
    zone = api.createZone(name="cfg-zone", networktype="Advanced", dns1="192.0.2.1", internaldns1="192.0.2.2")["zone"]
    changed = api.updateConfiguration(name=THRESHOLD, value="0.7", zoneid=zone["id"])["configuration"]
    assert (changed["value"], changed["scope"]) == ("0.7", "zone")
    scoped = api.listConfigurations(name=THRESHOLD, zoneid=zone["id"])["configuration"]
    assert [(row["name"], row["value"], row["scope"]) for row in scoped] == [(THRESHOLD, "0.7", "zone")]
    global_row = api.listConfigurations(name=THRESHOLD)["configuration"][0]
    assert global_row["value"] == global_row["defaultvalue"] == "0.85"
    assert api.updateConfiguration(name="expunge.delay", value="60")["configuration"]["value"] == "60"
    reset = api.updateConfiguration(name="expunge.delay")["configuration"]
    assert reset["value"] == reset["defaultvalue"]
    with pytest.raises(CloudStackApiException) as unknown:
        api.updateConfiguration(name="no.such.setting", value="1")
    assert unknown.value.error["errorcode"] == 431
    with pytest.raises(CloudStackApiException) as missing_zone:
        api.listConfigurations(zoneid="6a1f0f4e-1111-4222-8333-944455556666")
    assert "due to incorrect long value format, or entity does not exist" in missing_zone.value.error["errortext"]
