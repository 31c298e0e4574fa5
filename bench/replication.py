"""Benchmark: template replication and download against ``cp --sparse=always`` and ``curl -o``, in one run.

Images (in a temporary directory under /tmp, removed at the end):

* a 2 GiB raw image, 50 % holes (alternating 64 MiB of random data and 64 MiB holes);
* a 2 GiB qcow2 (virtual 2 GiB, fully written, so the file is about 2 GiB).

Each is copied store to store (two directories: the stores' local views) by the replication engine
and by ``cp --sparse=always``, interleaved (the order rotates every round), several rounds after
an untimed one; the figure is the median of the per-round ratios. The engine fsyncs before publishing, so the baseline
is ``cp`` followed by ``sync FILE`` (the same durability; plain ``cp`` is printed too). Before every
run, of either contender, earlier copies are deleted, dirty pages are flushed (``sync``) and the
source's page-cache state is set the same way: ``--cache warm`` (default) reads it into the page
cache, ``--cache cold`` drops its pages (``posix_fadvise(DONTNEED)``), so both read it from disk.

The engine computes its integrity checksum (XXH3-128, what it records when the user gave no
checksum) in the copying pass; the bench checks that it equals an independent XXH3-128 of the
source's logical content and of the copy read back, that each data byte was copied once (holes
never read), and that the allocated size of the copy is within 1 % of the source's. The path taken
when the user gave a ``{SHA256}`` checksum (verified with SHA-256, inline) is measured too and
printed for reference, without a floor. Then the raw image is downloaded from a loopback HTTP
server (a separate process that answers with ``sendfile``) by the download path, with sha256
verification, and by ``curl -o`` followed by ``sync FILE``, interleaved the same way.

Floors (exit status 1 when one is missed): engine >= 90 % of cp throughput (median ratio);
allocated size of the copy within 1 % of the source; the checksum computed in the same pass and
verified; download >= 80 % of curl (median ratio). The load average is printed with each figure.

Run: ``.venv/bin/python bench/replication.py [--rounds N] [--size-gib N] [--cache warm|cold]``.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import xxhash

from provisioner.storage.replication.checksum import ENGINE_ALGORITHM, Checksum, new_hash
from provisioner.storage.replication.copy import CopyResult, copy_image
from provisioner.storage.replication.download import DownloadSettings, download
from provisioner.storage.replication.extents import allocated_bytes, iter_extents

MIB = 1 << 20
GIB = 1 << 30
STRIPE = 64 * MIB

SERVER = r"""
import http.server, os, sys
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_GET(self):
        path = os.path.join(sys.argv[2], os.path.basename(self.path))
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            self.send_response(200)
            self.send_header("Content-Length", str(size))
            self.end_headers()
            self.wfile.flush()
            self.connection.sendfile(f)
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"""


def make_raw(path: Path, size: int) -> None:
    """Alternate 64 MiB of random data and 64 MiB holes."""
    with open(path, "wb") as handle:
        handle.truncate(size)
        for offset in range(0, size, 2 * STRIPE):
            handle.seek(offset)
            for _ in range(STRIPE // (8 * MIB)):
                handle.write(os.urandom(8 * MIB))


def make_qcow2(path: Path, size: int) -> None:
    """A qcow2 whose every cluster is written, so the file is as large as the disk."""
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(path), str(size)], check=True)
    step = 256 * MIB  # qemu-io takes at most 2 GiB - 1 per request
    commands = [arg for offset in range(0, size, step) for arg in ("-c", f"write -P 0x5a {offset} {step}")]
    subprocess.run(["qemu-io", *commands, str(path)], check=True, capture_output=True)


def file_digest(path: Path, algorithm: str) -> str:
    """The digest of the whole logical content (holes read as zeros) by plain reads, apart from the engine."""
    digest = xxhash.xxh3_128() if algorithm == "xxh3_128" else hashlib.new(algorithm)
    with open(path, "rb") as handle:
        while chunk := handle.read(8 * MIB):
            digest.update(chunk)
    return digest.hexdigest()


def data_bytes(path: Path) -> int:
    """Bytes in data extents (SEEK_DATA): what a single pass must read, holes excluded."""
    with open(path, "rb") as handle:
        return sum(e.length for e in iter_extents(handle.fileno(), 0, os.fstat(handle.fileno()).st_size) if e.data)


def hash_only(size: int, algorithm: str) -> float:
    """Seconds to hash ``size`` bytes of one cached buffer: the CPU cost of hashing inline."""
    digest, block = new_hash(algorithm), memoryview(bytes(512 * 1024))
    start = time.perf_counter()
    for _ in range(size // len(block)):
        digest.update(block)
    return time.perf_counter() - start


def timed(action: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    result = action()
    return time.perf_counter() - start, result


def load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def prepare(source: Path, cache: str, *stale: Path) -> None:
    """The same starting state for every run: no earlier copy, no dirty pages, the source warm or cold."""
    for path in stale:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    os.sync()
    with open(source, "rb", buffering=0) as handle:
        fd = handle.fileno()
        if cache == "cold":
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        else:
            buffer = memoryview(bytearray(8 * MIB))
            for extent in iter_extents(fd, 0, os.fstat(fd).st_size):
                offset = extent.offset
                while extent.data and offset < extent.end:
                    offset += os.preadv(fd, [buffer[: min(len(buffer), extent.end - offset)]], offset) or extent.end


def cp_sync(source: Path, dest: Path) -> None:
    subprocess.run(["cp", "--sparse=always", str(source), str(dest)], check=True)
    subprocess.run(["sync", str(dest)], check=True)


def mibps(size: int, seconds: float) -> float:
    return size / MIB / seconds


@contextlib.contextmanager
def http_server(root: Path) -> Iterator[str]:
    with contextlib.closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-c", SERVER, str(port), str(root)])
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.closing(socket.socket()) as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


#: Untimed rounds first: the first runs after the images were made measured 3-8x slower for both.
WARMUP = 1


def interleave(
    rounds: int, contenders: dict[str, tuple[Path, Callable[[], object]]], before: Callable[[Path], None]
) -> tuple[dict[str, list[float]], dict[str, object]]:
    """Run every contender (its output file, its action) once per round, in an order that rotates each
    round, after :data:`WARMUP` untimed rounds; ``before(output)`` runs before each, untimed."""
    times: dict[str, list[float]] = {name: [] for name in contenders}
    last: dict[str, object] = {}
    names = list(contenders)
    for turn in range(WARMUP + rounds):
        for name in names[turn % len(names) :] + names[: turn % len(names)]:
            output, action = contenders[name]
            before(output)
            seconds, last[name] = timed(action)
            if turn >= WARMUP:
                times[name].append(seconds)
    return times, last


def runs(times: list[float]) -> str:
    return ", ".join(f"{t:.2f}" for t in times)


def bench_copy(name: str, source: Path, store_b: Path, *, rounds: int, cache: str, failures: list[str]) -> None:
    size = source.stat().st_size
    user = Checksum("sha256", file_digest(source, "sha256"))
    engine_dest, sha_dest, cp_dest, plain_dest = (
        store_b / f"{name}.{kind}" for kind in ("engine", "sha", "cp", "plain")
    )
    print(
        f"\n{name}: {size / GIB:.1f} GiB logical, {allocated_bytes(source) / GIB:.2f} GiB allocated; "
        f"load {load()} at start; source {cache} before every run",
        flush=True,
    )
    times, last = interleave(
        rounds,
        {
            "engine": (engine_dest, lambda: copy_image(source, engine_dest)),
            "cp": (cp_dest, lambda: cp_sync(source, cp_dest)),
            "engine-sha256": (sha_dest, lambda: copy_image(source, sha_dest, expected=user)),
            "plain": (plain_dest, lambda: subprocess.run(["cp", "--sparse=always", source, plain_dest], check=True)),
        },
        lambda output: prepare(source, cache, output),
    )
    result, sha_result = last["engine"], last["engine-sha256"]
    assert isinstance(result, CopyResult) and isinstance(sha_result, CopyResult)
    ratios = [c / e for c, e in zip(times["cp"], times["engine"], strict=True)]
    sha_ratios = [c / e for c, e in zip(times["cp"], times["engine-sha256"], strict=True)]
    ratio, sha_ratio = statistics.median(ratios), statistics.median(sha_ratios)
    median = {key: statistics.median(value) for key, value in times.items()}
    src_alloc, copy_alloc = allocated_bytes(source), allocated_bytes(engine_dest)
    drift = abs(copy_alloc - src_alloc) / src_alloc
    data = data_bytes(source)
    reference, copy_reference = file_digest(source, ENGINE_ALGORITHM), file_digest(engine_dest, ENGINE_ALGORITHM)
    verified = result.algorithm == ENGINE_ALGORITHM and result.hexdigest == reference == copy_reference
    one_pass = verified and result.bytes_copied == data
    print(f"  engine (XXH3)   {mibps(size, median['engine']):8.0f} MiB/s  (runs {runs(times['engine'])} s)")
    print(f"  cp + sync       {mibps(size, median['cp']):8.0f} MiB/s  (runs {runs(times['cp'])} s)")
    print(f"  cp (no fsync)   {mibps(size, median['plain']):8.0f} MiB/s  (for reference)")
    print(f"  ratio to cp     {ratio:8.1%}   median of {', '.join(f'{r:.0%}' for r in ratios)}; floor 90 %")
    print(f"  (ratio of the median times, for comparison: {median['cp'] / median['engine']:.1%})")
    print(
        f"  engine, user's {{SHA256}} verified: {mibps(size, median['engine-sha256']):.0f} MiB/s, "
        f"{sha_ratio:.1%} of cp "
        f"(runs {runs(times['engine-sha256'])} s; no floor), digest equal: {sha_result.hexdigest == user.hexdigest}"
    )
    for algorithm in ("sha256", ENGINE_ALGORITHM):
        seconds = hash_only(size, algorithm)
        print(f"  {algorithm} alone {mibps(size, seconds):8.0f} MiB/s  (CPU to hash the logical size: {seconds:.2f} s)")
    print(
        f"  allocated       copy {copy_alloc / MIB:.0f} MiB vs source {src_alloc / MIB:.0f} MiB: {drift:.2%} (<= 1 %)"
    )
    print(
        f"  checksum        XXH3 {result.hexdigest[:16]}… equals the source's and the copy's, hashed apart: "
        f"{verified}; data bytes copied once ({result.bytes_copied / MIB:.0f} of {data / MIB:.0f} MiB): "
        f"{result.bytes_copied == data}"
    )
    print(f"  load at end     {load()}")
    if ratio < 0.90:
        failures.append(f"{name}: engine at {ratio:.1%} of cp")
    if drift > 0.01:
        failures.append(f"{name}: allocated size differs by {drift:.2%}")
    if not one_pass or sha_result.hexdigest != user.hexdigest:
        failures.append(f"{name}: checksum not computed in the copying pass or not equal to the source's")


def bench_download(source: Path, store: Path, rounds: int, cache: str, failures: list[str]) -> None:
    size = source.stat().st_size
    expected = "{SHA256}" + file_digest(source, "sha256")
    settings = DownloadSettings(allow_private=True)
    ours, curl = store / "download.engine", store / "download.curl"
    print(f"\ndownload of the raw image from a loopback HTTP server (sha256 verified inline); load {load()}")
    with http_server(source.parent) as base:
        url = f"{base}/{source.name}"
        times, _ = interleave(
            rounds,
            {
                "ours": (ours, lambda: download(url, ours, expected=expected, settings=settings)),
                "curl": (curl, lambda: cp_sync_curl(url, curl)),
            },
            lambda output: prepare(source, cache, output),
        )
    ratios = [c / o for c, o in zip(times["curl"], times["ours"], strict=True)]
    ratio = statistics.median(ratios)
    print(
        f"  download path   {mibps(size, statistics.median(times['ours'])):8.0f} MiB/s  (runs {runs(times['ours'])} s)"
    )
    print(
        f"  curl -o + sync  {mibps(size, statistics.median(times['curl'])):8.0f} MiB/s  (runs {runs(times['curl'])} s)"
    )
    print(f"  ratio to curl   {ratio:8.1%}   median of {', '.join(f'{r:.0%}' for r in ratios)}; floor 80 %")
    of_medians = statistics.median(times["curl"]) / statistics.median(times["ours"])
    print(f"  (ratio of the median times, for comparison: {of_medians:.1%})")
    print(f"  allocated       {allocated_bytes(ours) / MIB:.0f} MiB (zero runs kept as holes); load at end {load()}")
    if ratio < 0.80:
        failures.append(f"download at {ratio:.1%} of curl")


def cp_sync_curl(url: str, dest: Path) -> None:
    subprocess.run(["curl", "-s", "-o", str(dest), url], check=True)
    subprocess.run(["sync", str(dest)], check=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds per contender (median ratio counts)")
    parser.add_argument("--size-gib", type=float, default=2.0, help="image size in GiB")
    parser.add_argument("--cache", choices=("warm", "cold"), default="warm", help="source page-cache state per run")
    args = parser.parse_args()
    print(f"load average at start: {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")
    for tool in ("qemu-img", "qemu-io", "cp", "curl", "sync"):
        if shutil.which(tool) is None:
            print(f"{tool} is not installed (make .stamps/venv installs it)", file=sys.stderr)
            return 2
    size = int(args.size_gib * GIB) // (2 * STRIPE) * (2 * STRIPE)
    work = Path(tempfile.mkdtemp(prefix="provisioner-bench-", dir="/tmp"))
    failures: list[str] = []
    try:
        store_a, store_b = work / "store-a", work / "store-b"
        store_a.mkdir()
        store_b.mkdir()
        print(f"preparing images in {work} ...", flush=True)
        make_raw(store_a / "template.raw", size)
        make_qcow2(store_a / "template.qcow2", size)
        bench_copy(
            "raw, 50 % holes",
            store_a / "template.raw",
            store_b,
            rounds=args.rounds,
            cache=args.cache,
            failures=failures,
        )
        bench_copy(
            "qcow2", store_a / "template.qcow2", store_b, rounds=args.rounds, cache=args.cache, failures=failures
        )
        bench_download(store_a / "template.raw", store_b, rounds=args.rounds, cache=args.cache, failures=failures)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"\nload average at end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print("\n" + ("FAILED: " + "; ".join(failures) if failures else "all floors met"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
