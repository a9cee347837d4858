#!/usr/bin/env python3
"""check.py BUILD ASAN_BUILD: every test, through scripts/tap_runner.py.

The runner's own self-test first, then the unit tests of the normal build
and again of the ASan+UBSan build (the list is the one Meson registered:
`meson introspect --tests`, so a test that was not built is a failure, not
a silence), then the end-to-end tests on real qubesd instances, in both
builds. Ends with one line "N passed, M failed, K skipped"; the exit status
is 1 on any failure, or when nothing passed.
"""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tap_runner  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)

# Sanitizers stop at the first finding, and a leak at exit is a finding.
ASAN_ENV = {
    "ASAN_OPTIONS": "detect_leaks=1:abort_on_error=1",
    "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1",
}


def meson_tests(build, suite):
    """The tests Meson registered in BUILD for SUITE."""
    out = subprocess.run(["meson", "introspect", "--tests", build], check=True,
                         stdout=subprocess.PIPE).stdout
    return [t for t in json.loads(out)
            if any(s == suite or s.endswith(":" + suite) for s in t["suite"])]


def main():
    if len(sys.argv) != 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    build, asan = sys.argv[1], sys.argv[2]
    results = []

    def run(label, argv, extra_env=None, timeout=None):
        env = dict(os.environ, **(extra_env or {}))
        results.append(tap_runner.run(argv, label, timeout=timeout, env=env))

    def unit(build_dir, prefix, extra_env):
        try:
            tests = meson_tests(build_dir, "unit")
        except (OSError, subprocess.CalledProcessError, ValueError) as e:
            res = tap_runner.Result(prefix + "unit")
            res.fail("cannot list the tests of %s: %s" % (build_dir, e))
            results.append(res)
            return
        if not tests:
            res = tap_runner.Result(prefix + "unit")
            res.fail("no unit test registered in %s" % build_dir)
            results.append(res)
        for t in tests:
            env = dict(t.get("env") or {}, **extra_env)
            if t.get("protocol") != "tap":
                res = tap_runner.Result(prefix + t["name"])
                res.fail("protocol %s: the runner reads TAP only" % t.get("protocol"))
                results.append(res)
                continue
            timeout = t.get("timeout") or 30
            run(prefix + t["name"], t["cmd"], env, timeout=max(timeout * 10, 300))

    print("== the test runner's own tests", flush=True)
    run("runner", ["bash", os.path.join(TOP, "tests/runner/selftest.sh"), asan])
    print("== unit tests", flush=True)
    unit(build, "", {})
    print("== unit tests under ASan+UBSan", flush=True)
    unit(asan, "asan/", ASAN_ENV)
    print("== end-to-end tests", flush=True)
    run("e2e", ["bash", os.path.join(TOP, "tests/e2e/run.sh"), build])
    print("== end-to-end tests, every program under ASan+UBSan", flush=True)
    run("asan/e2e", ["bash", os.path.join(TOP, "tests/e2e/run.sh"), asan], ASAN_ENV)

    passed = sum(r.passed for r in results)
    failed = sum(r.failed for r in results)
    skipped = sum(r.skipped for r in results)
    print()
    for r in results:
        if r.failed:
            print("failed: %s (%d)" % (r.label, r.failed))
    print("%d passed, %d failed, %d skipped" % (passed, failed, skipped))
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
