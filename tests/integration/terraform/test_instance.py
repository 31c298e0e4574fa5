"""``provisioner_instance``, ``provisioner_volume`` and ``provisioner_template`` through terraform on the simulator.

One lifecycle: create (a template registered by terraform, a VM from it, a data volume attached), a no-op
plan, in-place updates (service offering with the VM running, display name, tags, volume resize), a VM
stopped outside Terraform planned back to Running, import by id, replacement on a template change,
deletion outside Terraform planned as a create, destroy. The data sources read what was created.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cs import CloudStackApiException

from tests.integration.terraform.conftest import Workspace
from tests.support.server import LiveServer

pytestmark = pytest.mark.integration

BUILTIN = "CentOS 5.6 (64-bit) no GUI (Simulator)"
TEMPLATE = """
resource "provisioner_template" "cirros" {
  name         = "tf-cirros"
  display_text = "CirrOS for terraform"
  format       = "QCOW2"
  hypervisor   = "Simulator"
  os_type      = "Other Linux (64-bit)"
  url          = "http://198.18.0.80/cirros-0.6.2-x86_64-disk.img"
  zone         = "lab-zone"
}
"""


def config(
    *,
    template: str = "provisioner_template.cirros.name",
    offering: str = "tiny",
    display: str = "web server",
    disk: str = "10GB",
) -> str:
    return (
        TEMPLATE
        + f"""
resource "provisioner_instance" "web" {{
  name             = "tf-web"
  display_name     = "{display}"
  zone             = "lab-zone"
  template         = {template}
  service_offering = "{offering}"
  user_data        = "#cloud-config\\nhostname: tf-web\\n"
  expunge          = true
  tags             = {{ role = "web" }}
  timeouts {{
    create = "5m"
  }}
}}

resource "provisioner_volume" "data" {{
  name               = "tf-data"
  zone               = "lab-zone"
  disk_offering      = "{disk}"
  attach             = true
  virtual_machine_id = provisioner_instance.web.id
}}

data "provisioner_instance" "web" {{ id = provisioner_instance.web.id }}
data "provisioner_template" "cirros" {{
  name = provisioner_template.cirros.name
  zone = "lab-zone"
}}
data "provisioner_network" "default" {{ id = provisioner_instance.web.network_id }}

