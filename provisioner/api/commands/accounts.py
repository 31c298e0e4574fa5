"""Account commands over the identity service (``AccountService.go`` fields); accounts carry their users.

``deleteAccount`` and ``disableAccount`` are async, as in CloudStack.
"""

from __future__ import annotations

from pydantic import Field
from sqlalchemy import Connection

from provisioner.api.commands.identity import ADMINS, wire_path
from provisioner.api.commands.users import UserResponse, users_of_accounts
from provisioner.api.fields import BaseParams, ListDomainResourcesParams, param
from provisioner.api.registry import CommandContext, api_command
from provisioner.api.responses import CsDateTime, ListResult, ResponseModel
from provisioner.exceptions import ParamError
from provisioner.server.backend import backend_of, page_numbers
from provisioner.services.identity import accounts, users
from provisioner.services.identity.models import Account


class AccountResponse(ResponseModel):
    """An account with its users (``AccountResponse``)."""

    id: str = Field(description="the id of the account")
    name: str = Field(description="the name of the account")
    accounttype: int = Field(description="account type (admin, domain-admin, user)")
    roleid: str = Field(description="the ID of the role")
    rolename: str = Field(description="the name of the role")
    roletype: str = Field(description="the type of the role (Admin, ResourceAdmin, DomainAdmin, User)")
    domainid: str = Field(description="id of the Domain the account belongs to")
    domain: str = Field(description="name of the Domain the account belongs to")
    domainpath: str = Field(description="path of the Domain the account belongs to")
    state: str = Field(description="the state of the account")
    networkdomain: str | None = Field(default=None, description="the network domain")
    isdefault: bool = Field(description="true if account is default, false otherwise")
    iscleanuprequired: bool = Field(default=False, description="true if the account requires cleanup")
    created: CsDateTime = Field(description="the date when this account was created")
    user: list[UserResponse] = Field(default_factory=list, description="the list of users associated with account")


def account_response(item: Account, members: list[UserResponse]) -> AccountResponse:
    """The wire form of a service :class:`Account` with its users."""
    return AccountResponse(
        id=item.id,
        name=item.name,
        accounttype=item.account_type,
        roleid=item.role_id,
        rolename=item.role_name,
        roletype=item.role_type.value,
        domainid=item.domain_id,
        domain=item.domain_name,
        domainpath=wire_path(item.domain_path),
        state=item.state,
        networkdomain=item.network_domain,
        isdefault=item.name == "admin" and item.domain_path == "/",
        created=item.created,
        user=members,
    )


def with_users(conn: Connection, items: list[Account]) -> list[AccountResponse]:
    """Accounts with their users, fetched in one query for the whole page."""
    members = users_of_accounts(conn, [item.id for item in items])
    return [account_response(item, members.get(item.id, [])) for item in items]


def one_account(conn: Connection, uuid: str) -> AccountResponse:
    """One account, with users, by id."""
    return with_users(conn, [accounts.get_account(conn, uuid)])[0]


def account_id(conn: Connection, ctx: CommandContext, uuid: str | None, name: str | None, domain: str | None) -> str:
    """The account named by ``id``, or by ``account`` + ``domainid`` (CloudStack takes either)."""
    if uuid:
        return uuid
    if not name:
        raise ParamError("Either id or account name (with domainid) must be specified")
    found = accounts.find_account(conn, name, domain or ctx.caller.domain_id)
    if found is None:
        raise ParamError(f"Unable to find account by name {name} in domain {domain or ctx.caller.domain_id}")
    return found.id


class CreateAccountParams(BaseParams):
    """Parameters of ``createAccount``."""

    username: str = param("Unique username.", required=True)
    password: str = param("Clear text password (Default hashed to SHA256SALT).", required=True)
    email: str = param("email", required=True)
    firstname: str = param("firstname", required=True)
    lastname: str = param("lastname", required=True)
    accounttype: int | None = param("Type of the account: 0 user, 1 root admin, 2 domain admin", type="short")
    roleid: str | None = param("Creates the account under the specified role.", entity="Role", since="4.9.0")
    domainid: str | None = param("Creates the user under the specified domain.", entity="Domain")
    account: str | None = param("Name of the account to be created; default the username")
    networkdomain: str | None = param("Network domain for the account's networks")
    timezone: str | None = param("Specifies a timezone for this command.")
    accountid: str | None = param(
        "Account UUID, required for adding account from external provisioning system",
        type="uuid",
    )
    userid: str | None = param("User UUID, required for adding account from external provisioning system", type="uuid")
    accountdetails: list[dict[str, str]] | None = param("details for the account (accepted, not stored)")


@api_command(
    "createAccount",
    params=CreateAccountParams,
    response=AccountResponse,
    response_key="account",
    since="1.0",
    authorized=ADMINS,
    description="Creates an account",
)
def create_account(ctx: CommandContext, params: CreateAccountParams) -> AccountResponse:
    """Create an account and its first user."""

    def work(conn: Connection) -> AccountResponse:
        first = users.create_account(
            conn,
            ctx.caller,
            username=params.username,
            password=params.password,
            email=params.email,
            firstname=params.firstname,
            lastname=params.lastname,
            account_name=params.account,
            account_type=params.accounttype,
            role_uuid=params.roleid,
            domain_uuid=params.domainid,
            timezone=params.timezone,
            network_domain=params.networkdomain,
            account_uuid=params.accountid,
            user_uuid=params.userid,
        )
        return one_account(conn, first.account_id)

    return backend_of(ctx).identity.transaction(work)


