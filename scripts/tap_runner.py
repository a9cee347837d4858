#!/usr/bin/env python3
"""tap_runner.py: the one place that decides whether a test program passed.

  tap_runner.py run [--label L] [--timeout S] [--log FILE]... -- PROGRAM [ARG...]
      runs PROGRAM, echoes its TAP lines prefixed with L, ends with
      "N passed, M failed, K skipped"; exits 1 on any failure.
  tap_runner.py scan FILE...
      prints every sanitizer report in FILEs; exits 1 if there is one.

A program fails when it is missing, exits non-zero or by a signal, runs more
or fewer tests than its plan (or has no plan), numbers them out of order,
bails out, prints "not ok", or when a sanitizer report shows up in its output
or in one of the --log files. "ok ... # SKIP" and "not ok ... # SKIP" are
skips, counted apart, never as passes; a "1..0 # SKIP why" plan skips the
whole program. "# TODO" is not honoured: a "not ok" is a failure.
"""
import argparse
import os
import re
import signal
import subprocess
import sys
import time

# What the sanitizers print when they find something (ASan, LSan, UBSan, and
# their runtimes failing); "WARNING: ASan is ignoring requested
# __asan_handle_no_return" (clone with a new stack) is not a finding.
SANITIZER_RE = re.compile(
    r"ERROR: (Address|Leak|Memory|Thread|UndefinedBehavior|HWAddress)Sanitizer"
    r"|WARNING: ThreadSanitizer:"
    r"|\bruntime error: "
    r"|SUMMARY: \w*Sanitizer"
    r"|Sanitizer CHECK failed"
    r"|Sanitizer has encountered a fatal error"
    r"|Sanitizer:DEADLYSIGNAL"
    r"|ERROR: Can't open file: ")

PLAN_RE = re.compile(r"^1\.\.(\d+)\s*(?:#\s*(.*))?$")
TEST_RE = re.compile(r"^(not )?ok\b\s*(\d+)?\s*(.*)$")
DIRECTIVE_RE = re.compile(r"(?:^|\s)#\s*(SKIP|TODO)\S*\s*(.*)$", re.IGNORECASE)

EXCERPT_LINES = 40


def sanitizer_excerpts(lines):
    """The reports in LINES: each from its first matching line, up to
    EXCERPT_LINES lines or the next blank line after a SUMMARY."""
    out = []
    i = 0
    while i < len(lines):
        if SANITIZER_RE.search(lines[i]):
            j = i
            while j < len(lines) and j - i < EXCERPT_LINES:
                j += 1
                if "SUMMARY:" in lines[j - 1]:
                    break
            out.append(lines[i:j])
            i = j
        else:
            i += 1
    return out


def scan_files(paths):
    """(path, excerpt) for every sanitizer report in PATHS."""
    found = []
    for path in paths:
        try:
            with open(path, "rb") as f:
                text = f.read().decode("utf-8", "replace")
        except OSError:
            continue
        for ex in sanitizer_excerpts(text.splitlines()):
            found.append((path, ex))
    return found


def signal_name(n):
    try:
        return signal.Signals(n).name
    except ValueError:
        return "signal %d" % n


class Result:
    def __init__(self, label):
        self.label = label
        self.passed = self.failed = self.skipped = 0

    def say(self, line):
        print("  %s: %s" % (self.label, line), flush=True)

    def fail(self, why):
        """A failure of the program as a whole (not one of its TAP lines)."""
        self.failed += 1
        self.say("not ok - %s" % why)


def run(argv, label, timeout=None, logs=(), env=None):
    res = Result(label)
    prog = argv[0]
    if os.sep in prog and not (os.path.isfile(prog) and os.access(prog, os.X_OK)):
        res.fail("missing test program %s" % prog)
        return res
    try:
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, env=env, start_new_session=True)
    except OSError as e:
        res.fail("cannot run %s: %s" % (prog, e))
        return res

    plan = None          # planned count, once seen
    plan_skip = None     # reason of a "1..0 # SKIP" plan
    seen = 0
    problems = []
    output = []
    deadline = time.monotonic() + timeout if timeout else None
    timed_out = False
    if deadline:
        def on_alarm(signum, frame):
            raise TimeoutError()
        signal.signal(signal.SIGALRM, on_alarm)
        signal.alarm(int(timeout))
    try:
        for raw in p.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            output.append(line)
            m = PLAN_RE.match(line)
            t = TEST_RE.match(line)
            if m:
                if plan is not None:
                    problems.append("a second plan: %s" % line)
                plan = int(m.group(1))
                d = m.group(2) or ""
                if plan == 0 and d.lower().startswith("skip"):
                    plan_skip = d[4:].strip() or "no reason given"
                print("  %s| %s" % (label, line), flush=True)
            elif t:
                seen += 1
                if t.group(2) and int(t.group(2)) != seen:
                    problems.append("test number %s where %d was expected" % (t.group(2), seen))
                d = DIRECTIVE_RE.search(t.group(3))
                if d and d.group(1).upper() == "SKIP":
                    res.skipped += 1
                    # one spelling for every skip, whatever the producer printed
                    desc = t.group(3)[:d.start()].strip(" -")
                    res.say("ok %d%s # SKIP %s" % (seen, " - " + desc if desc else "",
                                                   d.group(2).strip()))
                    continue
                if t.group(1):
                    res.failed += 1
                else:
                    res.passed += 1
                res.say(line)
            elif line.startswith("Bail out!"):
                problems.append(line)
                print("  %s| %s" % (label, line), flush=True)
            else:
                print("  %s| %s" % (label, line), flush=True)
        p.wait()
    except TimeoutError:
        timed_out = True
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()
    finally:
        if deadline:
            signal.alarm(0)

    if timed_out:
        res.fail("timed out after %d s" % timeout)
        return res
    if p.returncode < 0:
        res.fail("killed by %s" % signal_name(-p.returncode))
    elif p.returncode != 0:
        res.fail("exit status %d" % p.returncode)
    if plan is None:
        res.fail("no plan (1..N) printed")
    elif plan_skip is not None:
        if seen:
            res.fail("a skipped plan (1..0) with %d test lines" % seen)
        else:
            res.skipped += 1
            res.say("ok # SKIP %s" % plan_skip)
    elif seen != plan:
        res.fail("planned %d tests, ran %d" % (plan, seen))
    for why in problems:
        res.fail(why)
    reports = sanitizer_excerpts(output)
    if reports:
        res.fail("sanitizer report in the output: %s%s" % (
            reports[0][0].strip(), " (and %d more)" % (len(reports) - 1) if len(reports) > 1 else ""))
    for path, ex in scan_files(logs):
        res.fail("sanitizer report in %s:" % path)
        for line in ex:
            print("  %s| %s" % (label, line), flush=True)
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--label")
    r.add_argument("--timeout", type=int)
    r.add_argument("--log", action="append", default=[],
                   help="a file the program's daemons write; scanned for sanitizer reports")
    r.add_argument("argv", nargs="+")
    s = sub.add_parser("scan")
    s.add_argument("files", nargs="*")
    a = ap.parse_args()

    if a.cmd == "scan":
        found = scan_files(a.files)
        for path, ex in found:
            print("sanitizer report in %s:" % path)
            for line in ex:
                print("    " + line)
        return 1 if found else 0

    res = run(a.argv, a.label or os.path.basename(a.argv[0]), a.timeout, a.log)
    print("%d passed, %d failed, %d skipped" % (res.passed, res.failed, res.skipped))
    return 1 if res.failed else 0


if __name__ == "__main__":
    sys.exit(main())
