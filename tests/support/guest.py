"""A tiny bootable guest built offline: Debian's kernel and a busybox initramfs with our own ``/init``,
for direct kernel boot or packed into a bootable qcow2 template disk.

The ``/init`` mounts the pseudo file systems, loads the virtio and iso9660 modules, looks for a block
device labelled ``cidata`` (the NoCloud seed), prints its user-data between markers on the serial
console, and the root password hash its vendor-data carries (never a password: the seed holds only the
hash), prints ``BOOT-OK`` and idles. An ACPI power-button press (libvirt's graceful shutdown and reboot)
makes it print :data:`ACPI_SHUTDOWN` and power off at once. Nothing of it goes into git: the kernel
package is downloaded with ``apt-get download`` into a cache under ``.work/`` and unpacked there.
"""

from __future__ import annotations

import contextlib
import gzip
import lzma
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from provisioner.exceptions import DriverError
from tests.support.tools import missing, require_tool

CACHE = Path(__file__).resolve().parents[2] / ".work" / "compute-guest"
BOOT_MARKER = "BOOT-OK"
USERDATA_BEGIN = "---USERDATA-BEGIN---"
USERDATA_END = "---USERDATA-END---"
#: A user-data line that makes the guest power itself off after booting.
POWEROFF_REQUEST = "provisioner-test: poweroff"
#: A user-data line that makes the guest wait (at most 300 s) for a second virtio disk and write
#: :data:`DISK_MARKER` at its first byte, then print :data:`DISK_MARKER_WRITTEN`.
DISK_MARKER_REQUEST = "provisioner-test: mark-vdb"
DISK_MARKER = "PROVISIONER-DISK-MARKER"
DISK_MARKER_WRITTEN = "MARKER-WRITTEN"
#: Printed, followed by the hash, when the seed's vendor-data sets root's password (``root:<crypt hash>``).
PASSWORD_HASH_MARKER = "PASSWORD-HASH"
#: Printed, followed by the key, for each SSH public key of the seed's meta-data.
PUBLIC_KEY_MARKER = "PUBLIC-KEY"
#: Printed when the ACPI power button was pressed, right before the guest powers off.
ACPI_SHUTDOWN = "ACPI-SHUTDOWN"
MODULES = (
    "virtio_ring",
    "virtio",
    "virtio_pci_legacy_dev",
    "virtio_pci_modern_dev",
    "virtio_pci",
    "virtio_blk",
    # A SATA CD-ROM (the NoCloud seed's default bus): AHCI and the SCSI CD-ROM driver.
    "scsi_common",
    "scsi_mod",
    "libata",
    "libahci",
    "ahci",
    "cdrom",
    "sr_mod",
    "isofs",
    # The ACPI power button and the event device it reports through.
    "evdev",
    "button",
)
KERNEL_CMDLINE = "console=ttyS0 quiet panic=-1"
#: Where libvirtd writes the file consoles of the API's VMs (``<instance name>.console.log``).
CONSOLE_DIR = Path("/var/log/libvirt/qemu")

