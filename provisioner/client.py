"""A small typed CloudStack API client over httpx, for sync (and later the bootstrap and Terraform provider).

Requests are signed as the CloudStack server checks them (``signatureVersion=3`` with ``expires``);
state-changing commands go as form POSTs and read-only ones (``list*``, ``get*``, ``query*``) as GETs,
as cloudstack-go does. Error answers become :class:`~provisioner.exceptions.ApiError` subclasses with
the server's ``errorcode``, ``cserrorcode`` and ``errortext``. Secrets are never logged or shown: the
secret key lives only in :class:`Credentials` (hidden from ``repr``).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from provisioner.api.signing import sign
from provisioner.exceptions import (
    ApiError,
    InsufficientCapacityError,
    InternalError,
    MalformedParameterError,
    MethodNotAllowedError,
    ParamError,
    PermissionDeniedError,
    ProvisionerError,
    ResourceAllocationError,
    ResourceInUseError,
    ResourceLimitError,
    ResourceUnavailableError,
    UnauthorizedError,
    UnsupportedActionError,
)

#: A JSON object as the server answers it.
Json = dict[str, Any]
#: Parameter values the client accepts (lists become comma lists, mappings ``name[i].key=value``).
Value = str | int | float | bool | list[str] | Mapping[str, str] | None

#: Environment variables read for the endpoint, key and secret, ours first, then the ``cs`` names.
ENV_URL = ("PROVISIONER_API_URL", "CLOUDSTACK_ENDPOINT")
ENV_KEY = ("PROVISIONER_API_KEY", "CLOUDSTACK_KEY")
ENV_SECRET = ("PROVISIONER_SECRET_KEY", "CLOUDSTACK_SECRET")
#: The largest page CloudStack serves by default (``default.page.size``).
PAGE_SIZE = 500
_READ_PREFIXES = ("list", "get", "query")


class ClientError(ProvisionerError):
    """The client cannot talk to the server: no credentials, unreachable, or a malformed answer."""


class JobTimeoutError(ClientError, TimeoutError):
    """An async job did not finish within the client's job timeout."""


class JobInterruptedError(ClientError, InterruptedError):
    """The caller stopped waiting for an async job (the job itself goes on on the server)."""


#: The error class for each CloudStack error code (others become a plain ``ApiError``).
ERRORS_BY_CODE: dict[int, type[ApiError]] = {
    cls.errorcode: cls
    for cls in (
        UnauthorizedError,
        MethodNotAllowedError,
        MalformedParameterError,
        ParamError,
        UnsupportedActionError,
        InternalError,
        PermissionDeniedError,
        ResourceLimitError,
        InsufficientCapacityError,
        ResourceUnavailableError,
        ResourceAllocationError,
        ResourceInUseError,
    )
}


def api_error(code: int, text: str, cserrorcode: int | None = None) -> ApiError:
    """Build the error the server answered: the class chosen by ``code``, carrying its code and text."""
    error = ERRORS_BY_CODE.get(code, ApiError)(text)
    # The codes live on the instance too: a generic ``ApiError`` still reports what the server said.
    error.errorcode = code
    if cserrorcode is not None:
        error.cserrorcode = cserrorcode
    return error


