"""The identity facade the API layer calls: one object holding the engine and the server key."""

from __future__ import annotations

from collections.abc import Callable, Collection
from pathlib import Path
from typing import TypeVar

from sqlalchemy import Connection, Engine

from provisioner.db.engine import files_dir, run_in_transaction
from provisioner.services.crypto import SecretBox
from provisioner.services.identity import auth, roles
from provisioner.services.identity.models import Session
from provisioner.services.identity.seed import seed
from provisioner.services.principal import Caller, RoleType

T = TypeVar("T")


class IdentityService:
    """Authentication and authorisation over one database.

    Every method runs in its own short transaction (retried on busy/serialization errors).
    CRUD for domains, accounts, users and roles lives in the sibling modules as functions
    taking a connection; run them with :meth:`transaction`.

    Args:
        engine: the database engine.
        box: encrypts and decrypts stored secret keys.
        directory: where seeding writes the admin credentials file.
        session_timeout: seconds of inactivity after which a session expires.
    """

    def __init__(self, engine: Engine, box: SecretBox, directory: Path, session_timeout: int = 1800) -> None:
        self.engine = engine
        self.box = box
        self.directory = directory
        self.session_timeout = session_timeout

    @classmethod
    def for_engine(cls, engine: Engine, session_timeout: int = 1800) -> IdentityService:
        """The service with the server key and files beside the database (created on first use)."""
        directory = files_dir(engine.url)
        return cls(engine, SecretBox.from_directory(directory), directory, session_timeout)

    def transaction(self, work: Callable[[Connection], T], *, read_only: bool = False) -> T:
        """Run ``work(conn)`` in a retried transaction (``read_only``: see ``run_in_transaction``)."""
        return run_in_transaction(self.engine, work, read_only=read_only)

    def seed(self) -> Path | None:
        """First-start seeding; returns the admin credentials file when it was just written."""
        return self.transaction(lambda conn: seed(conn, self.directory))

    def find_api_key(self, api_key: str) -> tuple[str, Caller] | None:
        """``(secret in clear, caller)`` for an active user's API key, else None."""
        return self.transaction(lambda conn: auth.find_api_key(conn, self.box, api_key), read_only=True)

    def login(
        self, username: str, password: str, domain_path: str | None = None, domain_id: str | None = None
    ) -> Caller:
        """Check credentials; raises ``PermissionDeniedError`` (531) on failure."""
        return self.transaction(lambda conn: auth.login(conn, username, password, domain_path, domain_id))

    def create_session(self, caller: Caller) -> str:
        """Start a session for ``caller``; returns its key, the only clear copy (the DB keeps a hash)."""
        return self.start_session(caller).key

    def start_session(self, caller: Caller) -> Session:
        """Like :meth:`create_session`, with the expiry and timeout (for ``loginresponse.timeout``)."""
        return self.transaction(lambda conn: auth.create_session(conn, caller, self.session_timeout))

    def resolve_session(self, key: str) -> Caller | None:
        """The caller of a live session (its expiry slides forward), or None."""
        return self.transaction(lambda conn: auth.resolve_session(conn, key, self.session_timeout))

    def end_session(self, key: str) -> None:
        """Forget a session (``logout``); unknown keys are ignored."""
        self.transaction(lambda conn: auth.end_session(conn, key))

    def system_caller(self) -> Caller:
        """The caller the integration API runs as: the ROOT domain's ``admin`` user."""
        return self.transaction(auth.system_caller, read_only=True)

    def is_allowed(self, caller: Caller, command: str, default_roles: Collection[RoleType]) -> bool:
        """Whether the caller's role lets it run ``command`` (ordered rules, then ``default_roles``)."""
        if caller.role_id == roles.ADMIN_ROLE_UUID:
            return True  # the root admin role has no rules to read: no transaction
        return self.transaction(lambda conn: roles.is_allowed(conn, caller, command, default_roles), read_only=True)
