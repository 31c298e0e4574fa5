"""Opening the storage driver behind an ``image_store`` or ``storage_pool`` row, and naming images on it.

The one place the template services decide which storage driver serves a row:

* a store or pool in a simulated zone (all clusters ``Simulator``) or a pool of a ``Simulator``
  cluster uses the in-process simulator driver: nothing is contacted and nothing is copied;
* NFS (``nfs://``) uses the NFS driver (kernel mount when ``details.mount_point`` is set, user space
  otherwise), ``file://`` local storage the local driver, ``presetup://`` / ``sharedmountpoint://``
  the FC driver and ``iscsi://`` the iSCSI driver.

Driver settings come from the row's ``details`` (keys the driver's settings model knows, so API
details such as ``mount_point`` or ``nfs_port`` reach it and unrelated keys do not break it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, RowMapping

from provisioner.services.infrastructure.common import is_simulated_zone
from provisioner.storage.base import StorageDriver
from provisioner.storage.registry import get_driver
from provisioner.storage.types import ImageFormat

SIMULATOR = "simulator"

_POOL_DRIVERS = {
    "NetworkFilesystem": "nfs",
    "IscsiLUN": "iscsi",
    "PreSetup": "fc",
    "SharedMountPoint": "fc",
    "Filesystem": "local",
}


def store_driver_name(conn: Connection, store_row: Mapping[str, Any] | RowMapping) -> str:
    """The storage registry name serving an image store row (``simulator`` in simulated zones)."""
    explicit = (store_row.get("details") or {}).get("driver")
    if explicit:
        return str(explicit)
    if store_row.get("zone_id") is not None and is_simulated_zone(conn, store_row["zone_id"]):
        return SIMULATOR
    scheme = str(store_row["url"]).split("://", 1)[0].lower()
    return {"nfs": "nfs", "file": "local"}.get(scheme, scheme)


def pool_driver_name(conn: Connection, pool_row: Mapping[str, Any] | RowMapping) -> str:
    """The storage registry name serving a primary pool row (``simulator`` for simulated pools)."""
    explicit = (pool_row.get("details") or {}).get("driver")
    if explicit:
        return str(explicit)
    if pool_row.get("hypervisor_type") == "Simulator" or is_simulated_zone(conn, pool_row["zone_id"]):
        return SIMULATOR
    return _POOL_DRIVERS.get(str(pool_row["pool_type"]), str(pool_row["pool_type"]).lower())


def build_driver(driver_name: str, url: str, details: Mapping[str, Any] | None) -> StorageDriver:
    """An unconnected driver for ``url`` with the settings found in ``details``.

    Raises:
        DriverNotFoundError / DriverSettingsError: unknown driver or invalid settings.
    """
    driver_class = get_driver(driver_name)
    known = driver_class.settings_model.model_fields
    settings = {key: value for key, value in (details or {}).items() if key in known}
    return driver_class(url, settings)


def store_driver(conn: Connection, store_row: Mapping[str, Any] | RowMapping) -> StorageDriver:
    """An unconnected driver for an image store row (use it as a context manager)."""
    return build_driver(store_driver_name(conn, store_row), str(store_row["url"]), store_row.get("details"))


def pool_driver(conn: Connection, pool_row: Mapping[str, Any] | RowMapping) -> StorageDriver:
    """An unconnected driver for a primary pool row (use it as a context manager)."""
    return build_driver(pool_driver_name(conn, pool_row), str(pool_row["url"]), pool_row.get("details"))


def image_name(template_uuid: str, fmt: str, *, is_iso: bool = False) -> str:
    """The flat file name of a template or ISO on an image store (``template-<uuid>.qcow2``, ``iso-<uuid>.iso``)."""
    if is_iso or fmt.upper() == "ISO":
        return f"iso-{template_uuid}.iso"
    extension = {"QCOW2": "qcow2", "RAW": "img", "VHD": "vhd", "VHDX": "vhdx", "VMDK": "vmdk", "OVA": "ova"}
    return f"template-{template_uuid}.{extension.get(fmt.upper(), fmt.lower())}"


def image_format(fmt: str) -> ImageFormat:
    """The storage layer's format for a template's ``format`` column."""
    return ImageFormat.parse(fmt)
