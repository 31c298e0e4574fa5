"""The cloud-init NoCloud seed: ``user-data``, ``meta-data`` (and ``vendor-data``) on an ISO 9660 image
labelled ``cidata``.

The image holds what the guest must read and nobody else: the user-data (it may carry secrets of the
user's own) and root's password hash. Like CloudStack's config drive it is a file on the host, so it is
written mode 0600 (QEMU opens it as root, or through libvirt's DAC labelling), and it is deleted with the
VM (``destroy_vm`` deletes the files ``define_vm`` created).
"""

from __future__ import annotations

import os
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
        files = ["user-data", "meta-data"]
        if seed.password_hash is not None:
            (staging / "vendor-data").write_text(seed.vendor_data())
            files.append("vendor-data")
        # genisoimage creates the image with the umask: make it 0600 before anything is written to it.
        path.unlink(missing_ok=True)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        command = [
            tool,
            "-quiet",
            "-output",
            str(path),
            "-volid",
            "cidata",
            "-joliet",
            "-rock",
            *files,
        ]
        result = subprocess.run(command, cwd=staging, capture_output=True, text=True, timeout=_TIMEOUT, check=False)
    if result.returncode != 0:
        raise DriverError(f"{SEED_TOOL} failed to build the cloud-init seed {path}: {result.stderr.strip()}")
    return path
