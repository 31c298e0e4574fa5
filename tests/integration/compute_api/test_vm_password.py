"""Guest passwords through the API: shown once by deploy and reset, kept only as the hash the next seed carries."""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa

from provisioner.services.compute.lifecycle.guest_password import HASH_DETAIL, sha512_crypt
from tests.integration.networks.support import error_code, error_text, simulated_cloud
from tests.support.server import LiveServer

pytestmark = pytest.mark.integration


def stored_details(server: LiveServer, vm_uuid: str) -> dict[str, Any]:
    """The VM's details as the database keeps them (the API hides the hash)."""
    engine = sa.create_engine(server.db_url)
    try:
        with engine.connect() as conn:
            raw = conn.execute(sa.text("SELECT details FROM vm_instance WHERE uuid = :u"), {"u": vm_uuid}).scalar()
    finally:
        engine.dispose()
    return dict(json.loads(raw) if isinstance(raw, str) else raw)  # SQLite answers the JSON text


def assert_hash_of(server: LiveServer, vm_uuid: str, password: str) -> str:
    stored = stored_details(server, vm_uuid)[HASH_DETAIL]
    salt = stored.split("$")[2]
    assert stored == sha512_crypt(password, salt), "the stored hash is not the hash of the password shown"
    return str(stored)


def test_password_enabled_template_deploy_and_reset(live_server: LiveServer) -> None:
    api = live_server.api
    cloud = simulated_cloud(live_server)
    base = {"zoneid": cloud.zone, "serviceofferingid": cloud.offering, "templateid": cloud.template}
    plain = api.deployVirtualMachine(name="plain-1", startvm=False, **base)["virtualmachine"]
    assert "password" not in plain
    assert "not password enabled" in error_text(api.resetPasswordForVirtualMachine, id=plain["id"])

    api.updateTemplate(id=cloud.template, passwordenabled=True)
    vm = api.deployVirtualMachine(name="pw-1", details=[{"key": "purpose", "value": "web"}], **base)["virtualmachine"]
    first = vm["password"]
    assert len(first) == 6 and vm["passwordenabled"] is True and vm["state"] == "Running"
    assert vm["details"] == {"purpose": "web"}
    first_hash = assert_hash_of(live_server, vm["id"], first)
    listed = api.listVirtualMachines(id=vm["id"])["virtualmachine"][0]
    assert "password" not in listed and listed["details"] == {"purpose": "web"}

    assert error_code(api.resetPasswordForVirtualMachine, id=vm["id"]) == 431  # Running
    api.stopVirtualMachine(id=vm["id"])
    reset = api.resetPasswordForVirtualMachine(id=vm["id"])["virtualmachine"]
    assert reset["password"] != first
    assert assert_hash_of(live_server, vm["id"], reset["password"]) != first_hash

    # The hash is no caller's detail: neither set nor cleaned up by updateVirtualMachine.
    api.updateVirtualMachine(id=vm["id"], details=[{"key": HASH_DETAIL, "value": "$6$x$y"}])
    assert_hash_of(live_server, vm["id"], reset["password"])
    cleaned = api.updateVirtualMachine(id=vm["id"], cleanupdetails=True)["virtualmachine"]
    assert cleaned.get("details", {}) == {}
    assert_hash_of(live_server, vm["id"], reset["password"])
    # The VM is defined on its host already: the start writes its seed again before powering it on.
    assert api.startVirtualMachine(id=vm["id"])["virtualmachine"]["state"] == "Running"
