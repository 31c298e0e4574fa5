"""``make demo``: a working cloud on embedded defaults, in the same commands a user would type.

The demo validates ``examples/lab.yaml``, renders its Ansible project, starts ``provisioner serve``
on an embedded SQLite database, syncs the topology into it through the CloudStack API, and shows
what the server now holds. State lives in ``.work/demo/`` so a second run reuses it (and the sync
then plans nothing). Secrets are never printed: the API keys go to a 0600 file.
"""

from __future__ import annotations

import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.table import Table

from provisioner.client import CloudStackClient, Credentials

console = Console(highlight=False, soft_wrap=True)
ROOT = Path(__file__).resolve().parents[1]
TOPOLOGY = ROOT / "examples" / "lab.yaml"
WORK = Path(os.environ.get("PROVISIONER_DEMO_DIR", ROOT / ".work" / "demo"))
EXE = str(Path(sys.executable).parent / "provisioner")
STARTUP_SECONDS = 60.0


def _step(title: str) -> None:
    console.rule(f"[bold]{title}")


def _run(args: Sequence[str], *, capture: bool = False) -> subprocess.CompletedProcess[str]:
    """Run a provisioner command, echoing it the way a user would type it."""
    shown = ["provisioner", *args[1:]] if args[0] == EXE else list(args)
    console.print(f"[dim]$ {shlex.join(shown)}[/]")
    result = subprocess.run(args, text=True, capture_output=capture, check=False)
    if result.returncode != 0:
        if capture:
            sys.stderr.write(result.stderr)
        raise SystemExit(f"demo: `{shlex.join(shown)}` failed with exit code {result.returncode}")
    return result


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until_up(port: int, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"demo: the server exited with code {server.returncode}; see {WORK / 'server.log'}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"demo: the server did not answer within {STARTUP_SECONDS:.0f} s; see {WORK / 'server.log'}")


def _show_cloud(client: CloudStackClient) -> None:
    zones = client.list_all("listZones")
    hosts = client.list_all("listHosts")
    pools = client.list_all("listStoragePools")
    stores = client.list_all("listImageStores")
    table = Table(title="What the management server holds", title_justify="left")
    for column in ("kind", "name", "state", "detail"):
        table.add_column(column)
    for zone in zones:
        table.add_row("zone", zone["name"], zone.get("allocationstate", ""), zone.get("networktype", ""))
    for host in hosts:
        detail = (
            f"{host.get('hypervisor', '')} {host.get('cpunumber', '?')} cores, {host.get('memorytotal', 0) >> 30} GiB"
        )
        table.add_row("host", host["name"], f"{host.get('state')}/{host.get('resourcestate')}", detail)
    for pool in pools:
        table.add_row("primary storage", pool["name"], pool.get("state", ""), f"{pool.get('type')} {pool.get('scope')}")
    for store in stores:
        table.add_row("image store", store["name"], "", store.get("url", ""))
    console.print(table)


def main() -> None:
    """Run the demo from validation to a synced, running management server."""
    WORK.mkdir(parents=True, exist_ok=True)
    data_dir = WORK / "data"
    _step("1. Validate the topology")
    _run([EXE, "validate", str(TOPOLOGY)])

    _step("2. Render its Ansible project")
    _run([EXE, "render", str(TOPOLOGY), "-o", str(WORK / "ansible")])

    _step("3. Start the management server (embedded SQLite, simulator hypervisor)")
    port = _free_port()
    url = f"http://127.0.0.1:{port}/client/api"
    console.print(f"[dim]$ provisioner serve --data-dir {data_dir} --port {port}[/]")
    with (WORK / "server.log").open("ab") as log:
        server = subprocess.Popen(
            [EXE, "serve", "--data-dir", str(data_dir), "--port", str(port)], stdout=log, stderr=subprocess.STDOUT
        )
    try:
        _wait_until_up(port, server)
        keys_json = _run([EXE, "admin", "keys", "--data-dir", str(data_dir), "--json"], capture=True).stdout
        key_file = WORK / "api-keys.json"
        key_file.touch(mode=0o600)
        key_file.chmod(0o600)
        key_file.write_text(keys_json, encoding="utf-8")
        console.print(f"admin API keys saved to {key_file} (mode 0600)")

        _step("4. Plan, then apply, the topology through the CloudStack API")
        _run([EXE, "sync", str(TOPOLOGY), "--api", url, "--api-key-file", str(key_file)])
        _run([EXE, "sync", str(TOPOLOGY), "--api", url, "--api-key-file", str(key_file), "--apply"])

        _step("5. The cloud, as any CloudStack client sees it")
        credentials = Credentials.resolve(url, key_file=key_file)
        with CloudStackClient(credentials) as client:
            _show_cloud(client)
        console.print(
            "\nTry it yourself:\n"
            f"  provisioner serve --data-dir {data_dir}          # the same server, on port 8080\n"
            f"  provisioner admin keys --data-dir {data_dir}     # its admin API keys\n"
            "  export CLOUDSTACK_ENDPOINT=http://127.0.0.1:8080/client/api CLOUDSTACK_KEY=… CLOUDSTACK_SECRET=…\n"
            "  cs listHosts                                      # or CloudMonkey, Libcloud, Ansible, Terraform"
        )
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)


if __name__ == "__main__":
    main()
