"""The maxima a VM's domain is defined with: only for a dynamically scalable template in a zone where
enable.dynamic.scale.vm is true, from the settings or the host's capacity (0), never above the host nor below the VM."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from sqlalchemy import Engine, delete, insert, update

from provisioner.db.schema import configuration, vm_template
from provisioner.services.compute.allocator.model import MIB
from provisioner.services.compute.lifecycle.scaling import (
    CPU_CORES_MAX,
    ENABLE_DYNAMIC_SCALE,
    RAM_SIZE_MAX,
    live_maxima,
)
from tests.unit.services.compute.cloud import Cloud
from tests.unit.services.compute.lifecycle.conftest import offering_and_template

HOST = {"cpu_cores": 8, "memory": 16384 * MIB}


@pytest.mark.parametrize(
    ("cores", "ram", "expected"),
    [
        ("0", "0", (8, 16384 * MIB)),  # the host's capacity
        ("4", "2048", (4, 2048 * MIB)),
        ("64", "65536", (8, 16384 * MIB)),  # never above the host
        ("1", "64", (2, 512 * MIB)),  # never below the VM
    ],
)
def test_maxima_of_a_dynamically_scalable_template(
    db_engine: Engine, cores: str, ram: str, expected: tuple[int, int]
) -> None:
    cloud = Cloud(db_engine)
    with db_engine.begin() as conn:
        template = offering_and_template(conn, cloud, hypervisor="KVM", size=1 << 30)
        vm = SimpleNamespace(template_id=template, zone_id=cloud.zone_id, cpu_number=2, memory=512)
        assert live_maxima(conn, vm, HOST) == (None, None)  # templates are not scalable by default
        conn.execute(update(vm_template).values(dynamically_scalable=True))
        assert live_maxima(conn, vm, HOST) == (None, None)  # nor is dynamic scaling enabled (CloudStack's default)
        cloud_setting = insert(configuration).values(name=ENABLE_DYNAMIC_SCALE, value="true", scope="zone")
        conn.execute(cloud_setting.values(scope_id=cloud.zone_id))
        for name, value in ((CPU_CORES_MAX, cores), (RAM_SIZE_MAX, ram)):  # updateConfiguration's global row
            conn.execute(delete(configuration).where(configuration.c.name == name))
            conn.execute(insert(configuration).values(name=name, value=value, scope="global", scope_id=0))
        assert live_maxima(conn, vm, HOST) == expected
        assert live_maxima(
            conn, SimpleNamespace(template_id=None, zone_id=cloud.zone_id, cpu_number=2, memory=512), HOST
        ) == (None, None)
