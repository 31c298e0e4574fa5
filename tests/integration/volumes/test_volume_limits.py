"""Resource limits through the API: ``updateResourceLimit`` by an admin, ``listResourceLimits`` and
``updateResourceCount``, and ``createVolume`` past an account's volume or primary storage limit refused with
CloudStack's 535 (``ResourceAllocationException``); likewise registerTemplate."""

from __future__ import annotations

import pytest
from cs import CloudStackApiException

from tests.integration.volumes.support import VolumeCloud, build_volume_cloud
from tests.support.server import LiveServer

pytestmark = pytest.mark.integration


@pytest.fixture
def cloud(live_server: LiveServer) -> VolumeCloud:
    """The simulated cloud of the volume tests."""
    return build_volume_cloud(live_server)


def test_create_volume_past_the_account_limits_is_a_535(cloud: VolumeCloud) -> None:
    root, alice, dadmin = cloud.clients["root"], cloud.clients["alice"], cloud.clients["dadmin"]
    me = alice.listAccounts()["account"][0]
    domain = me["domainid"]
    limits = alice.listResourceLimits()["resourcelimit"]
    assert len(limits) == 12 and limits[2] == {
        "account": "alice",
        "domainid": domain,
        "domain": "d1",
        "domainpath": "ROOT/d1",
        "resourcetype": "2",
        "resourcetypename": "volume",
        "max": 20,
    }
    with pytest.raises(CloudStackApiException) as refused:  # a user may not call it at all
        alice.updateResourceLimit(resourcetype=2, max=100)
    assert int(refused.value.error["errorcode"]) == 401

    first = alice.createVolume(name="one", zoneid=cloud.zone.zone, diskofferingid=cloud.fixed)["volume"]
    changed = dadmin.updateResourceLimit(resourcetype=2, max=1, account="alice", domainid=domain)["resourcelimit"]
    assert (changed["resourcetypename"], changed["max"]) == ("volume", 1)
    with pytest.raises(CloudStackApiException) as refused:
        alice.createVolume(name="two", zoneid=cloud.zone.zone, diskofferingid=cloud.fixed)
    assert int(refused.value.error["errorcode"]) == 535
    assert refused.value.error["errortext"] == (
        f"Maximum number of resources of type 'volume' for account name=alice in domain id={domain} has been exceeded."
    )

    root.updateResourceLimit(resourcetype=2, max=-1, account="alice", domainid=domain)
    root.updateResourceLimit(resourcetype=10, max=6, account="alice", domainid=domain)  # GiB; 5 used
    with pytest.raises(CloudStackApiException) as refused:
        alice.createVolume(name="big", zoneid=cloud.zone.zone, diskofferingid=cloud.fixed)
    assert int(refused.value.error["errorcode"]) == 535
    assert "'primary_storage'" in refused.value.error["errortext"]

    root.updateResourceLimit(resourcetype=4, max=0, account="alice", domainid=domain)
    with pytest.raises(CloudStackApiException) as refused:
        alice.registerTemplate(
            name="mine",
            displaytext="mine",
            url="http://198.18.0.9/mine.qcow2",
            format="QCOW2",
            hypervisor="Simulator",
            zoneid=cloud.zone.zone,
            ostypeid=alice.listOsTypes()["ostype"][0]["id"],
        )
    assert (int(refused.value.error["errorcode"]), "'template'" in refused.value.error["errortext"]) == (535, True)

    counts = root.updateResourceCount(domainid=domain, account="alice")["resourcecount"]
    by_name = {row["resourcetypename"]: row["resourcecount"] for row in counts}
    assert (by_name["volume"], by_name["primary_storage"]) == (1, 5 << 30)
    assert alice.listVolumes(id=first["id"])["volume"][0]["name"] == "one"
