#!/bin/sh
# Runs every libFuzzer target of a fuzz build for SECONDS each, starting from
# its seed corpus tests/fuzz/corpus/<target>/ (and <target>.dict if any). The
# fuzzers work on a temp copy so the repository is not modified; crashes land
# in BUILD_DIR/fuzz-artifacts/<target>/. Exits non-zero if any target crashes.
set -eu

if [ $# -ne 2 ]; then
    echo "usage: $0 BUILD_DIR SECONDS" >&2
    exit 2
fi
build=$1
seconds=$2
here=$(cd "$(dirname "$0")" && pwd)
# UBSan only reports and carries on unless told to stop; a report is a crash
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"

targets=$(find "$build/tests/fuzz" -maxdepth 1 -type f -perm -u+x -name 'fuzz_*' | sort)
if [ -z "$targets" ]; then
    echo "fuzz: no targets in $build/tests/fuzz (configure with -Dfuzz=true)" >&2
    exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM

failed=""
for exe in $targets; do
    name=$(basename "$exe")
    mkdir -p "$work/$name" "$build/fuzz-artifacts/$name"
    if [ -d "$here/corpus/$name" ]; then
        cp -R "$here/corpus/$name/." "$work/$name/"
    fi
    dict=""
    if [ -f "$here/$name.dict" ]; then
        dict="-dict=$here/$name.dict"
    fi
    echo "fuzz: $name for ${seconds}s"
    # shellcheck disable=SC2086
    if "$exe" -max_total_time="$seconds" -print_final_stats=1 $dict \
        -artifact_prefix="$build/fuzz-artifacts/$name/" "$work/$name" \
        >"$work/$name.log" 2>&1; then
        grep -E '^stat::(number_of_executed_units|new_units_added):' "$work/$name.log" |
            sed "s/^/fuzz: $name /"
    else
        echo "fuzz: $name FAILED; log tail:" >&2
        tail -n 40 "$work/$name.log" >&2
        failed="$failed $name"
    fi
done

if [ -n "$failed" ]; then
    echo "fuzz: crashes in:$failed (artifacts in $build/fuzz-artifacts/)" >&2
    exit 1
fi
echo "fuzz: all targets ran clean"
