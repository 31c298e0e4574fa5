"""Identity commands: domains (accounts are in ``accounts.py``, users in ``users.py``), over the identity service.

Response fields and JSON types follow ``apache/cloudstack-go`` ``DomainService.go``. ``deleteDomain`` is
async, as in CloudStack.
"""

from __future__ import annotations

from pydantic import Field

from provisioner.api.fields import BaseListParams, BaseParams, param
from provisioner.api.registry import CommandContext, api_command
from provisioner.api.responses import CsDateTime, ListResult, ResponseModel
from provisioner.server.backend import backend_of, page_numbers
from provisioner.services.identity import domains
from provisioner.services.identity.models import Domain
from provisioner.services.principal import RoleType

ADMINS = (RoleType.ADMIN, RoleType.DOMAIN_ADMIN)


def wire_path(path: str) -> str:
    """A domain path as CloudStack shows it: ``/`` → ``ROOT``, ``/a/b/`` → ``ROOT/a/b``."""
    return "ROOT" + path.rstrip("/")


class DomainResponse(ResponseModel):
    """A domain (``DomainResponse``)."""

    id: str = Field(description="the ID of the domain")
    name: str = Field(description="the name of the domain")
    level: int = Field(description="the level of the domain")
    parentdomainid: str | None = Field(default=None, description="the domain ID of the parent domain")
    parentdomainname: str | None = Field(default=None, description="the domain name of the parent domain")
    haschild: bool = Field(description="whether the domain has one or more sub-domains")
    path: str = Field(description="the path of the domain")
    networkdomain: str | None = Field(default=None, description="the network domain")
    state: str = Field(description="the state of the domain")
    created: CsDateTime = Field(description="the date when this domain was created")


def domain_response(item: Domain) -> DomainResponse:
    """The wire form of a service :class:`Domain`."""
    return DomainResponse(
        id=item.id,
        name=item.name,
        level=item.level,
        parentdomainid=item.parent_id,
        parentdomainname=item.parent_name,
        haschild=item.has_child,
        path=wire_path(item.path),
        networkdomain=item.network_domain,
        state=item.state,
        created=item.created,
    )


class CreateDomainParams(BaseParams):
    """Parameters of ``createDomain``."""

    name: str = param("creates domain with this name", required=True)
    parentdomainid: str | None = param("assigns new domain a parent domain by domain ID", entity="Domain")
    networkdomain: str | None = param("Network domain for networks in the domain")
    domainid: str | None = param("Domain UUID, required for adding domain from another Region", type="uuid")


@api_command(
    "createDomain",
    params=CreateDomainParams,
    response=DomainResponse,
    response_key="domain",
    since="1.0",
    authorized=ADMINS,
    description="Creates a domain",
)
def create_domain(ctx: CommandContext, params: CreateDomainParams) -> DomainResponse:
    """Create a domain under the parent (default: the caller's domain)."""
    created = backend_of(ctx).identity.transaction(
        lambda conn: domains.create_domain(
            conn,
            ctx.caller,
            params.name,
            parent_uuid=params.parentdomainid,
            network_domain=params.networkdomain,
            uuid=params.domainid,
        )
    )
    return domain_response(created)


class ListDomainsParams(BaseListParams):
    """Parameters of ``listDomains``."""

    id: str | None = param("List domain by domain ID.", entity="Domain")
    name: str | None = param("List domain by domain name.")
    level: int | None = param("List domains by domain level.")
    listall: bool | None = param("If set to false, list only resources belonging to the command's caller")
    details: list[str] | None = param("comma separated list of domain details requested (all, resource, min)")


@api_command(
    "listDomains",
    params=ListDomainsParams,
    response=DomainResponse,
    response_key="domain",
    list=True,
    since="1.0",
    description="Lists domains and provides detailed information for listed domains",
)
def list_domains(ctx: CommandContext, params: ListDomainsParams) -> ListResult[DomainResponse]:
    """List the domains the caller may see, ROOT first."""
    page, pagesize = page_numbers(ctx.page)
    total, rows = backend_of(ctx).identity.transaction(
        lambda conn: domains.list_domains(
            conn,
            ctx.caller,
            uuid=params.id,
            name=params.name,
            level=params.level,
            keyword=params.keyword,
            page=page,
            pagesize=pagesize,
        )
    )
    return ListResult([domain_response(row) for row in rows], total)


class UpdateDomainParams(BaseParams):
    """Parameters of ``updateDomain``."""

    id: str = param("ID of domain to update", required=True, entity="Domain")
    name: str | None = param("updates domain with this name")
    networkdomain: str | None = param("Network domain for the domain's networks")


@api_command(
    "updateDomain",
    params=UpdateDomainParams,
    response=DomainResponse,
    response_key="domain",
    since="2.0.0",
    authorized=ADMINS,
    description="Updates a domain with a new name",
)
def update_domain(ctx: CommandContext, params: UpdateDomainParams) -> DomainResponse:
    """Rename a domain (its subtree's paths follow) or change its network domain."""
    updated = backend_of(ctx).identity.transaction(
        lambda conn: domains.update_domain(
            conn, ctx.caller, params.id, name=params.name, network_domain=params.networkdomain
        )
    )
    return domain_response(updated)


class DeleteDomainParams(BaseParams):
    """Parameters of ``deleteDomain``."""

    id: str = param("ID of domain to delete", required=True, entity="Domain")
    cleanup: bool | None = param("true if all domain resources (child domains, accounts) have to be cleaned up")


@api_command(
    "deleteDomain",
    params=DeleteDomainParams,
    is_async=True,
    since="1.0",
    authorized=ADMINS,
    entity_type="Domain",
    description="Deletes a specified domain",
)
def delete_domain(ctx: CommandContext, params: DeleteDomainParams) -> None:
    """Delete a domain (refused while it has children, or accounts unless ``cleanup``)."""
    backend_of(ctx).identity.transaction(
        lambda conn: domains.delete_domain(conn, ctx.caller, params.id, cleanup=bool(params.cleanup))
    )
