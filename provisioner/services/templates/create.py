"""``createTemplate``: a template from a stopped VM's volume, or from a volume snapshot.

Two steps, as CloudStack's async-create command: :func:`create_template_row` (the create step, in
the request) records the template ``Allocated`` in the volume's zone, so its id is answered at
once; :func:`create_template_data` (the job) copies the data onto one image store of the zone with no
transaction open, and marks that copy Ready; the zone's other stores then replicate it (reconciler).

The copy is ``qemu-img convert -O qcow2`` of the volume (an overlay is flattened with its base
image) or of the internal snapshot (``-l snapshot.name=<uuid>``), staged locally, checksummed and
published into the store atomically. Simulated pools and stores copy nothing.
"""

from __future__ import annotations

import shutil
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from provisioner.db.engine import run_in_transaction
from provisioner.db.schema import (
    image_store,
    snapshot,
    storage_pool,
    template_store_ref,
    template_zone_ref,
    utcnow,
    vm_instance,
    vm_template,
    volume,
)
from provisioner.exceptions import InternalError, ParamError, PermissionDeniedError
from provisioner.services.identity.visibility import can_manage_domain
from provisioner.services.principal import Caller
from provisioner.services.templates.listing import image_rows
from provisioner.services.templates.reconciler import ready_values, staging_root
from provisioner.services.templates.records import Row
from provisioner.services.templates.refs import ensure_store_refs
from provisioner.services.templates.register import os_type_id, owner_of
from provisioner.services.templates.stores import SIMULATOR, image_name, pool_driver, pool_driver_name, store_driver
from provisioner.storage import qemu
from provisioner.storage.replication.checksum import ENGINE_ALGORITHM, Checksum, hash_file
from provisioner.storage.types import ImageFormat

#: Snapshot states whose data can become a template.
USABLE_SNAPSHOTS = ("BackedUp", "CreatedOnPrimary")


def _owned(conn: Connection, caller: Caller, account_id: int, what: str) -> None:
    from provisioner.db.schema import account, domain

    row = conn.execute(
        select(account.c.uuid, domain.c.path)
        .join(domain, domain.c.id == account.c.domain_id)
        .where(account.c.id == account_id)
    ).one()
    if row.uuid != caller.account_id and not can_manage_domain(caller, row.path):
        raise PermissionDeniedError(f"Account {caller.account_name} does not have permission to use {what}")


def _source_volume(conn: Connection, caller: Caller, volumeid: str | None, snapshotid: str | None) -> tuple[Any, Any]:
    """(volume row, snapshot row or None), checked."""
    snap = None
    if snapshotid:
        snap = conn.execute(select(snapshot).where(snapshot.c.uuid == snapshotid.strip().lower())).first()
        if snap is None or snap.removed is not None:
            raise ParamError(f"Unable to find snapshot by id {snapshotid}")
        _owned(conn, caller, snap.account_id, f"snapshot {snapshotid}")
        if snap.state not in USABLE_SNAPSHOTS:
            raise ParamError(f"Snapshot {snap.name} is {snap.state}; only a backed-up snapshot can become a template")
        return conn.execute(select(volume).where(volume.c.id == snap.volume_id)).one(), snap
    if not volumeid:
        raise ParamError("Either volumeid or snapshotid is required to create a template")
    vol: Any = conn.execute(select(volume).where(volume.c.uuid == volumeid.strip().lower())).first()
    if vol is None or vol.removed is not None:
        raise ParamError(f"Unable to find volume by id {volumeid}")
    _owned(conn, caller, vol.account_id, f"volume {volumeid}")
    if vol.vm_id is not None:
        vm = conn.execute(select(vm_instance.c.state, vm_instance.c.name).where(vm_instance.c.id == vol.vm_id)).one()
        if vm.state != "Stopped":
            raise ParamError(
                f"VM {vm.name} is {vm.state}: a template can only be created from the volume of a stopped VM"
            )
    if vol.state != "Ready" or vol.pool_id is None:
        raise ParamError(f"Volume {vol.name} is {vol.state}: only a Ready volume on primary storage can be copied")
    return vol, None


