"""User commands: create/list/update/delete, enable/disable/lock, ``getUser`` and the API key pair commands.

Fields follow ``apache/cloudstack-go`` ``UserService.go``. ``disableUser`` is async. A secret key is only
returned to its owner or a root admin (``getUserKeys``); ``listUsers`` never shows one.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import Field
from sqlalchemy import Connection

from provisioner.api.fields import BaseParams, ListDomainResourcesParams, param
from provisioner.api.registry import CommandContext, api_command
from provisioner.api.responses import CsDateTime, ListResult, ResponseModel
from provisioner.db.schema import account, user
from provisioner.exceptions import ParamError
from provisioner.server.backend import backend_of, page_numbers
from provisioner.services.identity import accounts, users
from provisioner.services.identity.models import User, UserKeys
from provisioner.services.principal import RoleType

ADMINS = (RoleType.ADMIN, RoleType.DOMAIN_ADMIN)


class UserResponse(ResponseModel):
    """A user (``UserResponse``); never carries the secret key."""

    id: str = Field(description="the user ID")
    username: str = Field(description="the user name")
    account: str = Field(description="the account name of the user")
    accountid: str = Field(description="the account ID of the user")
    accounttype: int = Field(description="the account type of the user")
    roleid: str = Field(description="the ID of the role")
    rolename: str = Field(description="the name of the role")
    roletype: str = Field(description="the type of the role")
    domainid: str = Field(description="the domain ID of the user")
    domain: str = Field(description="the domain name of the user")
    email: str | None = Field(default=None, description="the user email address")
    firstname: str = Field(description="the user firstname")
    lastname: str = Field(description="the user lastname")
    timezone: str | None = Field(default=None, description="the timezone user was created in")
    apikey: str | None = Field(default=None, description="the api key of the user")
    state: str = Field(description="the user state")
    isdefault: bool = Field(description="true if user is default, false otherwise")
    iscallerchilddomain: bool = Field(default=False, description="whether the user is in a child domain of the caller")
    is2faenabled: bool = Field(default=False, description="true if user has two factor authentication enabled")
    usersource: str = Field(default="native", description="the source type of the user in lowercase, such as native")
    created: CsDateTime = Field(description="the date and time the user account was created")


def user_response(item: User) -> UserResponse:
    """The wire form of a service :class:`User`."""
    return UserResponse(
        id=item.id,
        username=item.username,
        account=item.account_name,
        accountid=item.account_id,
        accounttype=item.account_type,
        roleid=item.role_id,
        rolename=item.role_name,
        roletype=item.role_type.value,
        domainid=item.domain_id,
        domain=item.domain_name,
        email=item.email,
        firstname=item.firstname,
        lastname=item.lastname,
        timezone=item.timezone,
        apikey=item.api_key,
        state=item.state,
        isdefault=item.is_default,
        created=item.created,
    )


def users_of_accounts(conn: Connection, account_ids: Sequence[str]) -> dict[str, list[UserResponse]]:
    """The live users of several accounts (by account UUID), in one query."""
    if not account_ids:
        return {}
    query = users.user_query().where(account.c.uuid.in_(list(account_ids))).order_by(user.c.id)
    found: dict[str, list[UserResponse]] = {}
    for row in conn.execute(query):
        member = users.to_user(row)
        found.setdefault(member.account_id, []).append(user_response(member))
    return found


class CreateUserParams(BaseParams):
    """Parameters of ``createUser``."""

    account: str = param("Creates the user under the specified account.", required=True)
    username: str = param("Unique username.", required=True)
    password: str = param("Clear text password (Default hashed to SHA256SALT).", required=True)
    firstname: str = param("firstname", required=True)
    lastname: str = param("lastname", required=True)
    email: str | None = param("email")
    domainid: str | None = param(
        "Creates the user under the specified domain. Has to be accompanied with the account parameter",
        entity="Domain",
    )
    timezone: str | None = param("Specifies a timezone for this command.")
    userid: str | None = param("User UUID, required for adding account from external provisioning system", type="uuid")


@api_command(
    "createUser",
    params=CreateUserParams,
    response=UserResponse,
    response_key="user",
    since="2.1.0",
    authorized=ADMINS,
    description="Creates a user for an account that already exists",
)
def create_user(ctx: CommandContext, params: CreateUserParams) -> UserResponse:
    """Create a user in an existing account (by name, in ``domainid`` or the caller's domain)."""

    def work(conn: Connection) -> User:
        owner = accounts.find_account(conn, params.account, params.domainid or ctx.caller.domain_id)
        if owner is None:
            raise ParamError(f"Unable to find account {params.account} in the domain")
        return users.create_user(
            conn,
            ctx.caller,
            account_uuid=owner.id,
            username=params.username,
            password=params.password,
            firstname=params.firstname,
            lastname=params.lastname,
            email=params.email,
            timezone=params.timezone,
            uuid=params.userid,
        )

    return user_response(backend_of(ctx).identity.transaction(work))


class ListUsersParams(ListDomainResourcesParams):
    """Parameters of ``listUsers``."""

    id: str | None = param("List user by ID.", entity="User")
    username: str | None = param("List user by the username")
    accounttype: int | None = param("List users by account type.", type="short")
    state: str | None = param("List users by state of the user account.")


@api_command(
    "listUsers",
    params=ListUsersParams,
    response=UserResponse,
    response_key="user",
    list=True,
    since="1.0",
    description="Lists user accounts",
)
def list_users(ctx: CommandContext, params: ListUsersParams) -> ListResult[UserResponse]:
    """List the users the caller may see."""
    page, pagesize = page_numbers(ctx.page)
    total, rows = backend_of(ctx).identity.transaction(
        lambda conn: users.list_users(
            conn,
            ctx.caller,
            uuid=params.id,
            username=params.username,
            account_name=params.account,
            domain_uuid=params.domainid,
            state=params.state,
            account_type=params.accounttype,
            keyword=params.keyword,
            page=page,
            pagesize=pagesize,
        )
    )
    return ListResult([user_response(row) for row in rows], total)


class UpdateUserParams(BaseParams):
    """Parameters of ``updateUser``."""

    id: str = param("User uuid", required=True, entity="User")
    username: str | None = param("Unique username")
    password: str | None = param("Clear text password (default hashed to SHA256SALT)")
    currentpassword: str | None = param(
        "Current password that was being used by the user. You must inform the current password when updating "
        "the password (unless an admin updates it)."
    )
    firstname: str | None = param("first name")
    lastname: str | None = param("last name")
    email: str | None = param("email")
    timezone: str | None = param("Specifies a timezone for this command.")


@api_command(
    "updateUser",
    params=UpdateUserParams,
    response=UserResponse,
    response_key="user",
    since="1.0",
    description="Updates a user account",
)
def update_user(ctx: CommandContext, params: UpdateUserParams) -> UserResponse:
    """Change a user's names, email, timezone, username or password."""
    updated = backend_of(ctx).identity.transaction(
        lambda conn: users.update_user(
            conn,
            ctx.caller,
            params.id,
            current_password=params.currentpassword,
            username=params.username,
            password=params.password,
            firstname=params.firstname,
            lastname=params.lastname,
            email=params.email,
            timezone=params.timezone,
        )
    )
    return user_response(updated)


class UserIdParams(BaseParams):
    """A user by id."""

    id: str = param("User id", required=True, entity="User")


def _set_state(ctx: CommandContext, uuid: str, state: str) -> UserResponse:
    return user_response(
        backend_of(ctx).identity.transaction(lambda conn: users.set_user_state(conn, ctx.caller, uuid, state))
    )


@api_command(
    "enableUser",
    params=UserIdParams,
    response=UserResponse,
    response_key="user",
    since="1.0",
    authorized=ADMINS,
    description="Enables a user account",
)
def enable_user(ctx: CommandContext, params: UserIdParams) -> UserResponse:
    """Enable a user."""
    return _set_state(ctx, params.id, "enabled")


@api_command(
    "disableUser",
    params=UserIdParams,
    response=UserResponse,
    response_key="user",
    is_async=True,
    since="1.0",
    authorized=ADMINS,
    entity_type="User",
    description="Disables a user account",
)
def disable_user(ctx: CommandContext, params: UserIdParams) -> UserResponse:
    """Disable a user (its sessions end)."""
    return _set_state(ctx, params.id, "disabled")


@api_command(
    "lockUser",
    params=UserIdParams,
    response=UserResponse,
    response_key="user",
    since="1.0",
    authorized=ADMINS,
    description="Locks a user account",
)
def lock_user(ctx: CommandContext, params: UserIdParams) -> UserResponse:
    """Lock a user (its sessions end)."""
    return _set_state(ctx, params.id, "locked")


@api_command(
    "deleteUser",
    params=UserIdParams,
    since="1.0",
    authorized=ADMINS,
    description="Deletes a user for an account",
)
def delete_user(ctx: CommandContext, params: UserIdParams) -> None:
    """Delete a user (not an account's default user)."""
    backend_of(ctx).identity.transaction(lambda conn: users.delete_user(conn, ctx.caller, params.id))


class GetUserParams(BaseParams):
    """Parameters of ``getUser``."""

    userapikey: str = param("API key of the user", required=True)


@api_command(
    "getUser",
    params=GetUserParams,
    response=UserResponse,
    response_key="user",
    since="4.2",
    authorized=(RoleType.ADMIN,),
    description="Find user account by API key",
)
def get_user(ctx: CommandContext, params: GetUserParams) -> UserResponse | dict[str, object]:
    """The user owning an API key; ``{}`` when nobody does (as CloudStack)."""

    def work(conn: Connection) -> User | None:
        row = conn.execute(users.user_query().where(user.c.api_key == params.userapikey)).first()
        return users.to_user(row) if row is not None else None

    found = backend_of(ctx).identity.transaction(work)
    return user_response(found) if found is not None else {}


class UserKeysResponse(ResponseModel):
    """An API key pair; ``secretkey`` only for its owner or a root admin."""

    apikey: str | None = Field(default=None, description="the api key of the registered user")
    secretkey: str | None = Field(default=None, description="the secret key of the registered user")


def keys_response(keys: UserKeys) -> UserKeysResponse:
    """The wire form of a key pair."""
    return UserKeysResponse(apikey=keys.api_key, secretkey=keys.secret_key)


@api_command(
    "registerUserKeys",
    params=UserIdParams,
    response=UserKeysResponse,
    response_key="userkeys",
    since="1.0",
    description="This command allows a user to register for the developer API, returning a secret key and an API "
    "key. This request is made through the integration API port, so it is a privileged command and must be made "
    "on behalf of a user. It is up to the implementer just how the username and password are entered, and then "
    "how that translates to an integration API request. Both secret key and API key should be returned to the user",
)
def register_user_keys(ctx: CommandContext, params: UserIdParams) -> UserKeysResponse:
    """Make a new key pair for the caller or a user it administers."""
    identity = backend_of(ctx).identity
    return keys_response(
        identity.transaction(lambda conn: users.register_user_keys(conn, identity.box, ctx.caller, params.id))
    )


@api_command(
    "getUserKeys",
    params=UserIdParams,
    response=UserKeysResponse,
    response_key="userkeys",
    since="4.10.0",
    description="This command allows the user to query the seceret and API keys for the account",
)
def get_user_keys(ctx: CommandContext, params: UserIdParams) -> UserKeysResponse:
    """A user's key pair; the secret only to its owner or a root admin."""
    identity = backend_of(ctx).identity
    return keys_response(
        identity.transaction(lambda conn: users.get_user_keys(conn, identity.box, ctx.caller, params.id))
    )
