"""Shared test configuration. Area fixtures live in tests/support/ and the area's own conftest."""

pytest_plugins: list[str] = ["tests.support.postgres", "tests.support.server"]
