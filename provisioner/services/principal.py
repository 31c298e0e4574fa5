"""Who is calling the API: the identity every command runs as."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class RoleType(StrEnum):
    """CloudStack role types (``RoleType.java``), with their legacy bit masks in ``mask``."""

    ADMIN = "Admin"
    RESOURCE_ADMIN = "ResourceAdmin"
    DOMAIN_ADMIN = "DomainAdmin"
    USER = "User"

    @property
    def mask(self) -> int:
        """The commands.properties bit: 1 admin, 2 resource admin, 4 domain admin, 8 user."""
        return {"Admin": 1, "ResourceAdmin": 2, "DomainAdmin": 4, "User": 8}[self.value]

    @property
    def account_type(self) -> int:
        """CloudStack ``accounttype``: 1 root admin, 2 domain admin, 0 user (resource admin 3)."""
        return {"Admin": 1, "ResourceAdmin": 3, "DomainAdmin": 2, "User": 0}[self.value]


@dataclass(frozen=True, slots=True)
class Caller:
    """The authenticated user a request or job runs as. Ids are the public (UUID string) ids."""

    user_id: str
    username: str
    account_id: str
    account_name: str
    domain_id: str
    domain_path: str  # "/" for ROOT, "/sub/child/" below it: a prefix test gives the subtree
    role_id: str
    role_type: RoleType

    @property
    def is_root_admin(self) -> bool:
        """True for the Admin role type (sees and may do everything)."""
        return self.role_type is RoleType.ADMIN

    @property
    def is_domain_admin(self) -> bool:
        """True for domain admins (see their domain subtree)."""
        return self.role_type is RoleType.DOMAIN_ADMIN
