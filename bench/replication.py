"""Benchmark: template replication and download against ``cp --sparse=always`` and ``curl -o``, in one run.

Images (in a temporary directory under /tmp, removed at the end):

* a 2 GiB raw image, 50 % holes (alternating 64 MiB of random data and 64 MiB holes);
* a 2 GiB qcow2 (virtual 2 GiB, fully written, so the file is about 2 GiB).

Each is copied store to store (two directories: the stores' local views) by the replication engine
and by ``cp --sparse=always``, alternating, several rounds; the best round of each counts. The engine
fsyncs before publishing, so the baseline is ``cp`` followed by ``sync FILE`` (the same durability;
plain ``cp`` is printed too). Then the raw image is downloaded from a loopback HTTP server (a separate
process that answers with ``sendfile``) by the download path, with sha256 verification, and by
``curl -o`` followed by ``sync FILE``.

Floors (exit status 1 when one is missed): engine >= 90 % of cp throughput; allocated size of the
copy within 1 % of the source; the checksum computed in the same pass (each data byte read once and
the digest equal to the source's sha256); download >= 80 % of curl.

Run: ``.venv/bin/python bench/replication.py [--rounds N] [--size-gib N]``.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

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


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(8 * MIB):
            digest.update(chunk)
    return digest.hexdigest()


def data_bytes(path: Path) -> int:
    """Bytes in data extents (SEEK_DATA): what a single pass must read, holes excluded."""
    with open(path, "rb") as handle:
        return sum(e.length for e in iter_extents(handle.fileno(), 0, os.fstat(handle.fileno()).st_size) if e.data)


def hash_only(size: int) -> None:
    """sha256 over ``size`` bytes of one cached buffer: the CPU floor of any copy that hashes inline."""
    digest, block = hashlib.sha256(), memoryview(bytes(512 * 1024))
    for _ in range(size // len(block)):
        digest.update(block)


def timed(action: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    result = action()
    return time.perf_counter() - start, result


def settle(*paths: Path) -> None:
    """Delete earlier copies and flush dirty pages, so one run's writeback does not slow the next."""
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    os.sync()


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


def bench_copy(name: str, source: Path, store_b: Path, rounds: int, failures: list[str]) -> None:
    size = source.stat().st_size
    expected = sha256(source)
    hash_seconds = timed(lambda: hash_only(size))[0]
    engine_dest, cp_dest = store_b / f"{name}.engine", store_b / f"{name}.cp"
    engine_times, cp_times, plain_times = [], [], []
    result: CopyResult | None = None
    for _ in range(rounds):
        settle(engine_dest)
        seconds, outcome = timed(lambda: copy_image(source, engine_dest))
        assert isinstance(outcome, CopyResult)
        engine_times.append(seconds)
        result = outcome
        settle(cp_dest)
        cp_times.append(timed(lambda: cp_sync(source, cp_dest))[0])
        settle(cp_dest)
        plain_times.append(timed(lambda: subprocess.run(["cp", "--sparse=always", source, cp_dest], check=True))[0])
    assert result is not None
    engine, baseline = mibps(size, min(engine_times)), mibps(size, min(cp_times))
    ratio = engine / baseline
    src_alloc, copy_alloc = allocated_bytes(source), allocated_bytes(engine_dest)
    drift = abs(copy_alloc - src_alloc) / src_alloc
    data = data_bytes(source)
    one_pass = result.hexdigest == expected and result.bytes_copied == data
    print(f"\n{name}: {size / GIB:.1f} GiB logical, {src_alloc / GIB:.2f} GiB allocated")
    print(f"  engine          {engine:8.0f} MiB/s  (runs {', '.join(f'{t:.2f}' for t in engine_times)} s)")
    print(f"  cp + sync       {baseline:8.0f} MiB/s  (runs {', '.join(f'{t:.2f}' for t in cp_times)} s)")
    print(f"  cp (no fsync)   {mibps(size, min(plain_times)):8.0f} MiB/s  (for reference)")
    print(f"  ratio to cp     {ratio:8.1%}   floor 90 %")
    ceiling = min(cp_times) / hash_seconds
    print(f"  sha256 alone    {mibps(size, hash_seconds):8.0f} MiB/s  (caps inline hashing at {ceiling:.0%} of cp)")
    print(
        f"  allocated       copy {copy_alloc / MIB:.0f} MiB vs source {src_alloc / MIB:.0f} MiB: {drift:.2%} (<= 1 %)"
    )
    print(
        f"  checksum        sha256 {result.hexdigest[:16]}… equals the source's: {result.hexdigest == expected}; "
        f"data bytes read once ({result.bytes_copied / MIB:.0f} of {data / MIB:.0f} MiB): {result.bytes_copied == data}"
    )
    if ratio < 0.90:
        failures.append(f"{name}: engine at {ratio:.1%} of cp")
    if drift > 0.01:
        failures.append(f"{name}: allocated size differs by {drift:.2%}")
    if not one_pass:
        failures.append(f"{name}: checksum not computed in the copying pass")


def bench_download(source: Path, store: Path, rounds: int, failures: list[str]) -> None:
    size = source.stat().st_size
    expected = "{SHA256}" + sha256(source)
    settings = DownloadSettings(allow_private=True)
    ours, curl = store / "download.engine", store / "download.curl"
    our_times, curl_times = [], []
    with http_server(source.parent) as base:
        url = f"{base}/{source.name}"
        for _ in range(rounds):
            settle(ours)
            our_times.append(timed(lambda: download(url, ours, expected=expected, settings=settings))[0])
            settle(curl)
            curl_times.append(
                timed(lambda: subprocess.run(["curl", "-s", "-o", str(curl), url], check=True) and None)[0]
                + timed(lambda: subprocess.run(["sync", str(curl)], check=True))[0]
            )
    engine, baseline = mibps(size, min(our_times)), mibps(size, min(curl_times))
    ratio = engine / baseline
    print("\ndownload of the raw image from a loopback HTTP server (sha256 verified inline)")
    print(f"  download path   {engine:8.0f} MiB/s  (runs {', '.join(f'{t:.2f}' for t in our_times)} s)")
    print(f"  curl -o + sync  {baseline:8.0f} MiB/s  (runs {', '.join(f'{t:.2f}' for t in curl_times)} s)")
    print(f"  ratio to curl   {ratio:8.1%}   floor 80 %")
    print(f"  allocated       {allocated_bytes(ours) / MIB:.0f} MiB (zero runs kept as holes)")
    if ratio < 0.80:
        failures.append(f"download at {ratio:.1%} of curl")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per contender (best counts)")
    parser.add_argument("--size-gib", type=float, default=2.0, help="image size in GiB")
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
        bench_copy("raw, 50 % holes", store_a / "template.raw", store_b, args.rounds, failures)
        bench_copy("qcow2", store_a / "template.qcow2", store_b, args.rounds, failures)
        bench_download(store_a / "template.raw", store_b, args.rounds, failures)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"\nload average at end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print("\n" + ("FAILED: " + "; ".join(failures) if failures else "all floors met"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
