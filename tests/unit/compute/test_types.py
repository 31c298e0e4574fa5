"""Value objects: validation messages, derived fields, reconciliation and the libvirt state map."""

from __future__ import annotations

import pytest

from provisioner.compute.drivers.libvirt import state
from provisioner.compute.reconcile import diff_states
from provisioner.compute.types import (
    CloudInitSeed,
    NicSpec,
    PowerState,
    SerialConsole,
    SourceKind,
    VMInfo,
    VMSpec,
    VMState,
    VolumeSpec,
    power_of,
)
from provisioner.exceptions import DriverValueError

MIB = 1 << 20


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: VMSpec(name="-bad", uuid="u", vcpus=1, memory_bytes=MIB), "not a valid name"),
        (lambda: VMSpec(name="vm", uuid="u", vcpus=0, memory_bytes=MIB), "vcpus must be at least 1"),
        (lambda: VMSpec(name="vm", uuid="u", vcpus=1, memory_bytes=10), "below 1 MiB"),
        (lambda: VMSpec(name="vm", uuid="u", vcpus=2, memory_bytes=MIB, max_vcpus=1), "max_vcpus 1 is below"),
        (
            lambda: VMSpec(name="vm", uuid="u", vcpus=1, memory_bytes=MIB, disks=(VolumeSpec("/a"), VolumeSpec("/b"))),
            "two disks use virtio device_id 0",
        ),
        (lambda: VolumeSpec("rbd://pool/img"), "unsupported scheme 'rbd'"),
        (lambda: VolumeSpec("nfs://h/e/d.qcow2", backing="/t.qcow2"), "only file disks can be overlays"),
        (lambda: NicSpec("02:00:00:00:00:0G", "cloudbr0"), "not a lower-case colon-separated MAC"),
        (lambda: NicSpec("02:00:00:00:00:01", "cloudbr0", vlan=5000), "outside 1..4094"),
        (lambda: SerialConsole("file"), "needs a path"),
    ],
)
def test_invalid_values_are_refused_with_a_reason(build: object, message: str) -> None:
    with pytest.raises(DriverValueError, match=message):
        build()  # type: ignore[operator]


def test_source_kind_follows_the_scheme() -> None:
    assert VolumeSpec("/var/lib/d.qcow2").source_kind is SourceKind.FILE
    assert VolumeSpec("nfs://nfs.example/export/d.qcow2").source_kind is SourceKind.NFS
    assert VolumeSpec("iscsi://198.18.0.2/iqn.2026-01.x:t/1").source_kind is SourceKind.ISCSI


def test_meta_data_document() -> None:
    seed = CloudInitSeed("iid-7", "web-7", "#cloud-config\n", ("ssh-ed25519 AAAA a@b\n", "ssh-rsa BBBB c@d"))
    assert seed.meta_data() == (
        "instance-id: iid-7\nlocal-hostname: web-7\npublic-keys:\n  - ssh-ed25519 AAAA a@b\n  - ssh-rsa BBBB c@d\n"
    )


def test_power_state_of_each_vm_state() -> None:
    assert power_of(VMState.RUNNING) is PowerState.POWER_ON
    assert power_of(VMState.STOPPED) is PowerState.POWER_OFF
    assert power_of(VMState.ERROR) is PowerState.POWER_UNKNOWN


def test_libvirt_state_map_covers_every_domain_state() -> None:
    assert set(state.STATE_MAP) == set(range(8))
    assert state.STATE_MAP[state.SHUTOFF] is VMState.STOPPED
    assert state.STATE_MAP[state.CRASHED] is VMState.ERROR
    assert set(state.EVENT_STATE) == set(state.EVENT_NAMES) == set(range(9))


def _info(name: str, vm_state: VMState) -> VMInfo:
    return VMInfo(name, name, vm_state, power_of(vm_state), 1, MIB)


def test_diff_states() -> None:
    known = {"a": VMState.RUNNING, "b": VMState.RUNNING, "c": VMState.STOPPED}
    observed = [_info("a", VMState.RUNNING), _info("c", VMState.RUNNING), _info("d", VMState.STOPPED)]
    changes = diff_states(known, observed)
    assert [(c.name, c.old, c.new, c.power_state) for c in changes] == [
        ("b", VMState.RUNNING, VMState.STOPPED, PowerState.POWER_REPORT_MISSING),
        ("c", VMState.STOPPED, VMState.RUNNING, PowerState.POWER_ON),
        ("d", None, VMState.STOPPED, PowerState.POWER_OFF),
    ]
