"""Protocol commands that describe the server: ``listApis`` and ``listCapabilities``."""

from __future__ import annotations

from pydantic import Field

from provisioner.api.discovery import ApiResponse, describe_command
from provisioner.api.fields import BaseParams, param
from provisioner.api.registry import CommandContext, api_command
from provisioner.api.responses import ResponseModel
from provisioner.exceptions import ParamError


class ListApisParams(BaseParams):
    """Parameters of ``listApis``."""

    name: str | None = param("API name")


@api_command(
    "listApis",
    params=ListApisParams,
    response=ApiResponse,
    response_key="api",
    list=True,
    since="4.1.0",
    description="lists all available apis on the server, provided by the Api Discovery plugin",
)
def list_apis(ctx: CommandContext, params: ListApisParams) -> list[ApiResponse]:
    """Describe every command the caller may run (or just ``name``)."""
    commands = [command for command in ctx.registry.commands() if params.name in (None, command.name)]
    allowed = [c for c in commands if ctx.backend.is_allowed(ctx.caller, c.name, c.authorized)]
    if params.name is not None and not allowed:
        # CloudStack answers 530 here; an unknown name is the caller's mistake, so we answer 431.
        raise ParamError("Api Discovery plugin was unable to find an api by that name or process any apis")
    return [describe_command(command) for command in allowed]


class CapabilitiesResponse(ResponseModel):
    """``CapabilitiesResponse``: what the server supports (``cloudstackversion`` is what clients read)."""

    cloudstackversion: str = Field(description="version of the cloud stack")
    securitygroupsenabled: bool = Field(default=False, description="true if security groups support is enabled")
    userpublictemplateenabled: bool = Field(
        default=True, description="true if user and domain admins can set templates to be shared"
    )
    dynamicrolesenabled: bool = Field(default=True, description="true if dynamic role-based api checker is enabled")
    allowusercreateprojects: bool = Field(
        default=True, description="true if regular user is allowed to create projects"
    )
    allowuserexpungerecovervm: bool = Field(
        default=False, description="true if the user can recover and expunge virtualmachines"
    )
    allowuserviewdestroyedvm: bool = Field(
        default=False, description="true if the user is allowed to view destroyed virtualmachines"
    )
    projectinviterequired: bool = Field(
        default=False, description="If invitation confirmation is required when add account to project"
    )
    regionsecondaryenabled: bool = Field(default=False, description="true if region wide secondary is enabled")
    kvmsnapshotenabled: bool = Field(default=False, description="true if snapshot is supported for KVM host")
    supportELB: str = Field(default="false", description="true if region supports elastic load balancer on basic zones")
    apilimitinterval: int = Field(default=1, description="time interval (in seconds) to reset api count")
    apilimitmax: int = Field(default=25, description="Max allowed number of api requests within the specified interval")
    customdiskofferingminsize: int = Field(
        default=1, description="minimum size that can be specified when create disk from disk offering with custom size"
    )
    customdiskofferingmaxsize: int = Field(
        default=1024,
        description="maximum size that can be specified when create disk from disk offering with custom size",
    )


class ListCapabilitiesParams(BaseParams):
    """``listCapabilities`` takes no parameters."""


@api_command(
    "listCapabilities",
    params=ListCapabilitiesParams,
    response=CapabilitiesResponse,
    response_key="capability",
    since="1.0",
    description="Lists capabilities",
)
def list_capabilities(ctx: CommandContext, params: ListCapabilitiesParams) -> CapabilitiesResponse:
    """Report the server's version and feature switches."""
    return CapabilitiesResponse(cloudstackversion=ctx.settings.cloudstack_version)
