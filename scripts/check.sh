#!/bin/sh
# check.sh BUILD ASAN_BUILD: runs every test — the unit tests in the normal
# build and again under ASan+UBSan, then the end-to-end tests on real qubesd
# instances — and ends with one line "N passed, M failed".
set -u
build=$1
asan=$2
results=$(mktemp)
trap 'rm -f "$results"' EXIT

# Each runner prints TAP lines ("ok N - name" / "not ok N - name").
run_tap() {
    label=$1
    shift
    "$@" 2>&1 | while IFS= read -r line; do
        case "$line" in
        "ok "*) echo "pass" >>"$results"; echo "  $label: $line" ;;
        "not ok "*) echo "fail" >>"$results"; echo "  $label: $line" ;;
        "# "*|"1.."*) ;;
        *) echo "  $label| $line" ;;
        esac
    done
}

echo "== unit tests"
for t in "$build"/tests/unit/test_*; do
    [ -f "$t" ] && [ -x "$t" ] || continue
    run_tap "$(basename "$t")" env CMOCKA_MESSAGE_OUTPUT=TAP "$t"
done
echo "== unit tests under ASan+UBSan"
for t in "$asan"/tests/unit/test_*; do
    [ -f "$t" ] && [ -x "$t" ] || continue
    run_tap "asan/$(basename "$t")" env CMOCKA_MESSAGE_OUTPUT=TAP \
        ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 "$t"
done
echo "== end-to-end tests"
run_tap e2e bash tests/e2e/run.sh "$build"
echo "== end-to-end tests, every program under ASan+UBSan"
ASAN_OPTIONS=abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    run_tap asan/e2e bash tests/e2e/run.sh "$asan"

passed=$(grep -c '^pass$' "$results")
failed=$(grep -c '^fail$' "$results")
echo
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
