"""Terraform benchmark: apply N ``provisioner_instance`` resources on the simulator, then a no-change plan with refresh.

DESCRIPTION below says what is measured and how; run ``.venv/bin/python bench/terraform.py --help``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from provisioner_terraform.serve import MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE  # noqa: E402

from tests.integration.terraform.conftest import (  # noqa: E402
    LAB,
    PROVIDER_BLOCK,
    Workspace,
    api_env,
    start_dev_provider,
    terraform_env,
)
from tests.support.server import start_server  # noqa: E402

DESCRIPTION = """\
Starts the real server (``provisioner serve``, SQLite), applies the lab topology (examples/lab.yaml: two
simulator hosts) with ``provisioner sync``, adds a service offering small enough for 1,000 VMs on two hosts,
and starts the provider once in reattach mode (as the tests do; the mirror's per-command provider starts are
measured apart). Between the provider and the server sits a counting HTTP proxy, so every API request the
provider sends is counted by command.

For each N (default 100 and 1000): a configuration with ``count = N`` instances of the simulator's builtin
template; ``terraform apply`` at the default parallelism (10) and its wall time; then ``terraform plan
-detailed-exitcode`` (refresh on, no change expected), its wall time and the requests it sent per resource;
then ``terraform destroy``. The baseline is a no-change plan of one instance, so the ratio shows how the
refresh scales. Provider start: CPU time (user + system) from exec to the go-plugin handshake line, best of 5.

Floors: the 1,000-resource no-change plan <= 30 s; at most one API request per resource during that refresh;
provider start <= 0.5 s. Exit status 1 when a floor is missed.
"""

PLAN_FLOOR_S = 30.0
REQUESTS_PER_RESOURCE_FLOOR = 1.0
START_FLOOR_S = 0.5
BUILTIN = "CentOS 5.6 (64-bit) no GUI (Simulator)"


class CountingProxy:
    """Forwards ``/client/api`` to the server and counts requests by ``command``."""

    def __init__(self, target: str) -> None:
        self.counts: Counter[str] = Counter()
        self.lock = threading.Lock()
        client = httpx.Client(timeout=120)
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def _forward(self, method: str) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                params = parse_qs(urlsplit(self.path).query) | parse_qs(body.decode())
                with proxy.lock:
                    proxy.counts[params.get("command", ["?"])[0]] += 1
                answer = client.request(
                    method,
                    target + "?" + urlsplit(self.path).query,
                    content=body,
                    headers={"Content-Type": self.headers.get("Content-Type", "")},
                )
                self.send_response(answer.status_code)
                self.send_header("Content-Type", answer.headers.get("Content-Type", "application/json"))
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            def do_GET(self) -> None:
                self._forward("GET")

            def do_POST(self) -> None:
                self._forward("POST")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/client/api"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def take(self) -> Counter[str]:
        """The counts since the last call."""
        with self.lock:
            counts, self.counts = self.counts, Counter()
        return counts

    def close(self) -> None:
        """Stop serving."""
        self.server.shutdown()


def config(count: int) -> str:
    """``count`` instances of the builtin template."""
    return (
        PROVIDER_BLOCK
        + f"""
resource "provisioner_instance" "vm" {{
  count            = {count}
  name             = "bench-${{count.index}}"
  zone             = "lab-zone"
  template         = "{BUILTIN}"
  service_offering = "bench"
  expunge          = true
}}
"""
    )


def timed(workspace: Workspace, *args: str, check: bool = True) -> tuple[float, int]:
    """Wall time and exit code of one terraform command."""
    started = time.monotonic()
    done = workspace.run(*args, check=check, timeout=3600)
    return time.monotonic() - started, done.returncode


def provider_start() -> float:
    """Best-of-5 CPU seconds from exec to the handshake line."""
    env = {**os.environ, MAGIC_COOKIE_KEY: MAGIC_COOKIE_VALUE}
    costs = []
    for _ in range(5):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        plugin = subprocess.Popen([sys.executable, "-m", "provisioner_terraform"], stdout=subprocess.PIPE, env=env)
        assert plugin.stdout is not None
        plugin.stdout.readline()
        plugin.kill()
        plugin.wait(10)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        costs.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return min(costs)


def wait_template_ready(api: Any, name: str, timeout: float = 180.0) -> None:
    """Wait (bounded) until the template is ready in the lab's new image store, as a user would."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = api.listTemplates(templatefilter="executable", name=name).get("template", [])
        if any(row.get("isready") for row in rows):
            return
        time.sleep(1)
    raise SystemExit(f"template {name!r} was not ready after {timeout:.0f} s: is the reconciler running?")


