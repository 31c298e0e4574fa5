"""Resource tags: ``tags`` maps read from answers and kept in step with ``createTags`` / ``deleteTags``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from provisioner_terraform.api import Api
from provisioner_terraform.data_sources import tag_map

if TYPE_CHECKING:
    from provisioner.client import Json


def observed_tags(state: Mapping[str, Any], row: Json) -> dict[str, str] | None:
    """The tags an answer shows; null (not ``{}``) while the configuration sets none, so no diff appears."""
    tags = tag_map(row)
    return tags if tags or state.get("tags") is not None else None


def apply_tags(
    api: Api,
    resource_type: str,
    resource_id: str,
    old: Mapping[str, str] | None,
    new: Mapping[str, str] | None,
    *,
    timeout: float,
) -> None:
    """Delete the tags that go or change, then create the ones that come or change (both are async jobs)."""
    old, new = old or {}, new or {}
    stale = {key: value for key, value in old.items() if new.get(key) != value}
    fresh = {key: value for key, value in new.items() if old.get(key) != value}
    if stale:
        api.run("deleteTags", timeout, resourceids=[resource_id], resourcetype=resource_type, tags=stale)
    if fresh:
        api.run("createTags", timeout, resourceids=[resource_id], resourcetype=resource_type, tags=fresh)
