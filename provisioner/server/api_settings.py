"""The API settings an operator changes with ``updateConfiguration``, read when a server starts.

CloudStack reads these keys at start (they are not dynamic), so a changed value takes effect on the next
``provisioner serve``. A value that does not parse is reported with the setting's name and ignored, so a
typo never stops the server.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Connection

from provisioner.api.settings import ApiSettings
from provisioner.services.configuration import config_value

log = logging.getLogger(__name__)


def _bool(text: str) -> bool:
    if text.strip().lower() not in ("true", "false"):
        raise ValueError("expected true or false")
    return text.strip().lower() == "true"


def _cidrs(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


#: Setting name → (ApiSettings field, parser).
API_SETTINGS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "default.page.size": ("default_page_size", int),
    "api.sessionkey.check.locations": ("sessionkey_check_locations", str),
    "enforce.post.requests.and.timestamps": ("enforce_post_and_timestamps", _bool),
    "api.throttling.enabled": ("throttling_enabled", _bool),
    "api.throttling.interval": ("throttling_interval", int),
    "api.throttling.max": ("throttling_max", int),
    "api.source.cidr.checks.enabled": ("source_cidr_checks", _bool),
    "api.allowed.source.cidr.list": ("allowed_source_cidrs", _cidrs),
}


def configured_api_settings(conn: Connection, settings: ApiSettings) -> ApiSettings:
    """``settings`` with the values stored in the global configuration applied over them."""
    result = settings
    for name, (field, parse) in API_SETTINGS.items():
        text = config_value(conn, name)
        if text is None:
            continue
        try:
            result = ApiSettings(**{**result.model_dump(), field: parse(text)})
        except (ValueError, ValidationError) as exc:
            log.warning("ignoring setting %s=%r: %s; fix it with updateConfiguration", name, text, exc)
    return result