def run(sizes: list[int], work: Path) -> bool:
    """Measure every size; print the table; return whether the floors hold."""
    server = start_server(f"sqlite:///{work / 'provisioner.db'}", work / "server")
    proxy = CountingProxy(server.url)
    provider = None
    ok = True
    try:
        env = server.env() | api_env(server)
        done = subprocess.run(
            [sys.executable, "-m", "provisioner", "sync", str(LAB), "--apply"],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        server.api.createServiceOffering(name="bench", displaytext="bench", cpunumber=1, cpuspeed=1, memory=1)
        wait_template_ready(server.api, BUILTIN)
        # 1,000 root disks of 2 GiB outgrow the lab pool's simulated capacity; the bench measures Terraform, not it.
        for pool in server.api.listStoragePools()["storagepool"]:
            server.api.updateConfiguration(name="storage.overprovisioning.factor", value="10", storageid=pool["id"])
        provider = start_dev_provider({**env, "PROVISIONER_API_URL": proxy.url})
        cli_config = work / "terraformrc"
        cli_config.write_text("# reattached provider\n")
        rows = []
        for count in [1, *sizes]:
            directory = work / f"n{count}"
            directory.mkdir()
            workspace = Workspace(directory, terraform_env(server, cli_config, TF_REATTACH_PROVIDERS=provider.reattach))
            workspace.write(config(count), provider_block=False)
            workspace.init()
            apply_s, _ = timed(workspace, "apply", "-auto-approve", "-input=false")
            proxy.take()
            plan_s, code = timed(workspace, "plan", "-input=false", "-detailed-exitcode", check=False)
            requests = sum(proxy.take().values())
            destroy_s, _ = timed(workspace, "destroy", "-auto-approve", "-input=false")
            rows.append((count, apply_s, plan_s, requests / count, destroy_s, code))
        start_s = provider_start()
    finally:
        if provider is not None:
            provider.stop()
        proxy.close()
        server.stop()
    baseline = rows[0][2]
    print(f"{'N':>6} {'apply s':>9} {'plan s':>8} {'x 1-VM plan':>12} {'req/resource':>13} {'destroy s':>10}")
    for count, apply_s, plan_s, per_resource, destroy_s, code in rows:
        ratio = plan_s / baseline
        print(f"{count:>6} {apply_s:>9.1f} {plan_s:>8.2f} {ratio:>12.1f} {per_resource:>13.2f} {destroy_s:>10.1f}")
        if code != 0:
            print(f"  N={count}: the plan after apply was not empty (exit {code})")
            ok = False
        if per_resource > REQUESTS_PER_RESOURCE_FLOOR:
            print(
                f"  N={count}: {per_resource:.2f} requests per resource during refresh > {REQUESTS_PER_RESOURCE_FLOOR}"
            )
            ok = False
        if count >= 1000 and plan_s > PLAN_FLOOR_S:
            print(f"  N={count}: no-change plan {plan_s:.1f} s > {PLAN_FLOOR_S} s")
            ok = False
    print(
        f"provider start: {start_s:.3f} s CPU to the handshake (floor {START_FLOOR_S} s); load {os.getloadavg()[0]:.1f}"
    )
    ok = ok and start_s <= START_FLOOR_S
    print(json.dumps({"floors_met": ok}))
    return ok


def main() -> None:
    """Parse arguments and run."""
    parser = argparse.ArgumentParser(description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sizes", nargs="*", type=int, default=[100, 1000], help="numbers of instances (100 1000)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-terraform-") as tmp:
        sys.exit(0 if run(args.sizes, Path(tmp)) else 1)


if __name__ == "__main__":
    main()
