"""All tables on one ``MetaData``; add an area by adding a module here and a migration revision.

Import tables from this package (``from provisioner.db.schema import account``) or from the
area module; importing the package registers every area on :data:`metadata`.
"""

from provisioner.db.schema.base import metadata, new_uuid, utcnow
from provisioner.db.schema.config import configuration, resource_tag
from provisioner.db.schema.identity import account, api_session, domain, role, role_permission, user
from provisioner.db.schema.jobs import async_job, mshost

__all__ = [
    "account",
    "api_session",
    "async_job",
    "configuration",
    "domain",
    "metadata",
    "mshost",
    "new_uuid",
    "resource_tag",
    "role",
    "role_permission",
    "user",
    "utcnow",
]
