"""schemathesis fuzzes the guest networking operations of the real server's ``/openapi.json`` (integration port,
SQLite and PostgreSQL): never a 500, never a 530 from an unhandled exception, answers matching the document."""

from __future__ import annotations

from typing import Any

import pytest

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, given, settings  # noqa: E402 - after the optional import

from provisioner.api.commands import load_commands  # noqa: E402
from tests.integration.infrastructure.test_schemathesis import integration_url, no_unhandled_error  # noqa: E402

pytestmark = pytest.mark.integration

MODULES = frozenset(
    f"provisioner.api.commands.{name}"
    for name in ("networks", "nics", "ssh_keypairs", "affinity_groups", "instance_groups")
)
__all__ = ["integration_url"]  # the fixture, shared with the infrastructure fuzz test


def test_openapi_fuzz_networks(integration_url: str) -> None:
    from schemathesis.checks import content_type_conformance, response_schema_conformance

    names = {command.name for command in load_commands().commands() if command.handler.__module__ in MODULES}
    checks = [no_unhandled_error, response_schema_conformance, content_type_conformance]
    schema = schemathesis.openapi.from_url(f"{integration_url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    fuzzed = [operation for operation in operations if operation.path.rsplit("/", 1)[-1] in names]
    assert len(fuzzed) == len(names) >= 20

    for operation in fuzzed:

        @given(case=operation.as_strategy())
        @settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def fuzz(case: Any) -> None:
            case.call_and_validate(checks=checks, timeout=30)

        fuzz()
