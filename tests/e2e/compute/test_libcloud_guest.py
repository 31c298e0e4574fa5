"""End to end through Apache Libcloud's CloudStack driver on the local libvirtd and a real QEMU (TCG) guest.

The zone, the local KVM host and the tiny template come from :mod:`.test_api_guest` (the template registered
password enabled). Through Libcloud: a node is created with user-data and a key pair, runs in libvirt and shows
on its console that it booted with both and with the hash of the password the deploy answered; it is listed,
rebooted and stopped gracefully (the guest powers off on ACPI), gets a data volume it writes a marker to, and
after a password reset while stopped boots with the new password's hash; then it is destroyed.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from libcloud.compute.base import Node, NodeDriver
from libcloud.compute.providers import get_driver
from libcloud.compute.types import NodeState, Provider

from provisioner.compute.drivers.libvirt import LibvirtDriver
from tests.e2e.compute.test_api_guest import bridge, check_host, kvm_zone, template_url
from tests.support.guest import (
    ACPI_SHUTDOWN,
    BOOT_MARKER,
    CONSOLE_DIR,
    DISK_MARKER_REQUEST,
    DISK_MARKER_WRITTEN,
    console_offsets,
    crypt_matches,
    password_hash_from_console,
    public_keys_from_console,
    register_template,
    remove_test_domains,
    user_data_from_console,
    wait_for_console,
)
from tests.support.nfs import NfsServer, nfs_server
from tests.support.server import LiveServer

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]
__all__ = ["bridge", "nfs_server", "template_url"]
#: The guest writes a marker to its second disk once one is attached (the data volume).
USER_DATA = f"#cloud-config\n# {DISK_MARKER_REQUEST}\nruncmd:\n  - echo provisioner-libcloud-e2e\n"
#: A well-formed Ed25519 public key (its key material is bytes 0..31: nobody holds the private half).
PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4f libcloud@e2e"
#: A graceful stop or reboot of a guest that honours ACPI: well under the driver's 60 s stop timeout.
GRACEFUL = 30.0


def seed_images(pool_dir: Path) -> list[Path]:
    """The NoCloud seed images in the local pool (the driver writes them beside the root disk)."""
    return sorted(pool_dir.glob("*-cidata.iso"))


def booted(console: Path, offset: int) -> str:
    """The console text of the boot after ``offset``, once the guest printed its boot marker."""
    return wait_for_console(console, BOOT_MARKER, offset=offset, timeout=240)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # the guest path is the same on PostgreSQL
@pytest.mark.usefixtures("bridge")
def test_a_real_guest_through_libcloud(
    libvirtd: str, live_server: LiveServer, nfs_server: NfsServer, template_url: str, tmp_path: Path
) -> None:
    api = live_server.client(live_server.apikey, live_server.secretkey, job_timeout=300)
    pool_dir = tmp_path / "primary"
    pool_dir.mkdir()
    ids = kvm_zone(api, libvirtd, nfs_server.url("secondary"), pool_dir, name="lc")
    check_host(api, libvirtd, ids["host"])
    api.createServiceOffering(
        name="lc-tiny", displaytext="lc-tiny", cpunumber=1, cpuspeed=500, memory=128, storagetype="local"
    )
    api.createDiskOffering(name="lc-data", displaytext="lc-data", disksize=1, storagetype="local")
    template = register_template(api, template_url, ids["zone"], "lc-tiny", passwordenabled=True)
    driver = get_driver(Provider.CLOUDSTACK)(
        key=live_server.apikey, secret=live_server.secretkey, url=live_server.url, secure=False
    )
    try:
        passwords = run_node(driver, libvirtd, ids["zone"], template, pool_dir)
    finally:
        remove_test_domains(libvirtd)
    log = live_server.log_path.read_text(errors="replace")
    assert "provisioner.passwordhash" not in log and "$6$" not in log, "a password hash reached the server log"
    assert not [p for p in passwords if p in log], "a password reached the server log"


def run_node(driver: NodeDriver, libvirtd: str, zone: str, template: str, pool_dir: Path) -> tuple[str, str]:
    """Create the node and take it through the whole lifecycle; returns the two passwords it had."""
    location = next(loc for loc in driver.list_locations() if loc.id == zone)
    size = next(s for s in driver.list_sizes() if s.name == "lc-tiny")
    image = next(i for i in driver.list_images(location=location) if i.id == template)
    driver.import_key_pair_from_string("lc-key", PUBLIC_KEY)

    offsets = console_offsets()
    node = driver.create_node(
        name="lc-guest",
        size=size,
        image=image,
        location=location,
        ex_userdata=USER_DATA,
        ex_keyname="lc-key",
        ex_start_vm=True,
    )
    password = node.extra["password"]
    assert node.state == NodeState.RUNNING
    assert len(password) == 6
    instance = api_row(driver, node)["instancename"]
    with LibvirtDriver(libvirtd) as hypervisor:
        assert hypervisor.get_vm(instance).state.value == "Running"
        domain = hypervisor.ex_domain_xml(instance)  # type: ignore[attr-defined]
    assert "type='qemu'" in domain and password not in domain
    console = CONSOLE_DIR / f"{instance}.console.log"
    text = booted(console, offsets.get(console.name, 0))
    assert user_data_from_console(text) == USER_DATA.strip()
    assert public_keys_from_console(text) == [PUBLIC_KEY]
    first_hash = password_hash_from_console(text)
    assert first_hash is not None and crypt_matches(password, first_hash)
    (seed,) = seed_images(pool_dir)
    assert seed.stat().st_mode & 0o777 == 0o600

    listed = {n.id: n for n in driver.list_nodes()}
    assert listed[node.id].state == NodeState.RUNNING
    assert "password" not in api_row(driver, node), "the password is shown once, by the deploy"

    # A data volume hot-plugged into the running guest, which writes its marker to it.
    volume = driver.create_volume(1, "lc-data-1", location=location, ex_volume_type="lc-data")
    offset = console.stat().st_size
    assert driver.attach_volume(listed[node.id], volume) is True
    wait_for_console(console, DISK_MARKER_WRITTEN, offset=offset, timeout=300)
    assert {v.id for v in driver.list_volumes(node=listed[node.id])} >= {volume.id}
    # Detached while running: gone from the domain's persistent definition too, so the volume can go.
    assert driver.detach_volume(volume) is True
    with LibvirtDriver(libvirtd) as hypervisor:
        assert "dev='vdb'" not in hypervisor.ex_domain_xml(instance, inactive=True)  # type: ignore[attr-defined]
    assert volume.id not in {v.id for v in driver.list_volumes(node=listed[node.id])}
    assert driver.destroy_volume(volume) is True

    # Reboot and stop ask the guest over ACPI; it powers off at once, not after the driver's stop timeout.
    offset = console.stat().st_size
    assert driver.reboot_node(listed[node.id]) is True
    assert ACPI_SHUTDOWN in booted(console, offset)
    offset = console.stat().st_size
    began = time.monotonic()
    assert driver.ex_stop(listed[node.id]) == "Stopped"
    assert time.monotonic() - began < GRACEFUL
    wait_for_console(console, ACPI_SHUTDOWN, offset=offset, timeout=5)

    # A new password while stopped reaches the guest at its next start (Libcloud has no call of its own for it).
    reset = driver._async_request(  # type: ignore[attr-defined]
        command="resetPasswordForVirtualMachine", params={"id": node.id}, method="GET"
    )["virtualmachine"]
    new_password = reset["password"]
    assert new_password != password
    offset = console.stat().st_size
    assert driver.ex_start(listed[node.id]) == "Running"
    text = booted(console, offset)
    new_hash = password_hash_from_console(text)
    assert new_hash is not None and crypt_matches(new_password, new_hash)
    assert not crypt_matches(password, new_hash)

    assert driver.destroy_node(listed[node.id], ex_expunge=True) is True
    with LibvirtDriver(libvirtd) as hypervisor:
        assert instance not in {d.name for d in hypervisor.list_vms()}
    assert seed_images(pool_dir) == [], "the seed image outlived its VM"
    assert node.id not in {n.id for n in driver.list_nodes() if n.state != NodeState.TERMINATED}
    return password, new_password


def api_row(driver: NodeDriver, node: Node) -> dict[str, Any]:
    """The node's listVirtualMachines row (Libcloud keeps no instance name)."""
    rows = driver._sync_request(  # type: ignore[attr-defined]
        command="listVirtualMachines", params={"id": node.id}, method="GET"
    )["virtualmachine"]
    return dict(rows[0])
