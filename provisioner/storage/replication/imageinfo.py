"""Format checks with ``qemu-img info``: the declared format must be the real one, and self-contained.

A qcow2 header can name a backing file or an external data file; qemu would then open that path on
the host when a VM boots, so an uploaded image could read any file the hypervisor can. Such images
are refused, as CloudStack does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from provisioner.exceptions import DriverValueError, ImageFormatError
from provisioner.storage import qemu
from provisioner.storage.types import ImageFormat


@dataclass(frozen=True, slots=True)
class ImageInfo:
    """What ``qemu-img info`` says about an image.

    Attributes:
        format: the detected format.
        virtual_size: the size the guest sees.
        actual_size: bytes it takes on disk.
        backing_file: the backing file a qcow2 header names, if any.
        data_file: the external data file a qcow2 header names, if any.
    """

    format: ImageFormat
    virtual_size: int
    actual_size: int
    backing_file: str | None = None
    data_file: str | None = None


def parse_info(raw: dict[str, Any]) -> ImageInfo:
    """Turn ``qemu-img info --output=json`` into :class:`ImageInfo` (pure)."""
    data = raw.get("format-specific", {}).get("data", {})
    try:
        detected = ImageFormat.parse(str(raw.get("format", "")))
    except DriverValueError:
        raise ImageFormatError(f"qemu-img sees format {raw.get('format')!r}, which is not supported") from None
    return ImageInfo(
        format=detected,
        virtual_size=int(raw.get("virtual-size", 0)),
        actual_size=int(raw.get("actual-size", 0)),
        backing_file=raw.get("backing-filename") or raw.get("full-backing-filename"),
        data_file=data.get("data-file"),
    )


def check_info(info: ImageInfo, declared: ImageFormat | str, *, name: str = "image") -> ImageInfo:
    """Refuse a format mismatch, a backing file or an external data file (pure).

    An ISO is declared as ISO and seen by qemu as raw.

    Raises:
        ImageFormatError: naming what is wrong.
    """
    wanted = ImageFormat.parse(declared)
    seen = ImageFormat.ISO if wanted is ImageFormat.ISO and info.format is ImageFormat.RAW else info.format
    if seen is not wanted:
        raise ImageFormatError(f"{name} is {info.format.value}, but it was registered as {wanted.value}")
    if info.backing_file:
        raise ImageFormatError(
            f"{name} references a backing file ({info.backing_file!r}); images must be self-contained"
        )
    if info.data_file:
        raise ImageFormatError(f"{name} references an external data file ({info.data_file!r}); refused")
    return info


def check_image(target: str, declared: ImageFormat | str, *, timeout: float = 120.0) -> ImageInfo:
    """Inspect an image file or URL with qemu-img and check it against its declared format.

    Raises:
        ImageFormatError: wrong format, a backing file or an external data file.
        DriverError: qemu-img cannot read it.
    """
    return check_info(parse_info(qemu.info(target, timeout=timeout)), declared, name=target)
