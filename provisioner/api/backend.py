"""What the API layer needs from the services: the ``ApiBackend`` protocol.

The protocol layer holds no database code. Every method here is synchronous (SQLAlchemy is) and is called
from a worker thread, never from the event loop. Secrets handed over here are never logged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from provisioner.api.params import Page, Value
from provisioner.services.principal import Caller, RoleType


class ApiBackend(Protocol):
    """The services side of the API, implemented over the shared database."""

    def find_api_key(self, apikey: str) -> tuple[str, Caller] | None:
        """Look up an API key.

        Returns:
            The secret key in clear (the HMAC needs it) and its owner, or ``None`` when the key is unknown
            or its user or account is disabled, or API-key access is off for them.
        """
        ...

    def login(self, username: str, password: str, domain_path: str | None, domain_id: str | None) -> Caller:
        """Check a username and password in a domain (``domain_id`` wins over ``domain_path``; ROOT by default).

        Raises:
            PermissionDeniedError: unknown user, wrong password, or disabled/locked (531).
        """
        ...

    def create_session(self, caller: Caller) -> str:
        """Start a session for ``caller`` and return its session key (random, URL-safe)."""
        ...

    def resolve_session(self, sessionkey: str) -> Caller | None:
        """The caller of a live session, or ``None`` when unknown or expired. Sessions are in the shared DB."""
        ...

    def end_session(self, sessionkey: str) -> None:
        """End a session (``logout``); unknown keys are ignored."""
        ...

    def is_allowed(self, caller: Caller, command: str, default_roles: frozenset[RoleType]) -> bool:
        """Whether ``caller`` may run ``command``: dynamic role rules first, else ``default_roles``."""
        ...

    def resolve_ids(self, wanted: Mapping[str, list[str]]) -> Mapping[str, set[str]]:
        """Of the lower-case UUIDs wanted per entity kind (e.g. ``{"Zone": [...]}``), those that exist, per kind."""
        ...

    def submit_job(
        self,
        caller: Caller,
        command: str,
        params: Mapping[str, Value],
        instance_type: str | None,
        instance_id: str | None,
        *,
        job_uuid: str | None = None,
    ) -> str:
        """Queue an async command and return the job UUID.

        A worker later runs ``registry.execute_async(backend, settings, caller, command, params, instance_id=...)``
        and stores its result (or ``job_error(exc)`` with ``exc.errorcode`` as the result code).

        Args:
            caller: the job owner.
            command: the command name.
            params: the unpacked request parameters (JSON-ready: strings and lists of string dicts).
            instance_type: the entity type the job acts on (``VirtualMachine``), if declared.
            instance_id: the entity id (the created one for async-create commands, else the ``id`` parameter).
            job_uuid: the job id the client chose (``customjobid``); 431 when a job already has it.
        """
        ...

    def query_job(self, caller: Caller, jobid: str) -> Mapping[str, Any]:
        """One job as ``queryAsyncJobResult`` shows it (the jobs service's ``JobView.as_response()``).

        Raises:
            ParamError: no such job (431); PermissionDeniedError: not the caller's to see (531).
        """
        ...

    def list_jobs(
        self,
        caller: Caller,
        *,
        account: str | None,
        domain_id: str | None,
        start_date: datetime | None,
        keyword: str | None,
        page: Page,
    ) -> tuple[int, Sequence[Mapping[str, Any]]]:
        """``listAsyncJobs``: the total count and one page of the jobs ``caller`` may see, newest first."""
        ...

    def system_caller(self) -> Caller:
        """The caller the integration API runs as (the system or root admin user)."""
        ...
