"""ISOs: ``registerIso``, ``listIsos``, ``updateIso``, ``updateIsoPermissions``, ``listIsoPermissions``,
``deleteIso``, ``copyIso``, ``extractIso`` (``ISOService.go`` fields; the template response model)."""

from __future__ import annotations

from provisioner.api.commands.infrastructure_common import call, listing
from provisioner.api.commands.templates import (
    CopyTemplateParams,
    ExtractParams,
    ExtractResponse,
    ListPermissionsParams,
    TemplatePermissionsResponse,
    TemplateResponse,
    UpdatePermissionsParams,
    UpdateTemplateParams,
    copy_reply,
    extract_reply,
    permission_args,
    rows_to,
    unique_rows,
    update_params,
)
from provisioner.api.commands.virtual_machines import VirtualMachineResponse
from provisioner.api.fields import BaseParams, ListDomainResourcesParams, param
from provisioner.api.registry import CommandContext, api_command
from provisioner.api.responses import ListResult
from provisioner.server.backend import backend_of
from provisioner.services.compute.lifecycle import service
from provisioner.services.templates import attach, manage, register
from provisioner.services.templates import listing as image_listing


class RegisterIsoParams(BaseParams):
    """Parameters of ``registerIso``."""

    name: str = param("the name of the ISO", required=True)
    url: str = param("the URL to where the ISO is currently being hosted", required=True, length=2048)
    zoneid: str = param("the ID of the zone you wish to register the ISO to; -1 for all zones", required=True)
    displaytext: str | None = param("the display text of the ISO, defaults to the 'name'", length=4096)
    bootable: bool | None = param("true if this ISO is bootable. If not passed explicitly its assumed to be true")
    checksum: str | None = param("the checksum value of this ISO. {SHA256}hex, {SHA512}hex, {MD5}hex or hex")
    isextractable: bool | None = param("true if the ISO or its derivatives are extractable; default is false")
    isfeatured: bool | None = param("true if you want this ISO to be featured")
    ispublic: bool | None = param("true if you want to register the ISO to be publicly available to all users")
    ostypeid: str | None = param("the ID of the OS type that best represents the OS of this ISO", type="uuid")
    passwordenabled: bool | None = param("true if password reset feature is supported; default false")
    isdynamicallyscalable: bool | None = param("true if ISO contains XS/VMWare tools inorder to support scaling")
    directdownload: bool | None = param("true if ISO should bypass Secondary Storage (KVM only)")
    account: str | None = param("an optional account name. Must be used with domainId.")
    domainid: str | None = param("an optional domainId. If the account parameter is used, domainId must also be used.")
    projectid: str | None = param("Register ISO for the project", type="uuid")
    details: list[dict[str, str]] | None = param("ISO details in key/value pairs.")


@api_command(
    "registerIso",
    params=RegisterIsoParams,
    response=TemplateResponse,
    response_key="iso",
    list=True,
    since="1.0",
    description="Registers an existing ISO into the CloudStack Cloud.",
)
def register_iso(ctx: CommandContext, params: RegisterIsoParams) -> list[TemplateResponse]:
    """Record the ISO and one row per zone; downloads run in the background."""
    return rows_to(
        call(
            ctx,
            register.register_image,
            is_iso=True,
            name=params.name,
            url=params.url,
            zoneid=params.zoneid,
            displaytext=params.displaytext,
            ostypeid=params.ostypeid,
            checksum=params.checksum,
            isextractable=params.isextractable,
            isfeatured=params.isfeatured,
            ispublic=params.ispublic,
            passwordenabled=params.passwordenabled,
            isdynamicallyscalable=params.isdynamicallyscalable,
            bootable=params.bootable,
            account_name=params.account,
            domainid=params.domainid,
        )
    )


class ListIsosParams(ListDomainResourcesParams):
    """Parameters of ``listIsos``."""

    isofilter: str | None = param(
        "possible values are featured, self, selfexecutable, sharedexecutable, executable and community"
    )
    id: str | None = param("list ISO by ID", type="uuid")
    ids: list[str] | None = param("the IDs of the ISOs, mutually exclusive with id")
    name: str | None = param("list all ISOs by name")
    zoneid: str | None = param("the ID of the zone", type="uuid")
    bootable: bool | None = param("true if the ISO is bootable, false otherwise")
    isready: bool | None = param("true if this ISO is ready to be deployed")
    ispublic: bool | None = param("true if the ISO is publicly available to all users, false otherwise.")
    hypervisor: str | None = param("the hypervisor for which to restrict the search")
    showremoved: bool | None = param("show removed ISOs as well")
    showunique: bool | None = param("If set to true, list only unique isos across zones")
    tags: list[dict[str, str]] | None = param("List resources by tags (key/value pairs)")
    projectid: str | None = param("list objects by project", type="uuid")


@api_command(
    "listIsos",
    params=ListIsosParams,
    response=TemplateResponse,
    response_key="iso",
    list=True,
    since="1.0",
    description="Lists all available ISO files.",
)
def list_isos(ctx: CommandContext, params: ListIsosParams) -> ListResult[TemplateResponse]:
    """One row per ISO and zone (``isofilter`` defaults to selfexecutable, as in CloudStack)."""
    result = listing(
        ctx,
        TemplateResponse,
        image_listing.list_images,
        is_iso=True,
        templatefilter=params.isofilter or "selfexecutable",
        id=params.id,
        ids=params.ids,
        name=params.name,
        keyword=params.keyword,
        zoneid=params.zoneid,
        account_name=params.account,
        domainid=params.domainid,
        isready=params.isready,
        ispublic=params.ispublic,
        bootable=params.bootable,
        tags=params.tags,
    )
    return unique_rows(result) if params.showunique else result


