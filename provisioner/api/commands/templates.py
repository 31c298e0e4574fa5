"""Templates: ``registerTemplate``, ``listTemplates``, ``updateTemplate``, ``updateTemplatePermissions``,
``listTemplatePermissions``, ``deleteTemplate``, ``copyTemplate``, ``extractTemplate``, ``createTemplate``
(``TemplateService.go`` fields). The response model is shared with the ISO commands."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from provisioner.api.commands.infrastructure_common import call, details_map, listing, validate_rows
from provisioner.api.commands.tags import TagResponse
from provisioner.api.fields import BaseParams, ListDomainResourcesParams, param
from provisioner.api.registry import CommandContext, api_command, create_step
from provisioner.api.responses import CsDateTime, ListResult, ResponseModel
from provisioner.server.backend import backend_of
from provisioner.services.templates import create, manage, register
from provisioner.services.templates import listing as image_listing


class TemplateResponse(ResponseModel):
    """A template or ISO in one zone (``TemplateResponse``)."""

    id: str = Field(description="the template ID")
    name: str = Field(description="the template name")
    displaytext: str = Field(description="the template display text")
    ispublic: bool = Field(description="true if this template is a public template, false otherwise")
    isfeatured: bool = Field(description="true if this template is a featured template, false otherwise")
    isextractable: bool = Field(description="true if the template is extractable, false otherwise")
    crossZones: bool = Field(description="true if the template is managed across all Zones, false otherwise")
    created: CsDateTime | None = Field(default=None, description="the date this template was created")
    isready: bool = Field(description="true if the template is ready to be deployed from, false otherwise")
    passwordenabled: bool = Field(description="true if the reset password feature is enabled, false otherwise")
    sshkeyenabled: bool = Field(description="true if template is sshkey enabled, false otherwise")
    isdynamicallyscalable: bool = Field(description="true if template contains XS/VMWare tools")
    requireshvm: bool = Field(description="true if template requires HVM enabled, false otherwise")
    bootable: bool = Field(description="true if the ISO is bootable, false otherwise")
    format: str = Field(description="the format of the template")
    templatetype: str = Field(description="the type of the template")
    hypervisor: str | None = Field(default=None, description="the hypervisor on which the template runs")
    ostypeid: str | None = Field(default=None, description="the ID of the OS type for this template")
    ostypename: str | None = Field(default=None, description="the name of the OS type for this template")
    account: str | None = Field(default=None, description="the account name to which the template belongs")
    accountid: str | None = Field(default=None, description="the account id to which the template belongs")
    domain: str | None = Field(default=None, description="the name of the domain to which the template belongs")
    domainid: str | None = Field(default=None, description="the ID of the domain to which the template belongs")
    zoneid: str | None = Field(default=None, description="the ID of the zone for this template")
    zonename: str | None = Field(default=None, description="the name of the zone for this template")
    status: str | None = Field(default=None, description="the status of the template")
    size: int | None = Field(default=None, description="the size of the template")
    physicalsize: int | None = Field(default=None, description="the physical size of the template")
    checksum: str | None = Field(default=None, description="checksum of the template")
    templatetag: str | None = Field(default=None, description="the tag of this template")
    directdownload: bool = Field(description="KVM Only: true if template is directly downloaded to Primary Storage")
    deployasis: bool = Field(description="VMware only: true if template is deployed without orchestrating disks")
    url: str | None = Field(default=None, description="the URL which the template/iso is registered from")
    sourcetemplateid: str | None = Field(default=None, description="the template ID of the parent template")
    downloaddetails: list[dict[str, str]] | None = Field(
        default=None, description="Lists the download progress of a template across all secondary storages"
    )
    details: dict[str, str] | None = Field(default=None, description="additional key/value details tied with template")
    tags: list[TagResponse] = Field(default_factory=list, description="the list of resource tags")


class RegisterTemplateParams(BaseParams):
    """Parameters of ``registerTemplate``."""

    name: str = param("the name of the template", required=True)
    url: str = param("the URL of where the template is hosted", required=True, length=2048)
    format: str = param("the format for the template. Possible values include QCOW2, RAW, VHD and OVA.", required=True)
    hypervisor: str = param("the target hypervisor for the template", required=True)
    displaytext: str | None = param("The display text of the template, defaults to the 'name'.", length=4096)
    zoneid: str | None = param("the ID of the zone the template is to be hosted on; -1 for all zones")
    zoneids: list[str] | None = param("A list of zone ids where the template will be hosted; -1 for all zones")
    ostypeid: str | None = param("the ID of the OS Type that best represents the OS of this template", type="uuid")
    checksum: str | None = param("the checksum value of this template. {SHA256}hex, {SHA512}hex, {MD5}hex or hex")
    isextractable: bool | None = param("true if the template or its derivatives are extractable; default is false")
    isfeatured: bool | None = param("true if this template is a featured template, false otherwise")
    ispublic: bool | None = param("true if the template is available to all accounts; default is true")
    passwordenabled: bool | None = param("true if the template supports the password reset feature")
    sshkeyenabled: bool | None = param("true if the template supports the sshkey upload feature")
    requireshvm: bool | None = param("true if this template requires HVM")
    isdynamicallyscalable: bool | None = param("true if template contains XS/VMWare tools inorder to support scaling")
    isrouting: bool | None = param("true if the template type is routing i.e., if template is used to deploy router")
    templatetag: str | None = param("the tag for this template.")
    templatetype: str | None = param("the type of the template. Valid options are: USER/VNF (for all users) and ...")
    bits: int | None = param("32 or 64 bits support. 64 by default")
    details: list[dict[str, str]] | None = param("Template details in key/value pairs.")
    directdownload: bool | None = param("true if template should bypass Secondary Storage (KVM only)")
    deployasis: bool | None = param("(VMware only) true if VM deployments should preserve all the configurations")
    account: str | None = param("an optional accountName. Must be used with domainId.")
    domainid: str | None = param("an optional domainId. If the account parameter is used, domainId must also be used.")
    projectid: str | None = param("Register template for the project", type="uuid")


def rows_to(rows: list[dict[str, Any]]) -> list[TemplateResponse]:
    """Validate service rows into the response model."""
    return validate_rows(TemplateResponse, rows)


@api_command(
    "registerTemplate",
    params=RegisterTemplateParams,
    response=TemplateResponse,
    response_key="template",
    list=True,
    since="1.0",
    description="Registers an existing template into the CloudStack cloud.",
)
def register_template(ctx: CommandContext, params: RegisterTemplateParams) -> list[TemplateResponse]:
    """Record the template and one row per zone; downloads run in the background."""
    if params.directdownload:
        from provisioner.exceptions import ParamError

        raise ParamError("Direct download templates are not supported; register it without directdownload")
    return rows_to(
        call(
            ctx,
            register.register_image,
            is_iso=False,
            name=params.name,
            url=params.url,
            zoneid=params.zoneid,
            zoneids=params.zoneids,
            displaytext=params.displaytext,
            format=params.format,
            hypervisor=params.hypervisor,
            ostypeid=params.ostypeid,
            checksum=params.checksum,
            isextractable=params.isextractable,
            isfeatured=params.isfeatured,
            ispublic=params.ispublic,
            passwordenabled=params.passwordenabled,
            sshkeyenabled=params.sshkeyenabled,
            requireshvm=params.requireshvm,
            isdynamicallyscalable=params.isdynamicallyscalable,
            templatetag=params.templatetag,
            templatetype="ROUTING" if params.isrouting else params.templatetype,
            details=details_map(params.details),
            account_name=params.account,
            domainid=params.domainid,
        )
    )


class ListTemplatesParams(ListDomainResourcesParams):
    """Parameters of ``listTemplates``."""

    templatefilter: str = param(
        "possible values are featured, self, selfexecutable, sharedexecutable, executable, community and all",
        required=True,
    )
    id: str | None = param("the template ID", type="uuid")
    ids: list[str] | None = param("the IDs of the templates, mutually exclusive with id")
    name: str | None = param("the template name")
    zoneid: str | None = param("list templates by zoneId", type="uuid")
    hypervisor: str | None = param("the hypervisor for which to restrict the search")
    showremoved: bool | None = param("show removed templates as well")
    showunique: bool | None = param("If set to true, list only unique templates across zones")
    tags: list[dict[str, str]] | None = param("List resources by tags (key/value pairs)")
    projectid: str | None = param("list objects by project", type="uuid")
    details: list[str] | None = param("comma separated list of template details requested")


@api_command(
    "listTemplates",
    params=ListTemplatesParams,
    response=TemplateResponse,
    response_key="template",
    list=True,
    since="1.0",
    description="List all public, private, and privileged templates.",
)
def list_templates(ctx: CommandContext, params: ListTemplatesParams) -> ListResult[TemplateResponse]:
    """One row per template and zone, as ``templatefilter`` selects."""
    result = listing(
        ctx,
        TemplateResponse,
        image_listing.list_images,
        is_iso=False,
        templatefilter=params.templatefilter,
        id=params.id,
        ids=params.ids,
        name=params.name,
        keyword=params.keyword,
        zoneid=params.zoneid,
        hypervisor=params.hypervisor,
        account_name=params.account,
        domainid=params.domainid,
        tags=params.tags,
    )
    return unique_rows(result) if params.showunique else result


def unique_rows(result: ListResult[TemplateResponse]) -> ListResult[TemplateResponse]:
    """``showunique=true``: one row per template (its first zone)."""
    unique = list({item.id: item for item in reversed(result.items)}.values())[::-1]
    return ListResult(unique, len(unique))


class UpdateTemplateParams(BaseParams):
    """Parameters of ``updateTemplate`` (and ``updateIso``)."""

    id: str = param("the ID of the image file", required=True, type="uuid")
    name: str | None = param("the name of the image file")
    displaytext: str | None = param("the display text of the image", length=4096)
    format: str | None = param("the format for the image")
    ostypeid: str | None = param("the ID of the OS type that best represents the OS of this image.", type="uuid")
    passwordenabled: bool | None = param("true if the image supports the password reset feature")
    sshkeyenabled: bool | None = param("true if the template supports the sshkey upload feature")
    isdynamicallyscalable: bool | None = param("true if template/ISO contains XS/VMWare tools")
    bootable: bool | None = param("true if image is bootable, false otherwise")
    requireshvm: bool | None = param("true if the template requires HVM, false otherwise")
    isrouting: bool | None = param("true if the template type is routing")
    templatetag: str | None = param("the tag for this template.")
    templatetype: str | None = param("the type of the template (root admin only)")
    details: list[dict[str, str]] | None = param("Details in key/value pairs")
    cleanupdetails: bool | None = param("optional boolean field, which indicates if details should be cleaned up")
    sortkey: int | None = param("sort key of the template, integer")


def update_params(params: UpdateTemplateParams) -> dict[str, Any]:
    """The service arguments of an update command."""
    return {
        "name": params.name,
        "displaytext": params.displaytext,
        "format": params.format,
        "ostypeid": params.ostypeid,
        "passwordenabled": params.passwordenabled,
        "sshkeyenabled": params.sshkeyenabled,
        "isdynamicallyscalable": params.isdynamicallyscalable,
        "bootable": params.bootable,
        "requireshvm": params.requireshvm,
        "templatetag": params.templatetag,
        "templatetype": params.templatetype,
        "details": details_map(params.details) or None,
        "cleanupdetails": params.cleanupdetails,
    }


@api_command(
    "updateTemplate",
    params=UpdateTemplateParams,
    response=TemplateResponse,
    response_key="template",
    since="1.0",
    description="Updates attributes of a template.",
)
def update_template(ctx: CommandContext, params: UpdateTemplateParams) -> TemplateResponse:
    """Change names, OS type and flags."""
    return TemplateResponse.model_validate(
        call(ctx, manage.update_image, params.id, is_iso=False, **update_params(params))
    )


class UpdatePermissionsParams(BaseParams):
    """Parameters of ``updateTemplatePermissions`` (and ``updateIsoPermissions``)."""

    id: str = param("the template ID", required=True, type="uuid")
    ispublic: bool | None = param("true for public template/iso, false for private templates/isos")
    isfeatured: bool | None = param("true for featured template/iso, false otherwise")
    isextractable: bool | None = param("true if the template/iso is extractable, false other wise")
    op: str | None = param("permission operator (add, remove, reset)")
    accounts: list[str] | None = param("a comma delimited list of accounts within caller's domain")
    projectids: list[str] | None = param("a comma delimited list of projects")


def permission_args(params: UpdatePermissionsParams) -> dict[str, Any]:
    """The service arguments of a permissions update."""
    return {
        "ispublic": params.ispublic,
        "isfeatured": params.isfeatured,
        "isextractable": params.isextractable,
        "op": params.op,
        "accounts": params.accounts,
    }


@api_command(
    "updateTemplatePermissions",
    params=UpdatePermissionsParams,
    since="1.0",
    description="Updates a template visibility permissions.",
)
def update_template_permissions(ctx: CommandContext, params: UpdatePermissionsParams) -> None:
    """Public, featured, extractable, and the accounts it is shared with."""
    call(ctx, manage.update_permissions, params.id, is_iso=False, **permission_args(params))


class TemplatePermissionsResponse(ResponseModel):
    """Who an image is shared with (``TemplatePermissionsResponse``)."""

    id: str = Field(description="the template ID")
    ispublic: bool = Field(description="true if this template is a public template, false otherwise")
    domainid: str | None = Field(default=None, description="the ID of the domain to which the template belongs")
    account: list[str] = Field(default_factory=list, description="the list of accounts the template is available for")


class ListPermissionsParams(BaseParams):
    """Parameters of ``listTemplatePermissions`` (and ``listIsoPermissions``)."""

    id: str = param("the template ID", required=True, type="uuid")


@api_command(
    "listTemplatePermissions",
    params=ListPermissionsParams,
    response=TemplatePermissionsResponse,
    response_key="templatepermission",
    since="1.0",
    description="List template visibility and all accounts that have permissions to view this template.",
)
def list_template_permissions(ctx: CommandContext, params: ListPermissionsParams) -> TemplatePermissionsResponse:
    """The accounts the template is shared with."""
    return TemplatePermissionsResponse.model_validate(call(ctx, manage.list_permissions, params.id, is_iso=False))


class DeleteTemplateParams(BaseParams):
    """Parameters of ``deleteTemplate``."""

    id: str = param("the ID of the template", required=True, type="uuid")
    zoneid: str | None = param("the ID of zone of the template", type="uuid")
    forced: bool | None = param("Force delete a template.")


@api_command(
    "deleteTemplate",
    params=DeleteTemplateParams,
    is_async=True,
    since="1.0",
    entity_type="Template",
    description="Deletes a template from the system.",
)
def delete_template(ctx: CommandContext, params: DeleteTemplateParams) -> None:
    """From one zone, or everywhere; the store copies are removed in the background."""
    call(ctx, manage.delete_image, params.id, is_iso=False, zoneid=params.zoneid, forced=params.forced)


class CopyTemplateParams(BaseParams):
    """Parameters of ``copyTemplate`` (and ``copyIso``)."""

    id: str = param("Template ID.", required=True, type="uuid")
    destzoneid: str | None = param("ID of the zone the template is being copied to.", type="uuid")
    destzoneids: list[str] | None = param("A list of IDs of the zones that the template/iso should be copied to.")
    sourcezoneid: str | None = param("ID of the zone the template is currently hosted on.", type="uuid")


@api_command(
    "copyTemplate",
    params=CopyTemplateParams,
    response=TemplateResponse,
    response_key="template",
    is_async=True,
    since="1.0",
    entity_type="Template",
    description="Copies a template from one zone to another.",
)
def copy_template(ctx: CommandContext, params: CopyTemplateParams) -> TemplateResponse:
    """Register the template in the destination zones; their stores replicate it from a Ready store."""
    return copy_reply(ctx, params, is_iso=False)


def copy_reply(ctx: CommandContext, params: CopyTemplateParams, *, is_iso: bool) -> TemplateResponse:
    """``copyTemplate`` / ``copyIso``: the first destination zone's row."""
    rows = call(
        ctx,
        manage.copy_image,
        params.id,
        is_iso=is_iso,
        destzoneid=params.destzoneid,
        destzoneids=params.destzoneids,
        sourcezoneid=params.sourcezoneid,
    )
    return TemplateResponse.model_validate(rows[0])


