"""Plain-data views of topology objects, shaped for the roles that consume them (no secrets, only references)."""

from __future__ import annotations

import ipaddress
from typing import Any

from provisioner.model import (
    CredentialRef,
    ImageStore,
    PhysicalNetwork,
    Pod,
    PrimaryStorage,
    StorageProtocol,
    Template,
)

#: Role prefix of the host-level vars of each hypervisor (``kvm_host_bridges``, ...).
HYPERVISOR_ROLE = {
    "kvm": "kvm_host",
    "vmware": "vmware_host",
    "xenserver": "xenserver_host",
    "hyperv": "hyperv_host",
    "simulator": "simulator_host",
}

#: Which traffic label a hypervisor uses; the simulator mimics KVM.
_LABEL_FIELD = {
    "kvm": "kvm_label",
    "vmware": "vmware_label",
    "xenserver": "xen_label",
    "hyperv": "hyperv_label",
    "simulator": "kvm_label",
}


#: The lookup plugin that reads each kind of credential reference at run time.
LOOKUP_PLUGINS = {"env": "ansible.builtin.env", "file": "ansible.builtin.file", "vault": "ansible.builtin.vars"}


def credential(ref: CredentialRef) -> dict[str, str]:
    """A credential reference as plain data: never the secret, and never a template.

    A role reads the secret with ``lookup(cred.lookup_plugin, cred.reference)`` (under ``no_log``).
    The structure holds no Jinja on purpose: Ansible templates whole structures when it loops over
    them or prints them, and a template here would fetch the secret (or fail on an undefined vault
    variable) in places that never asked for it.

    Args:
        ref: the credential reference.

    Returns:
        ``{kind, reference, username?, lookup_plugin}``; ``kind`` is ``env``, ``file`` or ``vault``,
        ``reference`` the variable name, path or vault variable.
    """
    out = {"kind": ref.kind, "reference": ref.reference}
    if ref.username is not None:
        out["username"] = ref.username
    out["lookup_plugin"] = LOOKUP_PLUGINS[ref.kind]
    return out


def connection(address: str | None, user: str | None, port: int | None) -> dict[str, Any]:
    """How Ansible reaches a machine: ``ansible_host`` plus the per-machine user and port overrides.

    A machine without an address (a simulator host) gets ``ansible_connection: local``: its
    preflight runs on the controller, as the simulator itself does.
    """
    out: dict[str, Any] = {"ansible_host": address} if address else {"ansible_connection": "local"}
    if user is not None:
        out["ansible_user"] = user
    if port is not None:
        out["ansible_port"] = port
    return out


def pod_cidr(pod: Pod) -> str:
    """The pod's management network in CIDR form (from its gateway and netmask)."""
    return str(ipaddress.IPv4Network(f"{pod.gateway}/{pod.netmask}", strict=False))


def bridges(networks: list[PhysicalNetwork], hypervisor: str, nics: dict[str, str]) -> list[dict[str, Any]]:
    """The bridges (network labels) a host needs, with the NIC enslaved to each.

    Traffic types of one physical network that share a label share a bridge. Traffic without a
    label for this hypervisor is left to the hypervisor's default and yields no bridge.

    Args:
        networks: the zone's physical networks.
        hypervisor: the host's hypervisor (picks ``kvm_label``, ``vmware_label``, ...).
        nics: the host's mapping of physical network name to NIC.

    Returns:
        ``[{name, physical_network, nic, traffic, vlan_ranges, public_vlans}]`` in document order.
    """
    field = _LABEL_FIELD[hypervisor]
    out: list[dict[str, Any]] = []
    for network in networks:
        by_label: dict[str, list[str]] = {}
        for traffic in network.traffic:
            label = getattr(traffic, field)
            if label:
                by_label.setdefault(label, []).append(traffic.type.value)
        for label, kinds in by_label.items():
            public_vlans = sorted({r.vlan for r in network.public_ip_ranges if r.vlan is not None})
            out.append(
                {
                    "name": label,
                    "physical_network": network.name,
                    "nic": nics.get(network.name),
                    "traffic": kinds,
                    "vlan_ranges": [f"{a}-{b}" if a != b else str(a) for a, b in network.vlan_ranges]
                    if "guest" in kinds
                    else [],
                    "public_vlans": public_vlans if "public" in kinds else [],
                }
            )
    return out


def storage_pool(pool: PrimaryStorage, zone: str, address: str | None) -> dict[str, Any]:
    """A primary storage pool as a host must attach it.

    Args:
        pool: the pool.
        zone: its zone's name.
        address: the IP of its server when the server is a storage server of the topology, else its
            ``server`` as written (an IP or DNS name).

    Returns:
        The pool's fields without ``None`` values, plus ``zone``, ``scope`` and a ``url``.
    """
    out: dict[str, Any] = {"name": pool.name, "zone": zone, "protocol": pool.protocol.value}
    out["scope"] = pool.effective_scope.value
    if pool.server is not None:
        out["server"] = pool.server
        out["address"] = address
    for key in ("path", "iqn", "lun", "capacity", "overprovisioning"):
        value = getattr(pool, key)
        if value is not None:
            out[key] = value
    if pool.tags:
        out["tags"] = list(pool.tags)
    if pool.chap is not None:
        out["chap"] = credential(pool.chap)
    if pool.protocol is StorageProtocol.NFS:
        out["url"] = f"nfs://{address}{pool.path}"
    elif pool.protocol is StorageProtocol.ISCSI:
        out["url"] = f"iscsi://{address}/{pool.iqn}/{pool.lun}"
    else:
        out["url"] = f"file://{pool.path}"
    return out


def image_store(store: ImageStore, zone: str, address: str) -> dict[str, Any]:
    """An image store as the zone's hosts and the template playbook see it."""
    out: dict[str, Any] = {"name": store.name, "zone": zone, "server": store.server, "address": address}
    out["path"] = store.path
    out["url"] = f"nfs://{address}{store.path}"
    return out


def template(item: Template) -> dict[str, Any]:
    """A template to seed into an image store."""
    out: dict[str, Any] = {"name": item.name, "url": item.url, "format": item.format.value}
    out["hypervisor"] = item.hypervisor.value
    if item.checksum is not None:
        out["checksum"] = item.checksum
    return out
