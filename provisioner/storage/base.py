"""The storage driver contract: one abstract base class every primary pool and image store driver implements.

Verbs are noun-based (``create_volume``, ``ensure_base_image``). Mandatory verbs are abstract; optional
ones raise ``NotImplementedError("<verb> not implemented for this driver")`` unless the driver declares
the matching :class:`~provisioner.storage.types.StorageFeatures` flag. Backend-only calls are ``ex_*``.

Idempotence (the management server retries after crashes): ``delete_volume`` of a missing volume and
``ensure_base_image`` of a template already there succeed without doing anything. Reference counts of
base images are not kept here: :mod:`provisioner.storage.refcount` decides, the driver only acts.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Self

import pydantic

from provisioner.drivers import StrictSettings, validate_settings
from provisioner.exceptions import DriverSettingsError, StorageMaintenanceError
from provisioner.storage.types import (
    Capacity,
    DiskSource,
    Health,
    ImageFormat,
    PoolState,
    StorageFeatures,
    VolumeInfo,
    check_name,
)

#: Called with (bytes done, bytes total) while data moves; total is 0 when unknown.
Progress = Callable[[int, int], None]


class StorageSettings(StrictSettings):
    """Base of every storage driver's settings; unknown keys are refused so a typo fails at start-up."""

    command_timeout: float = pydantic.Field(
        3600.0, gt=0, le=86400, description="Seconds one qemu-img or client command may run before it is killed."
    )


def base_image_name(template_id: str) -> str:
    """The name of a template's copy on a primary pool (one per template and pool)."""
    return check_name("template", f"tmpl-{template_id}.qcow2")