class ExtractResponse(ResponseModel):
    """Where an extracted image can be fetched (``ExtractResponse``)."""

    id: str = Field(description="the id of extracted object")
    name: str = Field(description="the name of the extracted object")
    extractId: str | None = Field(default=None, description="the upload id of extracted object")
    accountid: str | None = Field(default=None, description="the account id to which the extracted object belongs")
    state: str | None = Field(default=None, description="the state of the extracted object")
    status: str | None = Field(default=None, description="the status of the extraction")
    extractMode: str | None = Field(default=None, description="the mode of extraction - upload or download")
    uploadpercentage: int | None = Field(default=None, description="the percentage of the entity uploaded")
    storagetype: str | None = Field(default=None, description="type of the storage")
    url: str | None = Field(default=None, description="if mode = upload then url of the uploaded entity")
    zoneid: str | None = Field(default=None, description="zone ID the object was extracted from")
    zonename: str | None = Field(default=None, description="zone name the object was extracted from")
    created: CsDateTime | None = Field(default=None, description="the time and date the object was created")


class ExtractParams(BaseParams):
    """Parameters of ``extractTemplate`` (and ``extractIso``)."""

    id: str = param("the ID of the template", required=True, type="uuid")
    mode: str = param("the mode of extraction - HTTP_DOWNLOAD or FTP_UPLOAD", required=True)
    zoneid: str | None = param("the ID of the zone where the ISO is originally located", type="uuid")
    url: str | None = param("the url to which the ISO would be extracted", length=2048)


