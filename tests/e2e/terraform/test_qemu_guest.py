"""Terraform on a real QEMU (TCG) guest: the local libvirtd as a KVM host, the tiny template registered and a VM
deployed by terraform, booted with its user-data, its service offering changed in place, then destroyed.

The zone is built through the API as the compute end-to-end test builds it; the provider is the real plugin
from the filesystem mirror.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from provisioner.compute.drivers.libvirt import LibvirtDriver
from provisioner.exceptions import DriverError
from tests.e2e.compute.test_api_guest import bridge, kvm_zone, template_url, wait_for
from tests.integration.terraform.conftest import Workspace, terraform_env
from tests.integration.terraform.test_provider import install
from tests.support.guest import BOOT_MARKER, USERDATA_BEGIN, user_data_from_console, wait_for_console
from tests.support.nfs import NfsServer
from tests.support.server import LiveServer, sqlite_server

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1200)]
__all__ = ["bridge", "sqlite_server", "template_url"]
USER_DATA = "#cloud-config\nruncmd:\n  - echo provisioner-terraform-e2e\n"


def last_boot(console: Path) -> str:
    """The console text from the last user-data block up to this guest's boot marker ("" until then)."""
    text = console.read_text(errors="replace") if console.exists() else ""
    if USERDATA_BEGIN not in text:
        return ""
    last = text[text.rindex(USERDATA_BEGIN) :]
    if "provisioner-terraform-e2e" not in last or BOOT_MARKER not in last:
        return ""
    return last[: last.index(BOOT_MARKER) + len(BOOT_MARKER)]


def config(template_url: str, os_type: str, offering: str) -> str:
    return f"""
terraform {{
  required_providers {{
    provisioner = {{ source = "provisioner/provisioner" }}
  }}
}}

resource "provisioner_template" "tiny" {{
  name       = "tiny"
  format     = "QCOW2"
  hypervisor = "KVM"
  os_type    = "{os_type}"
  url        = "{template_url}"
  zone       = "e2e"
  is_ready_timeout = 300
}}

resource "provisioner_instance" "guest" {{
  name             = "tf-guest"
  zone             = "e2e"
  template         = provisioner_template.tiny.id
  service_offering = "{offering}"
  user_data        = {USER_DATA!r}
  expunge          = true
  timeouts {{
    create = "10m"
  }}
}}
""".replace("'", '"')


@pytest.mark.usefixtures("bridge")
def test_terraform_deploys_a_real_guest(
    libvirtd: str, server: LiveServer, nfs_server: NfsServer, template_url: str, tmp_path: Path
) -> None:
    api = server.api
    pool_dir = tmp_path / "primary"
    pool_dir.mkdir()
    kvm_zone(api, libvirtd, nfs_server.url("secondary"), pool_dir)
    for name, cpus, memory in (("tiny", 1, 128), ("tiny2", 2, 160)):
        api.createServiceOffering(
            name=name, displaytext=name, cpunumber=cpus, cpuspeed=500, memory=memory, storagetype="local"
        )
    os_type = api.listOsTypes()["ostype"][0]["description"]

    exported = install(tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    workspace = Workspace(work, terraform_env(server, Path(exported["TF_CLI_CONFIG_FILE"]), **exported))
    ours: list[str] = []  # libvirt domains this test made (other runs on the machine may have their own)
    try:
        workspace.write(config(template_url, os_type, "tiny"), provider_block=False)
        workspace.init()
        workspace.apply()
        guest = workspace.resource("provisioner_instance.guest")
        assert guest["state"] == "Running"
        vm = api.listVirtualMachines(id=guest["id"])["virtualmachine"][0]
        ours.append(vm["instancename"])
        with LibvirtDriver(libvirtd) as driver:
            assert driver.get_vm(vm["instancename"]).state.value == "Running"
        console = Path("/var/log/libvirt/qemu") / f"{vm['instancename']}.console.log"
        # The log is appended to across boots, and an earlier run may have had the same instance name: wait for
        # the last boot's block to be this guest's user-data followed by the boot marker.
        wait_for("the guest to boot with its user-data", lambda: last_boot(console).endswith(BOOT_MARKER), 240)
        assert user_data_from_console(last_boot(console)) == USER_DATA.strip()
        assert workspace.changes() == {}

        # In place: the offering changes with a stop and a start; the guest boots again with 2 vCPUs.
        offset = console.stat().st_size
        workspace.write(config(template_url, os_type, "tiny2"), provider_block=False)
        assert workspace.changes() == {"provisioner_instance.guest": ["update"]}
        workspace.apply()
        vm = api.listVirtualMachines(id=guest["id"])["virtualmachine"][0]
        assert (vm["state"], vm["cpunumber"], vm["memory"]) == ("Running", 2, 160)
        wait_for_console(console, BOOT_MARKER, offset=offset, timeout=240)

        workspace.run("destroy", "-auto-approve", "-input=false")
        with LibvirtDriver(libvirtd) as driver:
            assert vm["instancename"] not in {d.name for d in driver.list_vms()}
    finally:  # a failed run must not leave its domain behind in libvirtd's persistent configuration
        with LibvirtDriver(libvirtd) as driver:
            for leftover in driver.list_vms():
                if leftover.name in ours:
                    with contextlib.suppress(DriverError):
                        driver.destroy_vm(leftover.name)