class StorageDriver(abc.ABC):
    """A primary storage pool or an image store, and the volume verbs on it.

    Subclasses set ``name``, ``schemes``, ``features`` and ``settings_model``. Use as a context manager,
    or call :meth:`connect` and :meth:`close`.

    Args:
        url: where the storage is: ``nfs://server/export``, ``iscsi://portal/iqn/lun``,
            ``presetup://host/path``, ``file:///path``; see each driver.
        settings: driver settings, validated against ``settings_model`` right here.

    Raises:
        DriverSettingsError: the URL or a setting is invalid.
    """

    name: ClassVar[str] = "abstract"
    #: URL schemes this driver accepts (lower case); empty means any.
    schemes: ClassVar[frozenset[str]] = frozenset()
    features: ClassVar[StorageFeatures] = StorageFeatures.NONE
    settings_model: ClassVar[type[StorageSettings]] = StorageSettings

    def __init__(self, url: str, settings: Mapping[str, Any] | StorageSettings | None = None) -> None:
        self.url = url
        self.settings: StorageSettings = self.validate_settings(settings)
        self._state = PoolState.UP
        scheme = url.split("://", 1)[0].lower() if "://" in url else ""
        if self.schemes and scheme not in self.schemes:
            wanted = " or ".join(f"{s}://" for s in sorted(self.schemes))
            raise DriverSettingsError(f"the {self.name} storage driver needs a {wanted} URL, not {url!r}")

    @classmethod
    def validate_settings(cls, settings: Mapping[str, Any] | StorageSettings | None) -> StorageSettings:
        """Validate raw settings against ``settings_model``.

        Raises:
            DriverSettingsError: naming the driver, each bad field and why.
        """
        return validate_settings(cls.settings_model, settings, f"{cls.name} storage driver")

    def supports(self, feature: StorageFeatures) -> bool:
        """Tell whether this driver declares an optional ability."""
        return feature in self.features

    def _unsupported(self, verb: str) -> NotImplementedError:
        return NotImplementedError(f"{verb} not implemented for this driver ({self.name})")

    # -- connection -------------------------------------------------------------------------------

    @abc.abstractmethod
    def connect(self) -> None:
        """Reach the storage and check it is usable.

        Raises:
            DriverError: the storage does not answer or the path is missing.
        """

    def close(self) -> None:  # noqa: B027 - optional: most drivers hold nothing open
        """Release what :meth:`connect` opened; safe to call twice."""

    def __enter__(self) -> Self:
        self.connect()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- reading ----------------------------------------------------------------------------------

    @abc.abstractmethod
    def capacity(self) -> Capacity:
        """Report total, used and allocated bytes."""

    def totals(self) -> tuple[int, int | None]:
        """Total and used bytes as the backend reports them: what the storage stats collector records.

        The default reads :meth:`capacity`; drivers that must list every volume for it report the
        file system's figures instead. Used is None where the backend cannot tell (a target's LUNs
        are all "in use" to it; which hold volumes is the cloud's record).
        """
        capacity = self.capacity()
        return capacity.total_bytes, capacity.used_bytes

    @abc.abstractmethod
    def probe(self) -> str:
        """Check the backend answers; return an empty string when it does, else why not.

        :meth:`health` combines this with the maintenance state.
        """

    def health(self) -> Health:
        """Report whether the pool can take work: maintenance first, then the backend probe."""
        if self._state is not PoolState.UP:
            return Health(self._state, "the pool is in maintenance mode")
        problem = self.probe()
        return Health(PoolState.DOWN, problem) if problem else Health(PoolState.UP)

    @abc.abstractmethod
    def list_volumes(self) -> list[VolumeInfo]:
        """List the volumes and images in the store, sorted by name (base images included)."""

    @abc.abstractmethod
    def get_volume(self, name: str) -> VolumeInfo:
        """Report one volume.

        Raises:
            VolumeNotFoundError: no volume by that name.
        """

    @abc.abstractmethod
    def disk_source(self, name: str) -> DiskSource:
        """Tell the compute layer how to reach a volume: a path, an ``nfs://`` or an ``iscsi://`` URL.

        Raises:
            VolumeNotFoundError: no volume by that name.
        """

    def local_path(self, name: str) -> Path | None:
        """Where this host sees a volume (existing or not) as a file, or None without a local view.

        The replication engine copies between local views with holes, inline checksums and resume.
        """
        return None

    # -- changing ---------------------------------------------------------------------------------

    @abc.abstractmethod
    def copy_in(
        self,
        source: str | Path,
        dest_name: str,
        *,
        fmt: ImageFormat = ImageFormat.RAW,
        progress: Progress | None = None,
    ) -> VolumeInfo:
        """Copy a local image file into the store as it is, sparse-aware; publish only when complete.

        Raises:
            VolumeExistsError: ``dest_name`` exists.
            StorageMaintenanceError: the pool is in maintenance.
        """

    def create_volume(self, name: str, size_bytes: int, fmt: ImageFormat = ImageFormat.QCOW2) -> VolumeInfo:
        """Create an empty, thin volume (feature ``VOLUMES``).

        Raises:
            VolumeExistsError: a volume by that name exists.
        """
        raise self._unsupported("create_volume")

    def delete_volume(self, name: str) -> None:
        """Delete a volume or image; a missing one is not an error (feature ``VOLUMES``)."""
        raise self._unsupported("delete_volume")

    def ensure_base_image(self, template_id: str, source: str | Path, fmt: ImageFormat) -> DiskSource:
        """Copy a template to this pool once, as qcow2 with ``qemu-img convert`` (feature ``OVERLAYS``).

        Args:
            template_id: the template's id; names the copy (:func:`base_image_name`).
            source: a local path or a URL qemu-img reads (``nfs://``).
            fmt: the template's format.

        Returns:
            Where the base image is; a second call returns it without copying again.
        """
        raise self._unsupported("ensure_base_image")

    def create_overlay(self, template_id: str, name: str, size_bytes: int | None = None) -> VolumeInfo:
        """Create a qcow2 overlay on a template's base image (feature ``OVERLAYS``).

        Args:
            template_id: whose base image to use (made by :meth:`ensure_base_image`).
            name: the overlay volume's name.
            size_bytes: virtual size; the base image's when None, never smaller than it.
        """
        raise self._unsupported("create_overlay")

    # -- maintenance ------------------------------------------------------------------------------

    @property
    def state(self) -> PoolState:
        """``Up`` or a maintenance state."""
        return self._state

    def enter_maintenance(self) -> None:
        """Stop taking new work (``enableStorageMaintenance``); the server stops or migrates VMs first."""
        self._state = PoolState.PREPARE_FOR_MAINTENANCE
        self.on_enter_maintenance()
        self._state = PoolState.MAINTENANCE

    def cancel_maintenance(self) -> None:
        """Take work again (``cancelStorageMaintenance``) once the backend answers."""
        self._state = PoolState.CANCEL_MAINTENANCE
        self.on_cancel_maintenance()
        self._state = PoolState.UP

    def on_enter_maintenance(self) -> None:  # noqa: B027 - an optional hook
        """Hook: flush or detach what the backend needs before maintenance (nothing by default)."""

    def on_cancel_maintenance(self) -> None:
        """Hook: re-attach or re-check the backend before taking work again (a probe by default)."""
        problem = self.probe()
        if problem:
            self._state = PoolState.MAINTENANCE
            raise StorageMaintenanceError(f"{self.name} pool {self.url}: cannot leave maintenance: {problem}")

    def _check_writable(self) -> None:
        if self._state is not PoolState.UP:
            raise StorageMaintenanceError(f"{self.name} pool {self.url} is in {self._state.value}; no new volumes")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.url}>"
