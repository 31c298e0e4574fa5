"""Users: create (also an account with its first user), update, states, API keys, list."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Row, delete, insert, select, update

from provisioner.db.schema import account, api_session, domain, role, user, utcnow
from provisioner.exceptions import ParamError, PermissionDeniedError
from provisioner.services.common import count_of, paginate
from provisioner.services.crypto import SecretBox, generate_api_key, hash_password, verify_password
from provisioner.services.identity.accounts import create_account_row
from provisioner.services.identity.models import User, UserKeys
from provisioner.services.identity.visibility import check_domain_access, visible_condition
from provisioner.services.principal import Caller, RoleType

USER_STATES = ("enabled", "disabled", "locked")


def user_query() -> Any:
    """Users joined with account, role and domain (live rows only)."""
    return (
        select(
            user,
            account.c.uuid.label("account_uuid"),
            account.c.name.label("account_name"),
            account.c.type.label("account_type"),
            role.c.uuid.label("role_uuid"),
            role.c.name.label("role_name"),
            role.c.role_type,
            domain.c.uuid.label("domain_uuid"),
            domain.c.name.label("domain_name"),
            domain.c.path.label("domain_path"),
        )
        .join(account, account.c.id == user.c.account_id)
        .join(role, role.c.id == account.c.role_id)
        .join(domain, domain.c.id == user.c.domain_id)
        .where(user.c.removed.is_(None), account.c.removed.is_(None))
    )


def to_user(row: Row[Any]) -> User:
    """Build a :class:`User` from a :func:`user_query` row (no password, no secret)."""
    m = row._mapping
    return User(
        id=m["uuid"],
        username=m["username"],
        account_id=m["account_uuid"],
        account_name=m["account_name"],
        account_type=m["account_type"],
        role_id=m["role_uuid"],
        role_name=m["role_name"],
        role_type=RoleType(m["role_type"]),
        domain_id=m["domain_uuid"],
        domain_name=m["domain_name"],
        state=m["state"],
        firstname=m["firstname"],
        lastname=m["lastname"],
        email=m["email"],
        timezone=m["timezone"],
        api_key=m["api_key"],
        is_default=m["is_default"],
        created=m["created"],
    )


def _get_row(conn: Connection, uuid: str) -> Row[Any]:
    row = conn.execute(user_query().where(user.c.uuid == uuid.lower())).first()
    if row is None:
        raise ParamError(f"Unable to find user by id {uuid}")
    return row


def get_user(conn: Connection, uuid: str) -> User:
    """The live user with public id ``uuid`` (431 when absent)."""
    return to_user(_get_row(conn, uuid))


def _checked_row(conn: Connection, caller: Caller, uuid: str, *, self_ok: bool = True) -> Row[Any]:
    row = _get_row(conn, uuid)
    if self_ok and row.uuid == caller.user_id:
        return row
    check_domain_access(caller, row.domain_path)
    return row


def insert_user(
    conn: Connection,
    *,
    account_row: Row[Any],
    username: str,
    password: str,
    firstname: str = "",
    lastname: str = "",
    email: str | None = None,
    timezone: str | None = None,
    is_default: bool = False,
    uuid: str | None = None,
) -> User:
    """Insert a user into an account after checking the username is free in its domain."""
    if not username or not password:
        raise ParamError("Username and password must not be empty")
    taken = select(user.c.id).where(
        user.c.domain_id == account_row.domain_id, user.c.username == username, user.c.removed.is_(None)
    )
    if conn.execute(taken).first():
        raise ParamError(f"The user {username} already exists in domain {account_row.domain_id}")
    values: dict[str, Any] = {
        "username": username,
        "password": hash_password(password),
        "account_id": account_row.id,
        "domain_id": account_row.domain_id,
        "firstname": firstname,
        "lastname": lastname,
        "email": email,
        "timezone": timezone,
        "is_default": is_default,
    }
    if uuid:
        values["uuid"] = uuid.lower()
    key = conn.execute(insert(user).values(**values)).inserted_primary_key
    assert key is not None
    return to_user(conn.execute(user_query().where(user.c.id == key[0])).one())


def create_account(
    conn: Connection,
    caller: Caller,
    *,
    username: str,
    password: str,
    email: str | None = None,
    firstname: str = "",
    lastname: str = "",
    account_name: str | None = None,
    account_type: int | None = None,
    role_uuid: str | None = None,
    domain_uuid: str | None = None,
    timezone: str | None = None,
    network_domain: str | None = None,
    account_uuid: str | None = None,
    user_uuid: str | None = None,
) -> User:
    """``createAccount``: an account named ``account_name`` (default: ``username``) and its first user."""
    row = create_account_row(
        conn,
        caller,
        name=account_name or username,
        account_type=account_type,
        role_uuid=role_uuid,
        domain_uuid=domain_uuid,
        network_domain=network_domain,
        uuid=account_uuid,
    )
    return insert_user(
        conn,
        account_row=row,
        username=username,
        password=password,
        firstname=firstname,
        lastname=lastname,
        email=email,
        timezone=timezone,
        is_default=True,
        uuid=user_uuid,
    )


def create_user(
    conn: Connection,
    caller: Caller,
    *,
    account_uuid: str,
    username: str,
    password: str,
    firstname: str = "",
    lastname: str = "",
    email: str | None = None,
    timezone: str | None = None,
    uuid: str | None = None,
) -> User:
    """``createUser`` in an existing account the caller administers."""
    row = conn.execute(
        select(account, domain.c.path.label("domain_path"))
        .join(domain, domain.c.id == account.c.domain_id)
        .where(account.c.uuid == account_uuid.lower(), account.c.removed.is_(None))
    ).first()
    if row is None:
        raise ParamError(f"Unable to find account by id {account_uuid}")
    check_domain_access(caller, row.domain_path)
    return insert_user(
        conn,
        account_row=row,
        username=username,
        password=password,
        firstname=firstname,
        lastname=lastname,
        email=email,
        timezone=timezone,
        uuid=uuid,
    )


def update_user(
    conn: Connection, caller: Caller, uuid: str, *, current_password: str | None = None, **changes: str | None
) -> User:
    """``updateUser``: ``username``, ``password``, ``firstname``, ``lastname``, ``email``, ``timezone``.

    As in CloudStack, a user who is not an admin must give ``current_password`` to set a new password;
    root and domain admins reset passwords without it.
    """
    row = _checked_row(conn, caller, uuid)
    allowed = {"username", "password", "firstname", "lastname", "email", "timezone"}
    unknown = set(changes) - allowed
    if unknown:
        raise ParamError(f"Unknown user fields: {', '.join(sorted(unknown))}")
    values = {k: v for k, v in changes.items() if v is not None}
    if "password" in values:
        _check_password_change(caller, row, values["password"], current_password)
        values["password"] = hash_password(values["password"])
    if values.get("username") and values["username"] != row.username:
        taken = select(user.c.id).where(
            user.c.domain_id == row.domain_id, user.c.username == values["username"], user.c.removed.is_(None)
        )
        if conn.execute(taken).first():
            raise ParamError(f"The user {values['username']} already exists in this domain")
    if values:
        conn.execute(update(user).where(user.c.id == row.id).values(**values))
    return get_user(conn, uuid)


def _check_password_change(caller: Caller, row: Row[Any], new_password: str, current_password: str | None) -> None:
    """CloudStack's ``validateUserPasswordAndUpdateIfNeeded``: no blank password; users prove the current one."""
    if not new_password.strip():
        raise ParamError("Password cannot be empty or blank.")
    if caller.is_root_admin or caller.is_domain_admin:
        return
    if not current_password:
        raise ParamError("To set a new password the current password must be provided.")
    if not verify_password(current_password, row.password or ""):
        raise ParamError("Current password is incorrect.")


