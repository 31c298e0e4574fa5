"""Seed data (idempotent, stable ids) and the offering and OS-type services built on it."""

from __future__ import annotations

import pytest
from sqlalchemy import Connection

from provisioner.exceptions import ParamError, PermissionDeniedError
from provisioner.services.infrastructure import (
    disk_offerings,
    hypervisors,
    network_offerings,
    os_types,
    regions,
    resolve,
    service_offerings,
)
from provisioner.services.infrastructure.seed import seed_infrastructure, stable_uuid
from provisioner.services.principal import Caller
from tests.unit.services.infrastructure.conftest import Run


def test_seed_is_complete_and_idempotent(run: Run[object], admin: Caller, user: Caller) -> None:
    def check(conn: Connection) -> None:
        assert seed_infrastructure(conn) == 0
        assert regions.list_regions(conn, user)[0] == [
            {
                "id": 1,
                "name": "Local",
                "endpoint": "http://localhost:8080/client/",
                "gslbserviceenabled": True,
                "portableipserviceenabled": False,
            }
        ]
        small = service_offerings.list_service_offerings(conn, user, name="Small Instance")[0][0]
        assert (small["cpunumber"], small["cpuspeed"], small["memory"], small["iscustomized"]) == (1, 500, 512, False)
        assert small["id"] == stable_uuid("service_offering", "Small Instance")
        medium = service_offerings.list_service_offerings(conn, user, name="Medium Instance")[0][0]
        assert (medium["cpuspeed"], medium["memory"]) == (1000, 1024)
        assert service_offerings.list_service_offerings(conn, user)[1] == 2  # system offerings are hidden
        assert service_offerings.list_service_offerings(conn, admin, issystem=True)[1] == 3
        with pytest.raises(ParamError, match="system's offering"):
            service_offerings.list_service_offerings(conn, user, issystem=True)
        sizes = {
            row["name"]: (row["disksize"], row["iscustomized"])
            for row in disk_offerings.list_disk_offerings(conn, user)[0]
        }
        assert sizes == {"Small": (5, False), "Medium": (20, False), "Large": (100, False), "Custom": (0, True)}
        offerings = {row["name"]: row for row in network_offerings.list_network_offerings(conn, user)[0]}
        required = offerings["DefaultIsolatedNetworkOfferingWithSourceNatService"]
        assert (required["availability"], required["state"], required["guestiptype"]) == (
            "Required",
            "Enabled",
            "Isolated",
        )
        assert {service["name"] for service in required["service"]} >= {"SourceNat", "Dhcp", "Dns", "Firewall"}
        sg = offerings["DefaultSharedNetworkOfferingWithSGService"]
        assert {"name": "SecurityGroup", "provider": [{"name": "SecurityGroupProvider"}]} in sg["service"]
        assert {
            "DefaultSharedNetworkOffering",
            "DefaultIsolatedNetworkOfferingForVpcNetworks",
            "DefaultL2NetworkOffering",
        } <= set(offerings)
        assert offerings["DefaultIsolatedNetworkOfferingForVpcNetworks"]["forvpc"] is True
        names = {row["description"] for row in os_types.list_os_types(conn, user, pagesize=500, page=1)[0]}
        assert {"CentOS 7", "Debian GNU/Linux 12 (64-bit)", "Ubuntu 22.04 LTS", "Other Linux (64-bit)"} <= names
        assert any(name.startswith("Windows") for name in names)
        centos = os_types.list_os_types(conn, user, keyword="centos")[0]
        assert {row["oscategoryname"] for row in centos} == {"CentOS"}
        assert hypervisors.max_guests(conn, "KVM", "8.0.0") == 50
        assert {row["name"] for row in hypervisors.list_hypervisors(conn, user)} >= {"KVM", "Simulator", "VMware"}

    run(check)


