"""Helpers of the guest network tests: accounts with their own ``cs`` clients beside the admin's."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cs import CloudStack, CloudStackApiException

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
