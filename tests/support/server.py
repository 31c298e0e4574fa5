"""``live_server``: the real ``provisioner serve`` in a subprocess, on SQLite and PostgreSQL, with admin keys.

The server gets a free 127.0.0.1 port and its own data directory; the database URL reaches it through
``PROVISIONER_DB_URL`` (never the command line). The admin keys come from the library call behind
``provisioner admin keys`` (in this process, never logged); :func:`bootstrap_keys` does it the way client
CI does (POST ``login`` → ``listUsers`` → ``registerUserKeys``) for the test of that path. The fixture
stops exactly the PID it started.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from cs import CloudStack
from sqlalchemy.engine import make_url

from tests.support.tools import require_tool

#: The repository root: servers run from there (test entry points are ``python -m tests....``).
REPO_ROOT = Path(__file__).resolve().parents[2]
#: Bounds of every wait: server start, stop.
START_TIMEOUT = 120.0
STOP_TIMEOUT = 45.0


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def admin_password(data_dir: Path) -> str:
    """The seeded admin password, from the credentials file the server wrote on first start (``files_dir``)."""
    lines = (data_dir / "admin-credentials").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line)["password"]


def bootstrap_keys(url: str, password: str, username: str = "admin", domain: str = "/") -> tuple[str, str]:
    """Get API keys as client CI does: POST login → listUsers → registerUserKeys, with the session key."""
    with httpx.Client(timeout=30) as http:
        login = http.post(
            url,
            data={"command": "login", "username": username, "password": password, "domain": domain, "response": "json"},
        )
        login.raise_for_status()
        sessionkey = login.json()["loginresponse"]["sessionkey"]

        def call(**params: str) -> dict[str, Any]:
            answer = http.get(url, params={**params, "response": "json", "sessionkey": sessionkey})
            answer.raise_for_status()
            body: dict[str, Any] = answer.json()
            return body

        users = call(command="listUsers", username=username)["listusersresponse"]["user"]
        keys = call(command="registerUserKeys", id=users[0]["id"])["registeruserkeysresponse"]["userkeys"]
        return str(keys["apikey"]), str(keys["secretkey"])


@dataclass
class LiveServer:
    """A running ``provisioner serve`` subprocess and the admin's credentials.

    Attributes:
        url: ``http://127.0.0.1:<port>/client/api``.
        apikey: the admin API key.
        secretkey: the admin secret key.
        db_url: the database URL.
        data_dir: the server's data directory (admin credentials file, server key, SQLite file).
        port: the API port (kept across restarts: the node id derives from it).
        command: the argv prefix that starts the server.
        extra_args: more ``serve`` options.
    """

    db_url: str
    data_dir: Path
    port: int
    command: Sequence[str]
    extra_args: Sequence[str] = ()
    apikey: str = ""
    secretkey: str = ""
    process: subprocess.Popen[bytes] | None = None
    log_path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log_path = self.data_dir / "server.log"

    @property
    def url(self) -> str:
        """The API endpoint."""
        return f"http://127.0.0.1:{self.port}/client/api"

    @property
    def pid(self) -> int:
        """The server's PID."""
        assert self.process is not None
        return self.process.pid

    @property
    def api(self) -> CloudStack:
        """A ``cs`` client with the admin keys that waits for async jobs."""
        return self.client(self.apikey, self.secretkey)

    def client(self, key: str, secret: str, **options: Any) -> CloudStack:
        """A ``cs`` client for other credentials (fast polling, bounded job wait)."""
        settings: dict[str, Any] = {"poll_interval": 0.1, "timeout": 30, "job_timeout": 60, "fetch_result": True}
        settings.update(options)
        return CloudStack(endpoint=self.url, key=key, secret=secret, **settings)

    @property
    def files_dir(self) -> Path:
        """Where the server keeps its key and the admin credentials: beside a SQLite file, else the data dir."""
        url = make_url(self.db_url)
        if url.get_backend_name() == "sqlite" and url.database:
            return Path(url.database).parent
        return self.data_dir

    def log(self) -> str:
        """The server's output so far (for assertion messages)."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def env(self) -> dict[str, str]:
        """The environment of the server and of CLI calls against its database."""
        return {
            **os.environ,
            "PROVISIONER_DB_URL": self.db_url,
            "PROVISIONER_DATA_DIR": str(self.data_dir),
            "XDG_DATA_HOME": str(self.data_dir / "xdg"),
            "PYTHONUNBUFFERED": "1",
        }

    def cli(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """Run ``provisioner <args>`` against the server's database and data directory (bounded)."""
        return subprocess.run(
            [require_tool("provisioner"), *args],
            check=False,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def start(self) -> None:
        """Start the process and wait (bounded) until it answers HTTP."""
        self.launch()
        self.wait_ready()

    def launch(self) -> None:
        """Start the process without waiting (several servers can then start at once)."""
        env = self.env()
        argv = [*self.command, "serve", "--port", str(self.port), "--data-dir", str(self.data_dir), *self.extra_args]
        with self.log_path.open("ab") as out:
            self.process = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=REPO_ROOT)

    def wait_ready(self) -> None:
        """Wait (bounded) until the server answers HTTP; fail with its log when it exits or times out."""
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"server exited with {self.process.returncode}:\n{self.log()[-4000:]}")
            try:
                httpx.get(self.url, params={"command": "listCapabilities", "response": "json"}, timeout=2)
                return
            except httpx.TransportError:
                time.sleep(0.1)
        raise AssertionError(f"server did not answer within {START_TIMEOUT} s:\n{self.log()[-4000:]}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = STOP_TIMEOUT) -> int | None:
        """Send ``sig`` to exactly this PID and wait (bounded); SIGKILL when it does not exit in time."""
        process = self.process
        if process is None or process.poll() is not None:
            return None if process is None else process.returncode
        process.send_signal(sig)
        try:
            return process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            return process.wait(10)

    def kill9(self) -> None:
        """``kill -9`` the server (no shutdown code runs)."""
        self.stop(signal.SIGKILL)

    def restart(self) -> None:
        """Stop (gracefully when still running) and start again on the same port and database."""
        self.stop()
        self.start()


def admin_keys_of(server: LiveServer) -> tuple[str, str]:
    """The admin's API key pair, read (registered when missing) in this process with the library call behind
    ``provisioner admin keys``: the same keys, without a CLI process start per server (seconds each). The CLI
    itself is tested in tests/integration/server (test_startup, test_clients)."""
    from provisioner.db.engine import create_engine_for
    from provisioner.server.bootstrap import admin_keys
    from provisioner.services.crypto import SecretBox
    from provisioner.services.identity import IdentityService

    directory = server.files_dir
    engine = create_engine_for(server.db_url)
    try:
        keys = admin_keys(IdentityService(engine, SecretBox.from_directory(directory), directory))
    finally:
        engine.dispose()
    assert keys.api_key and keys.secret_key, "the admin has no API keys after registerUserKeys"
    return keys.api_key, keys.secret_key


def start_server(
    db_url: str, data_dir: Path, *, command: Sequence[str] | None = None, extra_args: Sequence[str] = ()
) -> LiveServer:
    """Start a server and bootstrap admin keys; the caller stops it (``server.stop()``).

    Args:
        db_url: an empty or existing database.
        data_dir: the server's data directory (created).
        command: the argv prefix; default the venv's ``provisioner``.
        extra_args: more ``serve`` options.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    server = LiveServer(db_url, data_dir, free_port(), command or [require_tool("provisioner")], extra_args)
    server.start()
    try:
        server.apikey, server.secretkey = admin_keys_of(server)
    except BaseException:
        server.stop()
        raise
    return server


def set_simulator_latency(server: LiveServer, seconds: float) -> None:
    """Every simulator host of ``server`` answers each call after ``seconds`` (0 removes the fault)."""
    from provisioner.db.engine import create_engine_for
    from provisioner.db.schema import host

    engine = create_engine_for(server.db_url)
    try:
        with engine.begin() as conn:
            conn.execute(host.update().values(driver_settings={"latency": seconds} if seconds else {}))
    finally:
        engine.dispose()


@pytest.fixture
def live_server(db_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    """A ``provisioner serve`` subprocess on a fresh database (SQLite, then PostgreSQL) with admin keys."""
    server = start_server(db_url, tmp_path / "server")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(name="server")
def sqlite_server(tmp_path: Path) -> Iterator[LiveServer]:
    """``server``: a live server on its own SQLite database (the guest and bootstrap paths are the same on
    PostgreSQL), for tests that exercise hosts rather than the database."""
    server = start_server(f"sqlite:///{tmp_path / 'server.db'}", tmp_path / "server")
    try:
        yield server
    finally:
        server.stop()