@dataclass(frozen=True)
class Credentials:
    """Where the API is and the keys to sign with.

    Attributes:
        url: the endpoint, ``http://host:8080/client/api``.
        apikey: the API key (not secret, but kept out of messages anyway).
        secretkey: the secret key; never shown.
    """

    url: str
    apikey: str = field(repr=False)
    secretkey: str = field(repr=False)

    @classmethod
    def resolve(
        cls,
        url: str | None = None,
        apikey: str | None = None,
        secretkey: str | None = None,
        *,
        key_file: Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> Credentials:
        """Take each value from the argument, else a key file, else the environment.

        A key file holds ``apikey=...`` and ``secretkey=...`` lines (or the JSON that ``provisioner
        admin keys --json`` prints).

        Raises:
            ClientError: a value is missing everywhere, or the key file cannot be read.
        """
        environ = os.environ if env is None else env
        if key_file is not None and (apikey is None or secretkey is None):
            from_file = _read_key_file(key_file)
            apikey = apikey or from_file.get("apikey")
            secretkey = secretkey or from_file.get("secretkey")

        def pick(given: str | None, names: tuple[str, ...]) -> str | None:
            return given or next((environ[name] for name in names if environ.get(name)), None)

        values = {
            "API URL": pick(url, ENV_URL),
            "API key": pick(apikey, ENV_KEY),
            "secret key": pick(secretkey, ENV_SECRET),
        }
        missing = [name for name, value in values.items() if not value]
        if missing:
            raise ClientError(
                f"no {', '.join(missing)} given: use --api / --api-key-file or set "
                "PROVISIONER_API_URL, PROVISIONER_API_KEY and PROVISIONER_SECRET_KEY"
            )
        return cls(str(values["API URL"]), str(values["API key"]), str(values["secret key"]))


def _read_key_file(path: Path) -> dict[str, str]:
    import json

    try:
        text = path.expanduser().read_text()
    except OSError as exc:
        raise ClientError(f"cannot read the key file {path}: {exc.strerror}") from None
    if text.lstrip().startswith("{"):
        data = json.loads(text)
        return {str(k).lower(): str(v) for k, v in data.items() if isinstance(v, str)}
    pairs = (line.split("=", 1) for line in text.splitlines() if "=" in line and not line.lstrip().startswith("#"))
    return {k.strip().lower(): v.strip() for k, v in pairs}


def flatten(params: Mapping[str, Value]) -> dict[str, str]:
    """Turn typed values into CloudStack's wire form (``true``, comma lists, ``name[0].key=value``)."""
    wire: dict[str, str] = {}
    for name, value in params.items():
        if value is None:
            continue
        if isinstance(value, bool):
            wire[name] = "true" if value else "false"
        elif isinstance(value, list):
            if value:
                wire[name] = ",".join(value)
        elif isinstance(value, Mapping):
            for index, (key, item) in enumerate(value.items()):
                wire[f"{name}[{index}].key"] = key
                wire[f"{name}[{index}].value"] = item
        else:
            wire[name] = str(value)
    return wire


class CloudStackClient:
    """Signed calls, paging and async-job waits against one CloudStack-compatible endpoint.

    Args:
        credentials: endpoint and keys.
        timeout: seconds per HTTP request.
        job_timeout: seconds an async job may take before :class:`JobTimeoutError`.
        poll_interval: first wait between job polls; it doubles up to ``max_poll_interval``.
        max_poll_interval: the longest wait between polls.
        transport: an httpx transport (tests pass one).
    """

    def __init__(
        self,
        credentials: Credentials,
        *,
        timeout: float = 30.0,
        job_timeout: float = 300.0,
        poll_interval: float = 0.2,
        max_poll_interval: float = 5.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.credentials = credentials
        self.job_timeout = job_timeout
        self.poll_interval = poll_interval
        self.max_poll_interval = max_poll_interval
        self._http = httpx.Client(timeout=timeout, transport=transport)

    def __enter__(self) -> CloudStackClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._http.close()

    def _signed(self, command: str, params: Mapping[str, Value]) -> dict[str, str]:
        wire = flatten(params)
        wire.update(
            command=command,
            response="json",
            apiKey=self.credentials.apikey,
            signatureVersion="3",
            expires=(datetime.now(UTC) + timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%S+0000"),
        )
        wire["signature"] = sign(wire, self.credentials.secretkey)
        return wire

    def request(self, command: str, **params: Value) -> Json:
        """Send one command and return the body inside its ``<command>response`` envelope.

        Async commands return ``{"jobid": ...}`` here; :meth:`call` waits for them.

        Raises:
            ApiError: the server answered an error (its code, cserrorcode and text).
            ClientError: the server cannot be reached or answered something that is not CloudStack JSON.
        """
        wire = self._signed(command, params)
        try:
            if command.lower().startswith(_READ_PREFIXES):
                answer = self._http.get(self.credentials.url, params=wire)
            else:
                answer = self._http.post(self.credentials.url, data=wire)
        except httpx.HTTPError as exc:
            raise ClientError(f"{command}: cannot reach {self.credentials.url}: {exc}") from None
        try:
            body = answer.json()
        except ValueError:
            raise ClientError(f"{command}: HTTP {answer.status_code} without a JSON body") from None
        inner = next(iter(body.values()), None) if isinstance(body, dict) and len(body) == 1 else None
        if not isinstance(inner, dict):
            raise ClientError(f"{command}: unexpected answer shape (HTTP {answer.status_code})")
        if answer.status_code != 200 or "errorcode" in inner:
            code = int(inner.get("errorcode", answer.status_code))
            raise api_error(code, str(inner.get("errortext", f"HTTP {answer.status_code}")), inner.get("cserrorcode"))
        return inner

    def call(self, command: str, **params: Value) -> Json:
        """Send a command; when the server starts an async job, wait for it and return its ``jobresult``.

        Raises:
            ApiError: the command or its job failed.
            JobTimeoutError: the job did not finish within ``job_timeout``.
        """
        answer = self.request(command, **params)
        jobid = answer.get("jobid")
        if jobid is None or set(answer) - {"jobid", "id"}:
            return answer
        return self.wait_job(str(jobid), command)

    def wait_job(
        self, jobid: str, command: str = "job", *, timeout: float | None = None, stop: threading.Event | None = None
    ) -> Json:
        """Poll ``queryAsyncJobResult`` with back-off until the job ends; return its ``jobresult``.

        Args:
            jobid: the job to wait for.
            command: the command that started it (for messages).
            timeout: seconds to wait instead of ``job_timeout``.
            stop: when set while waiting, stop waiting at once (the Terraform provider's interrupt).

        Raises:
            ApiError: the job failed (its error code and text).
            JobTimeoutError: still running after ``timeout`` (default ``job_timeout``) seconds.
            JobInterruptedError: ``stop`` was set first.
        """
        limit = self.job_timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        delay = self.poll_interval
        while True:
            status = self.request("queryAsyncJobResult", jobid=jobid)
            if int(status.get("jobstatus", 0)) != 0:
                result: Json = status.get("jobresult") or {}
                if int(status["jobstatus"]) != 1:
                    code = int(result.get("errorcode") or status.get("jobresultcode") or 530)
                    raise api_error(code, str(result.get("errortext", f"{command} failed")))
                return dict(result)
            if time.monotonic() + delay > deadline:
                raise JobTimeoutError(f"{command}: job {jobid} did not finish within {limit:g} s")
            if stop is None:
                time.sleep(delay)
            elif stop.wait(delay):
                raise JobInterruptedError(f"{command}: stopped waiting for job {jobid} (it goes on on the server)")
            delay = min(delay * 2, self.max_poll_interval)

    def list_all(self, command: str, **filters: Value) -> list[Json]:
        """Every item of a ``list*`` command, page by page (``pagesize=500``) until ``count`` items are read.

        The number of pages is bounded by ``count``: a server that keeps answering full pages cannot
        keep the loop going past it.
        """
        items: list[Json] = []
        page = 1
        while True:
            body = self.request(command, page=page, pagesize=PAGE_SIZE, **filters)
            keys = [key for key in body if key != "count"]
            chunk = body[keys[0]] if keys else []
            if not isinstance(chunk, list):
                raise ClientError(f"{command}: the list key {keys[0]!r} does not hold a list")
            items.extend(chunk)
            total = int(body.get("count", len(items)))
            if not chunk or len(items) >= total or len(chunk) < PAGE_SIZE:
                return items
            page += 1