def create_template_row(
    conn: Connection,
    caller: Caller,
    *,
    name: str,
    displaytext: str | None = None,
    ostypeid: str | None = None,
    volumeid: str | None = None,
    snapshotid: str | None = None,
    ispublic: bool | None = None,
    isfeatured: bool | None = None,
    passwordenabled: bool | None = None,
    sshkeyenabled: bool | None = None,
    isdynamicallyscalable: bool | None = None,
    requireshvm: bool | None = None,
    details: dict[str, str] | None = None,
) -> str:
    """``createTemplate``'s create step: the Allocated template in the volume's zone; returns its uuid.

    Raises:
        ParamError: no or unknown volume/snapshot, a running VM, a volume not on primary storage (431).
        PermissionDeniedError: another account's volume, or featured asked by a user (531).
    """
    if not name or not name.strip():
        raise ParamError("Please specify a valid name for the template")
    if isfeatured and not caller.is_root_admin:
        raise PermissionDeniedError("Only admins can create featured templates")
    vol, snap = _source_volume(conn, caller, volumeid, snapshotid)
    hypervisor = None
    if vol.vm_id is not None:
        hypervisor = conn.execute(select(vm_instance.c.hypervisor_type).where(vm_instance.c.id == vol.vm_id)).scalar()
    if hypervisor is None and vol.pool_id is not None:
        hypervisor = conn.execute(
            select(storage_pool.c.hypervisor_type).where(storage_pool.c.id == vol.pool_id)
        ).scalar()
    account_id, domain_id = owner_of(conn, caller, None, None)
    inserted = conn.execute(
        insert(vm_template).values(
            name=name.strip(),
            display_text=displaytext or name.strip(),
            format="QCOW2",
            type="USER",
            hypervisor_type=hypervisor or "KVM",
            url=None,
            state="Active",
            is_public=bool(ispublic),
            featured=bool(isfeatured),
            password_enabled=bool(passwordenabled),
            sshkey_enabled=bool(sshkeyenabled),
            dynamically_scalable=bool(isdynamicallyscalable),
            requires_hvm=True if requireshvm is None else bool(requireshvm),
            os_type_id=os_type_id(conn, ostypeid),
            source_volume_id=vol.id,
            source_snapshot_id=snap.id if snap is not None else None,
            size=vol.size,
            details=dict(details or {}),
            account_id=account_id,
            domain_id=domain_id,
        )
    )
    template_id = int(inserted.inserted_primary_key[0])  # type: ignore[index]
    conn.execute(insert(template_zone_ref).values(template_id=template_id, zone_id=vol.zone_id))
    ensure_store_refs(conn, template_id)
    return str(conn.execute(select(vm_template.c.uuid).where(vm_template.c.id == template_id)).scalar_one())


def _mark(conn: Connection, ref_id: int, **values: Any) -> None:
    conn.execute(
        update(template_store_ref)
        .where(template_store_ref.c.id == ref_id)
        .values(**values, last_updated=utcnow(), update_count=template_store_ref.c.update_count + 1)
    )


def _ready(conn: Connection, ref_id: int, values: dict[str, Any]) -> None:
    conn.execute(update(template_store_ref).where(template_store_ref.c.id == ref_id).values(**values))


