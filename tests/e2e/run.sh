#!/bin/bash
# run.sh BUILD [FILE...]: runs the end-to-end tests (tests/e2e/test_*.sh),
# each test function in its own subshell with its own qubesd and root.
set -u
build=$(cd "$1" && pwd)
shift
here=$(cd "$(dirname "$0")" && pwd)
export BIN="$build/bin"
files=("$@")
[ ${#files[@]} -eq 0 ] && files=("$here"/test_*.sh)

n=0
for file in "${files[@]}"; do
    tests=$(bash -c "source '$here/lib.sh'; source '$file'; declare -F" | awk '{print $3}' | grep '^test_')
    for t in $tests; do
        n=$((n + 1))
        log=$(mktemp)
        start=$(date +%s%N)
        (
            source "$here/lib.sh"
            source "$file"
            trap cleanup_root EXIT
            if declare -F setup >/dev/null; then setup || exit 1; else start_qubesd || exit 1; fi
            "$t"
        ) >"$log" 2>&1
        rc=$?
        ms=$((($(date +%s%N) - start) / 1000000))
        name="$(basename "$file" .sh)/$t"
        if [ $rc -eq 0 ]; then
            echo "ok $n - $name (${ms} ms)"
        else
            echo "not ok $n - $name"
            sed 's/^/#   /' "$log" | head -40 | sed 's/^#/ /'
        fi
        rm -f "$log"
    done
done
echo "1..$n"
