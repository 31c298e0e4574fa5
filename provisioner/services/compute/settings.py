"""The allocator settings (CloudStack names), read from the configuration rows with their defaults."""

from __future__ import annotations

from sqlalchemy import Connection

from provisioner.exceptions import ParamError
from provisioner.services.compute.allocator.planners import (
    ALGORITHMS,
    FIRSTFIT,
    RANDOM,
    USERDISPERSING,
    PlannerSettings,
)
from provisioner.services.configuration import config_value

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


def _value(conn: Connection, name: str) -> str:
    value = config_value(conn, name)
    return value if value not in (None, "") else DEFAULTS[name]


def _number(conn: Connection, name: str) -> float:
    value = _value(conn, name)
    try:
        return float(value)
    except ValueError:
        raise ParamError(f"Setting {name} has the non-numeric value {value!r}") from None


def planner_settings(conn: Connection, offering_planner: str | None = None) -> PlannerSettings:
    """The planner settings in force, with the service offering's ``deploymentplanner`` applied.

    Raises:
        ParamError: a setting holds a value no planner understands (431).
    """
    algorithm = _value(conn, ALGORITHM).strip().lower()
    algorithm = _ALIASES.get(algorithm, algorithm)
    if offering_planner:
        # FirstFitPlanner (and unknown planners) keep the global algorithm, as in CloudStack.
        chosen = _PLANNER_CLASSES.get(offering_planner, offering_planner.strip().lower())
        if chosen in ALGORITHMS:
            algorithm = chosen
    return PlannerSettings(
        algorithm=algorithm,
        capacity_type=_value(conn, CAPACITY_TYPE).strip().upper(),
        cpu_to_memory_weight=_number(conn, CPU_TO_MEMORY_WEIGHT),
        dispersion_weight=_number(conn, DISPERSION_WEIGHT),
    )
