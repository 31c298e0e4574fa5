"""iSCSI primary storage: a target (portal + IQN) whose LUNs are raw volumes, reached in user space.

LUNs are provisioned on the target (by the storage team, or by Ansible for tgt), so the driver does
not create or delete volumes; it lists the target's LUNs (``iscsi-ls``), sizes them
(``iscsi-readcapacity16``) and writes images into them (``qemu-img convert -n``). The compute layer
gets ``iscsi://portal:port/iqn/lun`` and attaches it as a network disk, no kernel initiator needed.

CHAP credentials come by reference (:class:`~provisioner.model.credentials.CredentialRef`). The
secret never reaches a command line or a log: libiscsi's tools read it from the environment
(``LIBISCSI_CHAP_USERNAME``/``LIBISCSI_CHAP_PASSWORD``) and qemu-img from a 0600 file given as
``--object secret`` with ``--image-opts`` (a URL with credentials would be echoed by qemu-img).

Writing a LUN is not atomic (a LUN cannot be renamed): the volume is usable once ``copy_in`` returns.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any, ClassVar
from urllib.parse import unquote, urlsplit

import pydantic

from provisioner.exceptions import DriverError, DriverSettingsError, DriverValueError, VolumeNotFoundError
from provisioner.model.credentials import CredentialRef
from provisioner.storage import qemu
from provisioner.storage.base import Progress, StorageDriver, StorageSettings
from provisioner.storage.replication.imageinfo import check_image
from provisioner.storage.secrets import resolve_secret, secret_file
from provisioner.storage.types import Capacity, DiskSource, ImageFormat, StorageFeatures, VolumeInfo

_LUN_LINE = re.compile(r"^Lun:(?P<lun>\d+)\s+Type:(?P<type>\S+)")
_TOTAL = re.compile(r"^Total size:(?P<bytes>\d+)", re.MULTILINE)
_VOLUME = re.compile(r"^lun(?P<lun>\d+)$")


class IscsiSettings(StorageSettings):
    """Settings of an iSCSI pool."""

    chap: CredentialRef | None = pydantic.Field(None, description="CHAP user name and a reference to the secret.")
    luns: tuple[Annotated[int, pydantic.Field(ge=0, le=16383)], ...] = pydantic.Field(
        (), description="The target's LUNs in this pool when the URL names none; discovered with iscsi-ls if empty."
    )


class IscsiStorageDriver(StorageDriver):
    """``iscsi://portal[:port]/iqn[/lun]``: the LUN in the URL (CloudStack's form), the ``luns`` setting,
    or every data LUN ``iscsi-ls`` finds (which needs every target on the portal to accept the login).

    Volumes are named ``lun<N>``.
    """

    name: ClassVar[str] = "iscsi"
    schemes: ClassVar[frozenset[str]] = frozenset({"iscsi"})
    features: ClassVar[StorageFeatures] = StorageFeatures.PRIMARY | StorageFeatures.SHARED
    settings_model: ClassVar[type[StorageSettings]] = IscsiSettings

    def __init__(self, url: str, settings: Mapping[str, Any] | StorageSettings | None = None) -> None:
        super().__init__(url, settings)
        parts = urlsplit(url)
        segments = [unquote(s) for s in parts.path.split("/") if s]
        if not parts.hostname or not segments or not segments[0].startswith(("iqn.", "eui.", "naa.")):
            raise DriverSettingsError(f"iSCSI URL {url!r} must be iscsi://portal[:port]/<target iqn>[/<lun>]")
        if parts.username or parts.password:
            raise DriverSettingsError("put CHAP credentials in the 'chap' setting (a reference), not in the URL")
        self.host, self.port, self.iqn = parts.hostname, parts.port or 3260, segments[0]
        self.lun = int(segments[1]) if len(segments) > 1 and segments[1].isdigit() else None
        assert isinstance(self.settings, IscsiSettings)
        self._chap = self.settings.chap

    # -- helpers --------------------------------------------------------------------------------------

    def lun_url(self, lun: int) -> str:
        """The LUN's URL, without credentials: what the compute layer attaches."""
        return f"iscsi://{self.host}:{self.port}/{self.iqn}/{lun}"

    def _env(self) -> dict[str, str] | None:
        if self._chap is None:
            return None
        return {
            **os.environ,
            "LIBISCSI_CHAP_USERNAME": self._chap.username or "",
            "LIBISCSI_CHAP_PASSWORD": resolve_secret(self._chap),
        }

    @contextlib.contextmanager
    def _qemu_target(self, lun: int) -> Iterator[tuple[list[str], str]]:
        """The ``--object`` arguments and ``--image-opts`` string that reach a LUN, CHAP included."""
        opts = (
            f"driver=raw,file.driver=iscsi,file.transport=tcp,file.portal={self.host}:{self.port},"
            f"file.target={self.iqn},file.lun={lun}"
        )
        if self._chap is None:
            yield [], opts
            return
        with secret_file(resolve_secret(self._chap)) as path:
            yield [f"secret,id=chap0,file={path}"], f"{opts},file.user={self._chap.username},file.password-secret=chap0"

    def _luns(self) -> list[int]:
        assert isinstance(self.settings, IscsiSettings)
        if self.lun is not None:
            return [self.lun]
        if self.settings.luns:
            return sorted(self.settings.luns)
        output = qemu.run(
            "iscsi-ls", ["-s", f"iscsi://{self.host}:{self.port}"], timeout=60, env=self._env(), what="list LUNs"
        )
        luns, in_target = [], False
        for line in output.splitlines():
            if line.startswith("Target:"):
                in_target = line.split()[0] == f"Target:{self.iqn}"
                continue
            match = _LUN_LINE.match(line.strip())
            if in_target and match and match["type"] == "DIRECT_ACCESS":
                luns.append(int(match["lun"]))
        return luns

    def ex_lun_size(self, lun: int) -> int:
        """The LUN's size in bytes (SCSI READ CAPACITY 16)."""
        output = qemu.run(
            "iscsi-readcapacity16", [self.lun_url(lun)], timeout=60, env=self._env(), what=f"size LUN {lun}"
        )
        match = _TOTAL.search(output)
        if match is None:
            raise DriverError(f"iscsi-readcapacity16 gave no size for {self.lun_url(lun)}")
        return int(match["bytes"])

    def _lun_of(self, name: str) -> int:
        match = _VOLUME.match(name)
        if match is None or int(match["lun"]) not in self._luns():
            raise VolumeNotFoundError(f"iSCSI target {self.iqn} at {self.host}:{self.port} has no volume {name!r}")
        return int(match["lun"])

    # -- the contract -----------------------------------------------------------------------------------

    def connect(self) -> None:
        """Log in once to check the portal, the target and the CHAP credentials."""
        problem = self.probe()
        if problem:
            raise DriverError(f"iSCSI pool {self.url}: {problem}")

    def probe(self) -> str:
        """Empty when every LUN of the pool answers READ CAPACITY (a login with the CHAP credentials)."""
        try:
            luns = self._luns()
            for lun in luns:
                self.ex_lun_size(lun)
        except DriverError as error:
            return str(error)
        if not luns:
            return f"target {self.iqn} at {self.host}:{self.port} does not offer any data LUN"
        return ""

    def capacity(self) -> Capacity:
        """LUNs are fully provisioned: total, used and allocated are all the sum of their sizes."""
        total = sum(volume.virtual_size for volume in self.list_volumes())
        return Capacity(total, total, total)

    def totals(self) -> tuple[int, int | None]:
        """The LUNs' total size; used is unknown here (the pool's record of allocated LUNs is what counts)."""
        return self.capacity().total_bytes, None

    def _info(self, lun: int) -> VolumeInfo:
        size = self.ex_lun_size(lun)
        return VolumeInfo(f"lun{lun}", ImageFormat.RAW, size, size, DiskSource(self.lun_url(lun), ImageFormat.RAW))

    def list_volumes(self) -> list[VolumeInfo]:
        """One raw volume per data LUN."""
        return [self._info(lun) for lun in sorted(self._luns())]

    def get_volume(self, name: str) -> VolumeInfo:
        """A LUN by its volume name, ``lun<N>``."""
        return self._info(self._lun_of(name))

    def disk_source(self, name: str) -> DiskSource:
        """``iscsi://portal:port/iqn/lun`` (credentials stay with the pool's CHAP reference)."""
        return DiskSource(self.lun_url(self._lun_of(name)), ImageFormat.RAW)

    def copy_in(
        self,
        source: str | Path,
        dest_name: str,
        *,
        fmt: ImageFormat = ImageFormat.RAW,
        progress: Progress | None = None,
    ) -> VolumeInfo:
        """Write an image into a LUN as raw, skipping zero runs; the LUN must be large enough."""
        self._check_writable()
        lun = self._lun_of(dest_name)
        fmt = ImageFormat.parse(fmt)
        info = check_image(str(source), fmt, timeout=self.settings.command_timeout)
        size = self.ex_lun_size(lun)
        if info.virtual_size > size:
            raise DriverValueError(f"{source} needs {info.virtual_size} bytes but {dest_name} has {size}")
        with self._qemu_target(lun) as (objects, opts):
            args = ["convert", "-q", "-n", "-f", fmt.qemu_name]
            args += [item for obj in objects for item in ("--object", obj)]
            qemu.run(
                "qemu-img",
                [*args, str(source), "--target-image-opts", opts],
                timeout=self.settings.command_timeout,
                what=f"write {Path(source).name} to {dest_name}",
            )
        if progress is not None:
            progress(info.virtual_size, info.virtual_size)
        return self._info(lun)
