"""Permission matrix: root admin, domain admin and user x commands x resources of other accounts.

Layout: domains ``d1`` and ``d2`` under ROOT; in ``d1`` a domain admin ``dadmin``, a user ``alice`` and
another user account ``bob``; in ``d2`` a user account ``eve`` (outside the domain admin's subtree).
Outcomes: ``ok`` (answered with the resource), ``none`` (answered, but the resource is not visible),
or the CloudStack error code (401: command not available to the role; 531: not allowed on that resource).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from cs import CloudStack, CloudStackApiException

from tests.support.server import LiveServer

pytestmark = pytest.mark.integration

PASSWORD = "matrix-Passw0rd"


@dataclass
class World:
    """The resources and one client per caller."""

    ids: dict[str, str]
    clients: dict[str, CloudStack]


def _account(api: CloudStack, name: str, kind: int, domain: str) -> dict[str, Any]:
    created: dict[str, Any] = api.createAccount(
        username=name,
        password=PASSWORD,
        email=f"{name}@example.org",
        firstname=name,
        lastname="T",
        accounttype=kind,
        domainid=domain,
    )["account"]
    return created


@pytest.fixture
def world(live_server: LiveServer) -> World:
    api = live_server.api
    d1 = api.createDomain(name="d1")["domain"]["id"]
    d2 = api.createDomain(name="d2")["domain"]["id"]
    accounts = {
        "dadmin": _account(api, "dadmin", 2, d1),
        "alice": _account(api, "alice", 0, d1),
        "bob": _account(api, "bob", 0, d1),
        "eve": _account(api, "eve", 0, d2),
    }
    ids = {"d1": d1, "d2": d2}
    clients = {"root": api}
    for name, account in accounts.items():
        ids[name] = account["id"]
        ids[f"{name}_user"] = account["user"][0]["id"]
        keys = api.registerUserKeys(id=account["user"][0]["id"])["userkeys"]
        clients[name] = live_server.client(keys["apikey"], keys["secretkey"])
    return World(ids, {caller: clients[caller] for caller in ("root", "dadmin", "alice")})


def outcome(call: Callable[[], Any], found: Callable[[Any], bool] = bool) -> str | int:
    """``ok``/``none`` for an answer (``found`` decides), or the error code."""
    try:
        answer = call()
    except CloudStackApiException as exc:
        return int(exc.error["errorcode"])
    return "ok" if found(answer) else "none"


def secret_shown(answer: dict[str, Any]) -> bool:
    return "secretkey" in answer["userkeys"]


# (description, call, expected outcome for root, domain admin, user)
MATRIX: list[tuple[str, Callable[[CloudStack, dict[str, str]], Any], Callable[[Any], bool], tuple[Any, Any, Any]]] = [
    ("list another account in d1", lambda c, i: c.listAccounts(id=i["bob"]), bool, ("ok", "ok", "none")),
    ("list an account in d2", lambda c, i: c.listAccounts(id=i["eve"]), bool, ("ok", "none", "none")),
    ("list users of another account", lambda c, i: c.listUsers(id=i["bob_user"]), bool, ("ok", "ok", "none")),
    ("list users outside the subtree", lambda c, i: c.listUsers(id=i["eve_user"]), bool, ("ok", "none", "none")),
    ("list domain d2", lambda c, i: c.listDomains(id=i["d2"]), bool, ("ok", "none", "none")),
    ("secret of another user", lambda c, i: c.getUserKeys(id=i["bob_user"]), secret_shown, ("ok", "none", 531)),
    ("own secret", lambda c, i: c.getUserKeys(id=i["alice_user"]), secret_shown, ("ok", "none", "ok")),
    ("lock a user in d1", lambda c, i: c.lockUser(id=i["bob_user"]), bool, ("ok", "ok", 401)),
    ("disable a user in d2 (async)", lambda c, i: c.disableUser(id=i["eve_user"]), bool, ("ok", 531, 401)),
    ("create an account in d2", lambda c, i: _account(c, "x" + str(id(c))[-6:], 0, i["d2"]), bool, ("ok", 531, 401)),
    (
        "tag another account (async)",
        lambda c, i: c.createTags(
            resourceids=i["bob"], resourcetype="Account", tags=[{"key": f"k{id(c)}", "value": "v"}]
        ),
        bool,
        ("ok", "ok", 531),
    ),
    (
        "tag a zone-level resource type",
        lambda c, i: c.createTags(
            resourceids=i["d2"], resourcetype="Domain", tags=[{"key": f"k{id(c)}", "value": "v"}]
        ),
        bool,
        ("ok", 531, 531),
    ),
    ("read configuration", lambda c, i: c.listConfigurations(name="expunge.delay"), bool, ("ok", 401, 401)),
    ("create a role", lambda c, i: c.createRole(name=f"r{id(c)}", type="User"), bool, ("ok", 401, 401)),
    ("list roles", lambda c, i: c.listRoles(name="User"), bool, ("ok", "ok", "ok")),
]


def test_permission_matrix(world: World) -> None:
    seen: dict[str, tuple[Any, ...]] = {}
    expected: dict[str, tuple[Any, ...]] = {}
    for description, call, found, wanted in MATRIX:
        seen[description] = tuple(
            outcome(lambda client=client, call=call: call(client, world.ids), found)  # type: ignore[misc]
            for client in world.clients.values()
        )
        expected[description] = wanted
    assert seen == expected


def test_users_only_see_their_own_jobs(world: World) -> None:
    world.clients["root"].createTags(
        resourceids=world.ids["d1"], resourcetype="Domain", tags=[{"key": "r", "value": "1"}]
    )
    world.clients["alice"].createTags(
        resourceids=world.ids["alice"], resourcetype="Account", tags=[{"key": "a", "value": "b"}]
    )
    alice_jobs = world.clients["alice"].listAsyncJobs(listall=True)["asyncjobs"]
    assert {job["account"] for job in alice_jobs} == {"alice"}
    root_jobs = world.clients["root"].listAsyncJobs(listall=True)["asyncjobs"]
    with pytest.raises(CloudStackApiException) as denied:
        world.clients["alice"].queryAsyncJobResult(jobid=next(j["jobid"] for j in root_jobs if j["account"] != "alice"))
    assert denied.value.error["errorcode"] == 531
