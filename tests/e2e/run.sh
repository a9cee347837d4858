#!/bin/bash
# run.sh BUILD [FILE...]: runs the end-to-end tests (tests/e2e/test_*.sh),
# each test function in its own subshell with its own qubesd and root, and
# prints TAP: "ok", "not ok" (with the test's output), or "ok ... # SKIP why"
# for a test that called skip. A file that is missing or defines no test is
# a failure.
set -u
build=$(cd "$1" && pwd)
shift
here=$(cd "$(dirname "$0")" && pwd)
export BIN="$build/bin"
files=("$@")
[ ${#files[@]} -eq 0 ] && files=("$here"/test_*.sh)

# leaked_roots FILE: for each root listed, what still runs for it (QUBES_ROOT
# in its environment) is reported, killed, and the root removed; 1 if any.
leaked_roots() {
    local root pids leaked=0
    [ -s "$1" ] || return 0
    while read -r root; do
        pids=$(grep -lzxF "QUBES_ROOT=$root" /proc/[0-9]*/environ 2>/dev/null |
            sed 's|^/proc/||; s|/environ$||')
        [ -n "$pids" ] || continue
        leaked=1
        echo "FAIL (run.sh): the test's cleanup never ran for $root: still running: $(echo $pids)"
        pkill -USR1 -f "qubes-(sandbox|vm) .*--state-dir $root/" 2>/dev/null
        kill -KILL $pids 2>/dev/null
        sleep 1
        rm -rf "$root"
    done <"$1"
    return $leaked
}

n=0
for file in "${files[@]}"; do
    if ! tests=$(bash -c "source '$here/lib.sh' && source '$file' && declare -F" 2>&1); then
        n=$((n + 1))
        echo "not ok $n - $file: cannot be read"
        printf '%s\n' "$tests" | sed 's/^/    /'
        continue
    fi
    tests=$(printf '%s\n' "$tests" | awk '$1 == "declare" {print $3}' | grep '^test_')
    if [ -z "$tests" ]; then
        n=$((n + 1))
        echo "not ok $n - $file: defines no test"
        continue
    fi
    for t in $tests; do
        n=$((n + 1))
        log=$(mktemp)
        export E2E_SKIP_FILE="$log.skip" E2E_ROOTS_FILE="$log.roots" E2E_TEST=$(basename "$file" .sh).$t
        start=$(date +%s%N)
        (
            source "$here/lib.sh"
            source "$file"
            trap cleanup_root EXIT
            if declare -F setup >/dev/null; then setup || exit 1; else start_qubesd || exit 1; fi
            "$t"
        ) >"$log" 2>&1 </dev/null
        rc=$?
        # a root whose cleanup never ran (a trap that lost it) fails the test
        leaked_roots "$log.roots" >>"$log" || rc=1
        ms=$((($(date +%s%N) - start) / 1000000))
        name="$(basename "$file" .sh)/$t"
        if [ $rc -eq 0 ] && [ -e "$E2E_SKIP_FILE" ]; then
            echo "ok $n - $name # SKIP $(head -n 1 "$E2E_SKIP_FILE")"
        elif [ $rc -eq 0 ]; then
            echo "ok $n - $name (${ms} ms)"
        else
            echo "not ok $n - $name"
            # the start (the failed assertion) and the end (what cleanup found)
            lines=$(wc -l <"$log")
            if [ "$lines" -le 100 ]; then
                sed 's/^/    /' "$log"
            else
                head -n 50 "$log" | sed 's/^/    /'
                echo "    ... $((lines - 100)) lines ..."
                tail -n 50 "$log" | sed 's/^/    /'
            fi
        fi
        rm -f "$log" "$E2E_SKIP_FILE" "$log.roots"
    done
done
echo "1..$n"
