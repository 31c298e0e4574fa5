"""Provider configuration: the block, then PROVISIONER_*, then the CloudStack provider's names."""

from __future__ import annotations

from provisioner_terraform.config import DEFAULT_TIMEOUT, resolve

URL = "http://127.0.0.1:8080/client/api"


def test_the_block_wins_over_the_environment() -> None:
    env = {"PROVISIONER_API_URL": "http://other/client/api", "PROVISIONER_API_KEY": "k", "PROVISIONER_SECRET_KEY": "s"}
    settings, problems = resolve({"api_url": URL, "api_key": None, "secret_key": None, "timeout": 30}, env)
    assert problems == []
    assert settings is not None
    assert (settings.api_url, settings.api_key, settings.secret_key, settings.timeout) == (URL, "k", "s", 30.0)


def test_cloudstack_names_are_read_after_ours() -> None:
    env = {
        "CLOUDSTACK_API_URL": URL,
        "CLOUDSTACK_API_KEY": "ck",
        "PROVISIONER_API_KEY": "pk",
        "CLOUDSTACK_SECRET_KEY": "cs",
        "CLOUDSTACK_TIMEOUT": "60",
    }
    settings, problems = resolve({}, env)
    assert problems == []
    assert settings is not None
    assert (settings.api_url, settings.api_key, settings.secret_key, settings.timeout) == (URL, "pk", "cs", 60.0)


def test_defaults_and_the_secret_stays_out_of_repr() -> None:
    settings, _ = resolve({"api_url": URL, "api_key": "k", "secret_key": "hunter2"}, {})
    assert settings is not None
    assert settings.timeout == DEFAULT_TIMEOUT
    assert "hunter2" not in repr(settings)


def test_every_problem_names_its_attribute() -> None:
    settings, problems = resolve({"api_url": "ftp://x", "timeout": -1}, {})
    assert settings is None
    assert [(p.attribute, p.summary) for p in problems] == [
        ("api_key", "Missing api_key"),
        ("secret_key", "Missing secret_key"),
        ("api_url", "Invalid api_url"),
        ("timeout", "Invalid timeout"),
    ]
    assert "PROVISIONER_API_KEY or CLOUDSTACK_API_KEY" in problems[0].detail
