"""Request guards that run after authentication: throttling, source CIDRs, POST and timestamp enforcement.

They mirror ``ApiServer``'s checks: ``api.throttling.*`` (429, counted per node as CloudStack's
``ApiRateLimitService`` does), ``api.allowed.source.cidr.list`` and
``enforce.post.requests.and.timestamps``.
"""

from __future__ import annotations

import ipaddress
import re
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from provisioner.api.settings import ApiSettings
from provisioner.api.signing import parse_expires
from provisioner.exceptions import ApiLimitExceededError, MethodNotAllowedError, UnauthorizedError

#: Commands that only read may be sent with GET even when POST is enforced (``ApiServer``'s pattern).
READ_ONLY_COMMAND = re.compile(r"^(get|list|query|find)\w+$")
#: How far ahead ``expires`` may lie when timestamps are enforced.
MAX_EXPIRES_AHEAD = timedelta(minutes=15)


class Throttle:
    """Fixed-window request counters per user (``api.throttling.interval`` / ``api.throttling.max``).

    Counters live in this process, as CloudStack's do per management server; each user holds at most one
    window, so memory is bounded by the number of active users.
    """

    def __init__(self, interval: float, limit: int) -> None:
        self.interval = interval
        self.limit = limit
        self._lock = threading.Lock()
        self._windows: dict[str, tuple[float, int]] = {}

    def check(self, user_id: str, now: float | None = None) -> None:
        """Count one request of ``user_id``.

        Raises:
            ApiLimitExceededError: 429 when the user already made ``limit`` requests in this window.
        """
        now = time.monotonic() if now is None else now
        with self._lock:
            started, count = self._windows.get(user_id, (now, 0))
            if now - started >= self.interval:
                started, count = now, 0
            if count >= self.limit:
                retry_ms = max(1, int((started + self.interval - now) * 1000))
                raise ApiLimitExceededError(
                    f"The given user has reached his/her account api limit, please retry after {retry_ms} ms."
                )
            self._windows[user_id] = (started, count + 1)
            if len(self._windows) > 100_000:  # drop finished windows so idle users do not accumulate
                self._windows = {u: w for u, w in self._windows.items() if now - w[0] < self.interval}


def check_source(client_ip: str, settings: ApiSettings) -> None:
    """Refuse an authenticated caller whose address is outside ``api.allowed.source.cidr.list``.

    Raises:
        UnauthorizedError: 401 naming the address.
    """
    if not settings.source_cidr_checks or not client_ip:
        return
    try:
        address = ipaddress.ip_address(client_ip)
    except ValueError:
        return  # not an IP (a unix socket or a test client): nothing to compare
    for cidr in settings.allowed_source_cidrs:
        network = ipaddress.ip_network(cidr, strict=False)
        if address.version == network.version and address in network:
            return
    raise UnauthorizedError(
        f"Calls from disallowed origin {client_ip}: not in api.allowed.source.cidr.list "
        f"({','.join(settings.allowed_source_cidrs)})"
    )


def check_post_and_timestamps(
    command: str, method: str, params: Mapping[str, str], signed: bool, now: datetime | None = None
) -> None:
    """``enforce.post.requests.and.timestamps``: POST for state changes, v3 + near ``expires`` when signed.

    Raises:
        MethodNotAllowedError: 405 for a state-changing command sent with GET.
        UnauthorizedError: 401 for a signed request without ``signatureVersion=3`` and a valid ``expires``.
    """
    if method.upper() != "POST" and not READ_ONLY_COMMAND.match(command):
        raise MethodNotAllowedError(f"State changing command {command} needs to be sent using POST request")
    if not signed:
        return
    lowered = {name.lower(): value for name, value in params.items()}
    if lowered.get("signatureversion") != "3" or not lowered.get("expires"):
        raise UnauthorizedError(
            "Missing signatureVersion=3 and expires: this server enforces timestamps on signed requests"
        )
    try:
        expires = parse_expires(lowered["expires"])
    except ValueError:
        raise UnauthorizedError(f"Invalid expires {lowered['expires']!r}; use YYYY-MM-DDThh:mm:ss+0000") from None
    if expires - (now or datetime.now(UTC)) > MAX_EXPIRES_AHEAD:
        raise UnauthorizedError("expires lies more than 15 minutes ahead; sign requests with a shorter validity")
