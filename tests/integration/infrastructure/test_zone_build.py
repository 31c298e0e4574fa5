"""The canonical zone build (reference §14) through ``cs`` against the real server, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from cs import CloudStackApiException

from tests.integration.infrastructure.support import build_zone
from tests.support.server import LiveServer

pytestmark = pytest.mark.integration


def test_canonical_zone_build_get_and_post(live_server: LiveServer) -> None:
    reader = live_server.api
    writer = live_server.client(live_server.apikey, live_server.secretkey, method="post")
    built = build_zone(reader, writer)

    host = reader.listHosts(id=built.host)["host"][0]
    assert (host["state"], host["resourcestate"], host["type"]) == ("Up", "Enabled", "Routing")
    assert (host["cpunumber"], host["cpuspeed"], host["memorytotal"]) == (4, 8000, 8 << 30)
    assert host["cpuallocated"] == "0%" and host["clusterid"] == built.cluster and host["zoneid"] == built.zone
    zones = reader.listZones(id=built.zone, showcapacities=True)
    assert zones["count"] == 1
    capacity = {item["type"]: item for item in zones["zone"][0]["capacity"]}
    assert capacity[1]["capacitytotal"] == 32000 and capacity[2]["capacitytotal"] == 1 << 40
    assert reader.listStoragePools(zoneid=built.zone)["storagepool"][0]["state"] == "Up"
    assert reader.listImageStores(zoneid=built.zone)["imagestore"][0]["providername"] == "NFS"
    assert reader.listVlanIpRanges(zoneid=built.zone)["vlaniprange"][0]["vlan"] == "vlan://50"
    assert {item["type"] for item in reader.listCapacity(zoneid=built.zone)["capacity"]} >= {0, 1, 2, 3, 6}
    assert reader.listHypervisors(zoneid=built.zone)["hypervisor"] == [{"name": "Simulator"}]
    assert reader.listStorageProviders(type="primary")["dataStoreProvider"][0]["name"] == "DefaultPrimary"

    # Host maintenance and reconnect are async: cs polls them to their results.
    assert writer.prepareHostForMaintenance(id=built.host)["host"]["resourcestate"] == "Maintenance"
    assert writer.cancelHostMaintenance(id=built.host)["host"]["resourcestate"] == "Enabled"
    assert writer.reconnectHost(id=built.host)["host"]["state"] == "Up"
    assert writer.enableStorageMaintenance(id=built.pool)["storagepool"]["state"] == "Maintenance"
    assert writer.cancelStorageMaintenance(id=built.pool)["storagepool"]["state"] == "Up"

    # Teardown in reverse; the zone refuses to go while something is in it (536).
    with pytest.raises(CloudStackApiException) as in_use:
        writer.deleteZone(id=built.zone)
    assert in_use.value.error["errorcode"] == 536
    writer.prepareHostForMaintenance(id=built.host)
    assert writer.deleteHost(id=built.host) == {"success": True}
    assert writer.deleteStoragePool(id=built.pool) == {"success": True}
    assert writer.deleteImageStore(id=built.store) == {"success": True}
    assert writer.deleteCluster(id=built.cluster) == {"success": True}
    assert writer.deleteVlanIpRange(id=built.public_range) == {"success": True}
    assert writer.deletePod(id=built.pod) == {"success": True}
    assert writer.deletePhysicalNetwork(id=built.physical_network) == {"success": True}
    assert writer.deleteZone(id=built.zone) == {"success": True}
    assert reader.listZones() == {}
    with pytest.raises(CloudStackApiException) as gone:
        reader.listZones(id=built.zone)
    assert "due to incorrect long value format, or entity does not exist" in gone.value.error["errortext"]


def test_list_paging_and_counts(live_server: LiveServer) -> None:
    reader = live_server.api
    writer = live_server.client(live_server.apikey, live_server.secretkey, method="post")
    built = build_zone(reader, writer)
    for index in range(1, 6):
        writer.addHost(
            url=f"http://sim/z1-c0/h{index}",
            hypervisor="Simulator",
            podid=built.pod,
            zoneid=built.zone,
            clusterid=built.cluster,
        )
    first = reader.listHosts(page=1, pagesize=4)
    second = reader.listHosts(page=2, pagesize=4)
    assert (first["count"], second["count"], len(first["host"]), len(second["host"])) == (6, 6, 4, 2)
    assert {h["id"] for h in first["host"]}.isdisjoint(h["id"] for h in second["host"])
    assert len(reader.listHosts(fetch_list=True)) == 6
    assert reader.listHosts(name="no-such-host") == {}
    assert (
        reader.listHosts(clusterid=built.cluster, state="Up", resourcestate="Enabled", hypervisor="simulator")["count"]
        == 6
    )


def test_users_see_public_lists_only(live_server: LiveServer) -> None:
    reader = live_server.api
    writer = live_server.client(live_server.apikey, live_server.secretkey, method="post")
    build_zone(reader, writer)
    account = writer.createAccount(
        username="u1", password="Pw-123456", email="u@example.org", firstname="U", lastname="One", accounttype=0
    )["account"]
    user_id = account["user"][0]["id"]
    keys = writer.registerUserKeys(id=user_id)["userkeys"]
    user = live_server.client(keys["apikey"], keys["secretkey"])
    assert [zone["name"] for zone in user.listZones()["zone"]] == ["z1"]
    assert {o["name"] for o in user.listServiceOfferings()["serviceoffering"]} >= {"Small Instance", "Medium Instance"}
    assert user.listOsTypes(description="Ubuntu 22.04 LTS").get("count", 0) <= 1
    assert user.listHypervisors()["count"] >= 1
    assert user.listRegions()["region"][0]["id"] == 1
    for command in ("listHosts", "listClusters", "listPods", "listStoragePools", "listCapacity"):
        with pytest.raises(CloudStackApiException) as refused:
            getattr(user, command)()
        assert refused.value.error["errorcode"] == 401, command
