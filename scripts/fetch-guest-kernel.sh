#!/bin/sh
# fetch-guest-kernel.sh DIR: the kernel of vm qubes, Debian's cloud kernel, as
# the package linux-image-cloud-amd64 currently depends on, downloaded with
# apt-get and unpacked into DIR, never installed (installing a kernel would
# change how the host boots). DIR then holds:
#   version   the versioned package and its version ("linux-image-X 6.1.N-M")
#   vmlinuz   the kernel
#   modules/  its lib/modules/<release> tree
# Run again, it costs two apt-cache queries unless the metapackage moved on.
set -eu
dir=$1
meta=linux-image-cloud-amd64

# the versioned package the metapackage depends on, and its candidate version
pkg=$(apt-cache depends "$meta" 2>/dev/null |
    awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9].*-cloud-amd64$/ {print $2; exit}')
if [ -z "$pkg" ] && [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    pkg=$(apt-cache depends "$meta" 2>/dev/null |
        awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9].*-cloud-amd64$/ {print $2; exit}')
fi
if [ -z "$pkg" ]; then
    if [ -f "$dir/version" ] && [ -f "$dir/vmlinuz" ]; then
        echo "fetch-guest-kernel: apt knows no $meta; keeping $(cat "$dir/version")" >&2
        exit 0
    fi
    echo "fetch-guest-kernel: apt knows no $meta (run apt-get update as root)" >&2
    exit 1
fi
version=$(apt-cache policy "$pkg" | awk '$1 == "Candidate:" {print $2}')
want="$pkg $version"
if [ -f "$dir/version" ] && [ "$(cat "$dir/version")" = "$want" ] && [ -f "$dir/vmlinuz" ]; then
    exit 0
fi

echo "fetch-guest-kernel: $want"
mkdir -p "$dir"
tmp=$(mktemp -d "$dir/.fetch.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# apt's download sandbox user (_apt) must be able to write where it downloads
chmod 0755 "$tmp"
mkdir "$tmp/deb"
chmod 0777 "$tmp/deb"
(cd "$tmp/deb" && apt-get download -q "$pkg=$version" >/dev/null)
deb=$(ls "$tmp"/deb/*.deb)
dpkg-deb -x "$deb" "$tmp/x"
release=${pkg#linux-image-}
[ -f "$tmp/x/boot/vmlinuz-$release" ] && [ -d "$tmp/x/lib/modules/$release" ] || {
    echo "fetch-guest-kernel: $deb holds no boot/vmlinuz-$release and lib/modules/$release" >&2
    exit 1
}
# replaced as a whole: a half-fetched kernel is never taken for a whole one
mkdir "$tmp/new"
mv "$tmp/x/boot/vmlinuz-$release" "$tmp/new/vmlinuz"
mv "$tmp/x/lib/modules/$release" "$tmp/new/modules"
echo "$want" >"$tmp/new/version"
rm -f "$dir/version"
rm -rf "$dir/vmlinuz" "$dir/modules"
mv "$tmp/new/vmlinuz" "$tmp/new/modules" "$dir/"
mv "$tmp/new/version" "$dir/version"
