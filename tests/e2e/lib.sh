# Helpers for end-to-end tests: each test runs against a real qubesd on a
# fresh temporary root, and asserts exact bytes.
#
# A test file defines functions named test_*; run.sh sources it and runs
# each in its own subshell with a new root, printing one TAP line per test.

BIN=${BIN:?BIN must point at build/bin}
export PATH="$BIN:$PATH"

# Starts qubesd on a new root; sets QUBES_ROOT and QUBESD_PID.
start_qubesd() {
    QUBES_ROOT=$(mktemp -d /tmp/qubicle-e2e.XXXXXX)
    export QUBES_ROOT
    "$BIN/qubesd" "$@" >"$QUBES_ROOT/qubesd.out" 2>&1 &
    QUBESD_PID=$!
    wait_for_socket
}

wait_for_socket() {
    for _ in $(seq 1 200); do
        [ -S "$QUBES_ROOT/run/qubesd.sock" ] && return 0
        sleep 0.02
    done
    echo "qubesd did not start:" >&2
    cat "$QUBES_ROOT/qubesd.out" >&2
    return 1
}

stop_qubesd() {
    if [ -n "${QUBESD_PID:-}" ]; then
        kill "$QUBESD_PID" 2>/dev/null
        wait "$QUBESD_PID" 2>/dev/null
        QUBESD_PID=
    fi
}

# The cgroup tag of this root's qubes (FNV-1a of its path, as qubesd makes it).
qube_tag() {
    python3 -c 'import os,sys
h=2166136261
for b in os.path.realpath(sys.argv[1]).encode(): h=((h^b)*16777619)&0xffffffff
print("%08x"%h)' "$QUBES_ROOT"
}

# Qubes outlive qubesd (as VMs outlive Qubes' qubesd): kill this root's.
kill_qubes() {
    pkill -USR1 -f "qubes-sandbox .*--state-dir $QUBES_ROOT/" 2>/dev/null || return 0
    for _ in $(seq 100); do
        pgrep -f "qubes-sandbox .*--state-dir $QUBES_ROOT/" >/dev/null || break
        sleep 0.02
    done
}

cleanup_root() {
    kill_qubes
    stop_qubesd
    [ -n "${QUBES_ROOT:-}" ] && rm -rf "$QUBES_ROOT"
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
    call admin.vm.Create.TemplateVM dom0 "" "name=$1 label=black" >/dev/null
    path=$(printf '' | qubesd-query dom0 internal.vm.volume.ImportBegin "$1" root |
        tr '\0' ' ' | awk '{print $3}')
    mkfs.ext4 -q -F -d "$tree" "$path" || fail "mkfs"
    rm -rf "$tree"
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
