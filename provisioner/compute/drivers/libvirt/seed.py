"""The cloud-init NoCloud seed: ``user-data`` and ``meta-data`` on an ISO 9660 image labelled ``cidata``."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from provisioner.compute.types import CloudInitSeed
from provisioner.exceptions import DriverError

#: genisoimage builds the image in user space in a few milliseconds; the Makefile installs it.
SEED_TOOL = "genisoimage"
_TIMEOUT = 60


def build_seed_iso(seed: CloudInitSeed, path: Path) -> Path:
    """Write the NoCloud seed image for ``seed`` to ``path`` (replacing it).

    Raises:
        DriverError: genisoimage is missing or failed.
    """
    tool = shutil.which(SEED_TOOL)
    if tool is None:
        raise DriverError(f"building the cloud-init seed {path} needs {SEED_TOOL}: apt-get install {SEED_TOOL}")
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="cidata-") as tmp:
        staging = Path(tmp)
        (staging / "user-data").write_text(seed.user_data)
        (staging / "meta-data").write_text(seed.meta_data())
        command = [
            tool,
            "-quiet",
            "-output",
            str(path),
            "-volid",
            "cidata",
            "-joliet",
            "-rock",
            "user-data",
            "meta-data",
        ]
        result = subprocess.run(command, cwd=staging, capture_output=True, text=True, timeout=_TIMEOUT, check=False)
    if result.returncode != 0:
        raise DriverError(f"{SEED_TOOL} failed to build the cloud-init seed {path}: {result.stderr.strip()}")
    return path
