"""The store-to-store copy engine: holes, inline checksums, resume after kill -9, atomic publish."""

from __future__ import annotations

import errno
import hashlib
import itertools
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import xxhash

from provisioner.exceptions import ChecksumMismatchError, DriverValueError, VolumeExistsError, VolumeNotFoundError
from provisioner.storage.replication.checksum import ENGINE_ALGORITHM, Checksum, hash_file
from provisioner.storage.replication.copy import copy_image, percent, status_text
from provisioner.storage.replication.extents import iter_extents
from provisioner.storage.replication.journal import load
from provisioner.storage.replication.sink import InlineHasher, journal_path, part_path
from tests.unit.storage.contract import MIB, make_sparse_raw

DATA_AT = (0, 8 * MIB, 9 * MIB, 30 * MIB)


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def source(tmp_path: Path) -> Path:
    return make_sparse_raw(tmp_path / "src.raw", 48 * MIB, DATA_AT)


def xxh3_of(path: Path) -> str:
    return xxhash.xxh3_128(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("kernel", [True, False], ids=["copy_file_range", "buffered"])
def test_holes_stay_holes_and_checksum_matches_sha256sum(
    source: Path, tmp_path: Path, kernel: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not kernel:
        monkeypatch.delattr(os, "copy_file_range")
    dest = tmp_path / "dst.raw"
    digest = subprocess.run(["sha256sum", str(source)], capture_output=True, text=True, check=True).stdout.split()[0]
    result = copy_image(source, dest, expected=f"{{SHA256}}{digest}")
    assert dest.read_bytes() == source.read_bytes()
    assert dest.stat().st_blocks == source.stat().st_blocks
    assert result.hexdigest == digest
    assert result.bytes_copied == len(DATA_AT) * MIB  # each data byte read once, holes never read
    assert str(result.checksum()) == f"{{SHA256}}{digest}"
    assert not part_path(dest).exists() and not journal_path(dest).exists()


def test_without_expected_checksum_the_engine_computes_xxh3(source: Path, tmp_path: Path) -> None:
    result = copy_image(source, tmp_path / "d")
    assert (result.algorithm, result.hexdigest) == (ENGINE_ALGORITHM, xxh3_of(source))
    assert str(result.checksum()) == "{XXH3}" + xxh3_of(source)
    assert Checksum.parse(str(result.checksum())) == result.checksum()
    with pytest.raises(ChecksumMismatchError):
        copy_image(source, tmp_path / "e", expected="{XXH3}" + "0" * 32)


def test_refused_copy_file_range_falls_back_to_buffers(
    source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*_: object) -> int:
        raise OSError(errno.EXDEV, "cross-device")

    monkeypatch.setattr(os, "copy_file_range", refuse)
    result = copy_image(source, tmp_path / "d")
    assert result.hexdigest == xxh3_of(source) and result.bytes_copied == len(DATA_AT) * MIB
    assert (tmp_path / "d").read_bytes() == source.read_bytes()


def test_extents_cover_the_file_without_gaps(source: Path) -> None:
    with open(source, "rb") as handle:
        extents = list(iter_extents(handle.fileno(), 0, 48 * MIB))
    assert extents[0].offset == 0 and extents[-1].end == 48 * MIB
    assert all(a.end == b.offset for a, b in itertools.pairwise(extents))
    assert sum(e.length for e in extents if e.data) == len(DATA_AT) * MIB


@pytest.mark.parametrize("algorithm", ["sha512", "md5"])
def test_expected_checksum_picks_the_algorithm(source: Path, tmp_path: Path, algorithm: str) -> None:
    digest = hashlib.new(algorithm, source.read_bytes()).hexdigest()
    result = copy_image(source, tmp_path / "d", expected=f"{{{algorithm.upper()}}}{digest}")
    assert (result.algorithm, result.hexdigest) == (algorithm, digest)


def test_mismatch_publishes_nothing(source: Path, tmp_path: Path) -> None:
    dest = tmp_path / "bad.raw"
    with pytest.raises(ChecksumMismatchError, match="nothing was published"):
        copy_image(source, dest, expected="0" * 64)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src.raw"]


def test_existing_destination_and_missing_source(source: Path, tmp_path: Path) -> None:
    with pytest.raises(VolumeExistsError):
        copy_image(source, source)
    with pytest.raises(VolumeNotFoundError):
        copy_image(tmp_path / "nope", tmp_path / "x")


def test_progress_reaches_the_total_and_percent_is_cloudstack_like(source: Path, tmp_path: Path) -> None:
    seen: list[tuple[int, int]] = []
    copy_image(source, tmp_path / "d", progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (48 * MIB, 48 * MIB)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert (percent(0, 0), percent(1, 3), percent(2999, 3000), percent(5, 5)) == (0, 33, 99, 100)
    assert status_text(1, 3) == "33% Downloaded"
    assert (status_text(3, 3), status_text(3, 3, iso=True)) == ("Installing Template", "Installing ISO")
    assert status_text(3, 3, finished=True) == "Download Complete"


def test_checksum_forms() -> None:
    hex64 = "ab" * 32
    assert Checksum.parse(f"{{SHA256}}{hex64}") == Checksum("sha256", hex64)
    assert Checksum.parse(hex64.upper()) == Checksum("sha256", hex64)
    assert Checksum.parse("{md5}" + "0" * 32).algorithm == "md5"
    assert Checksum.parse("c" * 128).algorithm == "sha512"
    for bad in ("{SHA256}abc", "{CRC32}00", "xyz", "{SHA512}" + "0" * 64):
        with pytest.raises(DriverValueError):
            Checksum.parse(bad)


def test_hash_file_and_a_second_inline_algorithm_give_each_algorithms_digest(tmp_path: Path) -> None:
    data = os.urandom(3 * MIB) + bytes(MIB)
    path = tmp_path / "f"
    path.write_bytes(data)
    expected = [hashlib.sha256(data).hexdigest(), xxhash.xxh3_128(data).hexdigest()]
    assert hash_file(path, "sha256", ENGINE_ALGORITHM) == expected
    hasher = InlineHasher("sha256", also=ENGINE_ALGORITHM)
    try:
        hasher.update(data[: 3 * MIB])
        hasher.zeros(MIB)  # a hole feeds both hashes too
        assert hasher.hexdigests() == expected
    finally:
        hasher.close()


_CHILD = textwrap.dedent(
    """
    import sys, time
    from provisioner.storage.replication.copy import copy_image
    def slow(done, total):
        if done >= {stop}:
            open({marker!r}, "w").close()
            time.sleep(600)
    copy_image({source!r}, {dest!r}, progress=slow, checkpoint_bytes={checkpoint})
    """
)


def test_resume_after_kill_does_not_copy_finished_extents(source: Path, tmp_path: Path) -> None:
    dest, marker = tmp_path / "dst.raw", tmp_path / "marker"
    script = _CHILD.format(stop=9 * MIB, marker=str(marker), source=str(source), dest=str(dest), checkpoint=MIB)
    child = subprocess.Popen([sys.executable, "-c", script], cwd=Path(__file__).parents[3])
    try:
        deadline = time.monotonic() + 30
        while not marker.exists() and time.monotonic() < deadline and child.poll() is None:
            time.sleep(0.02)
        assert marker.exists(), "the child copy never reached the stop point"
        time.sleep(0.2)  # let the background checkpoint land
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(timeout=10)
    assert child.returncode == -signal.SIGKILL
    assert not dest.exists() and part_path(dest).exists()
    journal = load(journal_path(dest))
    assert journal is not None and journal.done >= 8 * MIB
    result = copy_image(source, dest)
    assert result.bytes_resumed == journal.done
    already = sum(MIB for offset in DATA_AT if offset + MIB <= journal.done)
    assert result.bytes_copied == len(DATA_AT) * MIB - already
    assert result.hexdigest == xxh3_of(source)
    assert dest.read_bytes() == source.read_bytes()
    assert not journal_path(dest).exists()


def test_a_changed_source_restarts_instead_of_resuming(source: Path, tmp_path: Path) -> None:
    dest = tmp_path / "dst.raw"
    part_path(dest).write_bytes(b"stale")
    journal_path(dest).write_text(
        json.dumps({"source": {"path": "other"}, "algorithm": "sha256", "size": 5, "done": 5, "version": 1})
    )
    result = copy_image(source, dest, algorithm="sha256")
    assert result.bytes_resumed == 0
    assert result.hexdigest == sha256_of(source)


def test_mapped_ranges_need_not_be_page_aligned(tmp_path: Path) -> None:
    path = tmp_path / "f"
    payload = os.urandom(3 * 4096 + 123)
    path.write_bytes(payload)
    hasher = InlineHasher(ENGINE_ALGORITHM)
    with open(path, "rb") as handle:
        hasher.mapped(handle.fileno(), 0, 100)
        hasher.mapped(handle.fileno(), 100, 5000)
        hasher.zeros(7)
        hasher.mapped(handle.fileno(), 5100, len(payload) - 5100)
        digest = hasher.hexdigest()
    hasher.close()
    assert digest == xxhash.xxh3_128(payload[:5100] + bytes(7) + payload[5100:]).hexdigest()


def test_a_range_past_the_end_is_refused_instead_of_mapped(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"x" * 8192)
    hasher = InlineHasher(ENGINE_ALGORITHM)
    try:
        with open(path, "rb") as handle:
            hasher.mapped(handle.fileno(), 4096, 8192)  # the file shrank: mapping it would SIGBUS
            with pytest.raises(OSError, match="shrank"):
                hasher.hexdigest()
    finally:
        hasher.close()
