"""Throttling (429), source CIDRs and POST/timestamp enforcement, through the app and on their own."""

from __future__ import annotations

import warnings
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, update

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # Starlette's TestClient warning about httpx, as in test_api_app.py
    from starlette.testclient import TestClient

from provisioner.api.app import create_app
from provisioner.api.guards import Throttle, check_post_and_timestamps
from provisioner.api.settings import ApiSettings
from provisioner.db.schema import configuration
from provisioner.exceptions import ApiLimitExceededError, MethodNotAllowedError, UnauthorizedError
from provisioner.server.api_settings import configured_api_settings
from provisioner.server.bootstrap import prepare_database
from tests.support.api_backend import USER_KEY, USER_SECRET, make_backend, signed

URL = "/client/api"


def client_for(settings: ApiSettings, address: str = "127.0.0.1") -> TestClient:
    backend = make_backend(settings)
    return TestClient(create_app(backend, backend.settings, backend.registry), client=(address, 50000))


def as_user(command: str, **params: str) -> dict[str, str]:
    return signed(command, key=USER_KEY, secret=USER_SECRET, **params)


def error_of(response: Any) -> dict[str, Any]:
    (inner,) = response.json().values()
    return dict(inner)


def test_a_user_over_the_limit_gets_429_with_the_retry_delay_and_root_admins_are_never_throttled() -> None:
    with client_for(ApiSettings(throttling_enabled=True, throttling_interval=60, throttling_max=3)) as client:
        codes = [client.get(URL, params=as_user("listDemoZones")).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        error = error_of(client.get(URL, params=as_user("listDemoZones")))
        assert error["errorcode"] == 429
        assert error["errortext"].startswith("The given user has reached his/her account api limit, please retry")
        assert all(client.get(URL, params=signed("listDemoZones")).status_code == 200 for _ in range(6))


def test_the_throttling_window_resets_after_the_interval() -> None:
    throttle = Throttle(interval=1, limit=2)
    throttle.check("u", now=100.0)
    throttle.check("u", now=100.5)
    with pytest.raises(ApiLimitExceededError, match="retry after 500 ms"):
        throttle.check("u", now=100.5)
    throttle.check("other", now=100.5)  # counters are per user
    throttle.check("u", now=101.0)


def test_callers_outside_the_allowed_cidrs_are_refused_with_401() -> None:
    settings = ApiSettings(allowed_source_cidrs=("127.0.0.0/8",))
    with client_for(settings) as local:
        assert local.get(URL, params=as_user("listDemoZones")).status_code == 200
    with client_for(settings, address="198.18.0.7") as outside:
        response = outside.get(URL, params=as_user("listDemoZones"))
        assert response.status_code == 401
        assert "198.18.0.7" in error_of(response)["errortext"]
    with client_for(ApiSettings(allowed_source_cidrs=("127.0.0.0/8",), source_cidr_checks=False), "198.18.0.7") as off:
        assert off.get(URL, params=as_user("listDemoZones")).status_code == 200
    with pytest.raises(ValueError, match="not a CIDR"):
        ApiSettings(allowed_source_cidrs=("10.0.0.0/33",))


def test_enforced_post_refuses_state_changes_by_get_and_unversioned_signatures() -> None:
    with client_for(ApiSettings(enforce_post_and_timestamps=True)) as client:
        expires = (datetime.now(UTC) + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S+0000")
        v3 = {"signatureVersion": "3", "expires": expires}
        assert client.get(URL, params=signed("listDemoZones", **v3)).status_code == 200
        assert client.get(URL, params=signed("listDemoZones")).status_code == 401  # no v3 / expires
        create = signed("createDemoZone", name="z", dns1="x", **v3)
        assert client.get(URL, params=create).status_code == 405
        assert client.post(URL, data=create).status_code == 200


def test_enforced_timestamps_refuse_an_expires_too_far_ahead() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    params = {"signatureVersion": "3", "expires": "2026-01-01T01:00:00+0000"}
    with pytest.raises(UnauthorizedError, match="15 minutes"):
        check_post_and_timestamps("listZones", "GET", params, signed=True, now=now)
    with pytest.raises(MethodNotAllowedError, match="deployVirtualMachine needs to be sent using POST"):
        check_post_and_timestamps("deployVirtualMachine", "GET", {}, signed=False, now=now)


def test_server_start_applies_the_stored_settings_and_ignores_a_bad_value(db_engine: Engine) -> None:
    prepare_database(db_engine)
    with db_engine.begin() as conn:
        for name, value in (
            ("api.throttling.enabled", "true"),
            ("api.throttling.max", "7"),
            ("default.page.size", "x"),
        ):
            conn.execute(update(configuration).where(configuration.c.name == name).values(value=value))
    with db_engine.begin() as conn:
        settings = configured_api_settings(conn, ApiSettings())
    assert settings.throttling_enabled is True and settings.throttling_max == 7
    assert settings.default_page_size == 500  # "x" is not a number: reported and ignored
    assert settings.allowed_source_cidrs == ("0.0.0.0/0", "::/0")
