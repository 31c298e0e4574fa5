"""Resource tags: ``createTags`` and ``deleteTags`` (async) and ``listTags`` (``ResourcetagsService.go``)."""

from __future__ import annotations

from pydantic import Field

from provisioner.api.fields import BaseParams, ListDomainResourcesParams, param
from provisioner.api.registry import CommandContext, api_command
from provisioner.api.responses import ListResult, ResponseModel
from provisioner.server.backend import backend_of, page_numbers
from provisioner.services import tags


class TagResponse(ResponseModel):
    """A tag (``ResourceTagResponse``)."""

    key: str = Field(description="tag key name")
    value: str = Field(description="tag value")
    resourcetype: str = Field(description="resource type")
    resourceid: str = Field(description="id of the resource")
    account: str | None = Field(default=None, description="the account associated with the tag")
    domainid: str | None = Field(default=None, description="the ID of the domain associated with the tag")
    domain: str | None = Field(default=None, description="the domain associated with the tag")
    domainpath: str | None = Field(default=None, description="path of the Domain associated with the tag")
    customer: str | None = Field(default=None, description="customer associated with the tag")


class CreateTagsParams(BaseParams):
    """Parameters of ``createTags``."""

    resourceids: list[str] = param("list of resources to create the tags for", required=True)
    resourcetype: str = param("type of the resource", required=True)
    tags: list[dict[str, str]] = param("Map of tags (key/value pairs)", required=True)
    customer: str | None = param(
        "identifies client specific tag; when set, the tag cannot be used by CloudStack code internally",
    )


@api_command(
    "createTags",
    params=CreateTagsParams,
    is_async=True,
    since="4.0.0",
    description="Creates resource tag(s)",
    related="listTags,deleteTags",
)
def create_tags(ctx: CommandContext, params: CreateTagsParams) -> None:
    """Tag resources (each must exist and be the caller's to tag)."""
    backend_of(ctx).identity.transaction(
        lambda conn: tags.create_tags(
            conn,
            ctx.caller,
            resourceids=params.resourceids,
            resourcetype=params.resourcetype,
            tags=params.tags,
            customer=params.customer,
        )
    )


class DeleteTagsParams(BaseParams):
    """Parameters of ``deleteTags``."""

    resourceids: list[str] = param("Delete tags for resource id(s)", required=True)
    resourcetype: str = param("Delete tag by resource type", required=True)
    tags: list[dict[str, str]] | None = param("Delete tags matching key/value pairs")


@api_command(
    "deleteTags",
    params=DeleteTagsParams,
    is_async=True,
    since="4.0.0",
    description="Deleting resource tag(s)",
    related="listTags,createTags",
)
def delete_tags(ctx: CommandContext, params: DeleteTagsParams) -> None:
    """Remove tags (all of a resource's tags when no ``tags`` are given)."""
    backend_of(ctx).identity.transaction(
        lambda conn: tags.delete_tags(
            conn,
            ctx.caller,
            resourceids=params.resourceids,
            resourcetype=params.resourcetype,
            tags=params.tags,
        )
    )


class ListTagsParams(ListDomainResourcesParams):
    """Parameters of ``listTags``."""

    resourcetype: str | None = param("list by resource type")
    resourceid: str | None = param("list by resource id")
    key: str | None = param("list by key")
    value: str | None = param("list by value")
    customer: str | None = param("list by customer name")


@api_command(
    "listTags",
    params=ListTagsParams,
    response=TagResponse,
    response_key="tag",
    list=True,
    since="4.0.0",
    description="List resource tag(s)",
    related="createTags,deleteTags",
)
def list_tags(ctx: CommandContext, params: ListTagsParams) -> ListResult[TagResponse]:
    """List the tags the caller may see."""
    page, pagesize = page_numbers(ctx.page)
    rows, total = backend_of(ctx).identity.transaction(
        lambda conn: tags.list_tags(
            conn,
            ctx.caller,
            resourcetype=params.resourcetype,
            resourceid=params.resourceid,
            key=params.key,
            value=params.value,
            customer=params.customer,
            keyword=params.keyword,
            page=page,
            pagesize=pagesize,
        )
    )
    return ListResult([TagResponse.model_validate(row) for row in rows], total)
