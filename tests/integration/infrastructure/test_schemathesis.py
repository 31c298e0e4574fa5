"""schemathesis fuzzes the infrastructure operations of the real server's ``/openapi.json`` (integration port).

The server is ``provisioner serve`` on SQLite and PostgreSQL with its unauthenticated integration API on a
second loopback port. CloudStack's own error codes are HTTP 5xx (531 permission, 533 capacity, 536 in use...),
so "no server error" means: never a 500, and never a 530 carrying the generic text of an unhandled exception;
every answer must also match the document.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, given, settings  # noqa: E402 - after the optional import

from provisioner.api.commands import load_commands  # noqa: E402
from tests.support.server import LiveServer, free_port, start_server  # noqa: E402

pytestmark = pytest.mark.integration

#: The command modules whose operations are fuzzed here (the other areas have their own fuzz tests).
MODULES = frozenset(
    f"provisioner.api.commands.{name}"
    for name in (
        "zones",
        "pods",
        "clusters",
        "hosts",
        "storage_pools",
        "image_stores",
        "physical_networks",
        "network_providers",
        "vlan_ranges",
        "service_offerings",
        "disk_offerings",
        "network_offerings",
        "guest_os",
        "hypervisors",
        "regions",
        "capacity",
        "placeholders",
    )
)
UNHANDLED = "Internal error executing command"


@schemathesis.check  # type: ignore[untyped-decorator]
def no_unhandled_error(ctx: Any, response: Any, case: Any) -> bool | None:
    """Fail on 500 and on a 530 that reports an unhandled exception: those are bugs, not refusals."""
    if response.status_code == 500 or (response.status_code == 530 and UNHANDLED in response.text):
        raise AssertionError(f"{case.operation.label} answered {response.status_code}: {response.text[:300]}")
    if 500 <= response.status_code < 600 and not 530 <= response.status_code <= 537:
        raise AssertionError(f"{case.operation.label} answered {response.status_code}: {response.text[:300]}")
    return None


@pytest.fixture
def integration_url(db_url: str, tmp_path: Path) -> Iterator[str]:
    """The integration API of a live server (loopback only, no signatures)."""
    port = free_port()
    server: LiveServer = start_server(db_url, tmp_path / "server", extra_args=("--integration-port", str(port)))
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def test_openapi_fuzz_infrastructure(integration_url: str) -> None:
    # Driven by hand: schemathesis' pytest integration does not support pytest 9 yet.
    from schemathesis.checks import content_type_conformance, response_schema_conformance

    names = {command.name for command in load_commands().commands() if command.handler.__module__ in MODULES}
    checks = [no_unhandled_error, response_schema_conformance, content_type_conformance]
    schema = schemathesis.openapi.from_url(f"{integration_url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    fuzzed = [operation for operation in operations if operation.path.rsplit("/", 1)[-1] in names]
    assert len(fuzzed) == len(names) >= 70

    for operation in fuzzed:

        @given(case=operation.as_strategy())
        @settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def fuzz(case: Any) -> None:
            case.call_and_validate(checks=checks, timeout=30)

        fuzz()
