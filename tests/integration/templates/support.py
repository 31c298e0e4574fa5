"""Helpers of the template tests: a cloud with zones and image stores, and the worker."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert, select, update

from provisioner.db.schema import account, configuration, domain, image_store, template_store_ref, vm_template, zone
from provisioner.services.principal import Caller, RoleType
from provisioner.services.templates import settings
from provisioner.services.templates.builtin import seed_templates
from provisioner.services.templates.reconciler import reconcile
from provisioner.services.templates.register import register_image
from tests.support.tools import require_tool
from tests.unit.services.compute.cloud import Cloud

MIB = 1 << 20
MSID = 7001


def qemu_img(*args: str) -> None:
    """Run qemu-img (bounded)."""
    subprocess.run([require_tool("qemu-img"), *args], check=True, capture_output=True, timeout=60)


class TemplateCloud(Cloud):
    """The compute tests' small cloud, plus more zones, image stores, settings and the worker."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        with engine.begin() as conn:
            seed_templates(conn)

    def zone(self, name: str) -> int:
        """A further (non-simulated) zone."""
        return self.run(
            insert(zone).values(name=name, network_type="Advanced", allocation_state="Enabled", zone_token="t")
        )

    def store(self, zone_id: int, url: str, details: Mapping[str, Any] | None = None) -> int:
        """An image store of ``zone_id``."""
        return self.run(
            insert(image_store).values(
                name=f"store-{url.rsplit('/', 1)[-1]}",
                url=url,
                protocol=url.split("://", 1)[0],
                provider="NFS",
                zone_id=zone_id,
                details=dict(details or {}),
            )
        )

    def local_store(self, zone_id: int, root: Path) -> int:
        """A directory image store (the local driver)."""
        root.mkdir(parents=True, exist_ok=True)
        return self.store(zone_id, f"file://{root}", {"driver": "local"})

    def setting(self, name: str, value: str) -> None:
        """Change one of the template settings (seeded by :func:`seed_templates`)."""
        with self.engine.begin() as conn:
            conn.execute(update(configuration).where(configuration.c.name == name).values(value=value))

    def allow_loopback(self) -> None:
        """Let downloads reach the loopback origin."""
        self.setting(settings.ALLOW_PRIVATE, "true")

    def caller(self, name: str = "alice") -> Caller:
        """A user caller for an account of this cloud."""
        with self.engine.begin() as conn:
            row = conn.execute(select(account).where(account.c.name == name)).mappings().one()
            dom = conn.execute(select(domain).where(domain.c.id == row["domain_id"])).mappings().one()
        return Caller("u-" + name, name, row["uuid"], name, dom["uuid"], dom["path"], "r", RoleType.USER)

    def zone_uuid(self, zone_id: int) -> str:
        """The public id of a zone."""
        with self.engine.begin() as conn:
            return str(conn.execute(select(zone.c.uuid).where(zone.c.id == zone_id)).scalar_one())

    def register(self, url: str, zone_ids: list[int], **options: Any) -> int:
        """Register a template as alice; returns its internal id."""
        caller = self.caller()
        zones = [self.zone_uuid(zone_id) for zone_id in zone_ids]
        args: dict[str, Any] = {"format": "QCOW2", "hypervisor": "KVM", **options}
        with self.engine.begin() as conn:
            rows = register_image(conn, caller, is_iso=False, name="t", url=url, zoneids=zones, **args)
            return int(conn.execute(select(vm_template.c.id).where(vm_template.c.uuid == rows[0]["id"])).scalar_one())

    def uuid_of(self, template_id: int) -> str:
        """The public id of a template."""
        with self.engine.begin() as conn:
            return str(conn.execute(select(vm_template.c.uuid).where(vm_template.c.id == template_id)).scalar_one())

    def refs(self, template_id: int) -> dict[int, dict[str, Any]]:
        """The template's store rows by store id."""
        with self.engine.begin() as conn:
            rows = conn.execute(
                select(template_store_ref).where(template_store_ref.c.template_id == template_id)
            ).mappings()
            return {row["store_id"]: dict(row) for row in rows}

    def work(self, rounds: int = 1) -> None:
        """Run worker rounds on this thread (transfers included)."""
        for _ in range(rounds):
            reconcile(self.engine, MSID, wait=True)

    def work_until(self, template_id: int, states: set[str], timeout: float = 60.0) -> dict[int, dict[str, Any]]:
        """Run rounds (bounded) until every store row of the template is in ``states``."""
        deadline = time.monotonic() + timeout
        while True:
            self.work()
            refs = self.refs(template_id)
            if refs and all(ref["state"] in states for ref in refs.values()):
                return refs
            if time.monotonic() > deadline:
                raise AssertionError(f"store rows not in {states} after {timeout} s: {refs}")
            time.sleep(0.1)