def set_user_state(conn: Connection, caller: Caller, uuid: str, state: str) -> User:
    """``enableUser`` / ``disableUser`` / ``lockUser``; ends the user's sessions unless enabled."""
    if state not in USER_STATES:
        raise ParamError(f"Invalid user state {state}")
    row = _checked_row(conn, caller, uuid, self_ok=False)
    if row.uuid == caller.user_id:
        raise PermissionDeniedError("A user cannot disable or lock itself")
    conn.execute(update(user).where(user.c.id == row.id).values(state=state))
    if state != "enabled":
        conn.execute(delete(api_session).where(api_session.c.user_id == row.id))
    return get_user(conn, uuid)


def delete_user(conn: Connection, caller: Caller, uuid: str) -> None:
    """``deleteUser``: soft delete; an account's default (first) user cannot be deleted."""
    row = _checked_row(conn, caller, uuid, self_ok=False)
    if row.is_default:
        raise PermissionDeniedError("The account's default user cannot be deleted; delete the account instead")
    conn.execute(delete(api_session).where(api_session.c.user_id == row.id))
    conn.execute(update(user).where(user.c.id == row.id).values(removed=utcnow(), api_key=None, secret_key=None))


def register_user_keys(conn: Connection, box: SecretBox, caller: Caller, uuid: str) -> UserKeys:
    """``registerUserKeys``: a new key pair (the secret is stored encrypted) for the caller or a user it manages."""
    row = _checked_row(conn, caller, uuid)
    keys = UserKeys(api_key=generate_api_key(), secret_key=generate_api_key())
    assert keys.secret_key is not None
    conn.execute(
        update(user).where(user.c.id == row.id).values(api_key=keys.api_key, secret_key=box.encrypt(keys.secret_key))
    )
    return keys


def get_user_keys(conn: Connection, box: SecretBox, caller: Caller, uuid: str) -> UserKeys:
    """``getUserKeys``: the secret only to its owner or a root admin (domain admins get the key alone)."""
    row = _checked_row(conn, caller, uuid)
    show_secret = caller.user_id == row.uuid or caller.is_root_admin
    secret = box.decrypt(row.secret_key) if show_secret and row.secret_key else None
    return UserKeys(api_key=row.api_key, secret_key=secret)


def list_users(
    conn: Connection,
    caller: Caller,
    *,
    uuid: str | None = None,
    username: str | None = None,
    account_name: str | None = None,
    domain_uuid: str | None = None,
    state: str | None = None,
    account_type: int | None = None,
    keyword: str | None = None,
    page: int | None = None,
    pagesize: int | None = None,
) -> tuple[int, list[User]]:
    """``listUsers`` within what ``caller`` may see; returns (total count, one page)."""
    query = user_query().where(visible_condition(caller, account.c.id, user.c.domain_id)).order_by(user.c.id)
    if uuid:
        query = query.where(user.c.uuid == uuid.lower())
    if username:
        query = query.where(user.c.username == username)
    if account_name:
        query = query.where(account.c.name == account_name)
    if domain_uuid:
        query = query.where(domain.c.uuid == domain_uuid.lower())
    if state:
        query = query.where(user.c.state == state)
    if account_type is not None:
        query = query.where(account.c.type == account_type)
    if keyword:
        query = query.where(user.c.username.contains(keyword, autoescape=True))
    total = count_of(conn, query)
    return total, [to_user(row) for row in conn.execute(paginate(query, page, pagesize))]
