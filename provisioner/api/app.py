"""The Starlette app: ``/client/api`` (GET and form POST) and ``/openapi.json``.

The HTTP layer only decodes the request and encodes the answer; everything else happens in
:class:`~provisioner.api.dispatch.ApiDispatcher`, in a worker thread because the services are synchronous.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from provisioner.api.backend import ApiBackend
from provisioner.api.commands import load_commands
from provisioner.api.dispatch import ApiDispatcher, RawRequest
from provisioner.api.openapi import build_openapi
from provisioner.api.registry import Registry
from provisioner.api.settings import ApiSettings

FORM_TYPE = "application/x-www-form-urlencoded"
#: The largest form body we read (CloudStack allows user data up to 1 MB through POST, base64-encoded).
MAX_BODY = 4 * 1024 * 1024


def _pairs(text: str) -> list[tuple[str, str]]:
    # ``+`` and ``%20`` both decode to a space; invalid UTF-8 becomes U+FFFD instead of failing.
    return parse_qsl(text, keep_blank_values=True, errors="replace")


async def _form_pairs(request: Request) -> list[tuple[str, str]]:
    if request.method != "POST":
        return []
    content_type = request.headers.get("content-type", "")
    if content_type and not content_type.lower().startswith(FORM_TYPE):
        return []
    body = await request.body()
    if len(body) > MAX_BODY:
        return []
    return _pairs(body.decode("utf-8", "replace"))


def create_app(backend: ApiBackend, settings: ApiSettings, registry: Registry | None = None) -> Starlette:
    """Build the API app.

    Args:
        backend: the services behind the API.
        settings: API settings; ``settings.integration`` builds the unauthenticated integration API, which the
            settings only allow on a loopback ``bind_host`` (the caller binds the server there).
        registry: the commands to serve; default every module in ``provisioner.api.commands``.

    Returns:
        The Starlette application (serve it with uvicorn).
    """
    dispatcher = ApiDispatcher(backend, settings, registry or load_commands())
    document: dict[str, Any] = {}

    async def api(request: Request) -> Response:
        raw = RawRequest(
            method=request.method,
            query=_pairs(request.url.query),
            body=await _form_pairs(request),
            cookies=dict(request.cookies),
            client_ip=request.client.host if request.client else "",
        )
        answer = await run_in_threadpool(dispatcher.handle, raw)
        response = Response(answer.body, status_code=answer.status, headers=answer.headers)
        response.headers["content-type"] = answer.content_type
        for name, value, options in answer.cookies:
            response.set_cookie(name, value, **options)
        return response

    async def openapi(request: Request) -> Response:
        if not document:
            document.update(build_openapi(dispatcher.registry, settings))
        return JSONResponse(document)

    methods = ["GET", "POST"]
    routes = [
        Route("/client/api", api, methods=methods),
        # The OpenAPI document keys each command on a synthetic path; the segment is ignored.
        Route("/client/api/{command:path}", api, methods=methods),
        Route("/openapi.json", openapi, methods=["GET"]),
    ]
    return Starlette(routes=routes)