@api_command(
    "extractTemplate",
    params=ExtractParams,
    response=ExtractResponse,
    response_key="template",
    is_async=True,
    since="1.0",
    entity_type="Template",
    description="Extracts a template",
)
def extract_template(ctx: CommandContext, params: ExtractParams) -> ExtractResponse:
    """Where the Ready copy of the template can be read."""
    return extract_reply(ctx, params, is_iso=False)


def extract_reply(ctx: CommandContext, params: ExtractParams, *, is_iso: bool) -> ExtractResponse:
    """``extractTemplate`` / ``extractIso``."""
    return ExtractResponse.model_validate(
        call(ctx, manage.extract_image, params.id, is_iso=is_iso, mode=params.mode, zoneid=params.zoneid)
    )


class CreateTemplateParams(BaseParams):
    """Parameters of ``createTemplate``."""

    name: str = param("the name of the template", required=True)
    displaytext: str | None = param("The display text of the template, defaults to the 'name'.", length=4096)
    ostypeid: str | None = param("the ID of the OS Type that best represents the OS of this template.", type="uuid")
    volumeid: str | None = param("the ID of the disk volume the template is being created from", type="uuid")
    snapshotid: str | None = param("the ID of the snapshot the template is being created from", type="uuid")
    virtualmachineid: str | None = param("Optional, VM ID (used with snapshotid)", type="uuid")
    ispublic: bool | None = param("true if this template is a public template, false otherwise")
    isfeatured: bool | None = param("true if this template is a featured template, false otherwise")
    passwordenabled: bool | None = param("true if the template supports the password reset feature")
    sshkeyenabled: bool | None = param("true if the template supports the sshkey upload feature")
    isdynamicallyscalable: bool | None = param("true if template contains XS/VMWare tools inorder to support scaling")
    requireshvm: bool | None = param("true if the template requires HVM, false otherwise")
    bits: int | None = param("32 or 64 bit")
    templatetag: str | None = param("the tag for this template.")
    zoneid: str | None = param("the zone for the template (snapshots on secondary storage)", type="uuid")
    details: list[dict[str, str]] | None = param("Template details in key/value pairs.")


