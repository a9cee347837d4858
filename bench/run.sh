#!/bin/bash
# run.sh BUILD: the benchmarks, each on a scratch root. They print medians
# and ratios to baselines measured in the same run.
set -eu
build=$(cd "$1" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
command -v bwrap >/dev/null || { apt-get install -y -qq bubblewrap >/dev/null; }

start_root() {
    export QUBES_ROOT=$(mktemp -d /tmp/qubicle-bench.XXXXXX)
    "$build/bin/qubesd" >"$QUBES_ROOT/qubesd.out" 2>&1 &
    pid=$!
    for _ in $(seq 100); do [ -S "$QUBES_ROOT/run/qubesd.sock" ] && break; sleep 0.05; done
}
stop_root() {
    pkill -USR1 -f "qubes-sandbox .*--state-dir $QUBES_ROOT/" 2>/dev/null || true
    sleep 0.5
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    rm -rf "$QUBES_ROOT"
}
trap 'stop_root' EXIT

echo "== Admin API (1000 qubes in the store)"
start_root
"$build/bench/bench_admin" "$build/bin" 1000
stop_root

echo
echo "== sandbox qubes (minimal template)"
start_root
tree=$(mktemp -d)
sh "$here/../templates/minimal/build.sh" "$tree"
printf "name=min label=black" | "$build/bin/qubesd-query" dom0 admin.vm.Create.TemplateVM dom0 >/dev/null
path=$(printf '' | "$build/bin/qubesd-query" dom0 internal.vm.volume.ImportBegin min root |
    tr '\0' ' ' | awk '{print $3}')
mkfs.ext4 -q -F -d "$tree" "$path"
printf ok | "$build/bin/qubesd-query" dom0 internal.vm.volume.ImportEnd min root >/dev/null
"$build/bench/bench_qubes" "$build/bin" "$tree"
rm -rf "$tree"
