"""Load a topology file into a validated :class:`~provisioner.model.Cloud`.

Minimal first version: parse and validate with pydantic. Positions, cross-object rules and
did-you-mean hints come in the full loader.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from provisioner.exceptions import ConfigFileError, Issue, ModelError
from provisioner.model import Cloud


def load_topology(path: str | Path) -> Cloud:
    """Read, parse and validate a topology file.

    Args:
        path: the YAML (or JSON) file.

    Returns:
        The validated cloud.

    Raises:
        ConfigFileError: the file cannot be read or is not YAML.
        ModelError: the document is not a valid topology; ``issues`` lists every problem.
    """
    file = Path(path)
    try:
        data = yaml.load(file.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
    except OSError as exc:
        raise ConfigFileError(f"{file}: cannot read the topology: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConfigFileError(f"{file}: not valid YAML: {exc}") from exc
    try:
        return Cloud.model_validate(data)
    except ValidationError as exc:
        issues = [
            Issue(path=".".join(str(p) for p in err["loc"]), message=err["msg"], file=str(file)) for err in exc.errors()
        ]
        raise ModelError(issues) from None
