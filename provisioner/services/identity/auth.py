"""Authentication: API keys, password login and sessions, each yielding a :class:`Caller`."""

from __future__ import annotations

import functools
from datetime import timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, bindparam, delete, insert, select, update

from provisioner.db.schema import account, api_session, domain, user, utcnow
from provisioner.exceptions import PermissionDeniedError
from provisioner.services.crypto import SecretBox, generate_session_key, hash_password, hash_token, verify_password
from provisioner.services.identity.domains import normalize_path
from provisioner.services.identity.models import Session
from provisioner.services.identity.users import user_query
from provisioner.services.principal import Caller, RoleType

#: CloudStack's default HTTP session timeout (seconds).
DEFAULT_SESSION_TIMEOUT = 1800
_SLIDE_STEP = timedelta(seconds=60)


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the user does not exist, so a miss costs as much as a wrong password.

    Made on first use: hashing costs ≈ 50 ms, which every process importing this module paid at start.
    """
    return hash_password("not-a-password")


def _active() -> ColumnElement[bool]:
    return (
        (user.c.state == "enabled")
        & (account.c.state == "enabled")
        & (domain.c.state == "Active")
        & (domain.c.removed.is_(None))
    )


def to_caller(row: Row[Any]) -> Caller:
    """Build a :class:`Caller` from a :func:`user_query` row."""
    m = row._mapping
    return Caller(
        user_id=m["uuid"],
        username=m["username"],
        account_id=m["account_uuid"],
        account_name=m["account_name"],
        domain_id=m["domain_uuid"],
        domain_path=m["domain_path"],
        role_id=m["role_uuid"],
        role_type=RoleType(m["role_type"]),
    )


# Built once: every API request and every job runs one of them.
_ACTIVE_BY_UUID = user_query().where(user.c.uuid == bindparam("user_uuid"), _active())
_ACTIVE_BY_API_KEY = user_query().where(user.c.api_key == bindparam("api_key"), _active())


def caller_for_user(conn: Connection, user_uuid: str) -> Caller | None:
    """The caller for an enabled user of an enabled account, or None."""
    row = conn.execute(_ACTIVE_BY_UUID, {"user_uuid": user_uuid.lower()}).first()
    return to_caller(row) if row else None


def system_caller(conn: Connection) -> Caller:
    """The seeded root admin (CloudStack runs the integration port as SYSTEM; we have no such user)."""
    row = conn.execute(user_query().where(user.c.username == "admin", domain.c.path == "/").order_by(user.c.id)).first()
    if row is None:
        raise LookupError("the database is not seeded: no admin user in ROOT")
    return to_caller(row)


def find_api_key(conn: Connection, box: SecretBox, api_key: str) -> tuple[str, Caller] | None:
    """Look up an API key for signature checking.

    Returns:
        ``(secret key in clear, caller)`` when the key belongs to an enabled user of an enabled
        account in a live domain; None otherwise (the API layer answers 401 either way).
    """
    if not api_key:
        return None
    row = conn.execute(_ACTIVE_BY_API_KEY, {"api_key": api_key}).first()
    if row is None or row.secret_key is None:
        return None
    return box.decrypt(row.secret_key), to_caller(row)


def login(
    conn: Connection, username: str, password: str, domain_path: str | None = None, domain_id: str | None = None
) -> Caller:
    """Check a username and password in a domain (``domain_id`` wins over ``domain_path``; default ROOT).

    Raises:
        PermissionDeniedError: 531 with CloudStack's "Failed to authenticate user ..." text.
    """
    query = user_query().where(user.c.username == username)
    if domain_id:
        key = domain_id.strip().lower()
        query = query.where(domain.c.id == int(key)) if key.isdigit() else query.where(domain.c.uuid == key)
    else:
        query = query.where(domain.c.path == normalize_path(domain_path or "/"))
    row = conn.execute(query).first()
    ok = verify_password(password, row.password if row else _dummy_hash())
    if row is None or not ok or row.state != "enabled" or not caller_for_user(conn, row.uuid):
        where = row.domain_id if row else (domain_id or normalize_path(domain_path or "/"))
        raise PermissionDeniedError(
            f"Failed to authenticate user {username} in domain {where}; please provide valid credentials"
        )
    return to_caller(row)


def create_session(conn: Connection, caller: Caller, timeout_seconds: int = DEFAULT_SESSION_TIMEOUT) -> Session:
    """Start a session; only the key's SHA-256 is stored, the clear key is returned once."""
    key = generate_session_key()
    now = utcnow()
    expires = now + timedelta(seconds=timeout_seconds)
    user_pk = select(user.c.id).where(user.c.uuid == caller.user_id).scalar_subquery()
    conn.execute(
        insert(api_session).values(
            key_hash=hash_token(key), user_id=user_pk, created=now, last_used=now, expires=expires
        )
    )
    return Session(key=key, user_id=caller.user_id, expires=expires, timeout_seconds=timeout_seconds)


def resolve_session(conn: Connection, key: str, timeout_seconds: int = DEFAULT_SESSION_TIMEOUT) -> Caller | None:
    """The caller of a live session, sliding its expiry forward; None when unknown or expired."""
    if not key:
        return None
    now = utcnow()
    row = conn.execute(
        select(api_session.c.id, api_session.c.expires, user.c.uuid)
        .join(user, user.c.id == api_session.c.user_id)
        .where(api_session.c.key_hash == hash_token(key))
    ).first()
    if row is None:
        return None
    if row.expires <= now:
        conn.execute(delete(api_session).where(api_session.c.id == row.id))
        return None
    caller = caller_for_user(conn, row.uuid)
    if caller is None:
        return None
    expires = now + timedelta(seconds=timeout_seconds)
    # Slide the expiry at most once a minute: most requests then need no write at all.
    if expires - row.expires >= _SLIDE_STEP:
        conn.execute(update(api_session).where(api_session.c.id == row.id).values(last_used=now, expires=expires))
    return caller


def end_session(conn: Connection, key: str) -> bool:
    """``logout``: forget a session; True when it existed."""
    result = conn.execute(delete(api_session).where(api_session.c.key_hash == hash_token(key)))
    return bool(result.rowcount)


def purge_expired_sessions(conn: Connection) -> int:
    """Delete expired sessions; returns how many."""
    return int(conn.execute(delete(api_session).where(api_session.c.expires <= utcnow())).rowcount)
