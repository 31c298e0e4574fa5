"""The health round against a libvirt host (the ``test:///`` driver): Up and pinged, VMs that stopped or
vanished behind our back are Stopped, an unreachable libvirt URI makes the host Disconnected."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select, update

from provisioner.db.schema import host
from provisioner.services.compute import capacity
from provisioner.services.compute.states import VMEvent
from provisioner.services.compute.transitions import transition
from provisioner.services.compute.vms import NicRequest, VmSpec, allocate_vm
from provisioner.services.infrastructure.host_health import run_round
from tests.unit.services.compute.cloud import FIRSTFIT, Cloud
from tests.unit.services.compute.operations.helpers import vm_state

NODE = """<node xmlns:test="http://libvirt.org/schemas/domain/test/1.0">
  <cpu><mhz>2400</mhz><model>x86_64</model><nodes>1</nodes><sockets>1</sockets><cores>4</cores><threads>1</threads></cpu>
  <memory>8388608</memory>
  {domains}
</node>
"""
DOMAIN = """<domain type="test"><name>{name}</name><memory>1048576</memory><vcpu>1</vcpu>
  <os><type>hvm</type></os>{runstate}</domain>"""


def test_a_libvirt_host_is_checked_and_its_vms_follow_what_libvirt_reports(cloud: Cloud, tmp_path: Path) -> None:
    c1 = cloud.cluster("c1")
    host_id = cloud.host(c1, "kvm1")
    cloud.pool("p1", cluster_id=c1)
    net = cloud.network()
    names: list[str] = []
    ids: list[int] = []
    for name in ("on", "off", "gone"):
        spec = VmSpec(
            name=name,
            zone_id=cloud.zone_id,
            service_offering_id=cloud.offering(name),
            account_id=cloud.accounts["alice"],
            domain_id=cloud.domain_id,
            nics=(NicRequest(net),),
        )
        with cloud.engine.begin() as conn:
            vm = allocate_vm(conn, spec, settings=FIRSTFIT)
            transition(conn, vm.id, VMEvent.OPERATION_SUCCEEDED, power_state="PowerOn")
        names.append(vm.instance_name)
        ids.append(vm.id)
    node = tmp_path / "node.xml"
    node.write_text(
        NODE.format(
            domains=DOMAIN.format(name=names[0], runstate="")
            + DOMAIN.format(name=names[1], runstate="<test:runstate>5</test:runstate>")
        )
    )
    with cloud.engine.begin() as conn:
        conn.execute(update(host).where(host.c.id == host_id).values(url=f"test://{node}", driver="libvirt"))

    result = run_round(cloud.engine, 3)
    assert result.statuses == {next(iter(result.statuses)): "Up"}
    on, off, gone = ids
    assert vm_state(cloud, on) == ("Running", "PowerOn", host_id)
    assert vm_state(cloud, off) == ("Stopped", "PowerOff", None)
    assert vm_state(cloud, gone) == ("Stopped", "PowerOff", None)
    with cloud.engine.begin() as conn:
        assert capacity.drift(conn) == []
        assert conn.execute(select(host.c.last_ping).where(host.c.id == host_id)).scalar() is not None

    node.unlink()  # the libvirt host no longer answers
    run_round(cloud.engine, 3)
    with cloud.engine.begin() as conn:
        assert conn.execute(select(host.c.status).where(host.c.id == host_id)).scalar() == "Disconnected"
