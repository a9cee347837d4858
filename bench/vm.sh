#!/bin/bash
# vm.sh BUILD: vm qubes (QEMU; KVM where the probe allows, else TCG), on a
# scratch root. Every figure is a median with its baseline measured in the
# same run:
#   - boot to qrexec-ready (qvm-start returns) vs a bare QEMU boot of the
#     same kernel to a trivial init (goal: ratio <= 1.3);
#   - a call into the vm qube (qvm-run -p true) vs the same call into a
#     sandbox qube.
set -eu
build=$(cd "$1" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
RUNS=5
QB="$build/bench/qube-bench"

export QUBES_ROOT
QUBES_ROOT=$(mktemp -d /tmp/qubicle-bench.XXXXXX)
PATH="$build/bin:$PATH"
cleanup() {
    qvm-shutdown -q --all --force 2>/dev/null || true
    pkill -USR1 -f "qubes-(sandbox|vm) .*--state-dir $QUBES_ROOT/" 2>/dev/null || true
    [ -n "${qubesd:-}" ] && kill "$qubesd" 2>/dev/null
    wait 2>/dev/null || true
    rm -rf "$QUBES_ROOT"
}
trap cleanup EXIT

median() { sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

"$build/bin/qubes-hcl-report" | sed -n 's/^vm qubes: /accelerator: /p'

# the bare boot: the guest kernel and an initramfs of one trivial init, as
# QEMU is run for a qube (microvm, the same accelerator and TSC hint)
bare=$QUBES_ROOT/bare
mkdir -p "$bare/dev" "$bare/proc"
cp "$build/tests/vm/trivial-init" "$bare/init"
(cd "$bare" && find . | cpio -o -H newc -R 0:0 --quiet) >"$QUBES_ROOT/bare.img"
khz=$(awk -F: '/^cpu MHz/ {printf "%d", $2 * 1000; exit}' /proc/cpuinfo)
accel="-accel tcg,tb-size=64 -cpu max"
extra=" tsc_early_khz=$khz"
# the probe's answer: its second line starts with kvm: or tcg:
if sed -n 2p /run/qubicle/vm-accel 2>/dev/null | grep -q '^kvm:'; then
    accel="-accel kvm -cpu host" extra=""
fi
bare_boot() {
    local t0 line
    t0=$(now_ms)
    # shellcheck disable=SC2086
    qemu-system-x86_64 -machine microvm $accel -m 400 -nodefaults -no-user-config -display none \
        -no-reboot -kernel "$build/guest-vm/vmlinuz" -initrd "$QUBES_ROOT/bare.img" \
        -append "console=ttyS0 quiet panic=-1$extra" -serial stdio </dev/null 2>/dev/null |
        while read -r line; do
            case "$line" in *"trivial-init: running"*) echo $(($(now_ms) - t0)); break ;; esac
        done
    pkill -f "initrd $QUBES_ROOT/bare.img" 2>/dev/null || true
}

"$build/bin/qubesd" >"$QUBES_ROOT/qubesd.out" 2>&1 &
qubesd=$!
for _ in $(seq 100); do [ -S "$QUBES_ROOT/run/qubesd.sock" ] && break; sleep 0.05; done
tree=$(mktemp -d)
sh "$here/../templates/minimal/build.sh" "$tree" >/dev/null
printf "name=min label=black" | qubesd-query dom0 admin.vm.Create.TemplateVM dom0 >/dev/null
path=$(printf '' | qubesd-query dom0 internal.vm.volume.ImportBegin min root |
    tr '\0' ' ' | awk '{print $3}')
mkfs.ext4 -q -F -d "$tree" "$path"
rm -rf "$tree"
printf ok | qubesd-query dom0 internal.vm.volume.ImportEnd min root >/dev/null
qvm-create -q -t min -l red --prop virt_mode=vm vmq
qvm-create -q -t min -l blue sbq

bare_ms=() ready_ms=()
for _ in $(seq $RUNS); do
    bare_ms+=("$(bare_boot)")
    t0=$(now_ms)
    qvm-start -q vmq
    ready_ms+=($(($(now_ms) - t0)))
    qvm-shutdown -q --wait vmq
done
b=$(printf '%s\n' "${bare_ms[@]}" | median)
r=$(printf '%s\n' "${ready_ms[@]}" | median)
printf 'bare QEMU boot to a trivial init           %8d ms\n' "$b"
printf 'vm qube start to qrexec-ready              %8d ms   ratio %.2f (goal <= 1.3)\n' \
    "$r" "$(echo "$r / $b" | bc -l)"

qvm-start -q vmq sbq
v=$("$QB" time 20 "$build/bin/qvm-run" -q -p vmq true)
s=$("$QB" time 20 "$build/bin/qvm-run" -q -p sbq true)
printf 'call into a sandbox qube (qvm-run -p true) %8.2f ms\n' "$s"
printf 'call into a vm qube (qvm-run -p true)      %8.2f ms   ratio %.2f\n' "$v" \
    "$(echo "$v / $s" | bc -l)"
