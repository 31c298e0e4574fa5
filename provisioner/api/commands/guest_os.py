"""Guest OS types and categories: ``listOsTypes`` and ``listOsCategories``, readable by every role."""

from __future__ import annotations

from pydantic import Field

from provisioner.api.commands.infrastructure_common import EVERYONE, listing
from provisioner.api.fields import BaseListParams, param
from provisioner.api.registry import CommandContext, api_command
from provisioner.api.responses import ListResult, ResponseModel
from provisioner.services.infrastructure import os_types


class OsTypeResponse(ResponseModel):
    """A guest OS type (``GuestOSResponse``)."""

    id: str = Field(description="the ID of the OS type")
    description: str = Field(description="the name/description of the OS type")
    name: str | None = Field(default=None, description="the name of the OS type")
    oscategoryid: str = Field(description="the ID of the OS category")
    oscategoryname: str | None = Field(default=None, description="the name of the OS category")
    isuserdefined: bool = Field(description="is the guest OS user defined")
    fordisplay: bool = Field(description="is the guest OS visible for the users")


class ListOsTypesParams(BaseListParams):
    """Parameters of ``listOsTypes``."""

    id: str | None = param("list by Os type Id", entity="GuestOS")
    ids: list[str] | None = param("list by Os type Ids", entity="GuestOS")
    oscategoryid: str | None = param("list by Os Category id", entity="GuestOSCategory")
    description: str | None = param("list os by description", since="3.0.1")
    fordisplay: bool | None = param("list resources by display flag", since="4.18.1")


@api_command(
    "listOsTypes",
    params=ListOsTypesParams,
    response=OsTypeResponse,
    response_key="ostype",
    list=True,
    since="1.0",
    authorized=EVERYONE,
    description="Lists all supported OS types for this cloud.",
)
def list_os_types(ctx: CommandContext, params: ListOsTypesParams) -> ListResult[OsTypeResponse]:
    """List guest OS types; ``description`` is exact (Terraform resolves templates' OS by it)."""
    return listing(
        ctx,
        OsTypeResponse,
        os_types.list_os_types,
        id=params.id,
        ids=params.ids,
        description=params.description,
        keyword=params.keyword,
        oscategoryid=params.oscategoryid,
        fordisplay=params.fordisplay,
    )


class OsCategoryResponse(ResponseModel):
    """A guest OS category (``GuestOSCategoryResponse``)."""

    id: str = Field(description="the ID of the OS category")
    name: str = Field(description="the name of the OS category")


class ListOsCategoriesParams(BaseListParams):
    """Parameters of ``listOsCategories``."""

    id: str | None = param("list Os category by id", entity="GuestOSCategory")
    name: str | None = param("list os category by name", since="3.0.1")


@api_command(
    "listOsCategories",
    params=ListOsCategoriesParams,
    response=OsCategoryResponse,
    response_key="oscategory",
    list=True,
    since="1.0",
    authorized=EVERYONE,
    description="Lists all supported OS categories for this cloud.",
)
def list_os_categories(ctx: CommandContext, params: ListOsCategoriesParams) -> ListResult[OsCategoryResponse]:
    """List guest OS categories."""
    return listing(
        ctx, OsCategoryResponse, os_types.list_os_categories, id=params.id, name=params.name, keyword=params.keyword
    )
