#!/bin/sh
# make-vm-initramfs.sh KERNEL_DIR GUEST_DIR VM_BOOT OUTDIR: what a vm qube
# boots, in OUTDIR: vmlinuz (the kernel fetch-guest-kernel.sh put in
# KERNEL_DIR) and initramfs.img, a newc cpio holding
#   /init            vm-boot (VM_BOOT, static)
#   /modules/NN-*.ko the modules vm-boot loads, numbered in dependency order
#   /qubes-guest/    the guest programs of GUEST_DIR (the build's guest/)
#   /dev /proc /sys /sysroot  where vm-boot mounts
# Uncompressed: under TCG the kernel unpacks a gzip'd one far slower than QEMU
# loads the bytes (measured here: 15.1 MiB as is, qubes-init after 2.8 s;
# gzip -1'd to 7.1 MiB, after 5.3 s). Run on every build; it rewrites
# nothing when none of its inputs changed.
set -eu
abs() { (cd "$(dirname "$1")" && echo "$(pwd)/$(basename "$1")"); }
kernel_dir=$(abs "$1")
guest_dir=$(abs "$2")
vm_boot=$(abs "$3")
out=$(abs "$4")
here=$(cd "$(dirname "$0")" && pwd)

# What a vm qube needs: its disks, its channels (virtio-serial), the ACPI
# power button dom0 presses to shut it down (and evdev to read it), memory
# ballooning and, later, its network interface.
MODULES="virtio_mmio virtio_blk virtio_console virtio_balloon virtio_net button evdev"

[ -f "$kernel_dir/vmlinuz" ] || sh "$here/fetch-guest-kernel.sh" "$kernel_dir"
command -v modinfo >/dev/null || { echo "make-vm-initramfs: modinfo missing (package kmod)" >&2; exit 1; }
command -v cpio >/dev/null || { echo "make-vm-initramfs: cpio missing (package cpio)" >&2; exit 1; }

# nothing to do when the inputs are the ones of the last run
manifest=$( (
    cat "$kernel_dir/version"
    echo "$MODULES"
    cksum "$0" "$vm_boot"
    cd "$guest_dir" && find . -name '*.p' -prune -o ! -type d -printf '%p %s %T@ %l\n' | sort
))
if [ -f "$out/initramfs.img" ] && [ -f "$out/vmlinuz" ] && [ -f "$out/.manifest" ] &&
    [ "$(cat "$out/.manifest")" = "$manifest" ]; then
    exit 0
fi

stage=$(mktemp -d "$out/.initramfs.XXXXXX")
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/modules" "$stage/dev" "$stage/proc" "$stage/sys" "$stage/sysroot"

# each module after what it depends on (modinfo's "depends"), once
seen=""
n=0
add_module() {
    local ko dep
    case " $seen " in *" $1 "*) return 0 ;; esac
    ko=$(find "$kernel_dir/modules/kernel" -name "$1.ko" | head -n 1)
    [ -n "$ko" ] || { echo "make-vm-initramfs: no module $1 in $kernel_dir" >&2; exit 1; }
    for dep in $(modinfo -F depends "$ko" | tr ',' ' '); do
        add_module "$dep"
    done
    case " $seen " in *" $1 "*) return 0 ;; esac
    seen="$seen $1"
    n=$((n + 1))
    cp "$ko" "$stage/modules/$(printf '%02d' "$n")-$1.ko"
}
for m in $MODULES; do
    add_module "$m"
done

cp "$vm_boot" "$stage/init"
strip --strip-unneeded "$stage/init"
# the guest programs, without Meson's object directories; stripped (they are
# most of the image, and the image is read at every boot)
# (GNU cpio counts blocks on stderr even with --quiet: kept aside, shown on failure)
(cd "$guest_dir" && find . -name '*.p' -prune -o -print | cpio -pdm --quiet "$stage/qubes-guest") \
    2>"$stage/.cpio-err" || { cat "$stage/.cpio-err" >&2; exit 1; }
rm "$stage/.cpio-err"
find "$stage/qubes-guest" -type f | while read -r f; do
    if [ "$(head -c 4 "$f" | od -An -c | tr -d ' ')" = '177ELF' ]; then
        strip --strip-unneeded "$f"
    fi
done

(cd "$stage" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) >"$stage.img" \
    2>"$stage.err" || { cat "$stage.err" >&2; rm -f "$stage.img" "$stage.err"; exit 1; }
rm "$stage.err"
mv "$stage.img" "$out/initramfs.img"
cmp -s "$kernel_dir/vmlinuz" "$out/vmlinuz" 2>/dev/null || {
    cp "$kernel_dir/vmlinuz" "$out/vmlinuz.tmp"
    mv "$out/vmlinuz.tmp" "$out/vmlinuz"
}
echo "$manifest" >"$out/.manifest"