@api_command(
    "updateIso",
    params=UpdateTemplateParams,
    response=TemplateResponse,
    response_key="iso",
    since="1.0",
    description="Updates an ISO file.",
)
def update_iso(ctx: CommandContext, params: UpdateTemplateParams) -> TemplateResponse:
    """Change names, OS type and flags."""
    return TemplateResponse.model_validate(
        call(ctx, manage.update_image, params.id, is_iso=True, **update_params(params))
    )


@api_command(
    "updateIsoPermissions",
    params=UpdatePermissionsParams,
    since="1.0",
    description="Updates ISO permissions",
)
def update_iso_permissions(ctx: CommandContext, params: UpdatePermissionsParams) -> None:
    """Public, featured, extractable, and the accounts it is shared with."""
    call(ctx, manage.update_permissions, params.id, is_iso=True, **permission_args(params))


@api_command(
    "listIsoPermissions",
    params=ListPermissionsParams,
    response=TemplatePermissionsResponse,
    response_key="templatepermission",
    since="1.0",
    description="List ISO visibility and all accounts that have permissions to view this ISO.",
)
def list_iso_permissions(ctx: CommandContext, params: ListPermissionsParams) -> TemplatePermissionsResponse:
    """The accounts the ISO is shared with."""
    return TemplatePermissionsResponse.model_validate(call(ctx, manage.list_permissions, params.id, is_iso=True))


class DeleteIsoParams(BaseParams):
    """Parameters of ``deleteIso``."""

    id: str = param("the ID of the ISO file", required=True, type="uuid")
    zoneid: str | None = param(
        "the ID of the zone of the ISO file. If not specified, the ISO is deleted from all zones", type="uuid"
    )


@api_command(
    "deleteIso",
    params=DeleteIsoParams,
    is_async=True,
    since="1.0",
    entity_type="Iso",
    description="Deletes an ISO file.",
)
def delete_iso(ctx: CommandContext, params: DeleteIsoParams) -> None:
    """From one zone, or everywhere; the store copies are removed in the background."""
    call(ctx, manage.delete_image, params.id, is_iso=True, zoneid=params.zoneid)


@api_command(
    "copyIso",
    params=CopyTemplateParams,
    response=TemplateResponse,
    response_key="iso",
    is_async=True,
    since="1.0",
    entity_type="Iso",
    description="Copies an ISO from one zone to another.",
)
def copy_iso(ctx: CommandContext, params: CopyTemplateParams) -> TemplateResponse:
    """Register the ISO in the destination zones; their stores replicate it from a Ready store."""
    return copy_reply(ctx, params, is_iso=True)


@api_command(
    "extractIso",
    params=ExtractParams,
    response=ExtractResponse,
    response_key="iso",
    is_async=True,
    since="1.0",
    entity_type="Iso",
    description="Extracts an ISO",
)
def extract_iso(ctx: CommandContext, params: ExtractParams) -> ExtractResponse:
    """Where the Ready copy of the ISO can be read."""
    return extract_reply(ctx, params, is_iso=True)


class AttachIsoParams(BaseParams):
    """Parameters of ``attachIso``."""

    id: str = param("the ID of the ISO file", required=True, type="uuid")
    virtualmachineid: str = param("the ID of the virtual machine", required=True, type="uuid")
    forced: bool | None = param("If true, ejects existing ISO before attaching on VMware.")


@api_command(
    "attachIso",
    params=AttachIsoParams,
    response=VirtualMachineResponse,
    response_key="virtualmachine",
    is_async=True,
    since="1.0",
    entity_type="VirtualMachine",
    description="Attaches an ISO to a virtual machine.",
)
def attach_iso(ctx: CommandContext, params: AttachIsoParams) -> VirtualMachineResponse:
    """Insert the ISO (Ready in the VM's zone) into the VM's CD-ROM drive."""
    engine = backend_of(ctx).engine
    vm_id = attach.attach_iso(engine, ctx.caller, params.id, params.virtualmachineid)
    return VirtualMachineResponse.model_validate(service.view(engine, ctx.caller, vm_id))


class DetachIsoParams(BaseParams):
    """Parameters of ``detachIso``."""

    virtualmachineid: str = param("The ID of the virtual machine", required=True, type="uuid")
    forced: bool | None = param("If true, ejects the ISO before detaching on VMware.")


@api_command(
    "detachIso",
    params=DetachIsoParams,
    response=VirtualMachineResponse,
    response_key="virtualmachine",
    is_async=True,
    since="1.0",
    entity_type="VirtualMachine",
    description="Detaches any ISO file (if any) currently attached to a virtual machine.",
)
def detach_iso(ctx: CommandContext, params: DetachIsoParams) -> VirtualMachineResponse:
    """Eject the VM's ISO."""
    engine = backend_of(ctx).engine
    vm_id = attach.detach_iso(engine, ctx.caller, params.virtualmachineid)
    return VirtualMachineResponse.model_validate(service.view(engine, ctx.caller, vm_id))
