#!/bin/bash
# network.sh BUILD: Qubes' network on sandbox qubes, on a scratch root. The
# "internet" is a namespace of this script, joined to sys-net by a veth: no
# packet leaves the machine. Every figure is a median with its baseline
# measured in the same run:
#   - TCP throughput work -> internet through sys-firewall and sys-net, vs a
#     direct veth pair between two namespaces (goal: ratio >= 0.7);
#   - round trip through sys-net, and through sys-firewall and sys-net, vs
#     the direct pair: the latency each hop adds;
#   - qvm-firewall add -> rule in force (goal < 50 ms), and qube start with
#     netvm vs without (bench_firewall).
set -eu
build=$(cd "$1" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
NB="$build/bench/net-bench"
WEB=10.200.0.1
INET=qbbinet$$ UPLINK=qbb$$ A=qbba$$ B=qbbb$$
MIB=512

export QUBES_ROOT
QUBES_ROOT=$(mktemp -d /tmp/qubicle-bench.XXXXXX)
PATH="$build/bin:$PATH"
pids=()
cleanup() {
    qvm-shutdown -q --all --force 2>/dev/null || true
    pkill -USR1 -f "qubes-(sandbox|vm) .*--state-dir $QUBES_ROOT/" 2>/dev/null || true
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    ip netns del "$INET" 2>/dev/null || true
    ip netns del "$A" 2>/dev/null || true
    ip netns del "$B" 2>/dev/null || true
    rm -rf "$QUBES_ROOT"
}
trap cleanup EXIT
qubesd >"$QUBES_ROOT/qubesd.out" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -S "$QUBES_ROOT/run/qubesd.sock" ] && break; sleep 0.05; done

tree=$(mktemp -d)
sh "$here/../templates/minimal/build.sh" "$tree" >/dev/null
qvm-template-import() {
    printf "name=min label=black" | qubesd-query dom0 admin.vm.Create.TemplateVM dom0 >/dev/null
    local path
    path=$(printf '' | qubesd-query dom0 internal.vm.volume.ImportBegin min root |
        tr '\0' ' ' | awk '{print $3}')
    mkfs.ext4 -q -F -d "$tree" "$path"
    printf ok | qubesd-query dom0 internal.vm.volume.ImportEnd min root >/dev/null
}
qvm-template-import
rm -rf "$tree"

# the internet, with a sink and an echo server
ip netns add "$INET"
ip link add "$UPLINK" type veth peer name eth0 netns "$INET"
ip -n "$INET" addr add $WEB/24 dev eth0
ip -n "$INET" link set eth0 up
ip -n "$INET" link set lo up
ip netns exec "$INET" "$NB" sink $WEB 9001 &
pids+=($!)
ip netns exec "$INET" "$NB" echo $WEB 9002 &
pids+=($!)

# the baseline: two namespaces and one veth pair
ip netns add "$A"
ip netns add "$B"
ip link add eth0 netns "$A" type veth peer name eth0 netns "$B"
ip -n "$A" addr add 10.201.0.1/24 dev eth0
ip -n "$B" addr add 10.201.0.2/24 dev eth0
for ns in "$A" "$B"; do
    ip -n "$ns" link set eth0 up
    ip -n "$ns" link set lo up
done
ip netns exec "$B" "$NB" sink 10.201.0.2 9001 &
pids+=($!)
ip netns exec "$B" "$NB" echo 10.201.0.2 9002 &
pids+=($!)

qvm-create -q -t min -l red --prop provides_network=True --prop netvm= sys-net
qvm-features sys-net net.uplink "$UPLINK"
qvm-features sys-net net.uplink-address 10.200.0.2/24
qvm-features sys-net net.uplink-gateway $WEB
qvm-features sys-net net.uplink-dns $WEB
qvm-create -q -t min -l green --prop provides_network=True --prop netvm=sys-net sys-firewall
qvm-create -q -t min -l blue --prop netvm=sys-firewall work
qvm-create -q -t min -l blue --prop netvm=sys-net direct
qvm-start -q work direct
for q in work direct; do
    qrexec-client -d "$q" root:'cat > /tmp/net-bench; chmod 755 /tmp/net-bench' <"$NB"
done

median3() { printf '%s\n' "$@" | sort -n | sed -n 2p; }
runs=() base=()
for _ in 1 2 3; do
    runs+=("$(qvm-run -q -p work "/tmp/net-bench send $WEB 9001 $MIB")")
    base+=("$(ip netns exec "$A" "$NB" send 10.201.0.2 9001 $MIB)")
done
awk -v q="$(median3 "${runs[@]}")" -v b="$(median3 "${base[@]}")" -v m=$MIB 'BEGIN {
    printf "TCP work -> internet via sys-firewall, sys-net %8.0f MiB/s  (%d MiB, median of 3)\n", q, m
    printf "  baseline: direct veth pair                  %8.0f MiB/s  ratio %.2f (goal >= 0.7)\n", b, q / b }'

two=$(qvm-run -q -p work "/tmp/net-bench rtt $WEB 9002 2000")
one=$(qvm-run -q -p direct "/tmp/net-bench rtt $WEB 9002 2000")
zero=$(ip netns exec "$A" "$NB" rtt 10.201.0.2 9002 2000)
awk -v two="$two" -v one="$one" -v zero="$zero" 'BEGIN {
    printf "round trip via sys-firewall and sys-net, p50 %8.1f us\n", two
    printf "round trip via sys-net, p50                  %8.1f us\n", one
    printf "  baseline: direct veth pair, p50            %8.1f us\n", zero
    printf "added latency per hop (round trip)           %8.1f us  (sys-net: %.1f, sys-firewall: %.1f)\n",
        (two - zero) / 2, one - zero, two - one }'

"$build/bench/bench_firewall" "$build/bin" work "$(qvm-prefs work visible_ip)"
# what the agent itself took per apply (its log, the same run)
sed -n 's/.*ip=[0-9.]* op=apply rules=[0-9]* result=ok ms=\([0-9]*\)$/\1/p' \
    "$QUBES_ROOT/var/log/qubes/guest-sys-firewall.log" | sort -n |
    awk '{v[NR] = $1} END { if (NR) printf "  the agent'"'"'s own apply (nft transaction), p50  %6d ms  (%d applies)\n", v[int((NR + 1) / 2)], NR }'
