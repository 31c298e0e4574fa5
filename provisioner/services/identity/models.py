"""Value objects the identity service returns (public UUID ids, no secrets)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from provisioner.services.principal import RoleType


@dataclass(frozen=True, slots=True)
class Domain:
    """A node of the domain tree."""

    id: str
    name: str
    path: str
    level: int
    parent_id: str | None
    parent_name: str | None
    state: str
    network_domain: str | None
    created: datetime
    has_child: bool = False


@dataclass(frozen=True, slots=True)
class Role:
    """A role: a type plus ordered rule permissions."""

    id: str
    name: str
    role_type: RoleType
    description: str | None
    is_public: bool
    is_default: bool


@dataclass(frozen=True, slots=True)
class RolePermission:
    """One ordered allow/deny rule of a role (``list*`` style wildcards)."""

    id: str
    role_id: str
    role_name: str
    rule: str
    permission: str
    description: str | None
    sort_order: int


@dataclass(frozen=True, slots=True)
class Account:
    """An account in a domain, owning resources."""

    id: str
    name: str
    account_type: int
    role_id: str
    role_name: str
    role_type: RoleType
    domain_id: str
    domain_name: str
    domain_path: str
    state: str
    network_domain: str | None
    created: datetime


@dataclass(frozen=True, slots=True)
class User:
    """A user of an account. ``api_key`` is public; the secret key is never part of this object."""

    id: str
    username: str
    account_id: str
    account_name: str
    account_type: int
    role_id: str
    role_name: str
    role_type: RoleType
    domain_id: str
    domain_name: str
    state: str
    firstname: str
    lastname: str
    email: str | None
    timezone: str | None
    api_key: str | None
    is_default: bool
    created: datetime


@dataclass(frozen=True, slots=True)
class UserKeys:
    """An API key pair; ``secret_key`` is None when the caller may not see it."""

    api_key: str | None
    secret_key: str | None


@dataclass(frozen=True, slots=True)
class Session:
    """A login session. ``key`` is in clear only in the object create_session returns."""

    key: str
    user_id: str
    expires: datetime
    timeout_seconds: int
