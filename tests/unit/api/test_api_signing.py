"""Signature verification against the server algorithm and the real client encoders (sections 2.1 to 2.3)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, quote_plus

import pytest
from cs import CloudStack
from libcloud.common.cloudstack import CloudStackConnection

from provisioner.api.signing import check_expiry, parse_expires, sign, verify_signature
from provisioner.exceptions import UnauthorizedError

SECRET = "VDaACYb0LV9eNjTetIOElcVQkvJck_J_QljX_FcHRj87ZKiy0z0ty0ZsYBkoXkY9b7eq1EhwJaw7FF3akA3KBQ"
APIKEY = "plgWJfZK4gyS3mOMTVmjUVg-X-jlWlnfaUJ9GAbBbf9EdM-kAYMmAiLqzzq1ElZLYq_u38zCm0bewzGUdP66mg"
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)

Params = dict[str, str]

#: Values on which encoders disagree, and some on which they must agree.
VALUES = [
    "plain",
    "with space",
    "star*name",
    "tilde~name",
    "[bracket]",
    "1+1=2",
    "$100 & more",
    "ünïcødé ☁",
    "a/b?c#d",
    "mixed *~[] +$",
]


def _hmac(message: str, secret: str = SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), message.encode(), hashlib.sha1).digest()).decode()


def sign_cs(params: Params) -> str:
    """``cs.client.CloudStack._sign``: the library's own code."""
    data = dict(params)
    CloudStack(endpoint="http://127.0.0.1/client/api", key=APIKEY, secret=SECRET)._sign(data)  # type: ignore[no-untyped-call]
    return data["signature"]


def sign_libcloud(params: Params) -> str:
    """``libcloud.common.cloudstack.CloudStackConnection._make_signature``: the library's own code."""
    connection = object.__new__(CloudStackConnection)
    connection.key = SECRET
    signature: bytes = connection._make_signature(dict(params))  # type: ignore[no-untyped-call]
    return signature.decode()


def _go_query_escape(text: str) -> str:
    # Go's url.QueryEscape: unreserved -_.~ stay raw, space becomes "+", everything else %XX.
    return quote_plus(text, safe="~")


def sign_cmk(params: Params) -> str:
    """cmk ``encodeRequestParams``: ``sort.Strings`` keys, QueryEscape values, ``+``→%20, ``%2A``→``*``."""
    text = "&".join(f"{k}={_go_query_escape(params[k])}" for k in sorted(params))
    return _hmac(text.replace("+", "%20").replace("%2A", "*").lower())


def sign_cloudstack_go(params: Params) -> str:
    """cloudstack-go ``EncodeValues``: like cmk, but the names are QueryEscaped too."""
    text = "&".join(f"{_go_query_escape(k)}={_go_query_escape(params[k])}" for k in sorted(params))
    return _hmac(text.replace("+", "%20").replace("%2A", "*").lower())


def sign_marvin(params: Params) -> str:
    """Marvin ``sign``: lower-cased key order, ``quote_plus`` (``*`` → %2A), ``+``→%20."""
    pairs = sorted(params.items(), key=lambda kv: kv[0].lower())
    text = "&".join(f"{k}={quote_plus(v)}" for k, v in pairs)
    return _hmac(text.replace("+", "%20").lower())


def sign_java(params: Params) -> str:
    """The server algorithm written out independently: URLEncoder (``~`` → %7E), ``+``→%20."""
    text = "&".join(f"{k}={quote(params[k], safe='*').replace('~', '%7E')}" for k in sorted(params))
    return _hmac(text.lower())


SIGNERS: dict[str, Callable[[Params], str]] = {
    "java": sign_java,
    "ours": lambda params: sign(params, SECRET),
    "cs": sign_cs,
    "libcloud": sign_libcloud,
    "cmk": sign_cmk,
    "cloudstack-go": sign_cloudstack_go,
    "marvin": sign_marvin,
}


def request(value: str) -> Params:
    return {
        "command": "createTags",
        "apiKey": APIKEY,
        "response": "json",
        "resourceType": "UserVm",
        "tags[0].key": "label",
        "tags[0].value": value,
        "zoneName": value,
    }


def test_dev_guide_worked_example() -> None:
    params = {"command": "listUsers", "response": "json", "apikey": APIKEY}
    assert sign(params, SECRET) == "TTpdDq/7j/J58XCRHomKoQXEQds="
    verify_signature({**params, "signature": "TTpdDq/7j/J58XCRHomKoQXEQds="}, SECRET, NOW)


