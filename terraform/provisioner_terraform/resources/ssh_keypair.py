"""``resource "provisioner_ssh_keypair"``: an SSH key pair, as ``cloudstack_ssh_keypair`` (its id is its name).

With ``public_key`` the key is registered (``registerSSHKeyPair``); without, the server makes one
(``createSSHKeyPair``) and its private key is kept in the state as a sensitive value, since it is shown once.
Every attribute forces a new key pair: CloudStack cannot change one in place.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tf.schema import Attribute, Schema
from tf.types import String

from provisioner.exceptions import ApiError
from provisioner_terraform.api import is_gone
from provisioner_terraform.base import ProviderResource, State, known

if TYPE_CHECKING:
    from provisioner.client import Json

SCHEMA = Schema(
    attributes=[
        Attribute("id", String(), computed=True, description="The key pair's name."),
        Attribute("name", String(), required=True, requires_replace=True, description="The key pair's name."),
        Attribute(
            "public_key",
            String(),
            optional=True,
            requires_replace=True,
            description="An OpenSSH public key to register (default: the server generates a key pair).",
        ),
        Attribute(
            "private_key",
            String(),
            computed=True,
            sensitive=True,
            description="The generated private key (only when public_key is not given).",
        ),
        Attribute("fingerprint", String(), computed=True, description="The key's fingerprint."),
    ],
    description="An SSH key pair that VMs can be deployed with.",
)


class SSHKeyPairResource(ProviderResource):
    """An SSH key pair."""

    type_suffix = "ssh_keypair"
    schema = SCHEMA

    def _find(self, name: str) -> Json | None:
        try:
            rows = self.api.items("listSSHKeyPairs", "sshkeypair", name=name)
        except ApiError as exc:
            if is_gone(exc):
                return None
            raise
        return next((row for row in rows if row.get("name") == name), None)

    def _read(self, state: State) -> State | None:
        found = self._find(str(state["id"]))
        if found is None:
            return None
        state.update(id=found["name"], name=found["name"], fingerprint=found.get("fingerprint"))
        for name in ("public_key", "private_key"):
            state[name] = state.get(name) if known(state.get(name)) else None
        return state

    def _create(self, state: State) -> State:
        name = str(state["name"])
        if known(state.get("public_key")):
            answer = self.api.request("registerSSHKeyPair", name=name, publickey=str(state["public_key"]))
        else:
            answer = self.api.request("createSSHKeyPair", name=name)
        keypair = answer.get("keypair") or {}
        state.update(id=name, fingerprint=keypair.get("fingerprint"), private_key=keypair.get("privatekey"))
        if not known(state.get("public_key")):
            state["public_key"] = None
        return state

    def _update(self, state: State, planned: State) -> State:
        # Every input forces replacement; nothing else can change.
        return state

    def _delete(self, state: State) -> None:
        self.api.remove("deleteSSHKeyPair", name=str(state["id"]))
