# Helpers for end-to-end tests: each test runs against a real qubesd on a
# fresh temporary root, and asserts exact bytes.
#
# A test file defines functions named test_*; run.sh sources it and runs
# each in its own subshell with a new root, printing one TAP line per test.
# At its end (cleanup_root) every daemon of the root is stopped and its exit
# status and sanitizer output checked: a problem there fails the test.

BIN=${BIN:?BIN must point at build/bin}
export PATH="$BIN:$PATH"
E2E_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TAP_RUNNER="$E2E_LIB_DIR/../../scripts/tap_runner.py"

# new_root [PREFIX]: a fresh, empty root in QUBES_ROOT. Every program the test
# runs from here on writes its sanitizer reports under it (ASan's log_path,
# which LSan and UBSan share), also where the test throws the program's
# stderr away; cleanup_root reads them. Leaks count in every program that
# exits normally (a process killed by a signal runs no exit handler, so it is
# not leak-checked: nothing to configure for daemons that are killed).
new_root() {
    QUBES_ROOT=$(mktemp -d "/tmp/${1:-qubicle-e2e}.XXXXXX")
    export QUBES_ROOT
    # run.sh checks each root the test made once the test is over
    [ -n "${E2E_ROOTS_FILE:-}" ] && echo "$QUBES_ROOT" >>"$E2E_ROOTS_FILE"
    mkdir -p "$QUBES_ROOT/var/log/qubes"
    local log="$QUBES_ROOT/var/log/qubes/sanitizer"
    export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=1:log_path=$log"
    export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}log_path=$log"
}

# Starts qubesd on a new root; sets QUBES_ROOT and QUBESD_PID.
start_qubesd() {
    new_root
    launch_qubesd "$@"
}

# launch_qubesd [ARGS]: qubesd on the current root, in the background; returns
# once it answers. Its stdout and stderr go to $QUBES_ROOT/qubesd.out.
launch_qubesd() {
    "$BIN/qubesd" "$@" >>"$QUBES_ROOT/qubesd.out" 2>&1 &
    QUBESD_PID=$!
    wait_for_qubesd
}

# Waits until qubesd answers a call (a socket alone may be a killed qubesd's,
# or one whose signal handling is not set up yet).
wait_for_qubesd() {
    local end=$((SECONDS + 30))
    while kill -0 "$QUBESD_PID" 2>/dev/null && [ $SECONDS -lt $end ]; do
        [ "$(qubesd-query dom0 admin.vm.List dom0 </dev/null 2>/dev/null | head -c 1)" = 0 ] &&
            return 0
        sleep 0.02
    done
    echo "qubesd did not start:" >&2
    cat "$QUBES_ROOT/qubesd.out" >&2
    return 1
}

# wait_until SECONDS CMD...: polls CMD every 20 ms until it succeeds; fails
# after SECONDS. (Its local has an odd name: an eval'd CMD sees the
# caller's variables.)
wait_until() {
    local _wu_end=$((SECONDS + $1))
    shift
    until "$@"; do
        [ $SECONDS -ge $_wu_end ] && return 1
        sleep 0.02
    done
}

# cleanup_failed WHAT: a problem found at cleanup; the test fails.
cleanup_failed() {
    echo "FAIL (cleanup): $*" >&2
    E2E_CLEANUP_FAILED=1
}

# Stops qubesd with SIGTERM and waits for it: a clean stop is exit status 0
# (src/qubesd/main.c); anything else fails the test.
stop_qubesd() {
    [ -n "${QUBESD_PID:-}" ] || return 0
    local pid=$QUBESD_PID rc
    QUBESD_PID=
    kill -TERM "$pid" 2>/dev/null
    wait "$pid"
    rc=$?
    [ $rc = 0 ] && return 0
    if [ $rc -gt 128 ]; then
        cleanup_failed "qubesd (pid $pid) ended by signal $((rc - 128)), not with a clean stop"
    else
        cleanup_failed "qubesd (pid $pid) ended with status $rc, not with a clean stop"
    fi
    tail -n 20 "$QUBES_ROOT/qubesd.out" >&2
    return 1
}

# A crash of qubesd the test makes: SIGKILL, and no clean stop is expected.
kill9_qubesd() {
    kill -KILL "$QUBESD_PID"
    wait "$QUBESD_PID" 2>/dev/null
    QUBESD_PID=
}

# daemon_start NAME CMD...: a daemon of this test in the background, its
# output in $QUBES_ROOT/NAME.out, its pid in DAEMON_PID. daemon_wait waits
# for one that ends by itself; cleanup_root stops the others.
E2E_DAEMONS=()
daemon_start() {
    local name=$1
    shift
    "$@" >"$QUBES_ROOT/$name.out" 2>&1 &
    DAEMON_PID=$!
    E2E_DAEMONS+=("$DAEMON_PID:$name")
}

# daemon_wait PID [STATUS]: waits for the daemon; its exit status must be
# STATUS (default 0).
daemon_wait() {
    local pid=$1 want=${2:-0} rc i
    wait "$pid"
    rc=$?
    for i in "${!E2E_DAEMONS[@]}"; do
        [ "${E2E_DAEMONS[$i]%%:*}" = "$pid" ] && unset "E2E_DAEMONS[$i]"
    done
    [ "$rc" = "$want" ] || fail "daemon $pid exited with status $rc, expected $want"
}

