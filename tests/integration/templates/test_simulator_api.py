"""Templates and ISOs in simulated zones through ``cs``: the builtin template, register → ready, filters,
updates, permissions, copy, delete, ISOs (both databases)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from cs import CloudStack, CloudStackApiException
from libcloud.compute.providers import get_driver
from libcloud.compute.types import Provider

from tests.integration.infrastructure.support import build_zone
from tests.support.server import LiveServer

pytestmark = pytest.mark.integration

BUILTIN = "CentOS 5.6 (64-bit) no GUI (Simulator)"
URL = "http://download.example.org/templates/tiny.qcow2"


def wait_ready(
    api: CloudStack, template_id: str, zone_id: str, *, iso: bool = False, timeout: float = 30
) -> dict[str, Any]:
    """Poll listTemplates/listIsos (bounded) until the zone row is ready, as Terraform and Marvin do."""
    deadline = time.monotonic() + timeout
    while True:
        if iso:
            rows = api.listIsos(isofilter="all", id=template_id, zoneid=zone_id).get("iso", [])
        else:
            rows = api.listTemplates(templatefilter="all", id=template_id, zoneid=zone_id).get("template", [])
        if rows and rows[0]["isready"]:
            return dict(rows[0])
        if time.monotonic() > deadline:
            raise AssertionError(f"not ready after {timeout} s: {rows}")
        time.sleep(0.25)


def make_user(api: CloudStack, server: LiveServer, name: str) -> CloudStack:
    domain = api.listDomains(name="ROOT")["domain"][0]
    created = api.createAccount(
        username=name,
        password="pw-" + name,
        email=f"{name}@example.org",
        firstname=name,
        lastname="x",
        accounttype=0,
        domainid=domain["id"],
    )["account"]
    user_id = created["user"][0]["id"]
    keys = api.registerUserKeys(id=user_id)["userkeys"]
    return server.client(keys["apikey"], keys["secretkey"])


def test_template_lifecycle_in_simulated_zones(live_server: LiveServer) -> None:
    api = live_server.api
    writer = live_server.client(live_server.apikey, live_server.secretkey, method="post")
    z1 = build_zone(api, writer, name="tz1", net=1)
    z2 = build_zone(api, writer, name="tz2", net=2)

    # The simulator's builtin template is featured and becomes ready in every simulated zone by itself.
    builtin = api.listTemplates(templatefilter="all", name=BUILTIN)
    assert builtin["count"] >= 1
    builtin_id = builtin["template"][0]["id"]
    for zone in (z1.zone, z2.zone):
        row = wait_ready(api, builtin_id, zone)
        assert (row["status"], row["templatetype"], row["crossZones"], row["isfeatured"]) == (
            "Download Complete",
            "BUILTIN",
            True,
            True,
        )
    driver = get_driver(Provider.CLOUDSTACK)(
        key=live_server.apikey, secret=live_server.secretkey, url=live_server.url, secure=False
    )
    images = {image.name: image for image in driver.list_images()}
    assert images[BUILTIN].extra["hypervisor"] == "Simulator" and images[BUILTIN].extra["os"]
    featured = api.listTemplates(templatefilter="featured", zoneid=z1.zone)["template"]
    assert [t["name"] for t in featured] == [BUILTIN]
    assert featured[0]["hypervisor"] == "Simulator" and featured[0]["ostypename"]

    # registerTemplate answers a list, one row per zone, not ready yet.
    ostype = api.listOsTypes(description="CentOS 5.5 (64-bit)")["ostype"][0]["id"]
    registered = writer.registerTemplate(
        name="tiny",
        displaytext="Tiny",
        url=URL,
        format="QCOW2",
        hypervisor="Simulator",
        zoneids=f"{z1.zone}",
        ostypeid=ostype,
        checksum="{MD5}" + "0" * 32,
        passwordenabled=True,
    )
    assert registered["count"] == 1
    tiny = registered["template"][0]
    assert (tiny["isready"], tiny["zoneid"], tiny["format"], tiny["passwordenabled"]) == (False, z1.zone, "QCOW2", True)
    ready = wait_ready(api, tiny["id"], z1.zone)
    assert ready["status"] == "Download Complete" and ready["size"] > 0
    assert ready["downloaddetails"][0]["downloadState"] == "DOWNLOADED"
    assert ready["downloaddetails"][0]["downloadPercent"] == "100"
    assert api.listTemplates(templatefilter="self", id=tiny["id"])["count"] == 1
    assert api.listTemplates(templatefilter="self", id=tiny["id"], zoneid=z2.zone) == {}

    # Update and permissions.
    updated = writer.updateTemplate(id=tiny["id"], displaytext="Tiny 2", sshkeyenabled=True)["template"]
    assert (updated["displaytext"], updated["sshkeyenabled"]) == ("Tiny 2", True)
    alice = make_user(api, live_server, "alice")
    assert alice.listTemplates(templatefilter="executable", id=tiny["id"]) == {}
    with pytest.raises(CloudStackApiException) as denied:
        alice.listTemplates(templatefilter="all")
    assert denied.value.error["errorcode"] == 531
    writer.updateTemplatePermissions(id=tiny["id"], op="add", accounts="alice")
    shared = alice.listTemplates(templatefilter="sharedexecutable")["template"]
    assert [t["id"] for t in shared] == [tiny["id"]]
    assert "status" not in shared[0] and "url" not in shared[0]
    perms = api.listTemplatePermissions(id=tiny["id"])["templatepermission"]
    assert perms["account"] == ["alice"]
    writer.updateTemplatePermissions(id=tiny["id"], ispublic=True, isfeatured=True)
    community = alice.listTemplates(templatefilter="featured", id=tiny["id"])
    assert community["count"] == 1
    with pytest.raises(CloudStackApiException) as not_owner:
        alice.updateTemplate(id=tiny["id"], name="mine")
    assert not_owner.value.error["errorcode"] == 531

    # copyTemplate: zone 2 gets a row that becomes ready.
    copied = api.copyTemplate(id=tiny["id"], destzoneid=z2.zone)["template"]
    assert copied["zoneid"] == z2.zone
    wait_ready(api, tiny["id"], z2.zone)
    assert api.listTemplates(templatefilter="all", id=tiny["id"])["count"] == 2

    # Delete from one zone, then everywhere.
    api.deleteTemplate(id=tiny["id"], zoneid=z2.zone)
    rows = api.listTemplates(templatefilter="all", id=tiny["id"])["template"]
    assert [r["zoneid"] for r in rows] == [z1.zone]
    api.deleteTemplate(id=tiny["id"])
    assert api.listTemplates(templatefilter="all", id=tiny["id"]) == {}


def test_register_template_errors(live_server: LiveServer) -> None:
    api = live_server.api
    z1 = build_zone(api, api, name="ez1", net=1)
    cases = [
        ({"url": "ftp://example.org/x.qcow2"}, "Unsupported scheme"),
        ({"format": "ZIP"}, "Invalid format"),
        ({"hypervisor": "KVM", "format": "OVA"}, "not supported by hypervisor KVM"),
        ({"checksum": "{SHA256}abc"}, "Invalid checksum"),
        ({"zoneid": "1b1e0b8c-0000-4000-8000-000000000000"}, "Unable to find zone"),
    ]
    for override, text in cases:
        params = {"name": "bad", "url": URL, "format": "QCOW2", "hypervisor": "KVM", "zoneid": z1.zone, **override}
        with pytest.raises(CloudStackApiException) as raised:
            api.registerTemplate(**params)
        assert raised.value.error["errorcode"] == 431, override
        assert text in raised.value.error["errortext"], raised.value.error
    with pytest.raises(CloudStackApiException) as missing:
        api.listTemplates(templatefilter="bogus")
    assert missing.value.error["errorcode"] == 431


def test_iso_lifecycle(live_server: LiveServer) -> None:
    api = live_server.api
    z1 = build_zone(api, api, name="iz1", net=1)
    registered = api.registerIso(name="boot", url="http://download.example.org/boot.iso", zoneid=z1.zone, bootable=True)
    assert registered["count"] == 1
    iso = registered["iso"][0]
    assert (iso["format"], iso["bootable"], iso["isready"]) == ("ISO", True, False)
    ready = wait_ready(api, iso["id"], z1.zone, iso=True)
    assert ready["status"] == "Download Complete"
    assert api.listIsos(id=iso["id"])["count"] == 1  # selfexecutable by default
    assert api.listTemplates(templatefilter="all", id=iso["id"]) == {}  # ISOs are not templates
    assert api.updateIso(id=iso["id"], displaytext="Boot ISO")["iso"]["displaytext"] == "Boot ISO"
    api.updateIsoPermissions(id=iso["id"], ispublic=True)
    assert api.listIsos(isofilter="community", id=iso["id"])["count"] == 1
    api.deleteIso(id=iso["id"])
    assert api.listIsos(isofilter="all", id=iso["id"]) == {}


def test_attach_and_detach_iso_on_a_simulated_vm(live_server: LiveServer) -> None:
    api = live_server.api
    z1 = build_zone(api, api, name="vz1", net=1)
    builtin = api.listTemplates(templatefilter="all", name=BUILTIN)["template"][0]["id"]
    wait_ready(api, builtin, z1.zone)
    iso = api.registerIso(name="tools", url="http://download.example.org/tools.iso", zoneid=z1.zone)["iso"][0]
    wait_ready(api, iso["id"], z1.zone, iso=True)
    offering = api.listServiceOfferings(name="Small Instance")["serviceoffering"][0]["id"]
    vm = api.deployVirtualMachine(zoneid=z1.zone, templateid=builtin, serviceofferingid=offering, name="isovm")
    vm = vm.get("virtualmachine", vm)
    assert vm["state"] == "Running", vm
    attached = api.attachIso(id=iso["id"], virtualmachineid=vm["id"])["virtualmachine"]
    assert attached["id"] == vm["id"]
    with pytest.raises(CloudStackApiException) as twice:
        api.attachIso(id=iso["id"], virtualmachineid=vm["id"])
    assert twice.value.error["errorcode"] == 431 and "already has an ISO" in twice.value.error["errortext"]
    with pytest.raises(CloudStackApiException) as not_iso:
        api.detachIso(virtualmachineid=vm["id"]) and api.attachIso(id=builtin, virtualmachineid=vm["id"])
    assert "not an ISO" in not_iso.value.error["errortext"]
    with pytest.raises(CloudStackApiException) as none:
        api.detachIso(virtualmachineid=vm["id"])
    assert "has no ISO attached" in none.value.error["errortext"]


def test_create_template_from_a_stopped_vm_volume(live_server: LiveServer) -> None:
    api = live_server.api
    z1 = build_zone(api, api, name="cz1", net=1)
    builtin = api.listTemplates(templatefilter="all", name=BUILTIN)["template"][0]["id"]
    wait_ready(api, builtin, z1.zone)
    offering = api.listServiceOfferings(name="Small Instance")["serviceoffering"][0]["id"]
    vm = api.deployVirtualMachine(zoneid=z1.zone, templateid=builtin, serviceofferingid=offering, name="srcvm")
    vm = vm.get("virtualmachine", vm)
    root = api.listVolumes(virtualmachineid=vm["id"], type="ROOT")["volume"][0]
    with pytest.raises(CloudStackApiException) as running:
        api.createTemplate(name="golden", displaytext="Golden", volumeid=root["id"])
    assert running.value.error["errorcode"] == 431 and "stopped VM" in running.value.error["errortext"]
    api.stopVirtualMachine(id=vm["id"])
    created = api.createTemplate(name="golden", displaytext="Golden", volumeid=root["id"], passwordenabled=True)
    template = created.get("template", created)
    assert (template["name"], template["isready"], template["zoneid"]) == ("golden", True, z1.zone)
    assert template["passwordenabled"] is True and template["format"] == "QCOW2"
    listed = api.listTemplates(templatefilter="self", id=template["id"])["template"]
    assert listed[0]["status"] == "Download Complete"
    # The new template deploys.
    second = api.deployVirtualMachine(zoneid=z1.zone, templateid=template["id"], serviceofferingid=offering)
    assert second.get("virtualmachine", second)["templateid"] == template["id"]
