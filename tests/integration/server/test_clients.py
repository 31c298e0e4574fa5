"""Real clients against the real server on SQLite and PostgreSQL: key bootstrap, cs, Libcloud, Ansible."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cs import CloudStackApiException
from libcloud.compute.providers import get_driver
from libcloud.compute.types import Provider

from tests.support.server import LiveServer, admin_password, bootstrap_keys
from tests.support.tools import require_tool

pytestmark = pytest.mark.integration

PLAYBOOKS = Path(__file__).parents[2] / "fixtures" / "playbooks"


def test_key_bootstrap_like_client_ci(live_server: LiveServer) -> None:
    key, secret = bootstrap_keys(live_server.url, admin_password(live_server.files_dir))
    api = live_server.client(key, secret)
    admin = api.listUsers(username="admin")["user"][0]
    assert admin["apikey"] == key and "secretkey" not in admin
    assert api.getUserKeys(id=admin["id"])["userkeys"] == {"apikey": key, "secretkey": secret}
    # The keys the fixture got from `provisioner admin keys` were replaced; the CLI now hands out the new pair.
    done = live_server.cli("admin", "keys", "--json")
    assert done.returncode == 0 and key in done.stdout and secret in done.stdout
    assert secret not in live_server.log()


def test_cs_get_and_post_identity_round_trip(live_server: LiveServer) -> None:
    api = live_server.api
    poster = live_server.client(live_server.apikey, live_server.secretkey, method="post")
    domain = poster.createDomain(name="cs dom ~*")["domain"]
    assert domain["path"] == "ROOT/cs dom ~*" and domain["level"] == 1 and domain["haschild"] is False
    account = poster.createAccount(
        username="carol",
        password="s3cret pass",
        email="c@example.org",
        firstname="C",
        lastname="L",
        accounttype=2,
        domainid=domain["id"],
    )["account"]
    assert account["accounttype"] == 2 and account["roletype"] == "DomainAdmin"
    assert account["user"][0]["username"] == "carol" and account["domainpath"] == "ROOT/cs dom ~*"
    listed = api.listAccounts(domainid=domain["id"], fetch_list=True)
    assert [item["id"] for item in listed] == [account["id"]]
    # Async commands are polled to their result by cs.
    disabled = api.disableAccount(id=account["id"], lock=False)["account"]
    assert disabled["state"] == "disabled"
    api.createTags(resourceids=account["id"], resourcetype="account", tags=[{"key": "env", "value": "test"}])
    assert api.listTags(resourceid=account["id"])["tag"][0]["resourcetype"] == "Account"
    with pytest.raises(CloudStackApiException) as in_use:
        api.deleteDomain(id=domain["id"])
    assert in_use.value.error["errorcode"] == 536
    assert api.deleteDomain(id=domain["id"], cleanup=True) == {"success": True}
    with pytest.raises(CloudStackApiException) as gone:
        api.listDomains(id=domain["id"])
    assert "due to incorrect long value format, or entity does not exist" in gone.value.error["errortext"]


def test_libcloud_v1_signing_and_async(live_server: LiveServer) -> None:
    driver = get_driver(Provider.CLOUDSTACK)(
        key=live_server.apikey, secret=live_server.secretkey, url=live_server.url, secure=False
    )
    assert driver.ex_list_projects() == []
    domains = driver._sync_request(command="listDomains", params={"listall": True}, method="GET")
    root = domains["domain"][0]
    assert root["path"] == "ROOT" and domains["count"] == 1
    assert driver.ex_create_tags([root["id"]], "Domain", {"owner": "libcloud"})
    tags = driver._sync_request(command="listTags", params={"resourceid": root["id"]}, method="GET")
    assert tags["tag"][0]["value"] == "libcloud"
    assert driver.ex_delete_tags([root["id"]], "Domain", ["owner"])
    assert driver._sync_request(command="listTags", params={"resourceid": root["id"]}, method="GET") == {}


def test_ansible_identity_modules(live_server: LiveServer, tmp_path: Path) -> None:
    playbook = require_tool("ansible-playbook")
    env = {
        **os.environ,
        "CLOUDSTACK_ENDPOINT": live_server.url,
        "CLOUDSTACK_KEY": live_server.apikey,
        "CLOUDSTACK_SECRET": live_server.secretkey,
        "CLOUDSTACK_TIMEOUT": "30",
        "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-tmp"),
        "ANSIBLE_REMOTE_TEMP": str(tmp_path / "ansible-remote-tmp"),
        "ANSIBLE_HOME": str(tmp_path / "ansible-home"),
        "ANSIBLE_NOCOLOR": "1",
    }
    done = subprocess.run(
        [
            playbook,
            "-i",
            "localhost,",
            "-c",
            "local",
            "-e",
            f"ansible_python_interpreter={sys.executable}",
            str(PLAYBOOKS / "identity.yml"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert "failed=0" in done.stdout
    assert live_server.secretkey not in done.stdout
