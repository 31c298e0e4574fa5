"""Real clients (cs, Libcloud, requests, httpx) against a real uvicorn server on a free loopback port."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote_plus

import httpx
import pytest
import requests
from cs import CloudStack, CloudStackApiException
from libcloud.common.types import InvalidCredsError
from libcloud.compute.providers import get_driver
from libcloud.compute.types import Provider

from provisioner.api.settings import ApiSettings
from tests.support.api_backend import ADMIN_KEY, ADMIN_SECRET, LiveServer, serve_api

pytestmark = pytest.mark.integration

#: Values that trip encoders: spaces, *, ~, [, ], +, $, unicode.
AWKWARD = "a b*c~d[e]f+g$h ünï ☁"


@pytest.fixture(scope="module")
def live() -> Iterator[LiveServer]:
    yield from serve_api(ApiSettings())


@pytest.fixture(scope="module")
def integration_live() -> Iterator[LiveServer]:
    yield from serve_api(ApiSettings(integration=True))


def cs_client(live: LiveServer, **options: Any) -> CloudStack:
    return CloudStack(endpoint=live.url, key=ADMIN_KEY, secret=ADMIN_SECRET, poll_interval=0.05, timeout=10, **options)


def test_cs_get_v3_and_post(live: LiveServer) -> None:
    api = cs_client(live)
    created = api.createDemoZone(name=f"cs {AWKWARD}", dns1="8.8.8.8", details=[{"key": "k*~", "value": AWKWARD}])
    assert created["zone"]["details"] == {"k*~": AWKWARD}
    posting = cs_client(live, method="post")
    listed = posting.listDemoZones(name=f"cs {AWKWARD}")
    assert listed["count"] == 1 and listed["zone"][0]["id"] == created["zone"]["id"]
    everything = api.listDemoZones(fetch_list=True)
    assert any(zone["name"] == f"cs {AWKWARD}" for zone in everything)


def test_cs_async_create_polls_to_the_result(live: LiveServer) -> None:
    api = cs_client(live, fetch_result=True)
    zone = api.createDemoZone(name="cs-async", dns1="1.1.1.1")["zone"]
    vm = api.deployDemoVm(zoneid=zone["id"], name="vm1")
    assert vm["virtualmachine"]["name"] == "vm1"
    with pytest.raises(CloudStackApiException):
        api.failDemo()


def test_cs_errors_expired_and_wrong_secret(live: LiveServer) -> None:
    past = (datetime.now(UTC) - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%S%z")
    with pytest.raises(CloudStackApiException) as expired:
        cs_client(live).listDemoZones(expires=past, signatureVersion="3")
    assert expired.value.error["errorcode"] == 401
    with pytest.raises(CloudStackApiException) as wrong:
        CloudStack(endpoint=live.url, key=ADMIN_KEY, secret="wrong", timeout=10).listDemoZones()
    assert wrong.value.error["errortext"] == "unable to verify user credentials and/or request signature"
    with pytest.raises(CloudStackApiException) as missing:
        cs_client(live).deleteDemoZone(id="6a1f0f4e-1111-4222-8333-944455556666")
    assert "due to incorrect long value format, or entity does not exist" in missing.value.error["errortext"]


def test_cs_unsigned_on_the_integration_api(integration_live: LiveServer) -> None:
    api = CloudStack(endpoint=integration_live.url, key="", secret="", timeout=10)
    assert api.createDemoZone(name="unsigned", dns1="x")["zone"]["name"] == "unsigned"
    assert api.listCapabilities()["capability"]["cloudstackversion"]


def test_libcloud_v1_signing_python_booleans_and_async(live: LiveServer) -> None:
    driver: Any = get_driver(Provider.CLOUDSTACK)(key=ADMIN_KEY, secret=ADMIN_SECRET, url=live.url, secure=False)
    created = driver._sync_request("createDemoZone", params={"name": f"lc {AWKWARD}", "dns1": "9.9.9.9"})
    listed = driver._sync_request("listDemoZones", params={"name": f"lc {AWKWARD}", "available": True})
    assert listed["zone"][0]["id"] == created["zone"]["id"]
    result = driver._async_request("deployDemoVm", params={"zoneid": created["zone"]["id"], "name": "lcvm"})
    assert result["virtualmachine"]["name"] == "lcvm"
    bad: Any = get_driver(Provider.CLOUDSTACK)(key=ADMIN_KEY, secret="wrong", url=live.url, secure=False)
    with pytest.raises(InvalidCredsError):
        bad._sync_request("listDemoZones")


def test_requests_session_login_keys_bootstrap(live: LiveServer) -> None:
    with requests.Session() as session:
        login = session.post(
            live.url,
            data={"command": "login", "username": "admin", "password": "password", "domain": "/", "response": "json"},
            timeout=10,
        )
        assert login.status_code == 200, login.text
        key = login.json()["loginresponse"]["sessionkey"]
        assert session.cookies.get("sessionkey") == key and session.cookies.get("JSESSIONID")
        listed = session.get(
            live.url, params={"command": "listApis", "response": "json", "sessionkey": key}, timeout=10
        )
        assert listed.status_code == 200 and listed.json()["listapisresponse"]["count"] > 0
        out = session.get(live.url, params={"command": "logout", "response": "json", "sessionkey": key}, timeout=10)
        assert out.json() == {"logoutresponse": {"description": "success"}}
        again = session.get(live.url, params={"command": "listApis", "response": "json", "sessionkey": key}, timeout=10)
        assert again.status_code == 401


def test_httpx_login_like_cmk(live: LiveServer) -> None:
    with httpx.Client(timeout=10) as client:
        login = client.post(
            live.url, data={"command": "login", "username": "alice", "password": "wonderland", "response": "json"}
        )
        key = client.cookies["sessionkey"]  # cmk reads the cookie, not the body
        assert login.json()["loginresponse"]["sessionkey"] == key
        zones = client.get(live.url, params={"command": "listDemoZones", "response": "json", "sessionkey": key})
        assert zones.status_code == 200
        forbidden = client.get(
            live.url,
            params={"command": "createDemoZone", "response": "json", "sessionkey": key, "name": "x", "dns1": "y"},
        )
        assert forbidden.status_code == 401
        assert forbidden.headers["x-description"].startswith("The given command 'createDemoZone'")


def test_openapi_served(live: LiveServer) -> None:
    document = httpx.get(live.url.replace("/client/api", "/openapi.json"), timeout=10).json()
    assert "/client/api/listApis" in document["paths"]


def _go_escape(text: str) -> str:
    return quote_plus(text, safe="~")


@pytest.mark.parametrize("style", ["cmk", "cloudstack-go"])
def test_raw_go_style_query_strings(live: LiveServer, style: str) -> None:
    """Hand-written cmk / cloudstack-go encoders: the URL carries the same escaping the signature used."""
    params = {"command": "listDemoZones", "apiKey": ADMIN_KEY, "response": "json", "name": AWKWARD,
              "tags[0].key": "k~*", "tags[0].value": AWKWARD}  # fmt: skip
    if style == "cloudstack-go":
        expires = (datetime.now(UTC) + timedelta(minutes=15)).strftime("%Y-%m-%dT%H:%M:%SZ")
        params |= {"signatureversion": "3", "expires": expires}
    encode_key = _go_escape if style == "cloudstack-go" else str
    query = "&".join(f"{encode_key(k)}={_go_escape(params[k])}" for k in sorted(params))
    query = query.replace("+", "%20").replace("%2A", "*")
    digest = hmac.new(ADMIN_SECRET.encode(), query.lower().encode(), hashlib.sha1).digest()
    url = f"{live.url}?{query}&signature={_go_escape(base64.b64encode(digest).decode())}"
    response = httpx.get(url, timeout=10)
    assert response.status_code == 200, response.text
