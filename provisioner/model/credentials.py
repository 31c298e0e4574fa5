"""Credential references: secrets are named, never written into the topology."""

from __future__ import annotations

from typing import Self

from pydantic import Field, model_validator

from provisioner.model.base import StrictModel


class CredentialRef(StrictModel):
    """Where a secret lives: an environment variable, a file, or a variable in an Ansible Vault.

    Exactly one of ``env``, ``file`` or ``vault`` is given. ``username`` is not secret and may be
    written inline.

    Examples:
        ``{env: KVM_ROOT_PASSWORD}``, ``{file: /etc/provisioner/vcenter.pw, username: administrator}``,
        ``{vault: vault_vcenter_password}`` (a variable defined in an Ansible Vault file).
    """

    username: str | None = Field(default=None, description="Login name to use with the secret.")
    env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", description="Environment variable.")
    file: str | None = Field(default=None, min_length=1, description="Path of a file holding the secret.")
    vault: str | None = Field(
        default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", description="Variable name in an Ansible Vault file."
    )

    @model_validator(mode="after")
    def _exactly_one_source(self) -> Self:
        given = [name for name in ("env", "file", "vault") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(
                "a credential reference needs exactly one of env, file or vault"
                + (f" (got {', '.join(given)})" if given else "")
            )
        return self

    @property
    def kind(self) -> str:
        """``env``, ``file`` or ``vault``."""
        return "env" if self.env is not None else "file" if self.file is not None else "vault"

    @property
    def reference(self) -> str:
        """The variable name or path, without the secret itself."""
        return self.env or self.file or self.vault or ""
