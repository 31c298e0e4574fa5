"""The simulator hypervisor: in-process hosts addressed by ``http://sim/<cluster>/<host>`` URLs."""

from provisioner.compute.drivers.simulator.cloud import (
    CLOUD,
    InjectedFailureError,
    SimHost,
    SimHostConfig,
    SimulatorCloud,
    parse_sim_url,
)
from provisioner.compute.drivers.simulator.driver import SimulatorDriver, SimulatorSettings

__all__ = [
    "CLOUD",
    "InjectedFailureError",
    "SimHost",
    "SimHostConfig",
    "SimulatorCloud",
    "SimulatorDriver",
    "SimulatorSettings",
    "parse_sim_url",
]