# The daemon_start daemons still running get SIGTERM; each must then end
# with status 0 or by that SIGTERM (143).
stop_daemons() {
    local d pid name rc
    for d in "${E2E_DAEMONS[@]}"; do
        pid=${d%%:*} name=${d#*:}
        kill -TERM "$pid" 2>/dev/null
        wait "$pid"
        rc=$?
        case $rc in
        0|143) ;;
        *) cleanup_failed "daemon $name (pid $pid) ended with status $rc" ;;
        esac
    done
    E2E_DAEMONS=()
}

# The cgroup tag of this root's qubes (FNV-1a of its path, as qubesd makes it).
qube_tag() {
    python3 -c 'import os,sys
h=2166136261
for b in os.path.realpath(sys.argv[1]).encode(): h=((h^b)*16777619)&0xffffffff
print("%08x"%h)' "$QUBES_ROOT"
}

# qube_cgroups [QUBE]: the cgroup directories of this root's qubes (of QUBE
# only, if given), one a line, under every cgroup hierarchy mounted on the
# host: cgroup v1 (one per controller), v2, and hybrid (v1 plus v2 at
# .../unified).
qube_cgroups() {
    local tag mnt
    tag=$(qube_tag)
    awk '$3 == "cgroup" || $3 == "cgroup2" {print $2}' /proc/self/mounts | sort -u |
        while read -r mnt; do
            for d in "$mnt/qubicle-$tag/"${1:-*}; do
                [ -d "$d" ] && echo "$d"
            done
        done
    return 0
}

# instance_cgroups: this root's instance groups (qubicle-<tag>), under every
# hierarchy; they go with the root's last qube.
instance_cgroups() {
    local tag mnt
    tag=$(qube_tag)
    awk '$3 == "cgroup" || $3 == "cgroup2" {print $2}' /proc/self/mounts | sort -u |
        while read -r mnt; do
            [ -d "$mnt/qubicle-$tag" ] && echo "$mnt/qubicle-$tag"
        done
    return 0
}
no_instance_cgroups() { [ -z "$(instance_cgroups)" ]; }

# Qubes outlive qubesd (as VMs outlive Qubes' qubesd): kill this root's.
kill_qubes() {
    pkill -USR1 -f "qubes-(sandbox|vm) .*--state-dir $QUBES_ROOT/" 2>/dev/null || return 0
    wait_until 30 no_qube_helpers ||
        cleanup_failed "qube helpers of this root still running after SIGUSR1"
}
no_qube_helpers() { ! pgrep -f "qubes-(sandbox|vm) .*--state-dir $QUBES_ROOT/" >/dev/null; }

# The pids of processes started for this root (QUBES_ROOT in their
# environment). The list of processes is taken before grep starts, so grep
# does not find itself.
root_processes() {
    local procs=(/proc/[0-9]*/environ)
    grep -lzxF "QUBES_ROOT=$QUBES_ROOT" "${procs[@]}" 2>/dev/null | sed 's|^/proc/||; s|/environ$||'
    return 0
}
no_root_processes() { [ -z "$(root_processes)" ]; }

# The end of every test: stops qubesd (it must exit cleanly), the qubes and
# the test's daemons; every process of the root must then be gone; a
# sanitizer report in a dom0 log of the root fails the test. Then the root
# goes. A test file may define cleanup_extra (its mounts, ...): called first.
cleanup_root() {
    local rc=$? j p
    [ -n "${QUBES_ROOT:-}" ] || return $rc
    E2E_CLEANUP_FAILED=
    if declare -F cleanup_extra >/dev/null; then cleanup_extra; fi
    # qubesd first: it would restart what it sees die (preloaded disposables)
    stop_qubesd
    kill_qubes
    stop_daemons
    # what the test left running in the background
    for j in $(jobs -p); do
        kill -TERM "$j" 2>/dev/null
        wait "$j" 2>/dev/null
    done
    if ! wait_until "${E2E_PROCESS_TIMEOUT:-30}" no_root_processes; then
        for p in $(root_processes); do
            cleanup_failed "process of this root still running: $p $(tr '\0' ' ' </proc/"$p"/cmdline 2>/dev/null)"
            kill -KILL "$p" 2>/dev/null
        done
    fi
    if ! wait_until 10 no_instance_cgroups; then
        cleanup_failed "cgroups of this root left: $(instance_cgroups | tr '\n' ' ')"
        instance_cgroups | xargs -r rmdir 2>/dev/null
    fi
    check_sanitizer_logs || E2E_CLEANUP_FAILED=1
    keep_guest_reports
    rm -rf "$QUBES_ROOT"
    [ -z "$E2E_CLEANUP_FAILED" ] || exit 1
    return $rc
}

