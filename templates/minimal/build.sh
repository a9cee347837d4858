#!/bin/sh
# build.sh DIR: the "minimal" template's root filesystem, made in seconds
# from Debian's busybox-static: sh and the usual applets, a `user` account
# (uid 1000), root's password locked. Guest programs (qubes-init,
# qrexec-agent, services) are not copied: they reach every qube read-only
# from dom0 at /run/qubes-guest.
set -eu
dir=$1
templates=$(cd "$(dirname "$0")/.." && pwd)
busybox=${BUSYBOX:-/bin/busybox}
[ -x "$busybox" ] || { echo "build.sh: $busybox not found (package busybox-static)" >&2; exit 1; }
file -L "$busybox" 2>/dev/null | grep -q "statically linked" ||
    { echo "build.sh: $busybox is not statically linked" >&2; exit 1; }

mkdir -p "$dir"
cd "$dir"
for d in bin sbin usr/bin usr/sbin usr/local etc/qubes-rpc etc/qubes/rpc-config root home rw \
         dev proc sys run tmp var/log var/tmp; do
    mkdir -p "$d"
done
chmod 0700 root
chmod 1777 tmp var/tmp
cp "$busybox" bin/busybox
chmod 0755 bin/busybox
# one symlink per applet, where busybox itself would install it
"$busybox" --list-full | while read -r applet; do
    case "$applet" in
    bin/busybox) continue ;;
    esac
    [ -e "$applet" ] || ln -s /bin/busybox "$applet"
done

cat >etc/passwd <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
user:x:1000:1000:user:/home/user:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PASSWD
cat >etc/group <<'GROUP'
root:x:0:
tty:x:5:user
users:x:100:user
user:x:1000:
nogroup:x:65534:
GROUP
# '!' locks the password: nobody logs in as root with one
cat >etc/shadow <<'SHADOW'
root:!:19000:0:99999:7:::
user:!:19000:0:99999:7:::
nobody:!:19000:0:99999:7:::
SHADOW
chmod 0640 etc/shadow
echo "minimal" >etc/hostname
printf 'NAME="Qubicle minimal"\nID=qubicle-minimal\n' >etc/os-release
touch etc/resolv.conf
sh "$templates/guest-links.sh" .
