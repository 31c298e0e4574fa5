"""``listConfigurations`` and ``updateConfiguration``, global and scoped (zone, cluster, pool, account...)."""

from __future__ import annotations

from pydantic import Field
from sqlalchemy import Connection

from provisioner.api.fields import BaseListParams, BaseParams, param
from provisioner.api.registry import CommandContext, api_command
from provisioner.api.responses import ListResult, ResponseModel
from provisioner.server import background
from provisioner.server.backend import backend_of, page_numbers
from provisioner.services import configuration as settings
from provisioner.services.principal import RoleType

ROOT = (RoleType.ADMIN,)


class ConfigurationResponse(ResponseModel):
    """A setting (``ConfigurationResponse``)."""

    name: str = Field(description="the name of the configuration")
    value: str | None = Field(default=None, description="the value of the configuration")
    category: str = Field(description="the category of the configuration")
    description: str | None = Field(default=None, description="the description of the configuration")
    scope: str = Field(description="scope(zone/cluster/pool/account) of the parameter that needs to be updated")
    isdynamic: bool = Field(description="true if the configuration is dynamic")
    defaultvalue: str | None = Field(default=None, description="the default value of the configuration")


class ScopeParams(BaseParams):
    """The object a scoped setting belongs to (at most one)."""

    zoneid: str | None = param("the ID of the Zone to update the parameter value for corresponding zone", entity="Zone")
    clusterid: str | None = param(
        "the ID of the Cluster to update the parameter value for corresponding cluster",
        entity="Cluster",
    )
    storageid: str | None = param(
        "the ID of the Storage pool to update the parameter value for corresponding storage pool",
        entity="StoragePool",
    )
    accountid: str | None = param(
        "the ID of the Account to update the parameter value for corresponding account",
        entity="Account",
    )
    domainid: str | None = param(
        "the ID of the Domain to update the parameter value for corresponding domain",
        entity="Domain",
    )
    imagestoreuuid: str | None = param(
        "the ID of the Image Store to update the parameter value for corresponding image store",
        entity="ImageStore",
    )

    def scope(self) -> tuple[str, str, str] | None:
        """``(scope name, object id, parameter name)`` of the first scope given, or None (global)."""
        for scope, name in (
            ("zone", "zoneid"),
            ("cluster", "clusterid"),
            ("storagepool", "storageid"),
            ("account", "accountid"),
            ("domain", "domainid"),
            ("imagestore", "imagestoreuuid"),
        ):
            value = getattr(self, name)
            if value:
                return scope, value, name
        return None


def _scope_pk(conn: Connection, params: ScopeParams) -> tuple[str | None, int | None]:
    given = params.scope()
    if given is None:
        return None, None
    scope, uuid, name = given
    return scope, settings.scope_id(conn, scope, uuid, name)


class ListConfigurationsParams(BaseListParams, ScopeParams):
    """Parameters of ``listConfigurations``."""

    name: str | None = param("lists configuration by name")
    category: str | None = param("lists configurations by category")


@api_command(
    "listConfigurations",
    params=ListConfigurationsParams,
    response=ConfigurationResponse,
    response_key="configuration",
    list=True,
    since="1.0",
    authorized=ROOT,
    description="Lists all configurations.",
)
def list_configurations(ctx: CommandContext, params: ListConfigurationsParams) -> ListResult[ConfigurationResponse]:
    """List settings; with a scope id, that object's values (falling back to the global ones)."""
    page, pagesize = page_numbers(ctx.page)

    def work(conn: Connection) -> ListResult[ConfigurationResponse]:
        scope, scope_pk = _scope_pk(conn, params)
        total, rows = settings.list_configurations(
            conn,
            ctx.caller,
            name=params.name,
            category=params.category,
            keyword=params.keyword,
            scope=scope,
            scope_pk=scope_pk,
            page=page,
            pagesize=pagesize,
        )
        return ListResult([ConfigurationResponse.model_validate(row) for row in rows], total)

    return backend_of(ctx).identity.transaction(work)


class UpdateConfigurationParams(ScopeParams):
    """Parameters of ``updateConfiguration``."""

    name: str = param("the name of the configuration", required=True)
    value: str | None = param("the value of the configuration", length=4096)


@api_command(
    "updateConfiguration",
    params=UpdateConfigurationParams,
    response=ConfigurationResponse,
    response_key="configuration",
    since="1.0",
    authorized=ROOT,
    description="Updates a configuration.",
)
def update_configuration(ctx: CommandContext, params: UpdateConfigurationParams) -> ConfigurationResponse:
    """Change a setting globally or for one object; without ``value`` it goes back to its default."""

    def work(conn: Connection) -> ConfigurationResponse:
        scope, scope_pk = _scope_pk(conn, params)
        row = settings.update_configuration(conn, ctx.caller, params.name, params.value, scope=scope, scope_pk=scope_pk)
        return ConfigurationResponse.model_validate(row)

    changed = backend_of(ctx).identity.transaction(work)
    # Committed: a background task whose interval this is reads it again now, not after the old interval.
    background.setting_changed(params.name)
    return changed
