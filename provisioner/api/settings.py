"""Settings of the API layer, validated when the app is built."""

from __future__ import annotations

import ipaddress
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

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

    @model_validator(mode="after")
    def _integration_on_loopback(self) -> ApiSettings:
        # The integration API skips authentication: reachable from elsewhere it would hand out root.
        if self.integration and not is_loopback(self.bind_host):
            raise ValueError(f"the integration API may only bind a loopback address, not {self.bind_host!r}")
        return self