@api_command(
    "createTemplate",
    params=CreateTemplateParams,
    response=TemplateResponse,
    response_key="template",
    is_async=True,
    create=True,
    since="1.0",
    entity_type="Template",
    description="Creates a template of a virtual machine.",
)
def create_template(ctx: CommandContext, params: CreateTemplateParams) -> TemplateResponse:
    """Copy the volume (or snapshot) onto the zone's image store; the template is Ready when this ends."""
    assert ctx.entity_id is not None
    row = create.create_template_data(backend_of(ctx).engine, ctx.caller, ctx.entity_id)
    return TemplateResponse.model_validate(row)


@create_step("createTemplate")
def create_template_row(ctx: CommandContext, params: CreateTemplateParams) -> str:
    """The Allocated template, so its id is known before the job runs."""
    extra = details_map(params.details)
    if params.templatetag:
        extra["templatetag"] = params.templatetag
    return str(
        call(
            ctx,
            create.create_template_row,
            name=params.name,
            displaytext=params.displaytext,
            ostypeid=params.ostypeid,
            volumeid=params.volumeid,
            snapshotid=params.snapshotid,
            ispublic=params.ispublic,
            isfeatured=params.isfeatured,
            passwordenabled=params.passwordenabled,
            sshkeyenabled=params.sshkeyenabled,
            isdynamicallyscalable=params.isdynamicallyscalable,
            requireshvm=params.requireshvm,
            details=extra,
        )
    )
