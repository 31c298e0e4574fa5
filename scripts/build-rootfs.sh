#!/usr/bin/env bash
# Build (once) a Debian 12 "bookworm" root filesystem with debootstrap, for fake hosts and podman images.
#
# Usage: scripts/build-rootfs.sh [--tar] [--include PKG,PKG...] [--print-key]
#
#   (no option)   build if needed and print the root filesystem directory
#   --tar         also make (if needed) a tarball of it and print the tarball's path instead;
#                 `podman import --change 'CMD ["sleep","infinity"]' "$(scripts/build-rootfs.sh --tar)" IMAGE`
#   --include     extra Debian packages baked in (hosts on 198.18.0.0/15 cannot reach the apt mirror, so
#                 packages a role installs must already be present for the role to converge there)
#   --print-key   print the cache key (packages + script version) and exit
#
# The result lives under ${PROVISIONER_CACHE:-~/.cache/provisioner}/rootfs/, keyed by the package list, so a
# second run returns at once. Concurrent runs are serialised with flock; a build happens in a temporary directory
# renamed into place only when complete, so an interrupted build never leaves a half root filesystem behind.
# Environment: DEBIAN_MIRROR (default: the first URIs: of /etc/apt/sources.list.d/debian.sources), SUITE (bookworm).
set -euo pipefail

VERSION=1   # bump when the way the tree is built changes, so caches rebuild
SUITE=${SUITE:-bookworm}
BASE_PACKAGES=python3,python3-apt,openssh-server,sudo,iproute2,iputils-ping,procps,ca-certificates
EXTRA=""
WANT_TAR=0
PRINT_KEY=0

die() { echo "build-rootfs: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
    case "$1" in
        --tar) WANT_TAR=1 ;;
        --include) [ $# -ge 2 ] || die "--include needs a comma-separated package list"; EXTRA="$2"; shift ;;
        --include=*) EXTRA="${1#--include=}" ;;
        --print-key) PRINT_KEY=1 ;;
        -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown option '$1' (see --help)" ;;
    esac
    shift
done

# Sorted, de-duplicated package list: the same set in any order gives the same cache entry.
PACKAGES=$(printf '%s,%s' "$BASE_PACKAGES" "$EXTRA" | tr ',' '\n' | sed '/^$/d' | sort -u | paste -sd, -)
KEY=$(printf 'v%s %s %s' "$VERSION" "$SUITE" "$PACKAGES" | sha256sum | cut -c1-12)
if [ "$PRINT_KEY" = 1 ]; then echo "$KEY"; exit 0; fi

CACHE=${PROVISIONER_CACHE:-$HOME/.cache/provisioner}/rootfs
ROOTFS="$CACHE/debian12-$KEY"
TARBALL="$ROOTFS.tar"
mkdir -p "$CACHE"

exec 9>"$CACHE/.lock-$KEY"
flock 9   # another build of the same key waits here, then finds the finished tree

if [ ! -f "$ROOTFS/.provisioner-rootfs" ]; then
    [ "$(id -u)" = 0 ] || die "debootstrap needs root (run as root or under sudo)"
    command -v debootstrap >/dev/null || die "debootstrap is not installed: apt-get install debootstrap"
    MIRROR=${DEBIAN_MIRROR:-$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)}
    MIRROR=${MIRROR:-http://deb.debian.org/debian}
    WORKDIR=$(mktemp -d "$CACHE/.build-$KEY.XXXXXX")
    trap 'rm -rf --one-file-system "$WORKDIR"' EXIT
    echo "build-rootfs: debootstrap $SUITE from $MIRROR with $PACKAGES (about a minute)" >&2
    if ! debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$WORKDIR/root" "$MIRROR" \
            >"$WORKDIR/debootstrap.log" 2>&1; then
        tail -n 30 "$WORKDIR/debootstrap.log" >&2
        die "debootstrap failed (full log above); check that $MIRROR is reachable"
    fi
    R="$WORKDIR/root"
    # sshd wants its privilege-separation directory; hosts get their own host keys from the fixture, but keep
    # the generated ones so the tree also works as-is.
    mkdir -p "$R/run/sshd" "$R/root/.ssh"
    chmod 700 "$R/root/.ssh"
    # A booted Debian has /etc/mtab (ganesha's VFS exports and df read it); a debootstrap tree may not.
    [ -e "$R/etc/mtab" ] || ln -s ../proc/self/mounts "$R/etc/mtab"
    # No init system inside: stop package scripts from trying to start services during later apt runs.
    printf '#!/bin/sh\nexit 101\n' >"$R/usr/sbin/policy-rc.d"
    chmod 755 "$R/usr/sbin/policy-rc.d"
    # Smaller tree and tarball: drop the downloaded .debs. The apt lists stay, so Ansible's apt module can
    # resolve the baked-in packages offline.
    rm -f "$R"/var/cache/apt/archives/*.deb
    printf 'suite=%s\npackages=%s\nkey=%s\n' "$SUITE" "$PACKAGES" "$KEY" >"$R/.provisioner-rootfs"
    rm -rf --one-file-system "$ROOTFS" "$TARBALL"
    mv "$R" "$ROOTFS"
    echo "build-rootfs: built $ROOTFS" >&2
fi

if [ "$WANT_TAR" = 1 ]; then
    if [ ! -f "$TARBALL" ]; then
        tar --numeric-owner -C "$ROOTFS" -cf "$TARBALL.partial" .
        mv "$TARBALL.partial" "$TARBALL"
    fi
    echo "$TARBALL"
else
    echo "$ROOTFS"
fi