# The logs of the root's dom0 programs: qubesd's output, the daemons' logs,
# the sanitizer's own files, the output of daemon_start daemons. Not the
# guest consoles (guest-*.log): what runs in a qube writes there, with its
# own environment; dom0's programs, the qube's helper included, write their
# sanitizer reports to the sanitizer files.
dom0_logs() {
    local f
    for f in "$QUBES_ROOT"/*.out "$QUBES_ROOT"/*.log "$QUBES_ROOT"/var/log/qubes/*; do
        [ -f "$f" ] || continue
        case ${f##*/} in guest-*) continue ;; esac
        echo "$f"
    done
}

# (E2E_REPORT_DIR: where to keep a copy of the logs that hold a report.)
check_sanitizer_logs() {
    local logs
    mapfile -t logs < <(dom0_logs)
    [ ${#logs[@]} = 0 ] && return 0
    python3 "$TAP_RUNNER" scan "${logs[@]}" >&2 && return 0
    if [ -n "${E2E_REPORT_DIR:-}" ]; then
        local keep
        keep=$(mktemp -d "$E2E_REPORT_DIR/${E2E_TEST:-test}.XXXXXX")
        cp "${logs[@]}" "$keep/"
    fi
    return 1
}

# Reports of programs inside the qubes (in their consoles) do not fail a
# test; with E2E_REPORT_DIR set they are kept there, to be looked at.
keep_guest_reports() {
    [ -n "${E2E_REPORT_DIR:-}" ] || return 0
    local f
    for f in "$QUBES_ROOT"/var/log/qubes/guest-*.log; do
        [ -f "$f" ] && ! python3 "$TAP_RUNNER" scan "$f" >/dev/null &&
            cp "$f" "$E2E_REPORT_DIR/guest-side.${E2E_TEST:-test}.${f##*/}"
    done
    return 0
}

# skip REASON: the test cannot run here; run.sh prints it as a TAP skip.
skip() {
    echo "$*" >"${E2E_SKIP_FILE:?}"
    exit 0
}

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

# call SRC-less Admin API: call METHOD DEST [ARG] [PAYLOAD]; prints the raw
# answer with NUL shown as '|'.
call() {
    method=$1 dest=$2 arg=${3:-} payload=${4:-}
    printf '%s' "$payload" | qubesd-query dom0 "$method" "$dest" $arg | tr '\0' '|'
}

assert_eq() {
    # assert_eq EXPECTED ACTUAL [WHAT]
    if [ "$1" != "$2" ]; then
        printf 'FAIL: %s\n  expected: %s\n  actual:   %s\n' "${3:-value}" "$1" "$2" >&2
        exit 1
    fi
}

assert_contains() {
    case "$2" in
    *"$1"*) ;;
    *) printf 'FAIL: %s\n  expected to contain: %s\n  actual: %s\n' "${3:-value}" "$1" "$2" >&2
       exit 1 ;;
    esac
}

# Runs a command, asserting its exit status: assert_status N cmd args...
assert_status() {
    want=$1
    shift
    "$@" >/tmp/qubicle-e2e-out.$$ 2>&1
    got=$?
    if [ "$got" != "$want" ]; then
        printf 'FAIL: exit status of %s: expected %s, got %s\n' "$*" "$want" "$got" >&2
        cat /tmp/qubicle-e2e-out.$$ >&2
        rm -f /tmp/qubicle-e2e-out.$$
        exit 1
    fi
    rm -f /tmp/qubicle-e2e-out.$$
}

# The daemon must still be alive and answering.
assert_serving() {
    kill -0 "$QUBESD_PID" 2>/dev/null || fail "qubesd died"
    assert_eq "0|dom0 class=AdminVM state=Running uuid=00000000-0000-0000-0000-000000000000" \
        "$(call admin.vm.List dom0 | head -1)" "qubesd still serving"
}

# A minimal template (busybox), made through the Admin API import flow.
make_template() {
    tree=$(mktemp -d "$QUBES_ROOT/tree.XXXXXX")
    sh "$BIN/../../templates/minimal/build.sh" "$tree" >/dev/null || fail "template build"
    import_template "$1" "$tree"
}

# import_template NAME TREE: TemplateVM NAME with TREE (removed after) as its root, through
# the Admin API import flow.
import_template() {
    local path
    call admin.vm.Create.TemplateVM dom0 "" "name=$1 label=black" >/dev/null
    path=$(printf '' | qubesd-query dom0 internal.vm.volume.ImportBegin "$1" root |
        tr '\0' ' ' | awk '{print $3}')
    mkfs.ext4 -q -F -d "$2" "$path" || fail "mkfs"
    rm -rf "$2"
    assert_eq "0|" "$(call internal.vm.volume.ImportEnd "$1" root ok)" "import end"
}

# root_daemons PATTERN: how many qrexec-daemons of this root have PATTERN in their command line
# (tests of other roots may run on the machine at the same time).
root_daemons() {
    local n=0 p
    for p in $(pgrep -f "qrexec-daemon --qube $1" || true); do
        tr '\0' '\n' </proc/"$p"/environ 2>/dev/null | grep -qx "QUBES_ROOT=$QUBES_ROOT" &&
            n=$((n + 1))
    done
    echo "$n"
}
