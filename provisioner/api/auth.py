"""Who is calling: API-key signatures, session keys and the session cookies (``ApiServlet``, ``HttpUtils``).

A session is identified by two cookies, ``JSESSIONID`` (path ``/client``) and ``sessionkey`` (HttpOnly),
and by the ``sessionkey`` parameter. Only the session key is stored (by the services, in the shared
database); ``JSESSIONID`` is derived from it with a one-way hash, so any server behind a load balancer can
check that both belong together without storing a second token.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from provisioner.api.backend import ApiBackend
from provisioner.api.settings import ApiSettings
from provisioner.api.signing import BAD_SIGNATURE, verify_signature
from provisioner.exceptions import UnauthorizedError
from provisioner.services.principal import Caller

JSESSIONID = "JSESSIONID"
SESSIONKEY = "sessionkey"
COOKIE_PATH = "/client"
#: The 401 text for a session that does not check out.
BAD_SESSION = "unable to verify user credentials"


@dataclass(frozen=True, slots=True)
class Credentials:
    """An authenticated caller, and the session key when the request came with a session."""

    caller: Caller
    sessionkey: str | None = None


def jsessionid_for(sessionkey: str) -> str:
    """The ``JSESSIONID`` that belongs to a session key (one-way: it does not reveal the key)."""
    return hashlib.sha256(b"provisioner-jsessionid:" + sessionkey.encode()).hexdigest()[:32].upper()


def session_cookies(sessionkey: str, settings: ApiSettings) -> list[tuple[str, str, dict[str, Any]]]:
    """The cookies ``login`` sets: ``JSESSIONID`` and the HttpOnly ``sessionkey``, both on ``/client``."""
    options: dict[str, Any] = {"path": COOKIE_PATH, "httponly": True, "secure": settings.secure_cookies}
    return [(JSESSIONID, jsessionid_for(sessionkey), options), (SESSIONKEY, sessionkey, options)]


def expired_cookies() -> list[tuple[str, str, dict[str, Any]]]:
    """The cookies ``logout`` sends to clear the session from the client."""
    options: dict[str, Any] = {"path": COOKIE_PATH, "httponly": True, "max_age": 0}
    return [(JSESSIONID, "", options), (SESSIONKEY, "", options)]


def _belongs(sessionkey: str | None, jsessionid: str) -> bool:
    return bool(sessionkey) and hmac.compare_digest(jsessionid_for(sessionkey or ""), jsessionid)


def session_key(param: str | None, cookie: str | None, jsessionid: str, settings: ApiSettings) -> str | None:
    """Pick the session key per ``api.sessionkey.check.locations`` (``HttpUtils.validateSessionKey``).

    Returns:
        The key to resolve, or ``None`` when the locations the setting requires do not check out.
    """
    mode = settings.sessionkey_check_locations
    if mode == "CookieOrParameter":
        for candidate in (param, cookie):
            if _belongs(candidate, jsessionid):
                return candidate
        return None
    if mode == "ParameterOnly":
        if _belongs(param, jsessionid) and (cookie is None or cookie == param):
            return param
        return None
    # CookieAndParameter (the default): cmk and the Python clients keep the cookie jar and send the parameter.
    if param is not None and cookie is not None and hmac.compare_digest(param, cookie) and _belongs(param, jsessionid):
        return param
    return None


def authenticate(
    params: Mapping[str, str],
    cookies: Mapping[str, str],
    backend: ApiBackend,
    settings: ApiSettings,
    now: datetime | None = None,
) -> Credentials:
    """Authenticate a request by API-key signature or by session.

    Args:
        params: the merged request parameters, names as sent.
        cookies: the request cookies.
        backend: looks up keys and sessions.
        settings: the session-key check mode.
        now: the current time, for ``expires`` (tests pass one).

    Raises:
        UnauthorizedError: 401 with CloudStack's texts.
    """
    lowered = {name.lower(): value for name, value in params.items()}
    if "apikey" in lowered or "signature" in lowered:
        found = backend.find_api_key(lowered.get("apikey", ""))
        if found is None:
            raise UnauthorizedError(BAD_SIGNATURE)
        secret, caller = found
        verify_signature(params, secret, now)
        return Credentials(caller)
    jsessionid = cookies.get(JSESSIONID)
    if not jsessionid:
        raise UnauthorizedError(BAD_SIGNATURE)
    key = session_key(lowered.get(SESSIONKEY), cookies.get(SESSIONKEY), jsessionid, settings)
    session_caller = backend.resolve_session(key) if key else None
    if key is None or session_caller is None:
        raise UnauthorizedError(BAD_SESSION)
    return Credentials(session_caller, key)
