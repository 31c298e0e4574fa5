"""The HTTP side of extract links: ``GET``/``HEAD /client/extract/<token>/<file name>``.

Serves the template or ISO copy behind a live link (see :mod:`provisioner.services.templates.extract`)
with ``Content-Length``, ``Accept-Ranges`` and single byte ranges (206 / 416). Unknown, expired or
mistyped links all get the same bare 404; the token never appears in logs or answers.
"""

from __future__ import annotations

import logging

from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from provisioner.db.engine import run_in_transaction
from provisioner.services.templates.extract import PATH_PREFIX, ExtractSource, parse_range, read_range, resolve

log = logging.getLogger(__name__)

OCTETS = "application/octet-stream"


def extract_route(engine: Engine) -> Route:
    """The route serving extract links from the image stores of ``engine``'s database."""

    def lookup(token: str, name: str) -> ExtractSource | None:
        try:
            return run_in_transaction(engine, lambda conn: resolve(conn, token, name))
        except Exception:  # a store that cannot be reached is a missing file to the client
            log.warning("an extract link could not be served: its image store is unreachable", exc_info=True)
            return None

    async def serve(request: Request) -> Response:
        source = await run_in_threadpool(lookup, request.path_params["token"], request.path_params["name"])
        if source is None:
            return PlainTextResponse("Not Found", status_code=404)
        headers = {
            "Accept-Ranges": "bytes",
            "Cache-Control": "no-store",
            "Content-Disposition": f'attachment; filename="{source.file_name}"',
        }
        first, last, status = 0, source.size - 1, 200
        wanted = request.headers.get("range")
        if wanted:
            parsed = parse_range(wanted, source.size)
            if parsed is None:
                return Response(status_code=416, headers={"Content-Range": f"bytes */{source.size}"})
            if isinstance(parsed, tuple):
                first, last, status = parsed[0], parsed[1], 206
                headers["Content-Range"] = f"bytes {first}-{last}/{source.size}"
        length = max(0, last - first + 1)
        headers["Content-Length"] = str(length)
        if request.method == "HEAD":
            return Response(status_code=status, headers=headers, media_type=OCTETS)
        return StreamingResponse(
            read_range(source, first, length), status_code=status, headers=headers, media_type=OCTETS
        )

    return Route(PATH_PREFIX + "/{token}/{name}", serve, methods=["GET", "HEAD"])
