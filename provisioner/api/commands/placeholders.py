"""Empty answers (``{}``) for the VM and guest-network lists no area serves yet.

Libcloud's ``list_nodes`` always calls ``listVirtualMachines``, ``listPublicIpAddresses``,
``listPortForwardingRules`` and ``listIpForwardingRules``, and the Ansible modules look networks and routers
up, so without these commands those clients fail before doing anything. There are no VMs, guest networks or
routers in this server yet, so ``{}`` is the truthful answer. When the compute or networking area registers one
of these commands, its line here goes (the registry refuses a name registered twice).
"""

from __future__ import annotations

from pydantic import Field

from provisioner.api.fields import ListDomainResourcesParams, param
from provisioner.api.registry import CommandContext, api_command
from provisioner.api.responses import ListResult, ResponseModel
from provisioner.services.principal import RoleType

EVERYONE = tuple(RoleType)
ADMINS = (RoleType.ADMIN, RoleType.RESOURCE_ADMIN, RoleType.DOMAIN_ADMIN)


class ResourceResponse(ResponseModel):
    """An entry of these lists; none exist yet, so only the fields every entry has are declared."""

    id: str = Field(description="the ID of the resource")
    name: str | None = Field(default=None, description="the name of the resource")


class ListGuestResourcesParams(ListDomainResourcesParams):
    """The filters these lists share (``id``, ``name``, zone, project)."""

    id: str | None = param("the ID of the resource", type="uuid")
    name: str | None = param("the name of the resource")
    zoneid: str | None = param("the availability zone ID", entity="Zone")
    projectid: str | None = param("list objects by project; if projectid=-1 lists All VMs")


#: (command, list key, roles, description): the lists answered empty.
EMPTY_LISTS: tuple[tuple[str, str, tuple[RoleType, ...], str], ...] = (
    ("listPublicIpAddresses", "publicipaddress", EVERYONE, "Lists all public IP addresses"),
    ("listPortForwardingRules", "portforwardingrule", EVERYONE, "Lists all port forwarding rules for an IP address."),
    ("listIpForwardingRules", "ipforwardingrule", EVERYONE, "List the IP forwarding rules"),
    ("listRouters", "router", ADMINS, "List routers."),
)


def _empty(ctx: CommandContext, params: ListGuestResourcesParams) -> ListResult[ResourceResponse]:
    """Nothing of this kind exists yet."""
    return ListResult([], 0)


for _name, _key, _roles, _description in EMPTY_LISTS:
    api_command(
        _name,
        params=ListGuestResourcesParams,
        response=ResourceResponse,
        response_key=_key,
        list=True,
        since="1.0",
        authorized=_roles,
        description=_description,
    )(_empty)
