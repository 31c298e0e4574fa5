"""Settings of the API layer, validated when the app is built."""

from __future__ import annotations

import ipaddress
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

SessionKeyCheck = Literal["CookieAndParameter", "CookieOrParameter", "ParameterOnly"]


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (``127.0.0.0/8``, ``::1``)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class ApiSettings(BaseModel):
    """How the API app behaves; the CloudStack setting each field mirrors is named in its description."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    integration: bool = Field(
        default=False,
        description="Serve the unauthenticated integration API (integration.api.port): every request runs "
        "as the system caller. Only ever on a loopback address.",
    )
    bind_host: str = Field(default="127.0.0.1", description="The address the server binds; checked for integration.")
    default_page_size: int = Field(
        default=500, ge=1, description="default.page.size: the largest page and the page size when none is given."
    )
    sessionkey_check_locations: SessionKeyCheck = Field(
        default="CookieAndParameter", description="api.sessionkey.check.locations."
    )
    session_timeout: int = Field(default=1800, ge=60, description="Session lifetime in seconds, sent as `timeout`.")
    cloudstack_version: str = Field(default="4.19.0.0", description="The CloudStack version we report.")
    json_content_type: str = Field(default="application/json; charset=UTF-8", description="json.content.type.")
    secure_cookies: bool = Field(default=False, description="Mark session cookies Secure (behind TLS).")
    enforce_post_and_timestamps: bool = Field(
        default=False,
        description="enforce.post.requests.and.timestamps: signed requests need signatureVersion=3 and an "
        "`expires` at most 15 minutes ahead, and commands that change state must be POSTed.",
    )
    throttling_enabled: bool = Field(default=False, description="api.throttling.enabled (counters per node).")
    throttling_interval: int = Field(default=1, ge=1, description="api.throttling.interval, in seconds.")
    throttling_max: int = Field(default=25, ge=1, description="api.throttling.max: requests per user per interval.")
    source_cidr_checks: bool = Field(default=True, description="api.source.cidr.checks.enabled.")
    allowed_source_cidrs: tuple[str, ...] = Field(
        default=("0.0.0.0/0", "::/0"),
        description="api.allowed.source.cidr.list: addresses authenticated callers may come from.",
    )

    @field_validator("allowed_source_cidrs")
    @classmethod
    def _valid_cidrs(cls, cidrs: tuple[str, ...]) -> tuple[str, ...]:
        for cidr in cidrs:
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError:
                raise ValueError(f"api.allowed.source.cidr.list: {cidr!r} is not a CIDR such as 10.0.0.0/8") from None
        return cidrs

    @model_validator(mode="after")
    def _integration_on_loopback(self) -> ApiSettings:
        # The integration API skips authentication: reachable from elsewhere it would hand out root.
        if self.integration and not is_loopback(self.bind_host):
            raise ValueError(f"the integration API may only bind a loopback address, not {self.bind_host!r}")
        return self
