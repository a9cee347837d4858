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
    pkill -USR1 -f "qubes-(sandbox|vm) .*--state-dir $QUBES_ROOT/" 2>/dev/null || true
    sleep 0.5
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    rm -rf "$QUBES_ROOT"
}
trap 'stop_root' EXIT

# import_min TREE: builds the minimal template into TREE and imports it as "min".
import_min() {
    sh "$here/../templates/minimal/build.sh" "$1" >/dev/null
    printf "name=min label=black" |
        "$build/bin/qubesd-query" dom0 admin.vm.Create.TemplateVM dom0 >/dev/null
    local path
    path=$(printf '' | "$build/bin/qubesd-query" dom0 internal.vm.volume.ImportBegin min root |
        tr '\0' ' ' | awk '{print $3}')
    mkfs.ext4 -q -F -d "$1" "$path"
    printf ok | "$build/bin/qubesd-query" dom0 internal.vm.volume.ImportEnd min root >/dev/null
}

echo "== Admin API (1000 qubes in the store)"
start_root
"$build/bench/bench_admin" "$build/bin" 1000
stop_root

echo
echo "== sandbox qubes (minimal template)"
start_root
tree=$(mktemp -d)
import_min "$tree"
"$build/bench/bench_qubes" "$build/bin" "$tree"
rm -rf "$tree"
stop_root

echo
echo "== calls between qubes (qrexec-client-vm, minimal template)"
start_root
tree=$(mktemp -d)
import_min "$tree"
rm -rf "$tree"
PATH="$build/bin:$PATH"
qvm-create -q -t min -l red work
qvm-create -q -t min -l blue personal
qvm-start -q work personal
echo 'test.Echo * work personal allow' >"$QUBES_ROOT/etc/qubes/policy.d/30-bench.policy"
echo 'qubes.Filecopy * work personal allow' >>"$QUBES_ROOT/etc/qubes/policy.d/30-bench.policy"
service='#!/bin/sh
exec cat'
for q in work personal; do
    printf '%s\n' "$service" | qvm-run -q -p -u root "$q" \
        'mkdir -p /usr/local/etc/qubes-rpc && cat > /usr/local/etc/qubes-rpc/test.Echo && chmod 755 /usr/local/etc/qubes-rpc/test.Echo'
done
qrexec-client -d work root:'cat > /tmp/qube-bench; chmod 755 /tmp/qube-bench' <"$build/bench/qube-bench"
qvm-run -q -p work '/tmp/qube-bench calls 1000 personal test.Echo /usr/local/etc/qubes-rpc/test.Echo'

echo
echo "== file copy of 1 GiB between two qubes (qvm-copy-to-vm, medians of 5)"
# one line: a busybox qube reads qubes.VMShell commands a line at a time
make_big='dd if=/dev/urandom of=chunk bs=1048583 count=1 2>/dev/null && i=0;'
make_big+=' while [ $i -lt 1024 ]; do cat chunk; i=$((i+1)); done |'
make_big+=' dd of=/home/user/big bs=1M iflag=fullblock count=1024 2>/dev/null && rm chunk'
qvm-run -q -p work "$make_big"
# the reference: the same bytes through two cats onto the same disk, in dom0 (a qube's 2 GiB
# private holds one copy only); each copy is followed by one reference run, so that both see
# the same load
qvm-run -q -p work 'cat /home/user/big' >"$QUBES_ROOT/big"
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2}'; }
runs=()
refs=()
for _ in 1 2 3 4 5; do
    qvm-run -q -p personal 'rm -rf /home/user/QubesIncoming'
    runs+=("$(qvm-run -q -p work '/tmp/qube-bench time 1 /run/qubes-guest/bin/qvm-copy-to-vm --without-progress personal /home/user/big')")
    refs+=("$("$build/bench/qube-bench" time 1 /bin/sh -c "cat $QUBES_ROOT/big | cat > $QUBES_ROOT/big2")")
    rm -f "$QUBES_ROOT/big2"
done
rm -f "$QUBES_ROOT/big"
copy=$(median "${runs[@]}")
ref=$(median "${refs[@]}")
awk -v c="$copy" -v r="$ref" 'BEGIN {
    printf "qvm-copy-to-vm 1 GiB                     %8.1f ms  %7.0f MiB/s\n", c, 1024 / (c / 1000)
    printf "baseline dom0 cat file | cat > dest      %8.1f ms  %7.0f MiB/s\n", r, 1024 / (r / 1000)
    printf "ratio baseline/copy (throughput ratio)   %8.2f\n", r / c }'

echo
echo "== disposables (minimal template, p50 of 20)"
qvm-create -q -t min -l red --prop template_for_dispvms=True dvm
qubes-prefs default_dispvm dvm >/dev/null
printf '%s\n' "$service" | qvm-run -q -p -u root dvm \
    'mkdir -p /usr/local/etc/qubes-rpc && cat > /usr/local/etc/qubes-rpc/test.Echo && chmod 755 /usr/local/etc/qubes-rpc/test.Echo'
qvm-shutdown -q --wait dvm
echo 'test.Echo * work @dispvm allow' >>"$QUBES_ROOT/etc/qubes/policy.d/30-bench.policy"
QB="$build/bench/qube-bench"
printf 'qvm-run --dispvm -p -- true, fresh          %8.2f ms\n' \
    "$("$QB" time 20 "$build/bin/qvm-run" --dispvm -p -- true)"
qvm-run -q -p work '/tmp/qube-bench calls 20 @dispvm test.Echo /usr/local/etc/qubes-rpc/test.Echo' |
    sed 's/^/fresh: /'
# a preloaded pool of 2; each run waits (untimed) until it is full again
qvm-features dvm preload-dispvm-max 2
export QUBE_BENCH_PAUSE_MS=1500
sleep 2
printf 'qvm-run --dispvm -p -- true, preloaded      %8.2f ms\n' \
    "$("$QB" time 20 "$build/bin/qvm-run" --dispvm -p -- true)"
qvm-run -q -p work 'QUBE_BENCH_PAUSE_MS=1500 /tmp/qube-bench calls 20 @dispvm test.Echo /usr/local/etc/qubes-rpc/test.Echo' |
    sed 's/^/preloaded: /'
unset QUBE_BENCH_PAUSE_MS
qvm-features dvm preload-dispvm-max 0
stop_root

echo
echo "== network: qubes behind sys-firewall and sys-net (minimal template)"
bash "$here/network.sh" "$build"

echo
echo "== channel relays (the vm driver's qrexec link), one stream against a direct socketpair"
"$build/bench/bench-channel" 256

echo
echo "== vm qubes (QEMU), boot and calls against same-run baselines"
bash "$here/vm.sh" "$build"
