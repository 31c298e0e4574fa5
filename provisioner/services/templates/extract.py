"""Extract links: a time-limited HTTP URL for a template's or ISO's copy on an image store.

``extractTemplate`` / ``extractIso`` (mode ``HTTP_DOWNLOAD``) create a ``template_extract`` row and return
``<base>/client/extract/<token>/<file name>``; the management server serves the copy at that path (HEAD,
GET, one byte range) until the link expires (``extract.url.expiration.interval``, CloudStack's 14400 s).
The token is 256 random bits; only its SHA-256 is stored, so the table does not hold usable links.
Expired rows are deleted by the background task :data:`CLEANUP`.

The base (scheme, host and port) is ``extract.url.base`` when set, else the address and API port of the
live management server that heartbeat last (an unspecified bind address becomes 127.0.0.1).
"""

from __future__ import annotations

import hashlib
import secrets
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import Connection, Engine, RowMapping, delete, insert, select

from provisioner.db.engine import run_in_transaction
from provisioner.db.schema import image_store, mshost, template_extract, template_store_ref, utcnow
from provisioner.server.background import PeriodicTask
from provisioner.services.templates import settings
from provisioner.services.templates.stores import store_driver

#: The URL path prefix the management server serves extract links under.
PATH_PREFIX = "/client/extract"
CHUNK = 1 << 20


def token_hash(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode()).hexdigest()


def url_base(conn: Connection) -> str:
    """``scheme://host:port`` of extract links (``extract.url.base``, else the live management server)."""
    configured = settings.value(conn, settings.EXTRACT_URL_BASE).strip().rstrip("/")
    if configured:
        return configured
    node = conn.execute(
        select(mshost.c.service_ip, mshost.c.service_port)
        .where(mshost.c.state == "Up", mshost.c.removed.is_(None))
        .order_by(mshost.c.last_heartbeat.desc())
        .limit(1)
    ).first()
    host, port = (str(node.service_ip), int(node.service_port)) if node else ("127.0.0.1", 8080)
    if host in ("", "0.0.0.0", "::"):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


def create_link(conn: Connection, template_id: int, store_ref_id: int, file_name: str) -> tuple[str, Any]:
    """Record a new link to a Ready copy; returns its URL and its expiry (naive UTC)."""
    token = secrets.token_urlsafe(32)
    lifetime = max(1.0, settings.number(conn, settings.EXTRACT_EXPIRATION))
    expires = utcnow() + timedelta(seconds=lifetime)
    conn.execute(
        insert(template_extract).values(
            token_hash=token_hash(token),
            template_id=template_id,
            store_ref_id=store_ref_id,
            file_name=file_name,
            expires=expires,
        )
    )
    return f"{url_base(conn)}{PATH_PREFIX}/{token}/{quote(file_name)}", expires


@dataclass(frozen=True, slots=True)
class ExtractSource:
    """What a valid link serves: the copy's file (local view) or its URL (user-space NFS), and its size."""

    file_name: str
    size: int
    path: Path | None
    uri: str | None


def resolve(conn: Connection, token: str, file_name: str) -> ExtractSource | None:
    """The copy behind a live token and its file name; None when unknown, expired, renamed or not Ready."""
    row = (
        conn.execute(
            select(
                template_extract.c.file_name,
                template_store_ref.c.install_path,
                template_store_ref.c.state.label("ref_state"),
                template_store_ref.c.physical_size,
                image_store,
            )
            .join(template_store_ref, template_store_ref.c.id == template_extract.c.store_ref_id)
            .join(image_store, image_store.c.id == template_store_ref.c.store_id)
            .where(template_extract.c.token_hash == token_hash(token), template_extract.c.expires > utcnow())
        )
        .mappings()
        .first()
    )
    if row is None or row["file_name"] != file_name or row["ref_state"] != "Ready" or not row["install_path"]:
        return None
    return _source(conn, row)


def _source(conn: Connection, row: RowMapping) -> ExtractSource | None:
    name = str(row["install_path"])
    with store_driver(conn, row) as driver:
        path = driver.local_path(name)
        if path is not None:
            return ExtractSource(str(row["file_name"]), path.stat().st_size, path, None) if path.is_file() else None
        volume = driver.get_volume(name)
        size = int(row["physical_size"] or volume.allocated_bytes)
        return ExtractSource(str(row["file_name"]), size, None, volume.source.uri)


def read_range(source: ExtractSource, start: int, length: int) -> Iterator[bytes]:
    """The bytes ``[start, start + length)`` of the copy, in chunks."""
    if source.path is not None:
        with open(source.path, "rb") as handle:
            handle.seek(start)
            left = length
            while left > 0 and (chunk := handle.read(min(CHUNK, left))):
                left -= len(chunk)
                yield chunk
        return
    yield from _nfs_range(str(source.uri), start, length)


def _nfs_range(uri: str, start: int, length: int) -> Iterator[bytes]:
    """A byte range of a user-space NFS file through ``nfs-cat`` (which cannot seek: the head is skipped)."""
    with subprocess.Popen(["nfs-cat", uri], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL) as process:
        assert process.stdout is not None
        try:
            skip, left = start, length
            while skip > 0 and (chunk := process.stdout.read(min(CHUNK, skip))):
                skip -= len(chunk)
            while left > 0 and (chunk := process.stdout.read(min(CHUNK, left))):
                left -= len(chunk)
                yield chunk
        finally:
            process.kill()


def cleanup(engine: Engine, _msid: int) -> None:
    """Delete expired links (a bounded batch per round; safe on several servers)."""

    def run(conn: Connection) -> None:
        ids = list(
            conn.execute(
                select(template_extract.c.id).where(template_extract.c.expires <= utcnow()).limit(1000)
            ).scalars()
        )
        if ids:
            conn.execute(delete(template_extract).where(template_extract.c.id.in_(ids)))

    run_in_transaction(engine, run)


#: Deletes expired extract links every ``extract.url.cleanup.interval`` seconds.
CLEANUP = PeriodicTask(
    "template-extract-cleanup",
    cleanup,
    interval_setting=settings.EXTRACT_CLEANUP_INTERVAL,
    default_interval=7200.0,
)


def parse_range(header: str, size: int) -> tuple[int, int] | bool | None:
    """The inclusive ``(first, last)`` byte of a one-range ``Range`` header.

    Returns:
        The range; False when the header is not a single byte range (serve the whole file);
        None when it cannot be satisfied (416).
    """
    unit, _, spec = header.strip().partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return False
    first_text, dash, last_text = spec.strip().partition("-")
    if not dash:
        return False
    try:
        if not first_text:  # the last N bytes
            count = int(last_text)
            return (max(0, size - count), size - 1) if count > 0 and size > 0 else None
        first = int(first_text)
        last = int(last_text) if last_text else size - 1
    except ValueError:
        return False
    if first >= size:
        return None
    if first < 0 or last < first:
        return False
    return first, min(last, size - 1)
