#!/usr/bin/env bash
# Install what the full-kernel tier (netcheck vm run) and the Vagrant check need, on Debian:
#   - QEMU (software emulation is enough; KVM is used when /dev/kvm works);
#   - virtme-ng (`vng`) in the project venv, plus busybox-static for its fallback init;
#   - Docker's binaries (the guest starts its own daemons from them);
#   - Debian's generic kernel, unpacked into a cache dir with `dpkg -x` so the host's own
#     /boot and boot loader are never touched;
#   - vagrant + vagrant-libvirt, without recommends (with them apt pulls ~250 packages),
#     for `vagrant validate`.
# Idempotent: a second run installs nothing new. Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."

# Not under /var/cache: virtme-ng hides that behind a tmpfs in the guest, modules and all.
KERNEL_CACHE=${NETCHECK_KERNEL_DIR:-/var/lib/netcheck/kernel}
export DEBIAN_FRONTEND=noninteractive

apt_updated=0
apt_install() {
    if [ "$apt_updated" = 0 ]; then
        apt-get update -qq
        apt_updated=1
    fi
    apt-get install -y -qq --no-install-recommends "$@"
}

need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
[ -x /bin/busybox ] || command -v busybox >/dev/null || need+=(busybox-static)
# udev makes /dev/virtio-ports/*, which vng needs to return the guest's output and exit code.
command -v udevadm >/dev/null || need+=(udev)
command -v depmod >/dev/null || need+=(kmod)
if [ "${#need[@]}" -gt 0 ]; then
    echo "install-vm: apt-get install ${need[*]}"
    apt_install "${need[@]}"
fi

# The guest runs Docker scenarios (docker-vlan-autocreate) on this machine's own dockerd,
# containerd and runc binaries, seen through the shared root.
if ! command -v dockerd >/dev/null || ! command -v containerd >/dev/null; then
    sh scripts/install-docker.sh
fi

# Vagrant is only validated here (no libvirtd, no boxes); a missing package is not fatal.
if ! command -v vagrant >/dev/null || ! vagrant plugin list 2>/dev/null | grep -q libvirt; then
    echo "install-vm: apt-get install vagrant vagrant-libvirt"
    apt_install vagrant vagrant-libvirt || echo "install-vm: vagrant unavailable from apt" >&2
fi

# virtme-ng (vng) comes pinned from requirements.lock with the rest (scripts/setup.sh).
if [ -x .venv/bin/python ] && [ ! -x .venv/bin/vng ]; then
    bash scripts/setup.sh
fi

# The versioned package the linux-image-amd64 metapackage depends on, e.g.
# linux-image-6.1.0-42-amd64. Only the generic flavour has 9p, which vng's root needs.
if ! ls "$KERNEL_CACHE"/boot/vmlinuz-* >/dev/null 2>&1; then
    if [ "$apt_updated" = 0 ]; then apt-get update -qq; apt_updated=1; fi
    pkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
    if [ -z "$pkg" ]; then
        echo "install-vm: cannot resolve linux-image-amd64's kernel package" >&2
        exit 1
    fi
    echo "install-vm: fetching $pkg into $KERNEL_CACHE"
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    # apt fetches as the _apt user: let it write here, or it warns and falls back to root.
    if id _apt >/dev/null 2>&1; then chown _apt "$tmp"; fi
    (cd "$tmp" && apt-get download -q "$pkg")
    mkdir -p "$KERNEL_CACHE.new"
    dpkg -x "$tmp"/"$pkg"_*.deb "$KERNEL_CACHE.new"
    # The .deb ships no modules.dep: make it now, or modprobe in the guest finds nothing.
    # vng links the guest's /lib/modules/<ver> to lib/modules/ beside boot/ here.
    ver=${pkg#linux-image-}
    depmod -a -b "$KERNEL_CACHE.new" "$ver"
    rm -rf "$KERNEL_CACHE"
    mv "$KERNEL_CACHE.new" "$KERNEL_CACHE"
fi
ls "$KERNEL_CACHE"/boot/vmlinuz-*
