"""From a decoded request to a rendered answer: authenticate, check access, validate, run (``ApiServer``).

The dispatcher is independent of the HTTP framework and synchronous (the services use SQLAlchemy), so the
app runs :meth:`ApiDispatcher.handle` in a worker thread.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from provisioner.api.auth import Credentials, authenticate, expired_cookies, session_cookies
from provisioner.api.backend import ApiBackend
from provisioner.api.guards import Throttle, check_post_and_timestamps, check_source
from provisioner.api.params import UUID_TEXT, Page, Value, merge_params, page_window, unpack
from provisioner.api.registry import ApiCommand, CommandContext, Registry
from provisioner.api.responses import ApiReply, async_body, envelope_name, error_reply, reply
from provisioner.api.settings import ApiSettings, is_loopback
from provisioner.exceptions import (
    ApiError,
    InternalError,
    MethodNotAllowedError,
    ParamError,
    UnauthorizedError,
    UnsupportedActionError,
)

logger = logging.getLogger(__name__)

#: Parameters of the protocol itself: never passed to commands or stored with jobs.
SESSION_COMMANDS = frozenset({"login", "logout"})
PROTOCOL_PARAMS = frozenset(
    {"command", "response", "apikey", "signature", "signatureversion", "expires", "sessionkey", "customjobid"}
)


@dataclass(frozen=True, slots=True)
class RawRequest:
    """A request as the HTTP layer decoded it."""

    method: str
    query: list[tuple[str, str]]
    body: list[tuple[str, str]] = field(default_factory=list)
    cookies: Mapping[str, str] = field(default_factory=dict)
    client_ip: str = ""


def unavailable(command: str, ip: str) -> UnauthorizedError:
    """The 401 for a command that does not exist or that the caller may not run."""
    return UnauthorizedError(
        f"The given command '{command}' either does not exist, is not available for user, or not available "
        f"from ip address '{ip}'."
    )


def custom_job_id(values: Mapping[str, Value]) -> str | None:
    """The job id a client presets with ``customjobid`` (a UUID), lower-cased; None when not given.

    Raises:
        ParamError: 431 when it is not a UUID.
    """
    given = values.get("customjobid")
    if not given:
        return None
    if not isinstance(given, str) or not UUID_TEXT.match(given):
        raise ParamError(f"Invalid parameter customjobid value={given}: a job id must be a UUID")
    return given.lower()


def normalise_domain(path: str | None) -> str:
    """A login domain path, starting and ending with ``/`` (``/`` = ROOT)."""
    text = (path or "/").strip()
    return "/" + text.strip("/") + "/" if text.strip("/") else "/"


class ApiDispatcher:
    """Runs API requests against a registry and a backend."""

    def __init__(self, backend: ApiBackend, settings: ApiSettings, registry: Registry) -> None:
        self.backend = backend
        self.settings = settings
        self.registry = registry
        self.throttle = (
            Throttle(settings.throttling_interval, settings.throttling_max) if settings.throttling_enabled else None
        )

    def handle(self, request: RawRequest) -> ApiReply:
        """Answer one request; every failure becomes a CloudStack error answer, never an exception."""
        params = merge_params(request.query, request.body)
        lowered: dict[str, str] = {}
        for name, value in params.items():
            lowered.setdefault(name.lower(), value)
        fmt = lowered.get("response", "xml")
        given = lowered.get("command", "")
        command = self.registry.get(given) if given else None
        credentials: Credentials | None = None
        try:
            if command is not None and command.name == "login":
                credentials = self._login(request, params)
            else:
                credentials = self._authenticate(request, params)
            if command is None and self.settings.integration:
                raise UnsupportedActionError(f"Unknown API command: {given}")
            if command is None or not self._allowed(credentials, command):
                raise unavailable(given, request.client_ip)
            self._guard(request, params, command, credentials)
            result = self._run(command, credentials, unpack(params), request.client_ip)
            answer = reply(envelope_name(command.name), result, fmt, self.settings)
            if command.name == "login" and isinstance(result.get("sessionkey"), str):
                answer.cookies = session_cookies(result["sessionkey"], self.settings)
            elif command.name == "logout":
                answer.cookies = expired_cookies()
            return answer
        except ApiError as exc:
            error = exc
        except Exception:
            # The details go to the log only; the client gets a generic 530.
            logger.exception("API command %s failed", given or "<none>")
            error = InternalError(f"Internal error executing command {given}")
        show = credentials is not None and credentials.caller.is_root_admin
        return error_reply(command.name if command else None, error, fmt, self.settings, show_details=show)

    def _allowed(self, credentials: Credentials, command: ApiCommand) -> bool:
        # Session commands are not subject to role rules: a role cannot lock its users out of logging in or out.
        if command.name in SESSION_COMMANDS:
            return True
        return self.backend.is_allowed(credentials.caller, command.name, command.authorized)

    def _guard(
        self, request: RawRequest, params: Mapping[str, str], command: ApiCommand, credentials: Credentials
    ) -> None:
        """Source CIDRs, POST/timestamp enforcement and throttling (none apply to the integration API)."""
        if self.settings.integration:
            return
        check_source(request.client_ip, self.settings)
        if self.settings.enforce_post_and_timestamps:
            signed = any(name.lower() == "signature" for name in params)
            check_post_and_timestamps(command.name, request.method, params, signed)
        # As CloudStack's ApiRateLimitService, root admins are never throttled.
        if self.throttle is not None and not credentials.caller.is_root_admin:
            self.throttle.check(credentials.caller.user_id)

    def _authenticate(self, request: RawRequest, params: Mapping[str, str]) -> Credentials:
        if self.settings.integration:
            # The integration API trusts its (loopback-only) peers; refuse anything else outright.
            if not is_loopback(request.client_ip):
                raise UnauthorizedError("the integration API only answers loopback clients")
            return Credentials(self.backend.system_caller())
        return authenticate(params, request.cookies, self.backend, self.settings)

    def _login(self, request: RawRequest, params: Mapping[str, str]) -> Credentials:
        """``login`` authenticates by its own parameters; POST only."""
        if request.method.upper() != "POST":
            raise MethodNotAllowedError("Please use HTTP POST to authenticate using this API")
        command = self.registry.get("login")
        assert command is not None  # we are only called for it
        values = command.validate(unpack(params), None)
        caller = self.backend.login(
            values.username, values.password, normalise_domain(values.domain), values.domainid or None
        )
        return Credentials(caller)

    def _run(self, command: ApiCommand, credentials: Credentials, values: dict[str, Value], ip: str) -> dict[str, Any]:
        parsed = command.validate(values, self.backend.resolve_ids)
        page = Page()
        if command.pageable:
            page = page_window(parsed.page, parsed.pagesize, self.settings.default_page_size)
        ctx = CommandContext(
            caller=credentials.caller,
            backend=self.backend,
            settings=self.settings,
            registry=self.registry,
            command=command.name,
            page=page,
            sessionkey=credentials.sessionkey,
            remote_addr=ip,
        )
        if not command.is_async:
            return command.shape(command.handler(ctx, parsed))
        entity_id: str | None = None
        if command.create:
            if command.create_step is None:
                raise InternalError(f"{command.name} has no create step")
            entity_id = command.create_step(ctx, parsed)
        job_params = {name: value for name, value in values.items() if name not in PROTOCOL_PARAMS}
        plain_id = getattr(parsed, "id", None)  # validated, so a lower-case UUID when it is one
        instance_id = entity_id if command.create else (plain_id if isinstance(plain_id, str) else None)
        jobid = self.backend.submit_job(
            credentials.caller,
            command.name,
            job_params,
            command.entity_type,
            instance_id,
            job_uuid=custom_job_id(values),
        )
        return async_body(jobid, entity_id)
