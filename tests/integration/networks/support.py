"""Helpers of the guest network tests: accounts with their own ``cs`` clients, and a simulated zone to deploy in."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from cs import CloudStack, CloudStackApiException

from tests.integration.infrastructure.support import build_zone, wait_hosts_up
from tests.support.server import LiveServer

PASSWORD = "networks-Passw0rd"


@dataclass
class People:
    """Domains d1 (domain admin ``dadmin``, users ``alice`` and ``bob``) and d2 (user ``eve``), with clients."""

    ids: dict[str, str] = field(default_factory=dict)
    clients: dict[str, CloudStack] = field(default_factory=dict)


def make_people(server: LiveServer) -> People:
    """Create the domains and accounts and an API client for each account (and ``root``)."""
    api = server.api
    people = People()
    people.clients["root"] = api
    people.ids["d1"] = api.createDomain(name="d1")["domain"]["id"]
    people.ids["d2"] = api.createDomain(name="d2")["domain"]["id"]
    for name, kind, where in (("dadmin", 2, "d1"), ("alice", 0, "d1"), ("bob", 0, "d1"), ("eve", 0, "d2")):
        account = api.createAccount(
            username=name,
            password=PASSWORD,
            email=f"{name}@example.org",
            firstname=name,
            lastname="T",
            accounttype=kind,
            domainid=people.ids[where],
        )["account"]
        people.ids[name] = account["id"]
        keys = api.registerUserKeys(id=account["user"][0]["id"])["userkeys"]
        people.clients[name] = server.client(keys["apikey"], keys["secretkey"])
    return people


def error_code(call: Any, **params: Any) -> int:
    """The errorcode ``call(**params)`` fails with (the test fails when it succeeds)."""
    try:
        answer = call(**params)
    except CloudStackApiException as exc:
        return int(exc.error["errorcode"])
    raise AssertionError(f"expected an error, got {answer}")


def error_text(call: Any, **params: Any) -> str:
    """The errortext ``call(**params)`` fails with."""
    try:
        answer = call(**params)
    except CloudStackApiException as exc:
        return str(exc.error["errortext"])
    raise AssertionError(f"expected an error, got {answer}")


#: Bound of the wait for a registered template to be Ready in a simulated zone (at once, normally).
READY_TIMEOUT = 30.0


@dataclass(frozen=True)
class Cloud:
    """A simulated Advanced zone with two hosts, an offering and a Ready template everyone may use."""

    zone: str
    pod: str
    hosts: tuple[str, ...]
    offering: str
    template: str


def simulated_cloud(server: LiveServer) -> Cloud:
    """The canonical zone build plus a second host, a small offering and a public Ready template."""
    api = server.api
    built = build_zone(api, api, name="nz")
    api.addHost(
        url="http://sim/nz-c0/h1",
        hypervisor="Simulator",
        podid=built.pod,
        zoneid=built.zone,
        clusterid=built.cluster,
        username="root",
        password="password",
    )
    hosts = wait_hosts_up(api, built.cluster, 2)
    offering = api.createServiceOffering(name="small", displaytext="small", cpunumber=1, cpuspeed=500, memory=512)
    template = api.registerTemplate(
        name="tiny",
        displaytext="tiny",
        url="http://198.18.0.9/tiny.qcow2",
        format="QCOW2",
        hypervisor="Simulator",
        zoneid=built.zone,
        ispublic=True,
        isfeatured=True,
        ostypeid=api.listOsTypes()["ostype"][0]["id"],
    )["template"][0]
    deadline = time.monotonic() + READY_TIMEOUT
    while True:
        rows = api.listTemplates(id=template["id"], templatefilter="all").get("template", [])
        if rows and all(row["isready"] for row in rows):
            break
        assert time.monotonic() < deadline, f"template not ready: {rows}"
        time.sleep(0.2)
    return Cloud(
        built.zone,
        built.pod,
        tuple(h["id"] for h in hosts),
        offering["serviceoffering"]["id"],
        template["id"],
    )
