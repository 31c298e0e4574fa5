"""All tables on one ``MetaData``; add an area by adding a module here and a migration revision.

Import tables from this package (``from provisioner.db.schema import account``) or from the
area module; importing the package registers every area on :data:`metadata`.
"""

from provisioner.db.schema.base import metadata, new_uuid, utcnow
from provisioner.db.schema.compute import (
    affinity_group,
    affinity_group_vm_map,
    guest_network,
    instance_group,
    instance_group_vm_map,
    ip_address,
    nic,
    ssh_keypair,
    user_data,
    vm_instance,
    volume,
)
from provisioner.db.schema.config import configuration, resource_tag
from provisioner.db.schema.hosts import host, host_tag, hypervisor_capability
from provisioner.db.schema.identity import (
    account,
    api_session,
    domain,
    resource_limit,
    role,
    role_permission,
    user,
)
from provisioner.db.schema.jobs import async_job, mshost
from provisioner.db.schema.network import (
    network_service_provider,
    physical_network,
    physical_network_traffic_type,
    virtual_router_element,
    vlan_ip_range,
)
from provisioner.db.schema.offerings import (
    disk_offering,
    network_offering,
    network_offering_service,
    os_category,
    os_type,
    service_offering,
)
from provisioner.db.schema.operations import vm_migration
from provisioner.db.schema.snapshots import snapshot, vm_snapshot
from provisioner.db.schema.storage import image_store, storage_pool, storage_pool_tag
from provisioner.db.schema.templates import (
    template_extract,
    template_permission,
    template_pool_ref,
    template_store_ref,
    template_zone_ref,
    vm_iso,
    vm_template,
)
from provisioner.db.schema.zones import cluster, pod, region, zone

__all__ = [
    "account",
    "affinity_group",
    "affinity_group_vm_map",
    "api_session",
    "async_job",
    "cluster",
    "configuration",
    "disk_offering",
    "domain",
    "guest_network",
    "host",
    "host_tag",
    "hypervisor_capability",
    "image_store",
    "instance_group",
    "instance_group_vm_map",
    "ip_address",
    "metadata",
    "mshost",
    "network_offering",
    "network_offering_service",
    "network_service_provider",
    "new_uuid",
    "nic",
    "os_category",
    "os_type",
    "physical_network",
    "physical_network_traffic_type",
    "pod",
    "region",
    "resource_limit",
    "resource_tag",
    "role",
    "role_permission",
    "service_offering",
    "snapshot",
    "ssh_keypair",
    "storage_pool",
    "storage_pool_tag",
    "template_extract",
    "template_permission",
    "template_pool_ref",
    "template_store_ref",
    "template_zone_ref",
    "user",
    "user_data",
    "utcnow",
    "virtual_router_element",
    "vlan_ip_range",
    "vm_instance",
    "vm_iso",
    "vm_migration",
    "vm_snapshot",
    "vm_template",
    "volume",
    "zone",
]
