#!/bin/bash
# selftest.sh BUILD: the test runner (scripts/tap_runner.py) and the e2e
# harness (tests/e2e/run.sh, lib.sh) run on deliberately broken tests and
# must fail each of them; a clean one passes and a skip is counted as a
# skip. BUILD holds runner_fixture and qubesd; when it is a sanitizer build,
# real sanitizer reports are tried too. Prints TAP.
set -u
build=$(cd "${1:?usage: selftest.sh BUILD}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
runner="$top/scripts/tap_runner.py"
fixtures="$here/fixtures"
fixture="$build/tests/runner/runner_fixture"
n=0
out=$(mktemp)
trap 'rm -f "$out"' EXIT

# expect STATUS "N passed, M failed, K skipped" WHAT ARG...: runs the runner
# on ARG... (runner options, then the program); its exit status and last
# line must be these.
expect() {
    local want_rc=$1 want_counts=$2 what=$3 rc
    shift 3
    n=$((n + 1))
    python3 "$runner" run --label fixture "$@" >"$out" 2>&1
    rc=$?
    if [ "$rc" = "$want_rc" ] && [ "$(tail -n 1 "$out")" = "$want_counts" ]; then
        echo "ok $n - $what"
    else
        echo "not ok $n - $what"
        echo "# expected exit status $want_rc and \"$want_counts\", got $rc and:"
        # quoted so that a report the fixture printed is not taken for a real one
        sed 's/^/#   > /; s/Sanitizer/S.anitizer/g; s/runtime error/runtime e.rror/g' "$out"
    fi
}

# what a runner says about a program: the line that fails it must be there too
expect_says() {
    local text=$1 what=$2
    n=$((n + 1))
    if grep -qF -- "$text" "$out"; then
        echo "ok $n - $what"
    else
        echo "not ok $n - $what"
        echo "# no line \"$text\" in:"
        sed 's/^/#   > /; s/Sanitizer/S.anitizer/g; s/runtime error/runtime e.rror/g' "$out"
    fi
}

expect 0 "3 passed, 0 failed, 0 skipped" "a clean program passes" -- "$fixtures/pass.sh"
expect 1 "1 passed, 2 failed, 0 skipped" "plans 3, passes 1, aborts: fails" \
    -- "$fixtures/abort_after_one.sh"
expect_says "not ok - killed by SIGABRT" "the abort is named"
expect_says "not ok - planned 3 tests, ran 1" "the plan mismatch is named"
expect 1 "1 passed, 1 failed, 0 skipped" "exit status 3 fails" -- "$fixtures/exit_status.sh"
expect_says "not ok - exit status 3" "the exit status is named"
expect 1 "1 passed, 1 failed, 0 skipped" "a not ok fails" -- "$fixtures/not_ok.sh"
expect 1 "1 passed, 1 failed, 0 skipped" "no plan fails" -- "$fixtures/no_plan.sh"
expect 1 "2 passed, 1 failed, 0 skipped" "more tests than planned fails" -- "$fixtures/too_many.sh"
expect 1 "2 passed, 1 failed, 0 skipped" "tests numbered out of order fail" \
    -- "$fixtures/out_of_order.sh"
expect 1 "1 passed, 1 failed, 0 skipped" "Bail out! fails" -- "$fixtures/bail_out.sh"
expect 1 "1 passed, 1 failed, 0 skipped" "an ASan report with exit status 0 fails" \
    -- "$fixtures/sanitizer_exit0.sh"
expect_says "not ok - sanitizer report in the output" "the report is named"
expect 1 "1 passed, 1 failed, 0 skipped" "a UBSan runtime error with exit status 0 fails" \
    -- "$fixtures/ubsan_exit0.sh"
tmplog=$(mktemp)
expect 1 "1 passed, 1 failed, 0 skipped" "an LSan report in a daemon's log fails" \
    --log "$tmplog" -- "$fixtures/clean_log.sh" "$tmplog"
rm -f "$tmplog"
expect 1 "0 passed, 1 failed, 0 skipped" "a missing test program fails" \
    -- "$fixtures/no-such-test"
expect_says "not ok - missing test program" "the missing program is named"
expect 0 "1 passed, 0 failed, 2 skipped" "skips are counted as skipped, not passed" \
    -- "$fixtures/skip.sh"
expect_says "fixture: ok 2 - two # SKIP no btrfs here" "a skip is printed as a TAP SKIP with its reason"
expect 0 "0 passed, 0 failed, 1 skipped" "a skipped plan is one skip" -- "$fixtures/skip_all.sh"
expect 1 "0 passed, 1 failed, 0 skipped" "a program that hangs fails at its timeout" \
    --timeout 1 -- sh -c 'echo 1..1; sleep 30'

# the compiled fixture: a real abort, and in a sanitizer build real reports
expect 0 "3 passed, 0 failed, 0 skipped" "the compiled fixture passes when asked to" \
    -- "$fixture" pass
expect 1 "1 passed, 2 failed, 0 skipped" "a compiled program that aborts after one test fails" \
    -- "$fixture" abort
sanitize=$(meson introspect --buildoptions "$build" 2>/dev/null | python3 -c '
import json, sys
print(next((o["value"] for o in json.load(sys.stdin) if o["name"] == "b_sanitize"), "none"))')
case $sanitize in
*address*)
    # exit status 0 on purpose: only the report can fail these
    ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS=exitcode=0 \
        expect 1 "3 passed, 1 failed, 0 skipped" "a real LeakSanitizer report, exit status 0, fails" \
        -- "$fixture" leak
    expect_says "not ok - sanitizer report in the output: ==" "the leak report is named"
    UBSAN_OPTIONS=halt_on_error=0 \
        expect 1 "3 passed, 1 failed, 0 skipped" "a real UBSan report, exit status 0, fails" \
        -- "$fixture" overflow
    ;;
*)
    n=$((n + 1))
    echo "ok $n # SKIP $build is not a sanitizer build (b_sanitize=$sanitize)"
    ;;
esac

# The e2e harness: a broken e2e test file (fixtures/e2e_broken.sh) through
# run.sh and the runner. Each of its broken tests must fail, the clean one
# pass, the skip be a skip. (The report run.sh shows with its test's failure is
# one more failure: the runner finds it in run.sh's output.)
expect 1 "1 passed, 6 failed, 1 skipped" "the e2e harness fails each broken e2e test" \
    -- bash "$top/tests/e2e/run.sh" "$build" "$fixtures/e2e_broken.sh"
expect_says "FAIL (cleanup): qubesd (pid" "a qubesd that died is found at cleanup"
expect_says "FAIL: on purpose" "a failed assertion is shown"
expect_says "/var/log/qubes/qrexec.fake.log:" "a report in a daemon log is found"
expect_says "FAIL (cleanup): daemon agent (pid" "a daemon's bad exit status is found"
expect_says "FAIL (cleanup): process of this root still running" "a leftover process is found"
expect_says "e2e_broken/test_skipped # SKIP cannot run here" "an e2e skip is a TAP skip"
echo "1..$n"
