#!/bin/sh
# guest-libs.sh list|interp|copy OUTDIR  LIB...: the shared objects a guest
# program linked against LIB... needs (each LIB, what ldd says it loads, libc
# and the loader), so that they travel with the guest directory: qubes see
# it at /run/qubes-guest, and a template need not have any of them.
#   list          their file names, one a line (Meson's outputs)
#   interp        the loader's file name (the program's PT_INTERP)
#   copy OUTDIR   copies the files (not links) into OUTDIR
set -eu
mode=$1
shift
out=
if [ "$mode" = copy ]; then
    out=$1
    shift
fi
paths() {
    for lib in "$@"; do
        echo "$lib"
        # "name => /path (addr)" and the loader's "/path (addr)"
        ldd "$lib" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}'
    done | sort -u
}
case $mode in
list) paths "$@" | while read -r p; do basename "$p"; done ;;
interp) paths "$@" | while read -r p; do basename "$p"; done | grep '^ld-linux' ;;
copy)
    paths "$@" | while read -r p; do
        cp -L "$p" "$out/$(basename "$p").tmp"
        mv "$out/$(basename "$p").tmp" "$out/$(basename "$p")"
    done
    ;;
*) echo "usage: $0 list|interp|copy OUTDIR LIB..." >&2; exit 2 ;;
esac
