"""The VM lifecycle through ``cs`` against the real server on a simulated zone (SQLite and PostgreSQL)."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from cs import CloudStackApiException

from tests.integration.networks.support import error_code, error_text, make_people, simulated_cloud
from tests.support.server import LiveServer

pytestmark = pytest.mark.integration

USERDATA = base64.b64encode(b"#cloud-config\nruncmd: [echo hello]\n").decode()


def _failure(call: Any, **params: Any) -> tuple[int, str]:
    """The (errorcode, errortext) ``call`` fails with, synchronously or in its job."""
    try:
        answer = call(**params)
    except CloudStackApiException as exc:
        return int(exc.error["errorcode"]), str(exc.error["errortext"])
    raise AssertionError(f"expected an error, got {answer}")


def test_deploy_list_stop_start_reboot_destroy_recover_expunge(live_server: LiveServer) -> None:
    api = live_server.api
    cloud = simulated_cloud(live_server)
    api.registerSSHKeyPair(
        name="k1",
        publickey="ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGVhc3kgZWFzeSBlYXN5IGVhc3kgZWFzeSBlYXN5IGVh test@host",
    )
    # No networkids in an Advanced zone: the account's default isolated network is created with the VM.
    vm = api.deployVirtualMachine(
        zoneid=cloud.zone,
        serviceofferingid=cloud.offering,
        templateid=cloud.template,
        name="web-1",
        displayname="Web one",
        keypair="k1",
        userdata=USERDATA,
    )["virtualmachine"]
    assert (vm["state"], vm["name"], vm["displayname"]) == ("Running", "web-1", "Web one")
    assert vm["keypairs"] == "k1" and vm["hostid"] in cloud.hosts and vm["instancename"].startswith("i-")
    assert len(vm["nic"]) == 1 and vm["nic"][0]["isdefault"] is True and vm["nic"][0]["macaddress"]
    network = api.listNetworks(id=vm["nic"][0]["networkid"])["network"][0]
    assert network["name"] == "admin-network"
    listed = api.listVirtualMachines(id=vm["id"])
    assert listed["count"] == 1 and listed["virtualmachine"][0]["nic"][0]["ipaddress"] == vm["nic"][0]["ipaddress"]
    assert api.listVirtualMachines(name="web-1", details="all")["count"] == 1
    assert api.listVirtualMachines(state="Stopped") == {}
    assert api.getVirtualMachineUserData(virtualmachineid=vm["id"])["virtualmachineuserdata"]["userdata"] == USERDATA

    stopped = api.stopVirtualMachine(id=vm["id"])["virtualmachine"]
    assert stopped["state"] == "Stopped" and "hostid" not in stopped
    assert api.startVirtualMachine(id=vm["id"])["virtualmachine"]["state"] == "Running"
    assert api.rebootVirtualMachine(id=vm["id"])["virtualmachine"]["state"] == "Running"
    renamed = api.updateVirtualMachine(id=vm["id"], displayname="Web 1", group="web")["virtualmachine"]
    assert (renamed["displayname"], renamed["group"]) == ("Web 1", "web")

    api.createTags(resourceids=vm["id"], resourcetype="UserVm", tags=[{"key": "tier", "value": "front"}])
    tagged = api.listVirtualMachines(tags=[{"key": "tier", "value": "front"}])["virtualmachine"]
    assert [t["key"] for t in tagged[0]["tags"]] == ["tier"]
    assert api.listVirtualMachines(tags=[{"key": "tier", "value": "back"}]) == {}

    assert api.destroyVirtualMachine(id=vm["id"])["virtualmachine"]["state"] == "Destroyed"
    assert api.recoverVirtualMachine(id=vm["id"])["virtualmachine"]["state"] == "Stopped"
    api.destroyVirtualMachine(id=vm["id"], expunge=True)
    assert api.listVirtualMachines(id=vm["id"]) == {}
    assert error_code(api.startVirtualMachine, id=vm["id"]) == 431  # gone: unknown id


def test_errors_and_no_capacity(live_server: LiveServer) -> None:
    api = live_server.api
    cloud = simulated_cloud(live_server)
    base = {"zoneid": cloud.zone, "serviceofferingid": cloud.offering, "templateid": cloud.template}
    assert "Invalid name" in error_text(api.deployVirtualMachine, name="-bad", **base)
    assert error_code(api.deployVirtualMachine, keypair="missing", **base) == 431
    assert (
        error_code(
            api.deployVirtualMachine, templateid=cloud.offering, zoneid=cloud.zone, serviceofferingid=cloud.offering
        )
        == 431
    )
    huge = api.createServiceOffering(name="huge", displaytext="huge", cpunumber=1, cpuspeed=500, memory=64 * 1024)
    code, text = _failure(
        api.deployVirtualMachine, name="huge", **{**base, "serviceofferingid": huge["serviceoffering"]["id"]}
    )
    assert code == 533, text
    assert api.listVirtualMachines(name="huge", listall=True) == {}, "a failed deployment must not linger"
    vm = api.deployVirtualMachine(name="later", startvm=False, **base)["virtualmachine"]
    assert vm["state"] == "Stopped"
    assert error_code(api.rebootVirtualMachine, id=vm["id"]) == 431
    assert error_code(api.expungeVirtualMachine, id=vm["id"]) == 431


def test_permissions_users_see_only_their_vms(live_server: LiveServer) -> None:
    api = live_server.api
    cloud = simulated_cloud(live_server)
    people = make_people(live_server)
    base = {"zoneid": cloud.zone, "serviceofferingid": cloud.offering, "templateid": cloud.template}
    alice, bob, dadmin, eve = (people.clients[n] for n in ("alice", "bob", "dadmin", "eve"))
    mine = alice.deployVirtualMachine(name="a1", **base)["virtualmachine"]
    assert "hostid" not in mine and "instancename" not in mine and "hostname" not in mine
    assert [v["id"] for v in alice.listVirtualMachines()["virtualmachine"]] == [mine["id"]]
    assert bob.listVirtualMachines() == {} and bob.listVirtualMachines(listall=True) == {}
    assert eve.listVirtualMachines(listall=True) == {}
    assert error_code(bob.stopVirtualMachine, id=mine["id"]) == 531
    assert error_code(eve.listVirtualMachines, domainid=people.ids["d1"], account="alice") == 531
    # The domain admin of d1 sees alice's VM with listall (and acts on it); root sees it with its host.
    assert [v["id"] for v in dadmin.listVirtualMachines(listall=True)["virtualmachine"]] == [mine["id"]]
    assert dadmin.listVirtualMachines() == {}
    seen = api.listVirtualMachines(listall=True, account="alice", domainid=people.ids["d1"])["virtualmachine"]
    assert seen[0]["hostid"] in cloud.hosts
    assert dadmin.stopVirtualMachine(id=mine["id"])["virtualmachine"]["state"] == "Stopped"
    # Users may not expunge or recover unless allow.user.expunge.recover.vm says so.
    alice.destroyVirtualMachine(id=mine["id"])
    assert error_code(alice.recoverVirtualMachine, id=mine["id"]) == 531
    assert dadmin.recoverVirtualMachine(id=mine["id"])["virtualmachine"]["state"] == "Stopped"


def test_filters_resets_data_disk_and_details(live_server: LiveServer) -> None:
    api = live_server.api
    cloud = simulated_cloud(live_server)
    base = {"zoneid": cloud.zone, "serviceofferingid": cloud.offering, "templateid": cloud.template}
    disk = api.createDiskOffering(name="d5", displaytext="d5", disksize=5)["diskoffering"]
    vm = api.deployVirtualMachine(
        name="db-1", diskofferingid=disk["id"], details=[{"key": "purpose", "value": "db"}], **base
    )["virtualmachine"]
    assert vm["details"] == {"purpose": "db"}
    other = api.deployVirtualMachine(name="app-1", startvm=False, **base)["virtualmachine"]
    assert {v["type"] for v in api.listVolumes(virtualmachineid=vm["id"])["volume"]} == {"ROOT", "DATADISK"}
    network = vm["nic"][0]["networkid"]
    for filters, expected in (
        ({"zoneid": cloud.zone}, {vm["id"], other["id"]}),
        ({"templateid": cloud.template, "state": "Running"}, {vm["id"]}),
        ({"serviceofferingid": cloud.offering, "keyword": "app"}, {other["id"]}),
        ({"networkid": network, "state": "present"}, {vm["id"], other["id"]}),
        ({"hostid": vm["hostid"]}, {vm["id"]}),
        ({"ids": f"{vm['id']},{other['id']}", "pagesize": 1, "page": 2}, None),
    ):
        listed = api.listVirtualMachines(**filters)
        if expected is None:
            assert listed["count"] == 2 and len(listed["virtualmachine"]) == 1
        else:
            assert {v["id"] for v in listed.get("virtualmachine", [])} == expected, filters
    assert error_code(api.listVirtualMachines, details="bogus") == 431

    api.registerSSHKeyPair(name="later", publickey="ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGxhdGVyIGxhdGVy later@x")
    assert error_code(api.resetSSHKeyForVirtualMachine, id=vm["id"], keypair="later") == 431  # must be stopped
    reset = api.resetSSHKeyForVirtualMachine(id=other["id"], keypair="later")["virtualmachine"]
    assert reset["keypairs"] == "later"
    assert "not password enabled" in error_text(api.resetPasswordForVirtualMachine, id=other["id"])
    updated = api.updateVirtualMachine(id=other["id"], name="app-2", details=[{"key": "tier", "value": "b"}])
    assert (updated["virtualmachine"]["name"], updated["virtualmachine"]["details"]) == ("app-2", {"tier": "b"})
