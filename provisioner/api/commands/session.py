"""Session commands: ``login`` (the dispatcher checks the password first) and ``logout``."""

from __future__ import annotations

from pydantic import Field

from provisioner.api.fields import BaseParams, param
from provisioner.api.registry import CommandContext, api_command
from provisioner.api.responses import ResponseModel


class LoginParams(BaseParams):
    """Parameters of ``login`` (POST only; read from the query string or the form body)."""

    username: str = param("Username", required=True)
    password: str = param(
        "Hashed password (Default is MD5). If you wish to use any other hashing algorithm, you "
        "would need to write a custom authentication adapter See Docs section.",
        required=True,
    )
    domain: str | None = param(
        "Path of the domain that the user belongs to. Example: domain=/com/cloud/internal. "
        "If no domain is passed in, the ROOT (/) domain is assumed."
    )
    domainid: str | None = param(
        "The id of the domain that the user belongs to. If both domain and domainId are "
        'passed in, "domainId" parameter takes precedence.',
        since="4.4",
    )


class LoginResponse(ResponseModel):
    """The flat ``loginresponse`` body."""

    username: str = Field(description="Username")
    userid: str = Field(description="User ID")
    domainid: str = Field(description="Domain ID that the user belongs to")
    timeout: int = Field(description="the time period before the session has expired")
    account: str = Field(description="the account name the user belongs to")
    firstname: str | None = Field(default=None, description="first name of the user")
    lastname: str | None = Field(default=None, description="last name of the user")
    type: str = Field(description="the account type (admin, domain-admin, read-only-admin, user)")
    timezone: str | None = Field(default=None, description="user time zone")
    timezoneoffset: str | None = Field(default=None, description="user time zoneoffset")
    registered: str = Field(default="false", description="Is user registered")
    sessionkey: str = Field(description="Session key that can be passed in subsequent Query command calls")
    is2faenabled: str = Field(default="false", description="Is two factor authentication enabled")
    is2faverified: str = Field(default="false", description="Is two factor authentication verified")


@api_command(
    "login",
    params=LoginParams,
    response=LoginResponse,
    since="1.0",
    description="Logs a user into the CloudStack. A successful login attempt will generate a JSESSIONID cookie "
    'value that can be passed in subsequent Query command calls until the "logout" command has been issued or '
    "the session has expired.",
)
def login(ctx: CommandContext, params: LoginParams) -> LoginResponse:
    """Start a session for the user the dispatcher authenticated from ``username``/``password``."""
    caller = ctx.caller
    return LoginResponse(
        username=caller.username,
        userid=caller.user_id,
        domainid=caller.domain_id,
        timeout=ctx.settings.session_timeout,
        account=caller.account_name,
        type=str(caller.role_type.account_type),
        sessionkey=ctx.backend.create_session(caller),
    )


class LogoutParams(BaseParams):
    """``logout`` takes no parameters."""


class LogoutResponse(ResponseModel):
    """The flat ``logoutresponse`` body."""

    description: str = Field(default="success", description="Response description")


@api_command("logout", params=LogoutParams, response=LogoutResponse, since="1.0", description="Logs out the user")
def logout(ctx: CommandContext, params: LogoutParams) -> LogoutResponse:
    """End the request's session (a request signed with an API key has none to end)."""
    if ctx.sessionkey is not None:
        ctx.backend.end_session(ctx.sessionkey)
    return LogoutResponse()