output "found" {{
  value = {{
    vm_state       = data.provisioner_instance.web.state
    vm_ip          = data.provisioner_instance.web.ip_address
    template_ready = data.provisioner_template.cirros.is_ready
    network_cidr   = data.provisioner_network.default.cidr
  }}
}}
"""
    )


def vm(cloud: LiveServer, vm_id: str) -> dict[str, Any] | None:
    """The VM as the server lists it, or None when it is gone."""
    try:
        found = cloud.api.listVirtualMachines(id=vm_id).get("virtualmachine", [])
    except CloudStackApiException as exc:
        assert exc.error["errorcode"] == 431, exc.error
        return None
    return found[0] if found and found[0]["state"] not in ("Destroyed", "Expunging") else None


def volume(cloud: LiveServer, volume_id: str) -> dict[str, Any] | None:
    """The volume as the server lists it, or None when it is gone."""
    try:
        found = cloud.api.listVolumes(id=volume_id).get("volume", [])
    except CloudStackApiException as exc:
        assert exc.error["errorcode"] == 431, exc.error
        return None
    return found[0] if found else None


def test_instance_volume_and_template_lifecycle(workspace: Workspace, cloud: LiveServer, tmp_path: Path) -> None:
    cloud.api.createServiceOffering(name="tf-small", displaytext="tf-small", cpunumber=1, cpuspeed=1000, memory=1024)
    cloud.api.createDiskOffering(name="tf-20GB", displaytext="tf-20GB", disksize=20)

    workspace.write(config())
    workspace.init()
    workspace.apply()
    web = workspace.resource("provisioner_instance.web")
    data = workspace.resource("provisioner_volume.data")
    template = workspace.resource("provisioner_template.cirros")
    server_vm = vm(cloud, web["id"])
    assert server_vm is not None
    assert (server_vm["name"], server_vm["displayname"], server_vm["state"]) == ("tf-web", "web server", "Running")
    assert server_vm["templateid"] == template["id"]
    assert {t["key"]: t["value"] for t in server_vm.get("tags", [])} == {"role": "web"}
    assert web["state"] == "Running"
    assert web["host"] == server_vm["hostname"]
    assert web["ip_address"] == server_vm["nic"][0]["ipaddress"]
    assert web["nics"][0]["is_default"] == "true"
    assert template["is_ready"] is True
    assert (data["attach"], data["virtual_machine_id"]) == (True, web["id"])
    assert volume(cloud, data["id"])["virtualmachineid"] == web["id"]  # type: ignore[index]
    found = workspace.outputs()["found"]
    assert found["vm_state"] == "Running"
    assert found["vm_ip"] == web["ip_address"]
    assert found["template_ready"] is True
    assert found["network_cidr"]
    assert workspace.changes() == {}

    # In place: a new service offering while the VM runs (stop, change, start), a new display name, a bigger disk.
    workspace.write(config(offering="tf-small", display="web (small)", disk="tf-20GB"))
    assert workspace.changes() == {"provisioner_instance.web": ["update"], "provisioner_volume.data": ["update"]}
    workspace.apply()
    server_vm = vm(cloud, web["id"])
    assert server_vm is not None
    assert (server_vm["serviceofferingname"], server_vm["displayname"]) == ("tf-small", "web (small)")
    assert server_vm["state"] == "Running"
    assert volume(cloud, data["id"])["diskofferingname"] == "tf-20GB"  # type: ignore[index]
    assert workspace.changes() == {}

    # Stopped outside Terraform: the next plan starts it again.
    cloud.api.stopVirtualMachine(id=web["id"])
    plan = workspace.plan()
    change = next(c for c in plan["resource_changes"] if c["address"] == "provisioner_instance.web")
    assert change["change"]["actions"] == ["update"]
    assert (change["change"]["before"]["state"], change["change"]["after"]["state"]) == ("Stopped", "Running")
    workspace.apply()
    assert vm(cloud, web["id"])["state"] == "Running"  # type: ignore[index]

    # Import by id into a fresh state: a configuration of what exists plans nothing.
    other = Workspace(tmp_path / "import", workspace.env)
    other.directory.mkdir()
    other.write(
        """
resource "provisioner_instance" "web" {
  name             = "tf-web"
  display_name     = "web (small)"
  zone             = "lab-zone"
  template         = "tf-cirros"
  service_offering = "tf-small"
  tags             = { role = "web" }
}
resource "provisioner_template" "cirros" {
  name         = "tf-cirros"
  display_text = "CirrOS for terraform"
  format       = "QCOW2"
  hypervisor   = "Simulator"
  os_type      = "Other Linux (64-bit)"
  url          = "http://198.18.0.80/cirros-0.6.2-x86_64-disk.img"
  zone         = "lab-zone"
}
"""
    )
    other.init()
    other.run("import", "provisioner_instance.web", web["id"])
    other.run("import", "provisioner_template.cirros", template["id"])
    assert other.changes() == {}
    assert other.resource("provisioner_instance.web")["network_id"] == web["network_id"]

    # A new template replaces the VM; the volume follows it to the new one.
    workspace.write(config(template=f'"{BUILTIN}"', offering="tf-small", display="web (small)", disk="tf-20GB"))
    changes = workspace.changes()
    assert changes["provisioner_instance.web"] == ["delete", "create"]
    workspace.apply()
    replaced = workspace.resource("provisioner_instance.web")
    assert replaced["id"] != web["id"]
    assert vm(cloud, web["id"]) is None
    assert volume(cloud, data["id"])["virtualmachineid"] == replaced["id"]  # type: ignore[index]
    assert workspace.changes() == {}

    # Destroyed outside Terraform: the next plan creates it.
    cloud.api.destroyVirtualMachine(id=replaced["id"], expunge=True)
    assert workspace.changes()["provisioner_instance.web"] == ["create"]
    workspace.apply()
    assert workspace.changes() == {}

    final = workspace.resource("provisioner_instance.web")
    workspace.run("destroy", "-auto-approve", "-input=false")
    assert vm(cloud, final["id"]) is None
    assert volume(cloud, data["id"]) is None
    assert not cloud.api.listTemplates(templatefilter="all", name="tf-cirros").get("template")
