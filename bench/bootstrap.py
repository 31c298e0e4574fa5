"""Benchmark: ``provisioner bootstrap`` against bare ``ansible-runner``, same playbook, same 50 hosts, one run.

The hosts are network namespaces running sshd in overlays of the debootstrap tree (the test fixture
``tests/support/nethosts.py``; needs root). One topology puts them all in one KVM cluster; the playbook
set is a stand-in (ping, minimal facts, a file written once, a command): the same files for every
contender, because ``provisioner bootstrap`` renders the project and the baseline runs that rendered
project. Both contenders are separate processes (interpreter start included) given the SSH key the
same way (runner's ``ssh_key``), and alternate for several rounds after one warm-up run that makes the
only changes; the best round of each counts.

* overhead: ``provisioner bootstrap`` wall time / bare ``ansible_runner.run`` wall time; floor ≤ 1.10;
* speed-up of ``--accelerate`` (mitogen's ``mitogen_linear`` strategy), no floor.

Run: ``.venv/bin/python bench/bootstrap.py [--hosts 50] [--forks 10] [--rounds 2] [--no-mitogen]``.
Exit status 1 when the overhead floor is missed or a run fails.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # the namespace-host fixture lives with the tests

from tests.integration.bootstrap.support import (  # noqa: E402
    KEY_VARIABLE,
    bootstrap_env,
    topology,
    write_playbooks,
    write_topology,
)
from tests.support.nethosts import NetHosts, build_rootfs, free_subnet, require_net_hosts  # noqa: E402

OVERHEAD_FLOOR = 1.10
PLAYBOOK = """\
---
- name: Prepare hypervisor hosts
  hosts: kvm_hosts
  gather_facts: false
  tasks:
    - name: Check that Ansible reaches the host
      ansible.builtin.ping:
    - name: Gather minimal facts
      ansible.builtin.setup:
        gather_subset: ["!all", "min"]
    - name: Mark the host as bootstrapped
      ansible.builtin.copy:
        dest: /etc/provisioner-bench
        content: "{{ provisioner_cluster }}\\n"
        mode: "0644"
    - name: Read the kernel release
      ansible.builtin.command: uname -r
      changed_when: false
"""
BASELINE = f"""\
import json, os, sys, time
import ansible_runner
project, forks = sys.argv[1], int(sys.argv[2])
started = time.monotonic()
r = ansible_runner.run(private_data_dir=project, project_dir=project, playbook="site.yml",
                       inventory=os.path.join(project, "inventory"), forks=forks, quiet=True,
                       ssh_key=os.environ["{KEY_VARIABLE}"], suppress_env_files=True,
                       envvars={{"ANSIBLE_NOCOWS": "1", "ANSIBLE_NOCOLOR": "1"}})
print(json.dumps({{"status": r.status, "rc": r.rc, "stats": r.stats}}))
"""


def timed(args: list[str], env: dict[str, str]) -> tuple[float, dict[str, object]]:
    """Run a command, return its wall time and its JSON stdout; exit when it fails."""
    started = time.monotonic()
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=1800, check=False)
    elapsed = time.monotonic() - started
    if done.returncode != 0:
        sys.exit(f"{args[0]} failed (rc={done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return elapsed, json.loads(done.stdout)


def main() -> int:
    """Start the hosts, run the contenders, print the figures; 1 when the floor is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=50)
    parser.add_argument("--forks", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--no-mitogen", action="store_true", help="skip the --accelerate runs")
    options = parser.parse_args()
    require_net_hosts()
    provisioner = str(Path(sys.executable).parent / "provisioner")
    with tempfile.TemporaryDirectory(prefix="bench-bootstrap-") as tmp:
        work = Path(tmp)
        (work / "fleet").mkdir()
        started = time.monotonic()
        fleet = NetHosts(prefix="pvbench", subnet=free_subnet(), work=work / "fleet", rootfs=build_rootfs())
        try:
            fleet.start(options.hosts)
            print(
                f"{options.hosts} namespace hosts up in {time.monotonic() - started:.1f} s; load {os.getloadavg()}",
                flush=True,
            )
            path = write_topology(work / "cloud.yaml", topology(fleet, name="bench"))
            env = bootstrap_env(
                fleet,
                "bench-password-not-secret",
                PROVISIONER_PLAYBOOKS_DIR=str(write_playbooks(work / "pb", PLAYBOOK)),
            )
            env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"  # ansible-playbook
            project = work / ".provisioner" / "bench"
            ours = [provisioner, "bootstrap", str(path), "--output", "json", "--forks", str(options.forks)]
            bare = [sys.executable, "-c", BASELINE, str(project), str(options.forks)]
            warm, _ = timed(ours, env)  # the only run that changes something; it also renders the project
            print(f"warm-up (changes the hosts): {warm:.1f} s", flush=True)
            times: dict[str, list[float]] = {"provisioner": [], "bare": [], "accelerated": []}
            for _ in range(options.rounds):
                elapsed, report = timed(ours, env)
                changed = sum(h["changed"] for h in report["run"]["hosts"].values())  # type: ignore[index,union-attr]
                assert changed == 0, f"second run changed {changed}"
                times["provisioner"].append(elapsed)
                elapsed, result = timed(bare, env)
                assert result["status"] == "successful", result
                times["bare"].append(elapsed)
                if not options.no_mitogen:
                    elapsed, report = timed([*ours, "--accelerate"], env)
                    times["accelerated"].append(elapsed)
        finally:
            fleet.stop()
    best = {name: min(values) for name, values in times.items() if values}
    ratio = best["provisioner"] / best["bare"]
    print(f"hosts={options.hosts} forks={options.forks} rounds={options.rounds} load={os.getloadavg()[0]:.1f}")
    for name, values in times.items():
        if values:
            print(f"  {name:<12} best {min(values):6.2f} s   all {', '.join(f'{v:.2f}' for v in values)}")
    verdict = "ok" if ratio <= OVERHEAD_FLOOR else "MISSED"
    print(f"overhead: provisioner bootstrap / bare ansible-runner = {ratio:.3f} (floor <= {OVERHEAD_FLOOR}) {verdict}")
    if "accelerated" in best:
        print(f"mitogen speed-up (--accelerate): {best['provisioner'] / best['accelerated']:.2f}x")
    return 0 if ratio <= OVERHEAD_FLOOR else 1


if __name__ == "__main__":
    sys.exit(main())
