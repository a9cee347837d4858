#!/bin/bash
# run.sh BUILD: the benchmarks of the foundation, on a scratch root with
# 1000 qubes. Prints medians and ratios to baselines measured in this run.
set -eu
build=$(cd "$1" && pwd)
export QUBES_ROOT=$(mktemp -d /tmp/qubicle-bench.XXXXXX)
"$build/bin/qubesd" >"$QUBES_ROOT/qubesd.out" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$QUBES_ROOT"' EXIT
for _ in $(seq 100); do [ -S "$QUBES_ROOT/run/qubesd.sock" ] && break; sleep 0.05; done
"$build/bench/bench_admin" "$build/bin" 1000
