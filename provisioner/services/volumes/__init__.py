"""Volumes: ``createVolume``, ``attachVolume``, ``detachVolume``, ``resizeVolume``, ``deleteVolume``, ``listVolumes``.

``records`` reads (and makes volumes taggable), ``lifecycle`` and ``attachment`` decide in one transaction
each, ``disks`` reaches the storage, and ``operations`` runs a command end to end.
"""

from provisioner.services.volumes import records as records
from provisioner.services.volumes import recovery as recovery

__all__ = ["records", "recovery"]
