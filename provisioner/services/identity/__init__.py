"""Identity: domains, accounts, users, roles, authentication and visibility.

The API layer holds one :class:`IdentityService` (``IdentityService.for_engine(engine)``, then
``seed()`` on start); it answers the ``ApiBackend`` authentication calls (``find_api_key``,
``login``, ``create_session``, ``resolve_session``, ``end_session``, ``is_allowed``,
``system_caller``). CRUD lives in ``domains``, ``accounts``, ``users`` and ``roles`` as functions
over a connection, run with ``service.transaction(lambda conn: users.create_user(conn, ...))``;
``visibility.visible_condition`` filters any table with account/domain columns.
"""

from provisioner.services.identity.models import Account, Domain, Role, RolePermission, Session, User, UserKeys
from provisioner.services.identity.service import IdentityService

__all__ = ["Account", "Domain", "IdentityService", "Role", "RolePermission", "Session", "User", "UserKeys"]
