"""Value objects, the pure reference counts, the qcow2 header reader and the URL checks."""

from __future__ import annotations

import struct

import pytest

from provisioner.exceptions import DriverValueError, UnsafeUrlError
from provisioner.storage.qcow2 import parse_header
from provisioner.storage.refcount import BaseImageRefs
from provisioner.storage.replication.urls import check_url
from provisioner.storage.types import Capacity, DiskSource, ImageFormat, SourceKind, check_name


def test_image_formats_accept_cloudstack_and_qemu_names() -> None:
    assert ImageFormat.parse("qcow2") is ImageFormat.QCOW2
    assert ImageFormat.parse("vpc") is ImageFormat.VHD
    assert ImageFormat.VHD.qemu_name == "vpc" and ImageFormat.ISO.qemu_name == "raw"
    with pytest.raises(DriverValueError, match="QCOW2, RAW"):
        ImageFormat.parse("floppy")


def test_capacity_fractions_and_disk_source_kinds() -> None:
    capacity = Capacity(100, 25, 150)
    assert (capacity.free_bytes, capacity.used_fraction(), capacity.allocated_fraction()) == (75, 0.25, 1.5)
    assert Capacity(0, 0, 0).used_fraction() == 0.0
    with pytest.raises(DriverValueError):
        Capacity(-1, 0, 0)
    assert DiskSource("/var/lib/x", ImageFormat.RAW).kind is SourceKind.FILE
    assert DiskSource("iscsi://h/iqn.x/1", ImageFormat.RAW).kind is SourceKind.ISCSI


def test_names_are_flat_and_never_look_unfinished() -> None:
    assert check_name("volume", "root-1.qcow2") == "root-1.qcow2"
    for bad in ("a/b", "..", "-x", "x.part", "x.journal", "x" * 300):
        with pytest.raises(DriverValueError):
            check_name("volume", bad)


def test_refcounts_are_pure_and_idempotent() -> None:
    empty = BaseImageRefs()
    one = empty.acquire("tmpl-1", "root-a")
    assert empty.count("tmpl-1") == 0 and one.count("tmpl-1") == 1
    assert one.acquire("tmpl-1", "root-a") is one  # a retried acquire does not count twice
    two = one.acquire("tmpl-1", "root-b")
    after, unused = two.release("root-a")
    assert (after.count("tmpl-1"), unused) == (1, None)
    final, unused = after.release("root-b")
    assert (final.count("tmpl-1"), unused) == (0, "tmpl-1")
    assert final.release("root-b") == (final, None)  # a retried release is harmless
    assert two.unused({"tmpl-1", "tmpl-2"}) == ["tmpl-2"]


def test_qcow2_header_gives_size_and_backing() -> None:
    backing = b"tmpl-1.qcow2"
    header = struct.pack(">4sIQIIQ", b"QFI\xfb", 3, 104, len(backing), 16, 1 << 30).ljust(104, b"\0") + backing
    parsed = parse_header(header)
    assert parsed is not None
    assert (parsed.version, parsed.virtual_size, parsed.backing_file) == (3, 1 << 30, "tmpl-1.qcow2")
    assert parse_header(b"\0" * 512) is None


def test_url_checks_without_network() -> None:
    assert check_url("http://127.0.0.1:8080/t.qcow2", allow_private=True) == ("127.0.0.1", 8080)
    for url, why in [
        ("http://127.0.0.1/x", "loopback"),
        ("https://192.168.1.10/x", "private"),
        ("http://[fe80::1]/x", "link-local"),
        ("http://[::1]/x", "loopback"),
        ("http://0.0.0.0/x", "private or reserved"),
        ("ftp://example.org/x", "only http"),
        ("http://user:pw@127.0.0.1/x", "credentials"),
    ]:
        with pytest.raises(UnsafeUrlError, match=why):
            check_url(url, allow_private=False)
