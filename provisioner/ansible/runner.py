"""Run a rendered Ansible project through ansible-runner, the way ``ansible-playbook`` would run it.

The rendered project directory is runner's ``private_data_dir`` *and* its project directory: runner
starts ``ansible-playbook -i <project>/inventory site.yml`` in it, so ``ansible.cfg`` there applies and
:func:`equivalent_command` is exactly what a user types to reproduce the run. Artifacts (the full
stdout, every event, the outcome of each host) go to ``<project>/artifacts/<ident>/``.

Secrets reach Ansible only through runner's inputs: the SSH private key through ``ssh_key`` (runner
feeds it to an ``ssh-agent`` through a FIFO it deletes), the vault password through ``passwords``
(answered on the ``--ask-vault-pass`` prompt). Environment variables the topology names as credential
references stay in the environment Ansible inherits (its ``env`` lookups read them there); runner
dumps that environment into ``artifacts/<ident>/command``, so their values are redacted in that file
as soon as the first event arrives and again when the run ends.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from provisioner.ansible.progress import Event, HostCounts, RunTracker, TaskFailure
from provisioner.exceptions import ProvisionerError
from provisioner.model.credentials import CredentialRef

#: The outcome file written next to runner's artifacts.
OUTCOME_FILE = "provisioner-outcome.json"
#: Environment variable names whose values are treated as secrets in the artifacts.
_SECRET_NAME = re.compile(r"PASS|SECRET|TOKEN|PRIVATE|CREDENTIAL|(^|_)KEY($|_)", re.IGNORECASE)
REDACTED = "********"
#: The prompt ``ansible-playbook --ask-vault-pass`` prints (runner answers it from ``passwords``).
VAULT_PROMPT = r"Vault password.*:\s*?$"
#: Artifact directories kept per project (runner removes older ones).
KEEP_ARTIFACTS = 20


class RunnerError(ProvisionerError):
    """ansible-runner cannot start the run (missing tools, unreadable secret, unsupported acceleration)."""


class AccelerateError(RunnerError):
    """``--accelerate`` was asked for, but mitogen is missing or does not support this ansible-core."""


@dataclass(frozen=True)
class RunOptions:
    """What ``ansible-playbook`` is asked to do (each maps to its command-line flag).

    Attributes:
        playbook: the playbook, relative to the project directory.
        limit: an Ansible host pattern (``--limit``).
        check: ``--check`` (dry run).
        diff: ``--diff``.
        forks: ``--forks``; None keeps ansible.cfg's value.
        tags: ``--tags``.
        skip_tags: ``--skip-tags``.
        accelerate: run with mitogen's ``mitogen_linear`` strategy.
        verbosity: ``-v`` count.
        ask_vault_pass: add ``--ask-vault-pass`` (set when a vault password is given).
    """

    playbook: str = "site.yml"
    limit: str | None = None
    check: bool = False
    diff: bool = False
    forks: int | None = None
    tags: tuple[str, ...] = ()
    skip_tags: tuple[str, ...] = ()
    accelerate: bool = False
    verbosity: int = 0
    ask_vault_pass: bool = False

    def flags(self) -> list[str]:
        """The ``ansible-playbook`` flags these options stand for (in runner's order)."""
        out: list[str] = []
        if self.limit:
            out += ["--limit", self.limit]
        if self.forks:
            out += ["--forks", str(self.forks)]
        if self.verbosity:
            out.append("-" + "v" * self.verbosity)
        if self.tags:
            out += ["--tags", ",".join(self.tags)]
        if self.skip_tags:
            out += ["--skip-tags", ",".join(self.skip_tags)]
        return out + self.extra_flags()

    def extra_flags(self) -> list[str]:
        """Flags runner has no keyword for (passed through its ``cmdline``)."""
        out = []
        if self.check:
            out.append("--check")
        if self.diff:
            out.append("--diff")
        if self.ask_vault_pass:
            out.append("--ask-vault-pass")
        return out


@dataclass(frozen=True)
class RunSecrets:
    """Secrets handed to runner's inputs; never printed (hidden from ``repr``)."""

    ssh_key: str | None = field(default=None, repr=False)
    vault_password: str | None = field(default=None, repr=False)
    #: Environment variable names holding secrets the run may read (redacted from the artifacts).
    secret_env: frozenset[str] = frozenset()

    def values(self) -> list[str]:
        """Every secret value known here (to scrub from files)."""
        values = [v for v in (self.ssh_key, self.vault_password) if v]
        values += [os.environ[name] for name in self.secret_env if os.environ.get(name)]
        return values


def _credential_refs(node: Any) -> Iterator[CredentialRef]:
    if isinstance(node, CredentialRef):
        yield node
    elif isinstance(node, BaseModel):
        for name in type(node).model_fields:
            yield from _credential_refs(getattr(node, name))
    elif isinstance(node, list | tuple):
        for item in node:
            yield from _credential_refs(item)
    elif isinstance(node, dict):
        for item in node.values():
            yield from _credential_refs(item)


def read_credential(ref: CredentialRef, what: str) -> str:
    """Read the secret an ``env`` or ``file`` reference points at.

    Raises:
        RunnerError: the variable is unset, the file unreadable, or the reference is a vault variable.
    """
    if ref.env is not None:
        value = os.environ.get(ref.env)
        if not value:
            raise RunnerError(f"{what}: environment variable {ref.env} is not set; export it before bootstrapping")
        return value
    if ref.file is not None:
        try:
            return Path(ref.file).expanduser().read_text(encoding="utf-8")
        except OSError as exc:
            raise RunnerError(f"{what}: cannot read {ref.file}: {exc.strerror}") from None
    raise RunnerError(f"{what}: a vault reference cannot be read before Ansible runs; use an env or file reference")


def secrets_for(cloud: BaseModel) -> RunSecrets:
    """The runner inputs a topology asks for: its SSH key, its vault password, and secret variable names.

    A key given as a file stays a file (the inventory's ``ansible_ssh_private_key_file``); a key in an
    environment variable goes to runner's ``ssh_key``.
    """
    settings = getattr(cloud, "ansible", None)
    ssh_key = vault_password = None
    if settings is not None and settings.ssh_private_key is not None and settings.ssh_private_key.env is not None:
        ssh_key = read_credential(settings.ssh_private_key, "ansible.ssh_private_key")
        if not ssh_key.endswith("\n"):
            ssh_key += "\n"  # ssh-add rejects a key without its final newline
    if settings is not None and settings.vault_password is not None:
        vault_password = read_credential(settings.vault_password, "ansible.vault_password").rstrip("\n")
    names = frozenset(ref.env for ref in _credential_refs(cloud) if ref.env is not None)
    return RunSecrets(ssh_key=ssh_key, vault_password=vault_password, secret_env=names)


def mitogen_environment() -> dict[str, str]:
    """Environment that makes ansible-playbook use mitogen's ``mitogen_linear`` strategy.

    Raises:
        AccelerateError: mitogen is not installed, or its release does not support the installed ansible-core.
    """
    try:
        import ansible_mitogen
        from ansible.release import __version__ as core_version
    except ImportError:
        raise AccelerateError(
            "--accelerate needs mitogen: pip install 'provisioner[accelerate]' (mitogen>=0.3.54 for ansible-core 2.19)"
        ) from None
    import mitogen

    mitogen_version = tuple(int(part) for part in mitogen.__version__[:3])
    core = tuple(int(part) for part in core_version.split(".")[:2])
    # Mitogen's changelog: 0.3.54 is the first release for ansible-core 2.19; it knows up to 2.21.
    if (core >= (2, 19) and mitogen_version < (0, 3, 54)) or core > (2, 21):
        version = ".".join(map(str, mitogen_version))
        raise AccelerateError(
            f"--accelerate: mitogen {version} does not support ansible-core {core_version}; "
            "install mitogen>=0.3.54 (ansible-core 2.19-2.21) or run without --accelerate"
        )
    strategies = Path(ansible_mitogen.__file__).parent / "plugins" / "strategy"
    return {"ANSIBLE_STRATEGY": "mitogen_linear", "ANSIBLE_STRATEGY_PLUGINS": str(strategies)}


def _playbook_bin_dir() -> str | None:
    """The directory of ``ansible-playbook``: PATH first, else beside this Python (a venv not on PATH)."""
    if shutil.which("ansible-playbook"):
        return None
    candidate = Path(sys.executable).parent / "ansible-playbook"
    if candidate.is_file():
        return str(candidate.parent)
    raise RunnerError("ansible-playbook is not installed: pip install 'provisioner[ansible]' (ansible-core 2.19)")


def run_environment(options: RunOptions) -> dict[str, str]:
    """The variables runner adds to the inherited environment (none of them secret)."""
    env = {"ANSIBLE_NOCOWS": "1", "ANSIBLE_NOCOLOR": "1", "ANSIBLE_RETRY_FILES_ENABLED": "0"}
    bin_dir = _playbook_bin_dir()
    if bin_dir is not None:
        env["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    if options.accelerate:
        env.update(mitogen_environment())
    return env


def equivalent_command(project_dir: Path, options: RunOptions) -> str:
    """The shell command that runs the same thing with plain ``ansible-playbook`` (no secret in it)."""
    env = ""
    if options.accelerate:
        env = " ".join(f"{k}={shlex.quote(v)}" for k, v in mitogen_environment().items()) + " "
    args = ["ansible-playbook", "-i", "inventory", *options.flags(), options.playbook]
    return f"cd {shlex.quote(str(project_dir))} && {env}{shlex.join(args)}"


def new_ident() -> str:
    """A sortable, readable artifact directory name: UTC time and process id."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + f"-{os.getpid()}"


def redact_artifacts(artifact_dir: Path, secrets: RunSecrets) -> None:
    """Replace secret values in runner's ``command`` dump (it records the whole environment)."""
    path = artifact_dir / "command"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    env = data.get("env") or {}
    values = set(secrets.values())
    for name, value in env.items():
        if name in secrets.secret_env or _SECRET_NAME.search(name) or value in values:
            env[name] = REDACTED
    data["env"] = env
    temporary = path.with_name("command.tmp")
    temporary.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    temporary.chmod(0o600)
    temporary.replace(path)


@dataclass
class RunResult:
    """What a run did: runner's status, each host's counters and failures, where the artifacts are."""

    status: str
    rc: int
    artifact_dir: Path
    command: str
    elapsed: float
    hosts: dict[str, HostCounts]
    failures: list[TaskFailure]
    plays: list[str]

    @property
    def ok(self) -> bool:
        """Runner succeeded and no host failed or was unreachable."""
        return self.status == "successful" and self.rc == 0 and all(c.healthy for c in self.hosts.values())

    @property
    def failed_hosts(self) -> list[str]:
        """Hosts with a failure or unreachable result, sorted."""
        return sorted(name for name, counts in self.hosts.items() if not counts.healthy)

    @property
    def stdout_path(self) -> Path:
        """The full ``ansible-playbook`` output."""
        return self.artifact_dir / "stdout"

    def host_outcome(self, name: str) -> str:
        """``ok``, ``changed``, ``failed`` or ``unreachable`` for one host."""
        counts = self.hosts[name]
        if counts.unreachable:
            return "unreachable"
        if counts.failed:
            return "failed"
        return "changed" if counts.changed else "ok"

    def as_json(self) -> dict[str, Any]:
        """Plain data: the ``--output json`` result and the outcome file."""
        return {
            "status": self.status,
            "rc": self.rc,
            "ok": self.ok,
            "elapsed_seconds": round(self.elapsed, 3),
            "command": self.command,
            "artifact_dir": str(self.artifact_dir),
            "stdout": str(self.stdout_path),
            "plays": self.plays,
            "failed_hosts": self.failed_hosts,
            "hosts": {
                name: {
                    "outcome": self.host_outcome(name),
                    **counts.as_json(),
                    "failures": [f.as_json() for f in self.failures if f.host == name],
                }
                for name, counts in sorted(self.hosts.items())
            },
        }

    def write_outcome(self) -> Path:
        """Record each host's outcome as JSON in the artifact directory; returns the file."""
        path = self.artifact_dir / OUTCOME_FILE
        path.write_text(json.dumps(self.as_json(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
        return path


def run_project(
    project_dir: Path,
    options: RunOptions,
    secrets: RunSecrets | None = None,
    *,
    tracker: RunTracker | None = None,
    event_handler: Callable[[Event], bool] | None = None,
    ident: str | None = None,
) -> RunResult:
    """Run ``options.playbook`` of a rendered project with ansible-runner and wait for it to end.

    Args:
        project_dir: the rendered project (``site.yml``, ``inventory/``, ``ansible.cfg``).
        options: what to run.
        secrets: the SSH key and vault password for runner's inputs.
        tracker: collects per-host counts; a new one when absent.
        event_handler: called for each event (for a live display); it must feed ``tracker`` itself.
            Default: ``tracker.handle``.
        ident: the artifact directory name (default: :func:`new_ident`).

    Raises:
        RunnerError: ansible-runner or ansible-playbook is missing, or acceleration is unsupported.
    """
    try:
        import ansible_runner
    except ImportError:
        raise RunnerError("ansible-runner is not installed: pip install 'provisioner[ansible]'") from None
    secrets = secrets or RunSecrets()
    if secrets.vault_password and not options.ask_vault_pass:
        options = RunOptions(**{**options.__dict__, "ask_vault_pass": True})
    project = project_dir.resolve()
    tracker = tracker or RunTracker()
    handler = event_handler or _keep(tracker.handle)
    ident = ident or new_ident()
    artifact_dir = project / "artifacts" / ident
    redacted = False

    def on_event(event: Event) -> bool:
        nonlocal redacted
        if not redacted:  # runner wrote `command` (with the environment) just before the first event
            redact_artifacts(artifact_dir, secrets)
            redacted = True
        return handler(event)

    started = time.monotonic()
    runner = ansible_runner.run(
        private_data_dir=str(project),
        project_dir=str(project),
        playbook=options.playbook,
        inventory=str(project / "inventory"),
        ident=ident,
        limit=options.limit,
        forks=options.forks,
        verbosity=options.verbosity or None,
        tags=",".join(options.tags) or None,
        skip_tags=",".join(options.skip_tags) or None,
        cmdline=shlex.join(options.extra_flags()) or None,
        envvars=run_environment(options),
        ssh_key=secrets.ssh_key,
        passwords={VAULT_PROMPT: secrets.vault_password} if secrets.vault_password else None,
        rotate_artifacts=KEEP_ARTIFACTS,
        # Without this runner writes envvars, passwords, ssh_key and cmdline under <project>/env/: the secrets
        # would sit on disk, and a later run would silently reuse a stale cmdline (--check) or envvars.
        suppress_env_files=True,
        event_handler=on_event,
        quiet=True,
    )
    elapsed = time.monotonic() - started
    redact_artifacts(artifact_dir, secrets)
    with tracker.lock:
        # Hosts no play reached (selected, but in no group a play targets) have no outcome to report.
        hosts = {name: HostCounts(**c.as_json()) for name, c in tracker.hosts.items() if any(c.as_json().values())}
        failures = list(tracker.failures)
        plays = [play.name for play in tracker.plays]
    return RunResult(
        status=str(runner.status),
        rc=int(runner.rc if runner.rc is not None else 1),
        artifact_dir=artifact_dir,
        command=equivalent_command(project, options),
        elapsed=elapsed,
        hosts=hosts,
        failures=failures,
        plays=plays,
    )


def _keep(handle: Callable[[Event], None]) -> Callable[[Event], bool]:
    def handler(event: Event) -> bool:
        handle(event)
        return True

    return handler
