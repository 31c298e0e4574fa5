"""The allocator settings (CloudStack names), read from the configuration rows with their defaults."""

from __future__ import annotations

from sqlalchemy import Connection, select

from provisioner.db.schema import configuration
from provisioner.exceptions import ParamError
from provisioner.services.compute.allocator.planners import (
    ALGORITHMS,
    FIRSTFIT,
    RANDOM,
    USERDISPERSING,
    PlannerSettings,
)
from provisioner.services.configuration import DEFAULTS_BY_NAME

ALGORITHM = "vm.allocation.algorithm"
CAPACITY_TYPE = "host.capacityType.to.order.clusters"
CPU_TO_MEMORY_WEIGHT = "host.capacityType.to.order.clusters.cputomemoryweight"
DISPERSION_WEIGHT = "vm.user.dispersion.weight"

#: Defaults of the settings the configuration seed does not (yet) carry, as ``CapacityManager`` declares them.
DEFAULTS = {ALGORITHM: "random", CAPACITY_TYPE: "CPU", CPU_TO_MEMORY_WEIGHT: "0.5", DISPERSION_WEIGHT: "1"}

#: ``vm.allocation.algorithm`` values we accept but serve with the nearest planner we have.
_ALIASES = {"userconcentratedpod_random": RANDOM, "userconcentratedpod_firstfit": FIRSTFIT}
#: Offering ``deploymentplanner`` class names that pick a planner whatever the global setting says.
_PLANNER_CLASSES = {"UserDispersingPlanner": USERDISPERSING}
#: CloudStack's deployment planners a ``deploymentplanner`` parameter may name (the rest keep the global algorithm).
PLANNER_NAMES = frozenset(
    {
        "FirstFitPlanner",
        "UserDispersingPlanner",
        "UserConcentratedPodPlanner",
        "ImplicitDedicationPlanner",
        "SkipHeuresticsPlanner",
    }
)


def check_planner(name: str) -> str:
    """A ``deploymentplanner`` value, checked as CloudStack does.

    Raises:
        ParamError: no planner by that name (431).
    """
    if name not in PLANNER_NAMES and name.strip().lower() not in ALGORITHMS:
        raise ParamError(f"Can't find a planner by name {name}; use one of {', '.join(sorted(PLANNER_NAMES))}")
    return name


#: Built once: every start reads it.
_GLOBAL_PLANNER_VALUES = select(configuration.c.name, configuration.c.value).where(
    configuration.c.name.in_(list(DEFAULTS)), configuration.c.scope_id == 0
)


def _global_values(conn: Connection) -> dict[str, str]:
    """The four planner settings at global scope, in one statement (a deployment reads them on every start)."""
    rows = conn.execute(_GLOBAL_PLANNER_VALUES)
    stored: dict[str, str | None] = {name: value for name, value in rows}  # noqa: C416 (rows, not pairs)
    # No row: the configuration seed's default, as ``config_value`` falls back; empty: ours.
    seeded = {name: setting.default for name, setting in DEFAULTS_BY_NAME.items() if name in DEFAULTS}
    values = {}
    for name, fallback in DEFAULTS.items():
        value = stored[name] if name in stored else seeded.get(name)
        values[name] = value if value not in (None, "") else fallback
    return values


def _number(values: dict[str, str], name: str) -> float:
    value = values[name]
    try:
        return float(value)
    except ValueError:
        raise ParamError(f"Setting {name} has the non-numeric value {value!r}") from None


def planner_settings(conn: Connection, offering_planner: str | None = None) -> PlannerSettings:
    """The planner settings in force, with the service offering's ``deploymentplanner`` applied.

    Raises:
        ParamError: a setting holds a value no planner understands (431).
    """
    values = _global_values(conn)
    algorithm = values[ALGORITHM].strip().lower()
    algorithm = _ALIASES.get(algorithm, algorithm)
    if offering_planner:
        # FirstFitPlanner (and unknown planners) keep the global algorithm, as in CloudStack.
        chosen = _PLANNER_CLASSES.get(offering_planner, offering_planner.strip().lower())
        if chosen in ALGORITHMS:
            algorithm = chosen
    return PlannerSettings(
        algorithm=algorithm,
        capacity_type=values[CAPACITY_TYPE].strip().upper(),
        cpu_to_memory_weight=_number(values, CPU_TO_MEMORY_WEIGHT),
        dispersion_weight=_number(values, DISPERSION_WEIGHT),
    )
