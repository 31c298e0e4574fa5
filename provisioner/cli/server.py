"""``provisioner serve``, ``provisioner db upgrade`` and ``provisioner admin keys``.

Database URLs are shown masked (no password), and the only secret ever printed is the admin API secret,
by ``admin keys`` on explicit request.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from provisioner.cli.output import err_console, print_json

if TYPE_CHECKING:
    from provisioner.server.ssh_identity import SshIdentity

# The database stack (SQLAlchemy, Alembic) is imported inside each command: `--help` stays fast.
DATA_DIR_ENV = "PROVISIONER_DATA_DIR"  # provisioner.db.engine.DATA_DIR_ENV, kept in step by a test

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        envvar="PROVISIONER_DB_URL",
        show_envvar=True,
        help="Database URL (postgresql+psycopg://... or sqlite:///...); default: SQLite in the data directory.",
    ),
]
DataDirOption = Annotated[
    Path | None,
    typer.Option(
        "--data-dir", help=f"Data directory (embedded database, server key, admin credentials); ${DATA_DIR_ENV}."
    ),
]

db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
admin_app = typer.Typer(help="Administration helpers.", no_args_is_help=True)


def _use_data_dir(data_dir: Path | None) -> None:
    # The engine and the services read the data directory from the environment.
    if data_dir is not None:
        os.environ[DATA_DIR_ENV] = str(data_dir.expanduser().resolve())


def serve(
    *,
    db: DbOption = None,
    host: Annotated[str, typer.Option("--host", help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="API port.")] = 8080,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            min=1,
            max=256,
            help="Async job worker threads of this process. The API runs in one process; to scale out, run "
            "more servers on one PostgreSQL.",
        ),
    ] = 4,
    data_dir: DataDirOption = None,
    integration_port: Annotated[
        int | None,
        typer.Option(
            "--integration-port", min=1, max=65535, help="Also serve the unauthenticated API on 127.0.0.1:PORT."
        ),
    ] = None,
    shutdown_timeout: Annotated[
        float, typer.Option("--shutdown-timeout", min=0, help="Seconds running jobs get to finish on shutdown.")
    ] = 30.0,
) -> None:
    """Start the management server (CloudStack API on /client/api)."""
    import uvicorn

    from provisioner.api.settings import ApiSettings
    from provisioner.db.engine import default_url
    from provisioner.server.app import ServerOptions, build_server
    from provisioner.server.bootstrap import masked
    from provisioner.server.runner import serve as run
    from provisioner.server.ssh_identity import use_identity

    _use_data_dir(data_dir)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    identity = _ssh_identity()
    use_identity(identity)
    err_console.print(f"ssh identity for KVM hosts (qemu+ssh): {identity.public_key_file}", markup=False)
    options = ServerOptions(workers=workers, port=port, host=host, shutdown_timeout=shutdown_timeout)
    err_console.print(f"database: {masked(db or default_url())}")
    _app, lifecycle = build_server(db, ApiSettings(bind_host=host), options)
    if lifecycle.credentials_file is not None:
        err_console.print(f"Created the admin user; its credentials are in {lifecycle.credentials_file}")
    config = uvicorn.Config(_app, host=host, port=port, log_level="warning", access_log=False, lifespan="on")
    integration = None
    if integration_port is not None:
        integration = uvicorn.Config(
            lifecycle.integration_app(), host="127.0.0.1", port=integration_port, log_level="warning", lifespan="off"
        )
        err_console.print(f"integration API (unauthenticated) on http://127.0.0.1:{integration_port}/client/api")
    err_console.print(f"serving http://{host}:{port}/client/api with {workers} job worker(s)")
    run(lifecycle, config, integration)


def db_upgrade(*, db: DbOption = None, data_dir: DataDirOption = None) -> None:
    """Bring the database schema to the newest revision (the server also does this on start)."""
    from provisioner.db.engine import create_engine_for, default_url
    from provisioner.db.migrate import current_revision, upgrade
    from provisioner.server.bootstrap import masked

    _use_data_dir(data_dir)
    engine = create_engine_for(db)
    try:
        upgrade(engine)
        err_console.print(f"{masked(db or default_url())} is at revision {current_revision(engine)}")
    finally:
        engine.dispose()


def admin_keys(
    *,
    db: DbOption = None,
    data_dir: DataDirOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print {apikey, secretkey} as JSON.")] = False,
) -> None:
    """Print the admin's API key and secret key, registering a pair when it has none."""
    from provisioner.db.engine import create_engine_for
    from provisioner.server.bootstrap import admin_keys as keys_of
    from provisioner.server.bootstrap import prepare_database
    from provisioner.services.identity import IdentityService

    _use_data_dir(data_dir)
    engine = create_engine_for(db)
    try:
        created = prepare_database(engine)
        if created is not None:
            err_console.print(f"Created the admin user; its credentials are in {created}")
        keys = keys_of(IdentityService.for_engine(engine))
    finally:
        engine.dispose()
    if as_json:
        print_json({"apikey": keys.api_key, "secretkey": keys.secret_key})
    else:
        typer.echo(f"apikey: {keys.api_key}\nsecretkey: {keys.secret_key}")


def _ssh_identity() -> SshIdentity:
    from provisioner.db.engine import data_dir
    from provisioner.server.ssh_identity import ensure_identity

    return ensure_identity(data_dir() / "ssh")


def admin_ssh_key(*, data_dir: DataDirOption = None) -> None:
    """Print the server's public ssh key (created if missing): put it in the topology's
    ``management_servers[].ssh_public_key`` so ``provisioner bootstrap`` authorizes it on the KVM hosts."""
    _use_data_dir(data_dir)
    typer.echo(_ssh_identity().public_key)


db_app.command(name="upgrade")(db_upgrade)
admin_app.command(name="keys")(admin_keys)
admin_app.command(name="ssh-key")(admin_ssh_key)
