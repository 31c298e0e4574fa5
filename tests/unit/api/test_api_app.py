"""The protocol end to end through the Starlette app and the in-memory backend (no sockets)."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from typing import Any

import pytest

with warnings.catch_warnings():
    # Starlette 1.x warns that its TestClient wants the httpx2 fork; the httpx we have works the same here.
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from provisioner.api.app import create_app
from provisioner.api.auth import jsessionid_for
from provisioner.api.settings import ApiSettings
from provisioner.api.signing import sign
from provisioner.exceptions import UnsupportedActionError
from tests.support.api_backend import (
    ADMIN,
    ADMIN_SECRET,
    USER_KEY,
    USER_SECRET,
    MemoryBackend,
    make_backend,
    signed,
)

URL = "/client/api"
LOCAL = ("127.0.0.1", 50000)


@pytest.fixture
def backend() -> MemoryBackend:
    return make_backend()


@pytest.fixture
def client(backend: MemoryBackend) -> Iterator[TestClient]:
    with TestClient(create_app(backend, backend.settings, backend.registry), client=LOCAL) as test_client:
        yield test_client


def body(response: Any, key: str) -> dict[str, Any]:
    data = response.json()
    assert list(data) == [key], data  # exactly one top-level key (cs requires it)
    inner: dict[str, Any] = data[key]
    return inner


def create_zone(client: TestClient, name: str = "z1", **extra: str) -> dict[str, Any]:
    response = client.get(URL, params=signed("createDemoZone", name=name, dns1="8.8.8.8", **extra))
    assert response.status_code == 200, response.text
    zone: dict[str, Any] = body(response, "createdemozoneresponse")["zone"]
    return zone


def test_empty_list_is_empty_object_with_json_content_type(client: TestClient) -> None:
    response = client.get(URL, params=signed("listDemoZones"))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json; charset=UTF-8"
    assert body(response, "listdemozonesresponse") == {}


def test_create_and_list_types_and_count(client: TestClient) -> None:
    zone = create_zone(client, details_0="unused", **{"details[0].key": "cpu", "details[0].value": "8 cores"})
    assert zone["cpunumber"] == 4 and zone["securitygroupsenabled"] is False
    assert zone["created"] == "2024-05-01T10:00:00+0000"
    assert zone["details"] == {"cpu": "8 cores"}
    assert "dns2" not in zone  # None fields are omitted
    for index in range(2, 6):
        create_zone(client, f"z{index}")
    listed = body(client.get(URL, params=signed("listDemoZones", page="2", pagesize="2")), "listdemozonesresponse")
    assert listed["count"] == 5 and [z["name"] for z in listed["zone"]] == ["z3", "z4"]
    assert set(listed) == {"count", "zone"}
    past = body(client.get(URL, params=signed("listDemoZones", page="9", pagesize="2")), "listdemozonesresponse")
    assert past == {"count": 5}


def test_post_form_body_and_get_values_win(client: TestClient) -> None:
    params = signed("createDemoZone", name="formzone", dns1="1.1.1.1")
    response = client.post(URL, data=params)
    assert response.status_code == 200, response.text
    both = signed("listDemoZones", name="formzone")
    response = client.post(URL + "?" + "&".join(f"{k}={v}" for k, v in {"name": "formzone"}.items()), data=both)
    assert body(response, "listdemozonesresponse")["count"] == 1


def test_case_insensitive_names_and_python_booleans(client: TestClient) -> None:
    create_zone(client)
    response = client.get(URL, params=signed("listDemoZones", NAME="z1", Available="True"))
    assert body(response, "listdemozonesresponse")["count"] == 1


def test_success_and_unknown_id_texts(client: TestClient) -> None:
    zone = create_zone(client)
    response = client.get(URL, params=signed("deleteDemoZone", id=zone["id"].upper()))
    assert body(response, "deletedemozoneresponse") == {"success": True}
    response = client.get(URL, params=signed("deleteDemoZone", id=zone["id"]))
    assert response.status_code == 431
    error = body(response, "deletedemozoneresponse")
    assert error == {
        "uuidList": [],
        "errorcode": 431,
        "cserrorcode": 4350,
        "errortext": f"Invalid parameter id value={zone['id']} due to incorrect long value format, or entity does "
        "not exist or due to incorrect parameter annotation for the field in api cmd class.",
    }
    assert response.headers["x-description"] == error["errortext"]


def test_missing_and_wrong_type_parameters(client: TestClient) -> None:
    response = client.get(URL, params=signed("createDemoZone", name="z"))
    assert response.status_code == 431
    expected = "Unable to execute API command createdemozone due to missing parameter dns1"
    assert body(response, "createdemozoneresponse")["errortext"] == expected
    response = client.get(URL, params=signed("createDemoZone", name="z", dns1="x", cpunumber="four"))
    assert response.status_code == 431
    assert "cpunumber" in response.json()["createdemozoneresponse"]["errortext"]
    assert "four" in response.json()["createdemozoneresponse"]["errortext"]
    response = client.get(URL, params=signed("createDemoZone", name="z" * 65, dns1="x"))
    assert response.status_code == 431


def test_malformed_map_parameter_is_430(client: TestClient) -> None:
    response = client.get(URL, params=signed("createDemoZone", name="z", dns1="x", **{"details[a].key": "v"}))
    assert response.status_code == 430


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"pagesize": "2"}, 431),
        ({"page": "1"}, 431),
        ({"page": "1", "pagesize": "501"}, 431),
        ({"page": "1", "pagesize": "-1"}, 431),
        ({"pagesize": "-1"}, 200),
        ({"page": "1", "pagesize": "500"}, 200),
    ],
)
def test_paging_rules(client: TestClient, params: dict[str, str], status: int) -> None:
    assert client.get(URL, params=signed("listDemoZones", **params)).status_code == status


def test_bad_signature_unknown_and_forbidden_commands(client: TestClient, backend: MemoryBackend) -> None:
    params = signed("listDemoZones")
    response = client.get(URL, params={**params, "signature": "AAAA" + params["signature"][4:]})
    assert response.status_code == 401
    text = "unable to verify user credentials and/or request signature"
    assert body(response, "listdemozonesresponse")["errortext"] == text
    response = client.get(URL, params=signed("noSuchCommand"))
    assert response.status_code == 401
    assert body(response, "errorresponse")["errortext"] == (
        "The given command 'noSuchCommand' either does not exist, is not available for user, or not available "
        "from ip address '127.0.0.1'."
    )
    response = client.get(URL, params=signed("createDemoZone", key=USER_KEY, secret=USER_SECRET, name="u", dns1="x"))
    assert response.status_code == 401
    backend.denied.add(("User", "listDemoZones"))
    assert client.get(URL, params=signed("listDemoZones", key=USER_KEY, secret=USER_SECRET)).status_code == 401
    assert client.get(URL, params=signed("listDemoZones", key="nobody", secret="x")).status_code == 401


def test_internal_errors_are_hidden_from_users_and_logged(client: TestClient) -> None:
    response = client.get(URL, params=signed("crashDemo"))
    assert response.status_code == 530
    assert "secret internals" not in response.text
    response = client.get(URL, params=signed("crashDemo", key=USER_KEY, secret=USER_SECRET))
    assert body(response, "crashdemoresponse")["errortext"] == (
        "Internal error executing command, please contact your system administrator"
    )


def test_async_and_async_create(client: TestClient, backend: MemoryBackend) -> None:
    zone = create_zone(client)
    answer = body(
        client.get(URL, params=signed("updateDemoZone", id=zone["id"], allocationstate="Enabled")),
        "updatedemozoneresponse",
    )
    assert list(answer) == ["jobid"] and isinstance(answer["jobid"], str)
    job = backend.jobs[answer["jobid"]]
    assert (job.command, job.instance_id, job.caller) == ("updateDemoZone", zone["id"], ADMIN)
    assert "signature" not in job.params and "apikey" not in job.params
    result = body(
        client.get(URL, params=signed("queryAsyncJobResult", jobid=answer["jobid"])), "queryasyncjobresultresponse"
    )
    assert result["jobstatus"] == 1 and result["jobresultcode"] == 0
    assert result["jobresult"]["zone"]["allocationstate"] == "Enabled"

    created = body(
        client.get(URL, params=signed("deployDemoVm", zoneid=zone["id"], name="vm1")), "deploydemovmresponse"
    )
    assert set(created) == {"id", "jobid"}
    result = body(
        client.get(URL, params=signed("queryAsyncJobResult", jobid=created["jobid"])), "queryasyncjobresultresponse"
    )
    assert result["jobresult"]["virtualmachine"] == {"id": created["id"], "name": "vm1", "state": "Running"}


def test_customjobid_presets_the_job_id_once(client: TestClient, backend: MemoryBackend) -> None:
    zone = create_zone(client)
    custom = "0F0E0D0C-0B0A-4000-8000-000000000abc"
    update = {"id": zone["id"], "allocationstate": "Enabled", "customjobid": custom}
    answer = body(client.get(URL, params=signed("updateDemoZone", **update)), "updatedemozoneresponse")
    assert answer == {"jobid": custom.lower()}
    assert "customjobid" not in backend.jobs[custom.lower()].params
    again = client.get(URL, params=signed("updateDemoZone", **update))
    assert again.status_code == 431 and "already exists" in again.text
    bad = client.get(URL, params=signed("updateDemoZone", **{**update, "customjobid": "job-1"}))
    assert bad.status_code == 431 and "customjobid" in bad.text


def test_async_ids_checked_before_the_job_exists(client: TestClient, backend: MemoryBackend) -> None:
    response = client.get(URL, params=signed("deployDemoVm", zoneid="6a1f0f4e-1111-4222-8333-944455556666"))
    assert response.status_code == 431 and not backend.jobs


def test_failed_job_result(client: TestClient) -> None:
    jobid = body(client.get(URL, params=signed("failDemo")), "faildemoresponse")["jobid"]
    result = body(client.get(URL, params=signed("queryAsyncJobResult", jobid=jobid)), "queryasyncjobresultresponse")
    assert result["jobstatus"] == 2 and result["jobresultcode"] == 533
    assert result["jobresult"] == {"errorcode": 533, "errortext": "no host has room for it"}


def test_xml_is_the_default(client: TestClient) -> None:
    params = signed("listCapabilities")
    del params["response"], params["signature"]
    params["signature"] = sign(params, ADMIN_SECRET)
    response = client.get(URL, params=params)
    assert response.headers["content-type"] == "text/xml; charset=UTF-8"
    assert response.text.startswith(
        '<?xml version="1.0" encoding="UTF-8"?><listcapabilitiesresponse cloud-stack-version='
    )
    assert "<cloudstackversion>4.19.0.0</cloudstackversion>" in response.text


def test_login_session_logout(client: TestClient) -> None:
    response = client.get(
        URL, params={"command": "login", "username": "admin", "password": "password", "response": "json"}
    )
    assert response.status_code == 405
    assert body(response, "loginresponse")["errortext"] == "Please use HTTP POST to authenticate using this API"

    response = client.post(URL, data={"command": "login", "username": "admin", "password": "nope", "response": "json"})
    assert response.status_code == 531

    # Parameters in the query string of a POST with an empty body (the legacy cloudmonkey does this).
    response = client.post(URL + "?command=login&username=admin&password=password&domain=%2F&response=json")
    assert response.status_code == 200, response.text
    login = body(response, "loginresponse")
    key = login["sessionkey"]
    assert (login["username"], login["type"], login["timeout"]) == ("admin", "1", 1800)
    set_cookies = response.headers.get_list("set-cookie")
    assert any(c.startswith("JSESSIONID=") and "Path=/client" in c for c in set_cookies)
    assert any(c.startswith(f"sessionkey={key}") and "HttpOnly" in c for c in set_cookies)

    listed = client.get(URL, params={"command": "listDemoZones", "response": "json", "sessionkey": key})
    assert listed.status_code == 200, listed.text
    # CookieAndParameter: the cookie alone is not enough, nor a wrong parameter.
    assert client.get(URL, params={"command": "listDemoZones", "response": "json"}).status_code == 401
    wrong = client.get(URL, params={"command": "listDemoZones", "response": "json", "sessionkey": key + "x"})
    assert wrong.status_code == 401
    assert body(wrong, "listdemozonesresponse")["errortext"] == "unable to verify user credentials"

    out = client.get(URL, params={"command": "logout", "response": "json", "sessionkey": key})
    assert body(out, "logoutresponse") == {"description": "success"}
    client.cookies.set("JSESSIONID", jsessionid_for(key), path="/client")
    client.cookies.set("sessionkey", key, path="/client")
    assert (
        client.get(URL, params={"command": "listDemoZones", "response": "json", "sessionkey": key}).status_code == 401
    )


def test_session_without_jsessionid_is_refused(backend: MemoryBackend) -> None:
    key = backend.create_session(ADMIN)
    with TestClient(create_app(backend, backend.settings, backend.registry), client=LOCAL) as bare:
        response = bare.get(URL, params={"command": "listDemoZones", "response": "json", "sessionkey": key})
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("mode", "param", "cookie", "ok"),
    [
        ("CookieOrParameter", True, False, True),
        ("CookieOrParameter", False, True, True),
        ("ParameterOnly", True, False, True),
        ("ParameterOnly", False, True, False),
        ("CookieAndParameter", True, False, False),
        ("CookieAndParameter", True, True, True),
    ],
)
def test_session_key_check_locations(mode: str, param: bool, cookie: bool, ok: bool) -> None:
    backend = make_backend(ApiSettings(sessionkey_check_locations=mode))
    key = backend.create_session(ADMIN)
    cookies = {"JSESSIONID": jsessionid_for(key), **({"sessionkey": key} if cookie else {})}
    with TestClient(create_app(backend, backend.settings, backend.registry), client=LOCAL, cookies=cookies) as c:
        params = {"command": "listDemoZones", "response": "json", **({"sessionkey": key} if param else {})}
        assert (c.get(URL, params=params).status_code == 200) is ok


def test_integration_app_runs_unsigned_as_system_and_only_for_loopback() -> None:
    backend = make_backend(ApiSettings(integration=True))
    app = create_app(backend, backend.settings, backend.registry)
    with TestClient(app, client=LOCAL) as local:
        response = local.get(URL, params={"command": "createDemoZone", "name": "i", "dns1": "x", "response": "json"})
        assert response.status_code == 200, response.text
    with TestClient(app, client=("192.0.2.1", 4000)) as remote:
        assert remote.get(URL, params={"command": "listDemoZones", "response": "json"}).status_code == 401
    with pytest.raises(ValueError, match="loopback"):
        ApiSettings(integration=True, bind_host="0.0.0.0")


def test_openapi_document_and_synthetic_paths(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    assert document["openapi"].startswith("3.")
    operation = document["paths"]["/client/api/listDemoZones"]["get"]
    names = [p["name"] for p in operation["parameters"]]
    assert names[:2] == ["command", "response"] and "pagesize" in names
    assert document["paths"]["/client/api/createDemoZone"]["get"]["x-cloudstack-map-params"] == ["details"]
    json.dumps(document)  # serialisable
    # The synthetic path is served like /client/api.
    response = client.get("/client/api/listDemoZones", params=signed("listDemoZones"))
    assert response.status_code == 200


def test_list_async_jobs_and_job_visibility(client: TestClient) -> None:
    jobid = body(client.get(URL, params=signed("failDemo")), "faildemoresponse")["jobid"]
    listed = body(client.get(URL, params=signed("listAsyncJobs")), "listasyncjobsresponse")
    assert listed["count"] == 1 and listed["asyncjobs"][0]["jobid"] == jobid
    assert listed["asyncjobs"][0]["jobstatus"] == 0 and "jobresult" not in listed["asyncjobs"][0]
    as_user = client.get(URL, params=signed("listAsyncJobs", key=USER_KEY, secret=USER_SECRET))
    assert body(as_user, "listasyncjobsresponse") == {}
    other = client.get(URL, params=signed("queryAsyncJobResult", key=USER_KEY, secret=USER_SECRET, jobid=jobid))
    assert other.status_code == 531
    malformed = client.get(URL, params=signed("queryAsyncJobResult", jobid="not-a-uuid"))
    assert malformed.status_code == 431


def test_default_registry_serves_the_protocol_commands(backend: MemoryBackend) -> None:
    with TestClient(create_app(backend, backend.settings), client=LOCAL) as default:
        apis = body(default.get(URL, params=signed("listApis")), "listapisresponse")["api"]
    names = {api["name"] for api in apis}
    assert {"listApis", "listCapabilities", "login", "logout", "queryAsyncJobResult", "listAsyncJobs"} <= names
    assert "listDemoZones" not in names


def test_execute_async_of_an_unknown_command_fails_the_job(backend: MemoryBackend) -> None:
    with pytest.raises(UnsupportedActionError, match="Unknown API command: gone"):
        backend.registry.execute_async(backend, backend.settings, ADMIN, "gone", {})