def create_template_data(engine: Engine, caller: Caller, template_uuid: str) -> Row:
    """``createTemplate``'s job: copy the volume (or snapshot) onto an image store of its zone; Ready there.

    Raises:
        ParamError: the zone has no image store (431).
        InternalError: the copy failed (530); the template's store rows are Failed with the reason.
    """

    def read(conn: Connection) -> dict[str, Any]:
        template = conn.execute(select(vm_template).where(vm_template.c.uuid == template_uuid)).mappings().one()
        vol = conn.execute(select(volume).where(volume.c.id == template["source_volume_id"])).mappings().one()
        snap = None
        if template["source_snapshot_id"] is not None:
            snap = (
                conn.execute(select(snapshot).where(snapshot.c.id == template["source_snapshot_id"])).mappings().one()
            )
        refs = (
            conn.execute(
                select(template_store_ref, image_store.c.url)
                .join(image_store, image_store.c.id == template_store_ref.c.store_id)
                .where(template_store_ref.c.template_id == template["id"], image_store.c.removed.is_(None))
                .order_by(template_store_ref.c.id)
            )
            .mappings()
            .all()
        )
        if not refs:
            raise ParamError("The volume's zone has no image store to hold the template; add one with addImageStore")
        pool = conn.execute(select(storage_pool).where(storage_pool.c.id == vol["pool_id"])).mappings().one()
        store = conn.execute(select(image_store).where(image_store.c.id == refs[0]["store_id"])).mappings().one()
        return {
            "template": template,
            "volume": vol,
            "snapshot": snap,
            "refs": refs,
            "simulated": pool_driver_name(conn, pool) == SIMULATOR,
            "pool": pool_driver(conn, pool),
            "store": store_driver(conn, store),
        }

    found = run_in_transaction(engine, read)
    template, refs = found["template"], found["refs"]
    name = image_name(template["uuid"], "QCOW2")
    size = int(found["volume"]["size"] or 0)
    if found["simulated"]:

        def simulated(conn: Connection) -> None:
            for ref in refs:
                _ready(conn, ref["id"], ready_values(name, size, size))

        run_in_transaction(engine, simulated)
        return image_rows_for(engine, caller, template["id"])
    first = refs[0]
    run_in_transaction(
        engine,
        lambda conn: _mark(conn, first["id"], state="Creating", download_state="DOWNLOAD_IN_PROGRESS"),
    )
    staging = staging_root(engine) / f"create-{template['uuid']}"
    try:
        staging.mkdir(parents=True, exist_ok=True)
        staged = staging / name
        pool, store = found["pool"], found["store"]
        with pool, store:
            disk = str(found["volume"]["path"])
            local = pool.local_path(disk)
            source = str(local) if local is not None else pool.disk_source(disk).uri
            args = ["convert", "-q", "-O", "qcow2"]
            if found["snapshot"] is not None:
                args += ["-l", f"snapshot.name={found['snapshot']['uuid']}"]
            qemu.run(
                "qemu-img", [*args, source, str(staged)], timeout=pool.settings.command_timeout, what="copy the volume"
            )
            virtual = int(qemu.info(str(staged), timeout=120).get("virtual-size", size))
            digest, engine_digest = hash_file(staged, "sha256", ENGINE_ALGORITHM)
            physical = staged.stat().st_size
            store.copy_in(staged, name, fmt=ImageFormat.QCOW2)
    except Exception as error:
        reason = str(error) or type(error).__name__
        run_in_transaction(
            engine,
            lambda conn: _mark(conn, first["id"], state="Failed", download_state="DOWNLOAD_ERROR", error_str=reason),
        )
        raise InternalError(f"Failed to create template {template['name']}: {reason}") from error
    finally:
        shutil.rmtree(staging, ignore_errors=True)

    def ready(conn: Connection) -> None:
        checksums = {"checksum": "{SHA256}" + digest, "engine_checksum": str(Checksum(ENGINE_ALGORITHM, engine_digest))}
        _ready(conn, first["id"], {**ready_values(name, virtual, physical), **checksums})
        conn.execute(
            update(vm_template)
            .where(vm_template.c.id == template["id"])
            .values(size=virtual, physical_size=physical, checksum="{SHA256}" + digest)
        )

    run_in_transaction(engine, ready)
    return image_rows_for(engine, caller, template["id"])


def image_rows_for(engine: Engine, caller: Caller, template_id: int) -> Row:
    """The template's first zone row, as ``createTemplate`` answers it."""
    return run_in_transaction(engine, lambda conn: image_rows(conn, caller, template_id)[0])
