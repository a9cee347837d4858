#!/bin/sh
# build.sh DIR: the "debian-12" template's root filesystem: Debian bookworm
# (debootstrap --variant=minbase, plus sudo), a `user` account (uid 1000)
# with passwordless sudo and su as in Qubes, root's password locked. Needs root
# and network; takes a few minutes. The mirror is $MIRROR, else the host's
# first Debian mirror from its apt sources, else deb.debian.org.
set -eu
dir=$1
templates=$(cd "$(dirname "$0")/.." && pwd)
command -v debootstrap >/dev/null ||
    { echo "build.sh: debootstrap not found (package debootstrap)" >&2; exit 1; }

# The first "deb" URI of the host's sources serving bookworm (not -security).
host_mirror() {
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -r "$f" ] || continue
        # deb822 stanzas: print the URIs of one whose Suites has bookworm
        awk 'BEGIN { RS = ""; FS = "\n" }
            {
                uris = ""; suites = ""; types = ""
                for (i = 1; i <= NF; i++) {
                    if ($i ~ /^URIs:/) { uris = $i; sub(/^URIs:[ \t]*/, "", uris) }
                    if ($i ~ /^Suites:/) { suites = $i }
                    if ($i ~ /^Types:/) { types = $i }
                }
                if (types ~ /(^|[ \t])deb([ \t]|$)/ && suites ~ /[ \t]bookworm([ \t]|$)/) {
                    split(uris, u, /[ \t]+/); print u[1]; exit
                }
            }' "$f"
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -r "$f" ] || continue
        awk '$1 == "deb" {
                i = 2; if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
                if ($(i + 1) == "bookworm") { print $i; exit }
            }' "$f"
    done
}

mirror=${MIRROR:-$(host_mirror | head -n 1)}
mirror=${mirror:-http://deb.debian.org/debian}
echo "build.sh: debootstrap bookworm from $mirror"

debootstrap --variant=minbase --include=sudo bookworm "$dir" "$mirror"

cd "$dir"
# the places a Qubicle qube expects (see templates/minimal/build.sh)
mkdir -p etc/qubes-rpc etc/qubes/rpc-config rw home
sh "$templates/guest-links.sh" .
chroot "$dir" /usr/sbin/useradd --create-home --uid 1000 --user-group --shell /bin/bash user
chroot "$dir" /usr/sbin/groupadd --system qubes
chroot "$dir" /usr/sbin/usermod --append --groups users,qubes user
chroot "$dir" /usr/bin/passwd --lock user >/dev/null
chroot "$dir" /usr/bin/passwd --lock root >/dev/null
# Qubes' passwordless root: the user of a qube is its administrator (the
# qube is the boundary), through sudo and su alike, for the group qubes
cat >etc/sudoers.d/qubes <<'SUDOERS'
%qubes ALL=(ALL:ALL) NOPASSWD: ALL
SUDOERS
chmod 0440 etc/sudoers.d/qubes
sed -i '/^auth[[:space:]]*sufficient[[:space:]]*pam_rootok.so/a auth       sufficient pam_succeed_if.so use_uid user ingroup qubes' \
    etc/pam.d/su
grep -q 'ingroup qubes' etc/pam.d/su || { echo "build.sh: pam.d/su has no pam_rootok line" >&2; exit 1; }

cat >etc/apt/sources.list <<SOURCES
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
SOURCES
echo "debian-12" >etc/hostname
: >etc/resolv.conf
# what the image does not need to carry
rm -rf var/cache/apt/archives/*.deb var/cache/apt/*.bin var/lib/apt/lists/* var/log/*.log
echo "build.sh: done"
