"""The plan: a pure diff of desired and observed resources into ordered, typed actions."""

from __future__ import annotations

from collections.abc import Sequence

from provisioner.services.sync.model import (
    NEVER_DELETED,
    UPDATABLE,
    Action,
    ActionType,
    Change,
    Kind,
    Plan,
    Resource,
)

ResourceId = tuple[Kind, tuple[str, ...]]


def _is_deletable(resource: Resource) -> bool:
    if resource.kind in NEVER_DELETED:
        return False
    # Host-local pools come and go with their host (the server makes them); the topology need not list them.
    return not (resource.kind is Kind.STORAGE_POOL and resource.fields.get("scope") == "HOST")


def _changes(desired: Resource, observed: Resource) -> tuple[Change, ...]:
    """The fields the topology sets whose server value differs (fields it leaves out are not compared)."""
    return tuple(
        Change(name, observed.fields.get(name), value)
        for name, value in desired.fields.items()
        if observed.fields.get(name, "") != value
    )


def make_plan(desired: Sequence[Resource], observed: Sequence[Resource]) -> Plan:
    """Compare the topology's objects with the server's and decide what to do with each.

    Objects are matched by kind and key (names from the zone down), hosts also by IP address. A
    matched object whose changed fields can all be updated in place is updated; a change to any other
    compared field replaces it. Observed objects nothing matched are deleted, except zones and
    offerings (never deleted: see :data:`~provisioner.services.sync.model.NEVER_DELETED`).

    Returns:
        Deletes first, children before parents; then creates, replacements, updates and unchanged
        objects in the canonical zone-build order.
    """
    by_key: dict[ResourceId, Resource] = {}
    for resource in observed:
        by_key.setdefault((resource.kind, resource.key), resource)
    by_alias: dict[ResourceId, Resource] = {}
    for resource in observed:
        for alias in resource.aliases:
            by_alias.setdefault((resource.kind, alias), resource)
    matched: set[int] = set()
    forward: list[Action] = []
    for want in desired:
        have = by_key.get((want.kind, want.key))
        if have is None or id(have) in matched:
            have = next((by_alias[(want.kind, a)] for a in want.aliases if (want.kind, a) in by_alias), None)
        if have is None or id(have) in matched:
            changes = tuple(Change(name, None, value) for name, value in want.fields.items())
            forward.append(Action(ActionType.CREATE, want, None, changes))
            continue
        matched.add(id(have))
        changes = _changes(want, have)
        if not changes:
            kind = ActionType.UNCHANGED
        elif all(change.field in UPDATABLE[want.kind] for change in changes):
            kind = ActionType.UPDATE
        else:
            kind = ActionType.REPLACE
        forward.append(Action(kind, want, have, changes))
    deletes = [
        Action(ActionType.DELETE, None, have) for have in observed if id(have) not in matched and _is_deletable(have)
    ]
    deletes.sort(key=lambda action: (-action.resource.kind.rank, action.resource.key))
    forward.sort(key=lambda action: action.resource.kind.rank)
    return Plan((*deletes, *forward))