@pytest.mark.parametrize("signer", SIGNERS)
@pytest.mark.parametrize("value", VALUES)
def test_every_client_encoder_is_accepted(signer: str, value: str) -> None:
    params = request(value)
    signature = SIGNERS[signer](params)
    verify_signature({**params, "signature": signature}, SECRET, NOW)


@pytest.mark.parametrize("signer", SIGNERS)
def test_wrong_secret_is_rejected_for_every_encoder(signer: str) -> None:
    params = request("mixed *~[] +$")
    signature = SIGNERS[signer](params)
    with pytest.raises(UnauthorizedError, match="unable to verify user credentials and/or request signature"):
        verify_signature({**params, "signature": signature}, SECRET + "x", NOW)


def test_tampered_value_and_added_parameter_are_rejected() -> None:
    params = request("x")
    signature = sign(params, SECRET)
    with pytest.raises(UnauthorizedError):
        verify_signature({**params, "zoneName": "y", "signature": signature}, SECRET, NOW)
    with pytest.raises(UnauthorizedError):
        verify_signature({**params, "extra": "1", "signature": signature}, SECRET, NOW)


def test_missing_signature_is_rejected() -> None:
    with pytest.raises(UnauthorizedError):
        verify_signature(request("x"), SECRET, NOW)


def test_signature_with_spaces_for_plus_is_accepted() -> None:
    params = request("needs a plus")
    signature = sign(params, SECRET)
    for attempt in range(200):  # find a request whose signature holds a "+"
        if "+" in signature:
            break
        params = request(f"needs a plus {attempt}")
        signature = sign(params, SECRET)
    assert "+" in signature
    verify_signature({**params, "Signature": signature.replace("+", " ")}, SECRET, NOW)


def test_v3_with_cs_expires_is_accepted_and_expiry_enforced() -> None:
    client = CloudStack(endpoint="http://127.0.0.1/client/api", key=APIKEY, secret=SECRET)
    params = {
        "command": "listZones",
        "apiKey": APIKEY,
        "response": "json",
        "signatureVersion": "3",
        "expires": (NOW + timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    client._sign(params)  # type: ignore[no-untyped-call]
    verify_signature(params, SECRET, NOW)
    with pytest.raises(UnauthorizedError):  # replayed after it expired
        verify_signature(params, SECRET, NOW + timedelta(minutes=11))


@pytest.mark.parametrize(
    "expires",
    [
        "2026-11-23T12:10:00+0000",
        "2026-11-23T12:10:00Z",
        "2026-11-23T17:40:00+05:30",
        "2026-11-23T17:40:00+0530",
        "2026-11-23T12:10:00.250Z",
    ],
)
def test_expires_offsets(expires: str) -> None:
    assert parse_expires(expires) == datetime(2026, 11, 23, 12, 10, tzinfo=UTC) + (
        timedelta(milliseconds=250) if ".250" in expires else timedelta()
    )
    check_expiry({"signatureversion": "3", "expires": expires}, NOW)


def test_signature_version_name_is_case_insensitive_and_expires_required() -> None:
    for name in ("signatureVersion", "signatureversion", "SIGNATUREVERSION"):
        with pytest.raises(UnauthorizedError):
            check_expiry({name: "3"}, NOW)
        with pytest.raises(UnauthorizedError):
            check_expiry({name: "3", "expires": "2026-11-23T11:59:59Z"}, NOW)
        with pytest.raises(UnauthorizedError):
            check_expiry({name: "3", "expires": "tomorrow"}, NOW)


def test_expires_without_v3_is_ignored_and_absent_expires_accepted() -> None:
    check_expiry({"expires": "2000-01-01T00:00:00Z"}, NOW)
    params = {"command": "listZones", "apiKey": APIKEY}
    verify_signature({**params, "signature": sign_libcloud(params)}, SECRET, NOW)


def test_go_client_lowercase_signatureversion_with_z_expires() -> None:
    params = {
        "command": "deployVirtualMachine",
        "apiKey": APIKEY,
        "response": "json",
        "signatureversion": "3",
        "expires": "2026-11-23T12:15:00Z",
        "userdata": "I2Nsb3VkLWNvbmZpZw==",
    }
    verify_signature({**params, "signature": sign_cloudstack_go(params)}, SECRET, NOW)
