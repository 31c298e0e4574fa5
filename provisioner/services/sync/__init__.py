"""``sync``: make the management server hold what the topology file describes.

The topology is the desired state (:mod:`.desired`, pure); the server's objects, read with one list
per kind, are the observed state (:mod:`.observed`, parsed by a pure function); :mod:`.plan` diffs
them into typed actions and :mod:`.apply` runs them through the API client in CloudStack's
canonical zone-build order. Scope: only zones the file names (optionally only some regions') are
read, compared and changed; zones and offerings are never deleted.
"""

from __future__ import annotations

from collections.abc import Sequence

from provisioner.client import CloudStackClient
from provisioner.model import Cloud
from provisioner.services.sync.apply import Executor, SyncError, apply_plan
from provisioner.services.sync.desired import desired_state, selected_zones
from provisioner.services.sync.model import Action, ActionType, Change, Kind, Plan, Resource
from provisioner.services.sync.observed import RawState, parse_state, read_state
from provisioner.services.sync.plan import make_plan

__all__ = [
    "Action",
    "ActionType",
    "Change",
    "Executor",
    "Kind",
    "Plan",
    "RawState",
    "Resource",
    "SyncError",
    "apply_plan",
    "desired_state",
    "make_plan",
    "parse_state",
    "plan_for",
    "read_state",
]


def plan_for(client: CloudStackClient, cloud: Cloud, regions: Sequence[str] | None = None) -> Plan:
    """Read the server and plan what makes it match ``cloud`` (only zones of ``regions``, when given)."""
    zone_names = {zone.name for zone in selected_zones(cloud, regions)}
    observed = parse_state(read_state(client, zone_names), zone_names)
    return make_plan(desired_state(cloud, regions), observed)