INIT = f"""#!/bin/sh
mkdir -p /proc /sys /dev /tmp /mnt/seed
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in {" ".join(MODULES)}; do insmod /lib/modules/$m.ko 2>/dev/null; done
# Power off when the ACPI power button is pressed: one input event (24 bytes on x86-64) on its device.
for e in /sys/class/input/event*; do
  grep -qx "Power Button" "$e/device/name" 2>/dev/null || continue
  (dd if="/dev/input/${{e##*/}}" bs=24 count=1 >/dev/null 2>&1 && echo "{ACPI_SHUTDOWN}" && poweroff -f) &
done
# Block devices appear asynchronously; wait at most 5 s for the first one.
i=0
while [ $i -lt 50 ] && ! ls /dev/vd? >/dev/null 2>&1; do sleep 0.1; i=$((i+1)); done
# A SATA CD-ROM shows up a little after its driver loads: look for the seed for at most 3 s.
j=0
while [ $j -lt 30 ] && [ -z "$seeded" ]; do
  for dev in /dev/vd? /dev/sr?; do
    [ -b "$dev" ] || continue
    # The ISO 9660 volume label sits at byte 32808 (busybox-static has no blkid).
    label=$(dd if="$dev" bs=1 skip=32808 count=6 2>/dev/null | tr a-z A-Z)
    [ "$label" = "CIDATA" ] || continue
    mount -t iso9660 -o ro "$dev" /mnt/seed || continue
    seeded=1
    echo "SEED $dev"
    echo "{USERDATA_BEGIN}"
    cat /mnt/seed/user-data
    echo
    echo "{USERDATA_END}"
    sed -n "s/^  - /{PUBLIC_KEY_MARKER} /p" /mnt/seed/meta-data
    if [ -f /mnt/seed/vendor-data ]; then
      hash=$(sed -n "s/.*root:\\(\\$[^' ]*\\).*/\\1/p" /mnt/seed/vendor-data | head -n 1)
      [ -n "$hash" ] && echo "{PASSWORD_HASH_MARKER} $hash"
    fi
    grep -q "{POWEROFF_REQUEST}" /mnt/seed/user-data && poweroff_requested=1
    grep -q "{DISK_MARKER_REQUEST}" /mnt/seed/user-data && marker_requested=1
    umount /mnt/seed
    break
  done
  [ -n "$seeded" ] || sleep 0.1
  j=$((j+1))
done
echo "{BOOT_MARKER}"
# Tests ask for a marker on a data disk that is hot-plugged after boot.
if [ -n "$marker_requested" ]; then
  k=0
  while [ $k -lt 3000 ] && [ ! -b /dev/vdb ]; do sleep 0.1; k=$((k+1)); done
  echo "{DISK_MARKER}" | dd of=/dev/vdb bs=512 conv=sync,fsync 2>/dev/null && sync && echo "{DISK_MARKER_WRITTEN}"
fi
# Tests ask for a guest that powers itself off, to see the host notice it behind the driver's back.
[ -n "$poweroff_requested" ] && poweroff -f
while true; do sleep 3600; done
"""


@dataclass(frozen=True)
class GuestImage:
    """Kernel and initramfs of the tiny guest.

    Attributes:
        kernel: the Debian bzImage (what the bootable template's syslinux loads).
        initrd: the busybox initramfs.
        direct_kernel: what direct kernel boots load: the bzImage's payload, uncompressed (an ELF with a PVH entry,
            which QEMU boots without running the XZ decompressor, ≈ 3 s of TCG per boot), else the bzImage itself.
    """

    kernel: Path
    initrd: Path
    direct_kernel: Path


def _run(*command: str, cwd: Path | None = None, timeout: float = 300) -> str:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {result.stderr.strip()}")
    return result.stdout


def _kernel_tree() -> Path:
    """Download and unpack the Debian kernel package once (cached under ``.work/``)."""
    tree = CACHE / "kpkg"
    if (tree / "boot").is_dir():
        return tree
    for tool in ("apt-get", "apt-cache", "dpkg-deb"):
        if shutil.which(tool) is None:
            missing(f"{tool} is needed to fetch the guest kernel")
    CACHE.mkdir(parents=True, exist_ok=True)
    depends = _run("apt-cache", "depends", "linux-image-amd64")
    package = next(line.split()[1] for line in depends.splitlines() if line.strip().startswith("Depends: linux-image-"))
    for old in CACHE.glob("*.deb"):
        old.unlink()
    _run("apt-get", "download", package, cwd=CACHE)
    deb = next(CACHE.glob(f"{package}_*.deb"))
    staging = CACHE / "kpkg.partial"
    shutil.rmtree(staging, ignore_errors=True)
    _run("dpkg-deb", "-x", str(deb), str(staging))
    staging.rename(tree)
    deb.unlink()
    return tree


def _cpio(rootfs: Path, target: Path) -> None:
    listing = subprocess.run(["find", "."], cwd=rootfs, capture_output=True, check=True, timeout=60).stdout
    archive = subprocess.run(
        ["cpio", "-o", "-H", "newc", "--quiet"], cwd=rootfs, input=listing, capture_output=True, check=True, timeout=60
    ).stdout
    target.write_bytes(gzip.compress(archive, compresslevel=1))