class ListAccountsParams(ListDomainResourcesParams):
    """Parameters of ``listAccounts``."""

    id: str | None = param("list account by account ID", entity="Account")
    name: str | None = param("list account by account name")
    accounttype: int | None = param("list accounts by account type", type="short")
    state: str | None = param("list accounts by state. Valid states are enabled, disabled, and locked.")
    iscleanuprequired: bool | None = param("list accounts by cleanuprequired attribute (values are true or false)")
    details: list[str] | None = param("comma separated list of account details requested (all, resource, min)")


@api_command(
    "listAccounts",
    params=ListAccountsParams,
    response=AccountResponse,
    response_key="account",
    list=True,
    since="1.0",
    description="Lists accounts and provides detailed account information for listed accounts",
)
def list_accounts(ctx: CommandContext, params: ListAccountsParams) -> ListResult[AccountResponse]:
    """List the accounts the caller may see, each with its users."""
    page, pagesize = page_numbers(ctx.page)

    def work(conn: Connection) -> ListResult[AccountResponse]:
        total, rows = accounts.list_accounts(
            conn,
            ctx.caller,
            uuid=params.id,
            name=params.name or params.account,
            domain_uuid=params.domainid,
            recursive=bool(params.isrecursive),
            account_type=params.accounttype,
            state=params.state,
            keyword=params.keyword,
            page=page,
            pagesize=pagesize,
        )
        return ListResult(with_users(conn, rows), total)

    return backend_of(ctx).identity.transaction(work)


class AccountRefParams(BaseParams):
    """An account by ``id``, or by ``account`` + ``domainid``."""

    id: str | None = param("Account id", entity="Account")
    account: str | None = param("Account name; with domainid")
    domainid: str | None = param("Domain ID of the account; with account", entity="Domain")


class UpdateAccountParams(AccountRefParams):
    """Parameters of ``updateAccount``."""

    newname: str | None = param("new name for the account")
    networkdomain: str | None = param("Network domain for the account's networks")
    roleid: str | None = param("The UUID of the dynamic role to set for the account", entity="Role")
    accountdetails: list[dict[str, str]] | None = param("details for the account (accepted, not stored)")


@api_command(
    "updateAccount",
    params=UpdateAccountParams,
    response=AccountResponse,
    response_key="account",
    since="1.0",
    authorized=ADMINS,
    description="Updates account information for the authenticated user",
)
def update_account(ctx: CommandContext, params: UpdateAccountParams) -> AccountResponse:
    """Rename an account, change its network domain or role."""

    def work(conn: Connection) -> AccountResponse:
        target = account_id(conn, ctx, params.id, params.account, params.domainid)
        accounts.update_account(
            conn,
            ctx.caller,
            target,
            new_name=params.newname,
            network_domain=params.networkdomain,
            role_uuid=params.roleid,
        )
        return one_account(conn, target)

    return backend_of(ctx).identity.transaction(work)


def _set_state(ctx: CommandContext, params: AccountRefParams, state: str) -> AccountResponse:
    def work(conn: Connection) -> AccountResponse:
        target = account_id(conn, ctx, params.id, params.account, params.domainid)
        accounts.set_account_state(conn, ctx.caller, target, state)
        return one_account(conn, target)

    return backend_of(ctx).identity.transaction(work)


@api_command(
    "enableAccount",
    params=AccountRefParams,
    response=AccountResponse,
    response_key="account",
    since="1.0",
    authorized=ADMINS,
    description="Enables an account",
)
def enable_account(ctx: CommandContext, params: AccountRefParams) -> AccountResponse:
    """Enable an account."""
    return _set_state(ctx, params, "enabled")


class DisableAccountParams(AccountRefParams):
    """Parameters of ``disableAccount``."""

    lock: bool = param("If true, only lock the account; else disable the account", required=True)


@api_command(
    "disableAccount",
    params=DisableAccountParams,
    response=AccountResponse,
    response_key="account",
    is_async=True,
    since="1.0",
    authorized=ADMINS,
    entity_type="Account",
    description="Disables an account",
)
def disable_account(ctx: CommandContext, params: DisableAccountParams) -> AccountResponse:
    """Disable an account, or lock it (``lock=true``)."""
    return _set_state(ctx, params, "locked" if params.lock else "disabled")


@api_command(
    "lockAccount",
    params=AccountRefParams,
    response=AccountResponse,
    response_key="account",
    since="1.0",
    authorized=ADMINS,
    description="Locks an account",
)
def lock_account(ctx: CommandContext, params: AccountRefParams) -> AccountResponse:
    """Lock an account."""
    return _set_state(ctx, params, "locked")


class DeleteAccountParams(BaseParams):
    """Parameters of ``deleteAccount``."""

    id: str = param("Account id", required=True, entity="Account")


@api_command(
    "deleteAccount",
    params=DeleteAccountParams,
    is_async=True,
    since="1.0",
    authorized=ADMINS,
    entity_type="Account",
    description="Deletes an account and all the users associated with it",
)
def delete_account(ctx: CommandContext, params: DeleteAccountParams) -> None:
    """Delete an account and its users."""
    backend_of(ctx).identity.transaction(lambda conn: accounts.delete_account(conn, ctx.caller, params.id))
