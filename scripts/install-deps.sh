#!/bin/sh
# Installs the Debian packages the build and the tests need, and nothing else:
# apt runs only when a package is missing, so a second call costs one dpkg query.
set -eu

PACKAGES="build-essential meson ninja-build pkg-config libsqlite3-dev libcmocka-dev \
libseccomp-dev busybox-static e2fsprogs btrfs-progs debootstrap bubblewrap \
clang libclang-rt-14-dev zlib1g-dev clang-format"

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
