#!/usr/bin/env bash
# Build (once) the local podman image the molecule scenarios converge roles in.
#
# Usage: scripts/build-podman-image.sh [--packages] [IMAGE]
#
#   (no option)   import the root filesystem of scripts/build-rootfs.sh, with every package the roles
#                 install baked in, as IMAGE (default localhost/provisioner-roles:bookworm) and print IMAGE
#   --packages    print the comma-separated package list and exit (the same list suits fake hosts that
#                 converge the roles without reaching the apt mirror)
#
# No registry is reachable, so the image comes from debootstrap. The containers have no network, so the
# packages the roles install must already be there: the roles' apt tasks then find them installed.
# The image carries the root filesystem's cache key as a label; a second run with the same key returns at once.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
IMAGE=localhost/provisioner-roles:bookworm
# kvm_host, nfs_server (ganesha), iscsi_target (tgt), iscsi_initiator (libiscsi), management_server.
PACKAGES=qemu-system-x86,qemu-utils,qemu-block-extra,libvirt-daemon,libvirt-daemon-driver-qemu,libvirt-clients
PACKAGES+=,nfs-ganesha,nfs-ganesha-vfs,rpcbind,libnfs-utils,tgt,libiscsi-bin
PACKAGES+=,postgresql,python3-psycopg2,python3-venv
# netbase: the bootstrap's namespace hosts resolve service names; they use this same tree (tests/support/nethosts.py).
PACKAGES+=,netbase

die() { echo "build-podman-image: $*" >&2; exit 1; }

case "${1:-}" in
    --packages) echo "$PACKAGES"; exit 0 ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option '$1' (see --help)" ;;
    "") ;;
    *) IMAGE=$1 ;;
esac

command -v podman >/dev/null || die "podman is not installed: apt-get install podman runc"
export CONTAINERS_CONF=${CONTAINERS_CONF:-$HERE/../molecule/containers.conf}

KEY=$("$HERE/build-rootfs.sh" --include "$PACKAGES" --print-key)
if [ "$(podman image inspect --format '{{ index .Labels "provisioner.rootfs" }}' "$IMAGE" 2>/dev/null)" = "$KEY" ]; then
    echo "$IMAGE"
    exit 0
fi
TARBALL=$("$HERE/build-rootfs.sh" --tar --include "$PACKAGES")
echo "build-podman-image: importing $TARBALL as $IMAGE (about half a minute)" >&2
podman import --change 'CMD ["sleep", "infinity"]' --change "LABEL provisioner.rootfs=$KEY" \
    "$TARBALL" "$IMAGE" >/dev/null
echo "$IMAGE"
