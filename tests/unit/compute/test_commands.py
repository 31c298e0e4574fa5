"""Command → Answer: each command reaches its verb, and driver errors become failed answers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from provisioner.compute import commands as c
from provisioner.compute.drivers.simulator import SimulatorCloud, SimulatorDriver
from provisioner.compute.types import HostFacts, VMState, VolumeSpec
from provisioner.exceptions import HostUnreachableError, VMNotFoundError
from tests.unit.compute.contract import DriverContract


@pytest.fixture
def driver() -> Iterator[SimulatorDriver]:
    with SimulatorDriver("http://sim/c0/h0", cloud=SimulatorCloud()) as driver:
        yield driver


def test_a_vm_lifecycle_through_commands(driver: SimulatorDriver) -> None:
    spec = DriverContract().make_spec("vm-a")
    ready = c.execute(driver, c.ReadyCommand())
    assert ready.ok and isinstance(ready.result, HostFacts)
    started = c.execute(driver, c.StartCommand(spec))
    assert started.ok and started.result is not None and started.result.state is VMState.RUNNING
    assert c.execute(driver, c.StartCommand(spec)).ok  # defined already: only started
    volume = VolumeSpec("/p/data.qcow2", device_id=1)
    assert c.execute(driver, c.AttachCommand("vm-a", volume=volume, iso="/i/tools.iso")).ok
    assert driver.ex_iso("vm-a") == "/i/tools.iso" and volume in driver.ex_volumes("vm-a")
    assert c.execute(driver, c.DettachCommand("vm-a", volume=volume)).ok
    assert c.execute(driver, c.DettachCommand("vm-a")).ok and driver.ex_iso("vm-a") is None
    assert c.execute(driver, c.ScaleVmCommand("vm-a", vcpus=1)).ok
    assert c.execute(driver, c.CreateVMSnapshotCommand("vm-a", "s1")).ok
    assert c.execute(driver, c.RevertToVMSnapshotCommand("vm-a", "s1")).ok
    assert c.execute(driver, c.DeleteVMSnapshotCommand("vm-a", "s1")).ok
    assert c.execute(driver, c.GetVncPortCommand("vm-a")).ok
    assert c.execute(driver, c.RebootCommand("vm-a")).ok
    assert c.execute(driver, c.CheckStateCommand({"vm-a": VMState.RUNNING})).result == []
    stopped = c.execute(driver, c.StopCommand("vm-a", force=True))
    assert stopped.result is not None and stopped.result.state is VMState.STOPPED
    assert c.execute(driver, c.DestroyCommand("vm-a")).ok


def test_driver_errors_become_failed_answers(driver: SimulatorDriver) -> None:
    answer = c.execute(driver, c.StopCommand("ghost"))
    assert not answer.ok and isinstance(answer.error, VMNotFoundError) and "ghost" in answer.details
    driver.ex_host.set_down()
    down = c.execute(driver, c.ReadyCommand())
    assert not down.ok and isinstance(down.error, HostUnreachableError)


def test_simulator_faults_by_cloudstack_command_name(driver: SimulatorDriver) -> None:
    spec = DriverContract().make_spec("vm-b")
    driver.ex_host.fail_next("StartCommand", message="mocked StartCommand failure")
    answer = c.execute(driver, c.StartCommand(spec))
    assert (answer.ok, answer.details) == (False, "mocked StartCommand failure")
    assert c.execute(driver, c.StartCommand(spec)).ok


def test_every_command_has_a_handler_and_a_verb() -> None:
    names = {cls.__name__ for cls in c.Command.__subclasses__()}
    assert names == set(c.COMMAND_VERBS)
    with pytest.raises(TypeError, match="no handler for Command"):
        c.execute(SimulatorDriver("http://sim/c/h"), c.Command())
