"""Identity: domains, accounts, users, roles, authentication and visibility.

The API layer holds one :class:`IdentityService`; CRUD lives in ``domains``, ``accounts``,
``users`` and ``roles`` as functions over a connection, visibility SQL in ``visibility``.
"""

from provisioner.services.identity.models import Account, Domain, Role, RolePermission, Session, User, UserKeys
from provisioner.services.identity.service import IdentityService

__all__ = ["Account", "Domain", "IdentityService", "Role", "RolePermission", "Session", "User", "UserKeys"]