def test_offering_crud(run: Run[object], admin: Caller, user: Caller) -> None:
    def check(conn: Connection) -> None:
        with pytest.raises(PermissionDeniedError):
            service_offerings.create_service_offering(conn, user, name="x", cpunumber=1, cpuspeed=1, memory=1)
        big = service_offerings.create_service_offering(
            conn, admin, name="Big", cpunumber=8, cpuspeed=2000, memory=16384, hosttags="fast", tags="ssd"
        )
        assert (big["displaytext"], big["hosttags"], big["storagetags"]) == ("Big", "fast", "ssd")
        custom = service_offerings.create_service_offering(conn, admin, name="Any size")
        assert custom["iscustomized"] is True
        assert service_offerings.list_service_offerings(conn, admin, iscustomized=True)[0][0]["id"] == custom["id"]
        renamed = service_offerings.update_service_offering(
            conn, admin, big["id"], name="Bigger", displaytext="8 x 2 GHz"
        )
        assert (renamed["name"], renamed["displaytext"]) == ("Bigger", "8 x 2 GHz")
        service_offerings.delete_service_offering(conn, admin, big["id"])
        assert service_offerings.list_service_offerings(conn, admin, id=big["id"]) == ([], 0)

        disk = disk_offerings.create_disk_offering(conn, admin, name="Huge", disksize=500, tags="hdd")
        assert (disk["disksize"], disk["iscustomized"], disk["tags"]) == (500, False, "hdd")
        with pytest.raises(ParamError, match="greater than 0"):
            disk_offerings.create_disk_offering(conn, admin, name="Zero", disksize=0, customized=False)
        hidden = disk_offerings.update_disk_offering(conn, admin, disk["id"], displayoffering=False)
        assert hidden["displayoffering"] is False
        assert disk_offerings.list_disk_offerings(conn, user, name="Huge")[1] == 0
        disk_offerings.delete_disk_offering(conn, admin, disk["id"])

        created = network_offerings.create_network_offering(
            conn,
            admin,
            name="iso",
            displaytext="isolated",
            guestiptype="isolated",
            supportedservices="Dhcp,Dns,SourceNat",
            serviceproviderlist=[{"service": "Dns", "provider": "VirtualRouter"}],
        )
        assert (created["state"], created["guestiptype"], len(created["service"])) == ("Disabled", "Isolated", 3)
        assert (
            network_offerings.update_network_offering(conn, admin, created["id"], state="Enabled")["state"] == "Enabled"
        )
        network_offerings.delete_network_offering(conn, admin, created["id"])
        default = network_offerings.list_network_offerings(conn, admin, isdefault=True, page=1, pagesize=1)
        assert default[1] == 6
        with pytest.raises(ParamError, match="Default network offering can't be deleted"):
            network_offerings.delete_network_offering(conn, admin, default[0][0]["id"])

    run(check)


def test_resolver_knows_infrastructure_ids(run: Run[object], admin: Caller) -> None:
    small = stable_uuid("service_offering", "Small Instance")
    missing = "00000000-0000-4000-8000-000000000000"
    found = run(lambda conn: resolve.existing_ids(conn, "ServiceOffering", [small.upper(), missing]))
    assert found == {small}
    assert run(lambda conn: resolve.existing_ids(conn, "Account", [small])) is None


def test_regions(run: Run[object], admin: Caller) -> None:
    def check(conn: Connection) -> None:
        regions.add_region(conn, admin, id=2, name="West", endpoint="http://west:8080/client/")
        assert regions.update_region(conn, admin, id=2, name="West-2")["name"] == "West-2"
        with pytest.raises(ParamError, match="already exists"):
            regions.add_region(conn, admin, id=2, name="Other", endpoint="http://x/")
        with pytest.raises(ParamError, match="local region"):
            regions.remove_region(conn, admin, id=1)
        regions.remove_region(conn, admin, id=2)
        assert regions.list_regions(conn, admin)[1] == 1

    run(check)


def test_a_disk_offering_larger_than_the_maximum_is_refused(run: Run[object], admin: Caller) -> None:
    # schemathesis found it: a disksize of 9,043,396,460,119 GiB overflowed the 64-bit byte count (a 530).
    with pytest.raises(ParamError, match="The maximum size for a disk is 2000 Gb"):
        run(lambda conn: disk_offerings.create_disk_offering(conn, admin, name="huge", disksize=9_043_396_460_119))
    made = run(lambda conn: disk_offerings.create_disk_offering(conn, admin, name="largest", disksize=2000))
    assert made["disksize"] == 2000
