"""The simulator driver: the contract, host URLs, and fault injection."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from provisioner.compute.base import HypervisorDriver
from provisioner.compute.drivers.simulator import (
    CLOUD,
    InjectedFailureError,
    SimulatorCloud,
    SimulatorDriver,
    parse_sim_url,
)
from provisioner.compute.types import NicSpec, VMState
from provisioner.exceptions import DriverSettingsError, DriverValueError, HostUnreachableError, VMNotFoundError
from tests.unit.compute.contract import MIB, DriverContract

GIB = 1 << 30


@pytest.fixture
def cloud() -> SimulatorCloud:
    return SimulatorCloud()


class TestSimulatorContract(DriverContract):
    @pytest.fixture
    def driver(self, cloud: SimulatorCloud) -> Iterator[HypervisorDriver]:
        with SimulatorDriver("http://sim/c0/h0", cloud=cloud) as driver:
            yield driver

    def stop_behind_back(self, driver: HypervisorDriver, name: str) -> None:
        assert isinstance(driver, SimulatorDriver)
        driver.ex_set_state(name, VMState.STOPPED)

    def vanish_behind_back(self, driver: HypervisorDriver, name: str) -> None:
        assert isinstance(driver, SimulatorDriver)
        del driver.ex_host.vms[name]

    def peer_driver(self, driver: HypervisorDriver) -> HypervisorDriver:
        assert isinstance(driver, SimulatorDriver)
        peer = SimulatorDriver("http://sim/c0/h1", cloud=driver.cloud)
        peer.connect()
        return peer


def test_url_defaults_are_cloudstacks() -> None:
    config = parse_sim_url("http://sim/c0/h0")
    assert (config.cluster, config.host, config.cpu_cores, config.cpu_mhz, config.memory_bytes) == (
        "c0",
        "h0",
        4,
        8000,
        8 * GIB,
    )


@pytest.mark.parametrize(
    "url",
    [
        "http://sim/c1/h2?cpuspeed=2000&cpucore=16&memory=68719476736",
        "http://sim/c1/h2&cpuspeed=2000&cpucore=16&memory=68719476736",
    ],
)
def test_url_capacity_parameters(url: str) -> None:
    config = parse_sim_url(url)
    assert (config.url, config.cpu_cores, config.cpu_mhz, config.memory_bytes) == (
        "http://sim/c1/h2",
        16,
        2000,
        64 * GIB,
    )


@pytest.mark.parametrize(
    "url", ["http://sim/h0", "nfs://sim/c0/h0", "http://sim/c0/h0?cpucore=zero", "http://sim/c/h?memory=-1"]
)
def test_bad_urls_are_refused(url: str) -> None:
    with pytest.raises(DriverValueError, match="simulated host URL"):
        parse_sim_url(url)


def test_host_facts_follow_the_url(cloud: SimulatorCloud) -> None:
    with SimulatorDriver("http://sim/c0/big?cpucore=32&cpuspeed=2500&memory=274877906944", cloud=cloud) as driver:
        facts = driver.host_facts()
    assert (facts.cpu_cores, facts.cpu_mhz, facts.memory_bytes, facts.total_cpu_mhz) == (32, 2500, 256 * GIB, 80000)


def test_bad_setting_fails_at_construction() -> None:
    with pytest.raises(DriverSettingsError, match=r"simulator driver: latancy: Extra inputs"):
        SimulatorDriver("http://sim/c0/h0", {"latancy": 1})
    with pytest.raises(DriverSettingsError, match="latency"):
        SimulatorDriver("http://sim/c0/h0", {"latency": -1})


def test_shared_cloud_reaches_any_host_by_url() -> None:
    try:
        with SimulatorDriver("http://sim/shared/h0") as driver:
            driver.define_vm(DriverContract().make_spec("vm-shared"))
        host = CLOUD.get_host("http://sim/shared/h0")
        assert "vm-shared" in host.vms
        assert CLOUD.find_vm("vm-shared") is host
    finally:
        CLOUD.remove_host("http://sim/shared/h0")


def test_connect_without_auto_add_needs_an_existing_host(cloud: SimulatorCloud) -> None:
    driver = SimulatorDriver("http://sim/c0/missing", {"auto_add": False}, cloud=cloud)
    with pytest.raises(HostUnreachableError, match="add it first"):
        driver.connect()


def test_host_down_and_back(cloud: SimulatorCloud) -> None:
    with SimulatorDriver("http://sim/c0/h0", cloud=cloud) as driver:
        driver.define_vm(DriverContract().make_spec("vm-a"))
        driver.ex_host.set_down()
        with pytest.raises(HostUnreachableError, match=r"http://sim/c0/h0 is down") as caught:
            driver.list_vms()
        assert isinstance(caught.value, ConnectionError)
        driver.ex_host.set_down(False)
        assert [vm.name for vm in driver.list_vms()] == ["vm-a"]


def test_next_n_calls_of_a_verb_fail(cloud: SimulatorCloud) -> None:
    with SimulatorDriver("http://sim/c0/h0", cloud=cloud) as driver:
        driver.define_vm(DriverContract().make_spec("vm-a"))
        driver.ex_host.fail_next("start_vm", count=2, message="boom")
        for _ in range(2):
            with pytest.raises(InjectedFailureError, match="boom"):
                driver.start_vm("vm-a")
        assert driver.get_vm("vm-a").state is VMState.STOPPED
        assert driver.start_vm("vm-a").state is VMState.RUNNING


def test_a_vm_whose_start_always_fails(cloud: SimulatorCloud) -> None:
    with SimulatorDriver("http://sim/c0/h0", cloud=cloud) as driver:
        spec = DriverContract().make_spec
        driver.define_vm(spec("vm-bad"))
        driver.define_vm(spec("vm-good"))
        driver.ex_host.fail_start("vm-bad")
        with pytest.raises(InjectedFailureError, match="vm-bad"):
            driver.start_vm("vm-bad")
        assert driver.start_vm("vm-good").state is VMState.RUNNING
        driver.ex_host.clear_faults()
        assert driver.start_vm("vm-bad").state is VMState.RUNNING


def test_latency_is_applied(cloud: SimulatorCloud) -> None:
    import time

    with SimulatorDriver("http://sim/c0/h0", {"latency": 0.05}, cloud=cloud) as driver:
        started = time.monotonic()
        driver.list_vms()
        assert time.monotonic() - started >= 0.05


def test_live_scale_beyond_maximum_is_refused(cloud: SimulatorCloud) -> None:
    with SimulatorDriver("http://sim/c0/h0", cloud=cloud) as driver:
        driver.define_vm(DriverContract().make_spec("vm-a", max_vcpus=2))
        driver.start_vm("vm-a")
        assert driver.scale_vm("vm-a", vcpus=2).vcpus == 2
        with pytest.raises(Exception, match="stop it first"):
            driver.scale_vm("vm-a", vcpus=3)
        with pytest.raises(Exception, match="stop it first"):
            driver.scale_vm("vm-a", memory_bytes=256 * MIB)


def test_nics_are_recorded_and_plug_faults_go_by_cloudstack_name(cloud: SimulatorCloud) -> None:
    first, second = NicSpec("02:00:00:00:0e:00", "cloudbr0"), NicSpec("02:00:00:00:0e:01", "cloudbr0", 5, device_id=1)
    with SimulatorDriver("http://sim/c0/h0", cloud=cloud) as driver:
        driver.define_vm(DriverContract().make_spec("vm-n", nics=(first,)))
        driver.start_vm("vm-n")
        driver.attach_nic("vm-n", second)
        assert driver.ex_nics("vm-n") == (first, second)
        driver.ex_host.fail_next("UnPlugNicCommand", message="mocked unplug failure")
        with pytest.raises(InjectedFailureError, match="mocked unplug failure"):
            driver.detach_nic("vm-n", second)
        driver.detach_nic("vm-n", second)
        assert driver.ex_nics("vm-n") == (first,)


def test_migration_to_a_down_host_fails_and_keeps_the_vm(cloud: SimulatorCloud) -> None:
    with (
        SimulatorDriver("http://sim/c0/h0", cloud=cloud) as src,
        SimulatorDriver("http://sim/c0/h1", cloud=cloud) as dst,
    ):
        src.define_vm(DriverContract().make_spec("vm-a"))
        src.start_vm("vm-a")
        dst.ex_host.set_down()
        with pytest.raises(HostUnreachableError):
            src.migrate_vm("vm-a", dst)
        assert src.get_vm("vm-a").state is VMState.RUNNING
        with pytest.raises(VMNotFoundError):
            dst.ex_host.set_down(False)
            dst.get_vm("vm-a")


def test_concurrent_verbs_on_one_host_are_consistent(cloud: SimulatorCloud) -> None:
    with SimulatorDriver("http://sim/c0/h0", cloud=cloud) as driver:
        make = DriverContract().make_spec
        errors: list[BaseException] = []

        def work(worker: int) -> None:
            try:
                for index in range(200):
                    name = f"vm-{worker}-{index}"
                    driver.define_vm(make(name))
                    driver.start_vm(name)
                    if index % 2:
                        driver.destroy_vm(name)
            except BaseException as error:  # pragma: no cover - reported below
                errors.append(error)

        threads = [threading.Thread(target=work, args=(worker,)) for worker in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not errors
        assert len(driver.list_vms()) == 8 * 100


def test_configure_scopes_faults_to_a_cluster(cloud: SimulatorCloud) -> None:
    for url in ("http://sim/c0/h0", "http://sim/c0/h1", "http://sim/c1/h0"):
        cloud.add_host(url)
    assert cloud.configure("start_vm", 1, cluster="c0", message="mocked") == 2
    assert [h.url for h in cloud.select(host="h0")] == ["http://sim/c0/h0", "http://sim/c1/h0"]
    with (
        SimulatorDriver("http://sim/c0/h1", cloud=cloud) as failing,
        SimulatorDriver("http://sim/c1/h0", cloud=cloud) as fine,
    ):
        for driver in (failing, fine):
            driver.define_vm(DriverContract().make_spec("vm-a"))
        with pytest.raises(InjectedFailureError, match="mocked"):
            failing.start_vm("vm-a")
        assert fine.start_vm("vm-a").state is VMState.RUNNING
    assert cloud.configure("StopCommand", 3, host="h1") == 1
    assert cloud.get_host("http://sim/c0/h1").pending_faults() == {"stop_vm": 3}
    assert cloud.cleanup(cluster="c0") == 2
    assert cloud.get_host("http://sim/c0/h1").pending_faults() == {}
