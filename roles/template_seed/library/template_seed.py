"""Ansible module: seed templates into image stores with provisioner's replication engine."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: template_seed
short_description: Seed templates into image stores with provisioner's replication engine
description:
  - Fetches each template once into a cache on the machine running the module (HTTP(S) download, or a
    copy from a C(file://) path or an C(nfs://) store), checksummed inline, then replicates it into
    every image store with C(provisioner.storage.replication.stores.replicate) (sparse, checksummed,
    atomic; user-space NFS where the store is not mounted).
  - A template already on a store is left alone, so a second run changes nothing.
  - Runs where C(provisioner) is importable (the controller's virtualenv); the role delegates it there.
options:
  templates:
    description: Templates as C(provisioner render) writes them (name, url, format, checksum, hypervisor).
    type: list
    elements: dict
    required: true
  stores:
    description: Image stores (name, url, zone; C(mount_point) where the machine mounts an NFS store).
    type: list
    elements: dict
    required: true
  cache_dir:
    description: Directory where downloaded templates are kept between runs.
    type: path
    required: true
  allow_private:
    description: Allow downloads from loopback, link-local and private addresses.
    type: bool
    default: false
author: provisioner
"""

RETURN = r"""
seeded:
  description: One entry per template and store, with the file name, checksum and whether it was copied.
  returned: always
  type: list
  elements: dict
"""

import re  # noqa: E402
import uuid  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

#: Namespace of the ids derived from template names, so every run and every store agree on a file name.
SEED_NAMESPACE = uuid.UUID("6f1d3c52-5b7e-4a43-9d0e-2f5c8a9b7e10")


def seed_uuid(name: str) -> str:
    """The stable id of a seeded template: the same name gives the same id (and file name) everywhere."""
    return str(uuid.uuid5(SEED_NAMESPACE, name))


def _store_driver(store: dict[str, Any]) -> Any:
    from provisioner.storage.drivers.local import LocalStorageDriver
    from provisioner.storage.drivers.nfs import NfsStorageDriver

    url = str(store["url"])
    if url.startswith("nfs://"):
        settings = {"mount_point": store["mount_point"]} if store.get("mount_point") else {}
        return NfsStorageDriver(url, settings)
    return LocalStorageDriver(url)


def _fetch(template: dict[str, Any], cache: Any, name: str, allow_private: bool) -> tuple[bool, str | None]:
    """Put the template in the cache store under ``name``; return (fetched now, checksum)."""
    from provisioner.storage.drivers.nfs import NfsStorageDriver
    from provisioner.storage.replication.download import DownloadSettings, download
    from provisioner.storage.replication.stores import replicate

    if cache.local_path(name).exists():
        return False, template.get("checksum")
    url = str(template["url"])
    expected = template.get("checksum")
    if url.startswith(("http://", "https://")):
        result = download(
            url, cache.local_path(name), expected=expected, settings=DownloadSettings(allow_private=allow_private)
        )
    elif url.startswith("nfs://"):
        directory, _, file_name = url.rpartition("/")
        with NfsStorageDriver(directory) as source:
            result = replicate(source, file_name, cache, name, expected=expected)
    else:
        from provisioner.storage.drivers.local import LocalStorageDriver

        path = Path(re.sub(r"^file://", "", url))
        with LocalStorageDriver(str(path.parent)) as source:
            result = replicate(source, path.name, cache, name, expected=expected)
    return True, str(result.checksum())


def seed(params: dict[str, Any], check_mode: bool) -> tuple[bool, list[dict[str, Any]]]:
    """Seed every template into every store; return (changed, what each store holds)."""
    from provisioner.services.templates.stores import image_name
    from provisioner.storage.drivers.local import LocalStorageDriver
    from provisioner.storage.replication.stores import replicate

    cache_dir = Path(params["cache_dir"])
    cache_dir.mkdir(parents=True, exist_ok=True)
    changed = False
    seeded: list[dict[str, Any]] = []
    with LocalStorageDriver(str(cache_dir)) as cache:
        missing: dict[str, list[dict[str, Any]]] = {}
        for template in params["templates"]:
            name = image_name(seed_uuid(template["name"]), template["format"])
            for store in params["stores"]:
                with _store_driver(store) as driver:
                    present = name in {volume.name for volume in driver.list_volumes()}
                entry = {"template": template["name"], "store": store["name"], "zone": store.get("zone")}
                entry.update(file=name, uuid=seed_uuid(template["name"]), copied=not present)
                seeded.append(entry)
                if not present:
                    missing.setdefault(name, []).append(store)
        changed = bool(missing)
        if check_mode:
            return changed, seeded
        checksums: dict[str, str | None] = {}
        for template in params["templates"]:
            name = image_name(seed_uuid(template["name"]), template["format"])
            if name not in missing:
                continue
            _, checksums[name] = _fetch(template, cache, name, params["allow_private"])
            for store in missing[name]:
                with _store_driver(store) as driver:
                    replicate(cache, name, driver, expected=checksums[name])
        for entry in seeded:
            entry["checksum"] = checksums.get(entry["file"])
    return changed, seeded


def main() -> None:
    """Run the module."""
    module = AnsibleModule(
        argument_spec={
            "templates": {"type": "list", "elements": "dict", "required": True},
            "stores": {"type": "list", "elements": "dict", "required": True},
            "cache_dir": {"type": "path", "required": True},
            "allow_private": {"type": "bool", "default": False},
        },
        supports_check_mode=True,
    )
    try:
        import provisioner  # noqa: F401
    except ImportError:
        module.fail_json(
            msg="template_seed needs the provisioner package: run it where provisioner is installed "
            "(the role delegates it to the controller with template_seed_python)"
        )
    from provisioner.exceptions import ProvisionerError

    try:
        changed, seeded = seed(module.params, module.check_mode)
    except (ProvisionerError, OSError) as error:
        module.fail_json(msg=f"seeding templates failed: {error}")
    module.exit_json(changed=changed, seeded=seeded)


if __name__ == "__main__":
    main()
