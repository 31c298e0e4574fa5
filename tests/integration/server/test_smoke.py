"""The server starts on SQLite and PostgreSQL, serves signed requests and stops on SIGTERM."""

from __future__ import annotations

import pytest

from tests.support.server import LiveServer

pytestmark = pytest.mark.integration


def test_live_server_answers_signed_requests(live_server: LiveServer) -> None:
    assert live_server.api.listCapabilities()["capability"]["cloudstackversion"]
    assert live_server.stop() == 0
