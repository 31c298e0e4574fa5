"""SSH key pairs: ``createSSHKeyPair``, ``registerSSHKeyPair``, ``listSSHKeyPairs``, ``deleteSSHKeyPair`` (every role).

Create and register answer ``keypair`` (create adds ``privatekey``, shown once), the list ``sshkeypair``.
"""

from __future__ import annotations

from pydantic import Field

from provisioner.api.commands.infrastructure_common import EVERYONE, call, listing, one
from provisioner.api.fields import BaseParams, ListDomainResourcesParams, param
from provisioner.api.registry import CommandContext, api_command
from provisioner.api.responses import ListResult, ResponseModel
from provisioner.services.compute import keypairs


class SSHKeyPairResponse(ResponseModel):
    """A key pair (``SSHKeyPairResponse``; ``CreateSSHKeyPairResponse`` adds ``privatekey``)."""

    id: str = Field(description="ID of the ssh keypair")
    name: str = Field(description="Name of the keypair")
    fingerprint: str = Field(description="Fingerprint of the public key")
    privatekey: str | None = Field(default=None, description="Private key")
    account: str | None = Field(default=None, description="the owner of the keypair")
    domainid: str | None = Field(default=None, description="the domain id of the keypair owner")
    domain: str | None = Field(default=None, description="the domain name of the keypair owner")
    domainpath: str | None = Field(default=None, description="the domain path of the keypair owner")


class OwnerParams(BaseParams):
    """The account a key pair belongs to (the caller's by default)."""

    account: str | None = param("an optional account for the ssh key. Must be used with domainId.")
    domainid: str | None = param(
        "an optional domainId for the ssh key. If the account parameter is used, domainId must also be used.",
        entity="Domain",
    )
    projectid: str | None = param("an optional project for the ssh key", type="uuid")


class CreateSSHKeyPairParams(OwnerParams):
    """Parameters of ``createSSHKeyPair``."""

    name: str = param("Name of the keypair", required=True)


@api_command(
    "createSSHKeyPair",
    params=CreateSSHKeyPairParams,
    response=SSHKeyPairResponse,
    response_key="keypair",
    since="2.2.0",
    authorized=EVERYONE,
    description="Create a new keypair and returns the private key",
)
def create_ssh_keypair(ctx: CommandContext, params: CreateSSHKeyPairParams) -> SSHKeyPairResponse:
    """Generate an RSA key pair; the private key is returned now and never again."""
    return one(
        ctx,
        SSHKeyPairResponse,
        keypairs.create_ssh_keypair,
        name=params.name,
        account_name=params.account,
        domainid=params.domainid,
    )


class RegisterSSHKeyPairParams(OwnerParams):
    """Parameters of ``registerSSHKeyPair``."""

    name: str = param("Name of the keypair", required=True)
    publickey: str = param("Public key material of the keypair", required=True, length=5120)


@api_command(
    "registerSSHKeyPair",
    params=RegisterSSHKeyPairParams,
    response=SSHKeyPairResponse,
    response_key="keypair",
    since="2.2.0",
    authorized=EVERYONE,
    description="Register a public key in a keypair under a certain name",
)
def register_ssh_keypair(ctx: CommandContext, params: RegisterSSHKeyPairParams) -> SSHKeyPairResponse:
    """Register an existing OpenSSH public key."""
    return one(
        ctx,
        SSHKeyPairResponse,
        keypairs.register_ssh_keypair,
        name=params.name,
        publickey=params.publickey,
        account_name=params.account,
        domainid=params.domainid,
    )


class ListSSHKeyPairsParams(ListDomainResourcesParams):
    """Parameters of ``listSSHKeyPairs``."""

    id: str | None = param("the ID of the ssh keypair", type="uuid", since="4.17")
    name: str | None = param("A key pair name to look for")
    fingerprint: str | None = param("A public key fingerprint to look for")
    projectid: str | None = param("list objects by project", type="uuid")


@api_command(
    "listSSHKeyPairs",
    params=ListSSHKeyPairsParams,
    response=SSHKeyPairResponse,
    response_key="sshkeypair",
    list=True,
    since="2.2.0",
    authorized=EVERYONE,
    description="List registered keypairs",
)
def list_ssh_keypairs(ctx: CommandContext, params: ListSSHKeyPairsParams) -> ListResult[SSHKeyPairResponse]:
    """List the key pairs the caller may see, by name or fingerprint."""
    return listing(
        ctx,
        SSHKeyPairResponse,
        keypairs.list_ssh_keypairs,
        id=params.id,
        name=params.name,
        fingerprint=params.fingerprint,
        keyword=params.keyword,
        account_name=params.account,
        domainid=params.domainid,
        listall=bool(params.listall),
        isrecursive=bool(params.isrecursive),
    )


class DeleteSSHKeyPairParams(OwnerParams):
    """Parameters of ``deleteSSHKeyPair``."""

    name: str = param("Name of the keypair", required=True)


@api_command(
    "deleteSSHKeyPair",
    params=DeleteSSHKeyPairParams,
    since="2.2.0",
    authorized=EVERYONE,
    description="Deletes a keypair by name",
)
def delete_ssh_keypair(ctx: CommandContext, params: DeleteSSHKeyPairParams) -> None:
    """Delete a key pair by name."""
    call(ctx, keypairs.delete_ssh_keypair, name=params.name, account_name=params.account, domainid=params.domainid)