def _uncompressed_kernel(bzimage: Path, config: Path, target: Path) -> Path:
    """The ELF kernel inside ``bzimage`` written to ``target``, when the kernel has a PVH entry (``CONFIG_PVH``) and
    an XZ payload (Debian's); else ``bzimage``."""
    if "CONFIG_PVH=y" not in config.read_text().splitlines():
        return bzimage
    data = bzimage.read_bytes()
    start = data.find(b"\xfd7zXZ\x00")
    if start < 0:
        return bzimage
    try:
        elf = lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(data[start:])
    except lzma.LZMAError:
        return bzimage
    if not elf.startswith(b"\x7fELF"):
        return bzimage
    target.write_bytes(elf)
    return target


def build_guest(workdir: Path) -> GuestImage:
    """Build the kernel + initramfs pair in ``workdir`` (seconds after the first download).

    Skips (or fails under ``make test``) when busybox, cpio or the apt tools are missing.
    """
    busybox = shutil.which("busybox")
    if busybox is None or shutil.which("cpio") is None:
        missing("busybox-static and cpio are needed to build the guest initramfs")
        raise AssertionError("unreachable")
    tree = _kernel_tree()
    kernel = next((tree / "boot").glob("vmlinuz-*"))
    modules_root = next((tree / "lib" / "modules").iterdir())
    rootfs = workdir / "rootfs"
    (rootfs / "bin").mkdir(parents=True)
    (rootfs / "lib" / "modules").mkdir(parents=True)
    shutil.copy(busybox, rootfs / "bin" / "busybox")
    applets = _run(busybox, "--list").split()
    for applet in applets:
        # A busybox -> busybox self-link makes the kernel fail /init with ELOOP.
        if applet != "busybox":
            os.symlink("busybox", rootfs / "bin" / applet)
    for module in MODULES:
        source = next(modules_root.rglob(f"{module}.ko"))
        shutil.copy(source, rootfs / "lib" / "modules" / f"{module}.ko")
    init = rootfs / "init"
    init.write_text(INIT)
    init.chmod(0o755)
    initrd = workdir / "initramfs.gz"
    _cpio(rootfs, initrd)
    shutil.copy(kernel, workdir / "vmlinuz")
    config = next((tree / "boot").glob("config-*"))
    direct = _uncompressed_kernel(workdir / "vmlinuz", config, workdir / "vmlinux")
    return GuestImage(workdir / "vmlinuz", initrd, direct)


def console_offsets(directory: Path = CONSOLE_DIR) -> dict[str, int]:
    """The size of each console log in ``directory``, by file name.

    Console logs outlive their domains and instance names repeat across runs (``i-2-1-VM``): a test reads the
    console of a VM it is about to create from the offset its log had before.
    """
    return {log.name: log.stat().st_size for log in directory.glob("*.console.log")}


def wait_for_console(path: Path, marker: str, *, offset: int = 0, timeout: float = 120) -> str:
    """Wait until ``marker`` appears in the console log after byte ``offset``; return that text.

    The driver opens file consoles in append mode, so the log keeps every boot.

    Raises:
        TimeoutError: the marker did not appear in time (the log's tail is in the message).
    """
    deadline = time.monotonic() + timeout
    text = ""
    for _ in range(int(timeout / 0.25) + 1):
        data = path.read_bytes() if path.exists() else b""
        text = data[offset:].decode(errors="replace")
        if marker in text:
            return text
        if time.monotonic() > deadline:
            break
        time.sleep(0.25)
    raise TimeoutError(f"{marker!r} did not appear in {path} within {timeout} s; last output: {text[-800:]!r}")


def user_data_from_console(text: str) -> str:
    """The user-data the guest printed between the markers."""
    start = text.index(USERDATA_BEGIN) + len(USERDATA_BEGIN)
    return text[start : text.index(USERDATA_END, start)].strip("\r\n").replace("\r\n", "\n")


def public_keys_from_console(text: str) -> list[str]:
    """The SSH public keys the guest read from its seed's meta-data, in order."""
    prefix = f"{PUBLIC_KEY_MARKER} "
    return [line[len(prefix) :].strip() for line in text.splitlines() if line.startswith(prefix)]


