"""Format detection with ``qemu-img info``: mismatches, backing files and external data files are refused."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from provisioner.exceptions import ImageFormatError
from provisioner.storage.replication.imageinfo import ImageInfo, check_image, check_info, parse_info
from provisioner.storage.types import ImageFormat
from tests.support.tools import require_tool
from tests.unit.storage.contract import MIB, make_sparse_raw


def qemu_img(*args: str) -> None:
    subprocess.run([require_tool("qemu-img"), *args], check=True, capture_output=True)


def test_detects_and_accepts_the_declared_format(tmp_path: Path) -> None:
    raw = make_sparse_raw(tmp_path / "a.raw")
    qemu_img("create", "-q", "-f", "qcow2", str(tmp_path / "a.qcow2"), "64M")
    assert check_image(str(raw), "RAW").format is ImageFormat.RAW
    info = check_image(str(tmp_path / "a.qcow2"), ImageFormat.QCOW2)
    assert (info.format, info.virtual_size) == (ImageFormat.QCOW2, 64 * MIB)
    assert check_image(str(raw), "iso").format is ImageFormat.RAW  # an ISO is raw to qemu


def test_mismatch_is_refused(tmp_path: Path) -> None:
    qemu_img("create", "-q", "-f", "qcow2", str(tmp_path / "q.img"), "1M")
    with pytest.raises(ImageFormatError, match="is QCOW2, but it was registered as RAW"):
        check_image(str(tmp_path / "q.img"), "RAW")


def test_qcow2_with_a_backing_file_is_refused(tmp_path: Path) -> None:
    qemu_img("create", "-q", "-f", "qcow2", str(tmp_path / "base.qcow2"), "1M")
    qemu_img(
        "create",
        "-q",
        "-u",
        "-f",
        "qcow2",
        "-F",
        "qcow2",
        "-b",
        "/etc/shadow-lookalike",
        str(tmp_path / "evil.qcow2"),
        "1M",
    )
    with pytest.raises(ImageFormatError, match="backing file"):
        check_image(str(tmp_path / "evil.qcow2"), "QCOW2")


def test_qcow2_with_an_external_data_file_is_refused(tmp_path: Path) -> None:
    qemu_img("create", "-q", "-f", "qcow2", "-o", f"data_file={tmp_path / 'data.bin'}", str(tmp_path / "d.qcow2"), "1M")
    with pytest.raises(ImageFormatError, match="external data file"):
        check_image(str(tmp_path / "d.qcow2"), "QCOW2")


def test_parse_info_is_pure() -> None:
    info = parse_info({"format": "vpc", "virtual-size": 5, "actual-size": 1})
    assert info == ImageInfo(ImageFormat.VHD, 5, 1)
    with pytest.raises(ImageFormatError, match="not supported"):
        parse_info({"format": "luks"})
    with pytest.raises(ImageFormatError):
        check_info(info, "QCOW2")
