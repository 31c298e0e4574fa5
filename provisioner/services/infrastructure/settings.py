"""The settings infrastructure reads: over-provisioning factors and capacity thresholds, by CloudStack name.

Reading and writing them (globally, per cluster, zone or pool, or as a SQL expression inside a query)
is the configuration service's (:mod:`provisioner.services.configuration`).
"""

from __future__ import annotations

__all__ = [
    "CLUSTER_CPU_THRESHOLD",
    "CLUSTER_MEMORY_THRESHOLD",
    "CPU_OVERPROVISIONING",
    "MEM_OVERPROVISIONING",
    "OVERPROVISIONED_POOL_TYPES",
    "POOL_ALLOCATED_THRESHOLD",
    "POOL_USED_THRESHOLD",
    "STORAGE_OVERPROVISIONING",
]

CPU_OVERPROVISIONING = "cpu.overprovisioning.factor"
MEM_OVERPROVISIONING = "mem.overprovisioning.factor"
STORAGE_OVERPROVISIONING = "storage.overprovisioning.factor"
CLUSTER_CPU_THRESHOLD = "cluster.cpu.allocated.capacity.disablethreshold"
CLUSTER_MEMORY_THRESHOLD = "cluster.memory.allocated.capacity.disablethreshold"
POOL_USED_THRESHOLD = "pool.storage.capacity.disablethreshold"
POOL_ALLOCATED_THRESHOLD = "pool.storage.allocated.capacity.disablethreshold"

#: Storage over-provisioning applies to these pool types only (``StorageManager``: NFS and VMFS-like pools).
OVERPROVISIONED_POOL_TYPES = ("NetworkFilesystem", "VMFS", "PreSetup", "DatastoreCluster")
