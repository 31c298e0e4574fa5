"""The provider block: ``api_url``, ``api_key``, ``secret_key``, ``timeout``, each also from the environment.

Values come from the configuration first, then ``PROVISIONER_*`` variables, then the CloudStack provider's
``CLOUDSTACK_*`` names, so a configuration written for ``cloudstack/cloudstack`` ports with a rename.
Resolution is pure (it takes the environment as a mapping) and reports each problem with the attribute
it concerns, so Terraform can point at it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

#: Environment variables per attribute, ours first.
ENV: dict[str, tuple[str, ...]] = {
    "api_url": ("PROVISIONER_API_URL", "CLOUDSTACK_API_URL"),
    "api_key": ("PROVISIONER_API_KEY", "CLOUDSTACK_API_KEY"),
    "secret_key": ("PROVISIONER_SECRET_KEY", "CLOUDSTACK_SECRET_KEY"),
    "timeout": ("PROVISIONER_TIMEOUT", "CLOUDSTACK_TIMEOUT"),
}
#: Seconds an async job may take, as the CloudStack provider's ``timeout`` (900 s).
DEFAULT_TIMEOUT = 900.0


@dataclass(frozen=True)
class Problem:
    """One configuration mistake: the attribute, a summary and what to do."""

    attribute: str
    summary: str
    detail: str


@dataclass(frozen=True)
class Settings:
    """The resolved provider configuration (the keys are never shown)."""

    api_url: str
    api_key: str = field(repr=False)
    secret_key: str = field(repr=False)
    timeout: float = DEFAULT_TIMEOUT


def _known(value: Any) -> bool:
    from tf.types import Unknown

    return value is not None and value is not Unknown


def resolve(config: Mapping[str, Any], env: Mapping[str, str]) -> tuple[Settings | None, list[Problem]]:
    """Settings from the provider block and the environment, or the problems that prevent them."""
    values: dict[str, Any] = {}
    problems: list[Problem] = []
    for name, variables in ENV.items():
        given = config.get(name)
        if _known(given) and given != "":
            values[name] = given
            continue
        values[name] = next((env[var] for var in variables if env.get(var)), None)
        if values[name] is None and name != "timeout":
            problems.append(
                Problem(
                    name,
                    f"Missing {name}",
                    f"Set {name} in the provider block or the environment variable {' or '.join(variables)}.",
                )
            )
    url = values["api_url"]
    if url is not None:
        parsed = urlparse(str(url))
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            problems.append(
                Problem(
                    "api_url",
                    "Invalid api_url",
                    f"{url!r} is not an http(s) URL; use the API endpoint, e.g. http://127.0.0.1:8080/client/api.",
                )
            )
    timeout = DEFAULT_TIMEOUT
    if values["timeout"] is not None:
        try:
            timeout = float(values["timeout"])
        except ValueError:
            timeout = -1.0
        if timeout <= 0:
            problems.append(
                Problem("timeout", "Invalid timeout", f"{values['timeout']!r} is not a positive number of seconds.")
            )
    if problems:
        return None, problems
    return Settings(str(url), str(values["api_key"]), str(values["secret_key"]), timeout), []
