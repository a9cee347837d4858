#!/bin/sh
# Installs the Debian packages the build and the tests need, and nothing else:
# apt runs only when a package is missing, so a second call costs one dpkg query.
set -eu

# The build (compilers, Meson, libraries), then what the tests, the demo and
# the template recipes run: python3 (check.py, the e2e tests), file
# (templates/minimal), procps (pgrep, pkill), mount and util-linux (losetup,
# mount, unshare), e2fsprogs (mkfs.ext4, filefrag), btrfs-progs,
# busybox-static and debootstrap (templates), qemu-system-x86 (vm qubes), cpio
# and kmod (their initramfs). Debian 12 minimal (a container
# image) has none of python3, file, procps and e2fsprogs.
PACKAGES="build-essential meson ninja-build pkg-config libsqlite3-dev libcmocka-dev \
libseccomp-dev libmnl-dev libnftables-dev nftables busybox-static e2fsprogs btrfs-progs \
debootstrap bubblewrap clang libclang-rt-14-dev clang-format zlib1g-dev libdeflate-dev \
python3 file procps mount util-linux \
qemu-system-x86 cpio kmod"

missing=""
for p in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
    echo "install-deps: missing packages:$missing (run as root or install them)" >&2
    exit 1
fi
echo "install-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