def crypt_matches(password: str, crypt_hash: str) -> bool:
    """Whether ``crypt_hash`` (``$6$salt$...``) is the SHA-512 crypt hash of ``password``, as OpenSSL computes it.

    The password goes to ``openssl passwd`` on its standard input, never on its command line.
    """
    salt = crypt_hash.split("$")[2]
    result = subprocess.run(
        [require_tool("openssl"), "passwd", "-6", "-salt", salt, "-stdin"],
        input=password,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return result.stdout.strip() == crypt_hash


def password_hash_from_console(text: str) -> str | None:
    """The root password hash the guest read from its seed (the last one printed), or None."""
    hashes = [line.split()[1] for line in text.splitlines() if line.startswith(f"{PASSWORD_HASH_MARKER} $")]
    return hashes[-1] if hashes else None


SYSLINUX_CFG = f"""DEFAULT linux
PROMPT 0
TIMEOUT 0
LABEL linux
  KERNEL /vmlinuz
  INITRD /initrd.gz
  APPEND {KERNEL_CMDLINE}
"""


def build_template(image: GuestImage, target: Path) -> Path:
    """Pack the guest into a bootable qcow2 template at ``target``, entirely in user space.

    The disk is a "superfloppy": one FAT file system over the whole disk, holding the kernel, the
    initramfs and a syslinux configuration; ``syslinux --install`` (mtools based, no mount) writes
    the boot sector, which SeaBIOS runs like any MBR. Boots in about the time of a direct boot.
    """
    tools = {tool: shutil.which(tool) for tool in ("mkfs.vfat", "mcopy", "syslinux", "qemu-img")}
    if None in tools.values():
        missing(
            f"{', '.join(t for t, p in tools.items() if p is None)} missing for the template "
            "(apt: dosfstools mtools syslinux qemu-utils)"
        )
    raw = target.with_suffix(".raw")
    config = target.with_name("syslinux.cfg")
    config.write_text(SYSLINUX_CFG)
    with raw.open("wb") as disk:
        disk.truncate(48 << 20)
    _run("mkfs.vfat", "-n", "TINYBOOT", str(raw))
    for source, name in ((image.kernel, "vmlinuz"), (image.initrd, "initrd.gz"), (config, "syslinux.cfg")):
        _run("mcopy", "-i", str(raw), str(source), f"::/{name}")
    _run("syslinux", "--install", str(raw))
    _run("qemu-img", "convert", "-O", "qcow2", str(raw), str(target))
    raw.unlink()
    return target


def register_template(api: Any, url: str, zone: str, name: str, **params: Any) -> str:
    """Register the tiny template from ``url`` as a KVM QCOW2 template in ``zone``; its id once it is Ready.

    ``api`` is a ``cs`` client; ``params`` go to ``registerTemplate`` as they are (``passwordenabled``, ...).

    Raises:
        TimeoutError: the template was not Ready within 180 s (its rows are in the message).
    """
    template = api.registerTemplate(
        name=name,
        displaytext=name,
        url=url,
        format="QCOW2",
        hypervisor="KVM",
        zoneid=zone,
        ostypeid=api.listOsTypes()["ostype"][0]["id"],
        **params,
    )["template"][0]
    rows: list[dict[str, Any]] = []
    for _ in range(360):
        rows = api.listTemplates(id=template["id"], templatefilter="all")["template"]
        if all(row["isready"] for row in rows):
            return str(template["id"])
        time.sleep(0.5)
    raise TimeoutError(f"template {name} from {url} was not Ready within 180 s: {rows}")


def remove_test_domains(uri: str) -> None:
    """Destroy every ``i-*`` domain (a VM of the API) libvirtd at ``uri`` still has, with its files.

    A failed end-to-end run must not leave a domain behind in libvirtd's persistent configuration.
    """
    from provisioner.compute.drivers.libvirt import LibvirtDriver  # needs libvirt-python, as its callers do

    with LibvirtDriver(uri) as driver:
        for leftover in driver.list_vms():
            if leftover.name.startswith("i-"):
                with contextlib.suppress(DriverError):
                    driver.destroy_vm(leftover.name)
