"""A loopback HTTP origin for download tests: whole files, byte ranges, a hang-up mid-body and redirects."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

MIB = 1 << 20


class OriginHandler(http.server.BaseHTTPRequestHandler):
    """Serves files of ``root``: ``/files/<name>`` (ranges), ``/cut/<name>`` (hangs up after ``cut_after``
    bytes), ``/redirect/<url with _ for />`` (302)."""

    root: Path
    cut_after: int = MIB

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""

    def do_GET(self) -> None:
        """Answer one request."""
        route, _, name = self.path.strip("/").partition("/")
        if route == "redirect":
            self.send_response(302)
            self.send_header("Location", name.replace("_", "/").replace("http:/", "http://"))
            self.end_headers()
            return
        path = self.root / name
        if not path.is_file():
            self.send_error(404)
            return
        data = path.read_bytes()
        start = 0
        if "Range" in self.headers and route == "files":
            start = int(self.headers["Range"].split("=")[1].split("-")[0])
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(data) - start))
        self.send_header("ETag", '"v1"')
        self.end_headers()
        body = data[start:]
        if route == "cut":
            body = body[: self.cut_after]
        self.wfile.write(body)
        self.wfile.flush()


@contextmanager
def origin(root: Path, *, cut_after: int = MIB) -> Iterator[str]:
    """A threaded HTTP server on 127.0.0.1 serving ``root``; yields its base URL and stops it."""
    root.mkdir(parents=True, exist_ok=True)
    handler = type("Handler", (OriginHandler,), {"root": root, "cut_after": cut_after})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
