"""Resource tags: ``tags`` maps kept in step with ``createTags`` / ``deleteTags``."""

from __future__ import annotations

from collections.abc import Mapping

from provisioner_terraform.api import Api


def update_tags(
    api: Api, resource_type: str, resource_id: str, old: Mapping[str, str], new: Mapping[str, str], *, timeout: float
) -> None:
    """Delete the tags that go or change, then create the ones that come or change (both are async jobs)."""
    stale = {key: value for key, value in old.items() if new.get(key) != value}
    fresh = {key: value for key, value in new.items() if old.get(key) != value}
    if stale:
        api.run("deleteTags", timeout, resourceids=[resource_id], resourcetype=resource_type, tags=stale)
    if fresh:
        api.run("createTags", timeout, resourceids=[resource_id], resourcetype=resource_type, tags=fresh)
