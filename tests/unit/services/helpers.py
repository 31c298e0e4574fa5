"""Builders shared by the identity and jobs tests: a seeded identity service and callers of each kind."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from provisioner.services.crypto import SecretBox, load_or_create_server_key
from provisioner.services.identity import IdentityService, users
from provisioner.services.identity.domains import create_domain, get_domain
from provisioner.services.identity.models import User
from provisioner.services.principal import Caller

PASSWORD = "correct horse battery staple"


def make_identity(engine: Engine, directory: Path) -> IdentityService:
    """A seeded identity service whose server key and admin credentials live in ``directory``."""
    box = SecretBox(load_or_create_server_key(directory / "server.key"))
    service = IdentityService(engine, box, directory)
    service.seed()
    return service


def admin_password(directory: Path) -> str:
    """The seeded admin password, read back from the credentials file."""
    lines = (directory / "admin-credentials").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines)["password"]


def admin_caller(service: IdentityService, directory: Path) -> Caller:
    """Log in as the seeded admin."""
    return service.login("admin", admin_password(directory), "/")


def make_account(
    service: IdentityService, admin: Caller, name: str, account_type: int = 0, domain_uuid: str | None = None
) -> tuple[User, Caller]:
    """Create an account (first user ``name``) and log in as that user."""
    created = service.transaction(
        lambda conn: users.create_account(
            conn,
            admin,
            username=name,
            password=PASSWORD,
            account_type=account_type,
            domain_uuid=domain_uuid,
            email=f"{name}@example.org",
        )
    )
    path = "/" if domain_uuid is None else service.transaction(lambda conn: get_domain(conn, domain_uuid)).path
    return created, service.login(name, PASSWORD, path)


def make_domain(service: IdentityService, caller: Caller, name: str, parent: str | None = None) -> str:
    """Create a domain and return its UUID."""
    return service.transaction(lambda conn: create_domain(conn, caller, name, parent_uuid=parent)).id
