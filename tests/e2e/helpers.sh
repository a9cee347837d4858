# Extra helpers shared by the test files (sourced after lib.sh).

E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
QRAW="$E2E_DIR/qraw.py"

# raw: the request bytes on stdin go to the socket unchanged; prints the
# answer with NUL shown as '|'. Extra arguments go to qraw.py send.
raw() {
    python3 "$QRAW" send "$@"
}

# ok METHOD DEST [ARG] [PAYLOAD]: the call must answer exactly "0|".
ok() {
    local got
    got=$(call "$@"; echo x)
    got=${got%x}
    assert_eq "0|" "$got" "call $*"
}

# expect ANSWER METHOD DEST [ARG] [PAYLOAD]
expect() {
    local want=$1 got
    shift
    # exact, trailing newlines included
    got=$(call "$@"; echo x)
    got=${got%x}
    assert_eq "$want" "$got" "call $*"
}

mk_template() { ok admin.vm.Create.TemplateVM dom0 "" "name=$1 label=${2:-black}"; }
mk_appvm() { ok admin.vm.Create.AppVM dom0 "$2" "name=$1 label=${3:-red}"; }
mk_standalone() { ok admin.vm.Create.StandaloneVM dom0 "" "name=$1 label=${2:-green}"; }

# run_tool WANT_RC CMD...: stdout+stderr of the tool, asserting its exit code.
run_tool() {
    local want=$1 out rc
    shift
    out=$("$@" 2>&1)
    rc=$?
    [ "$rc" = "$want" ] || fail "exit status of $*: expected $want, got $rc; output: $out"
    printf '%s' "$out"
}

# The value part of a property.Get answer.
prop() {
    local a
    a=$(call admin.vm.property.Get "$1" "$2")
    printf '%s' "${a#0|default=* type=* }"
}
uuid_of() { prop "$1" uuid; }

# Restarts qubesd on the same root (state must come back from the store).
restart_qubesd() {
    stop_qubesd || fail "qubesd did not stop cleanly"
    launch_qubesd || fail "qubesd did not come back"
}

# events_start DEST UNTIL [--timeout S]: a background admin.Events reader; its
# output goes to $EVENTS_OUT once the event UNTIL (a name, or SUBJECT/NAME)
# arrived, or after S seconds (5) (see events_wait).
events_start() {
    EVENTS_OUT=$QUBES_ROOT/events.$RANDOM
    rm -f "$EVENTS_OUT.ready"
    python3 "$QRAW" events "$1" "$2" "$EVENTS_OUT.ready" "${@:3}" >"$EVENTS_OUT" 2>&1 &
    EVENTS_PID=$!
    for _ in $(seq 1 200); do
        [ -e "$EVENTS_OUT.ready" ] && return 0
        kill -0 "$EVENTS_PID" 2>/dev/null || break
        sleep 0.01
    done
    cat "$EVENTS_OUT" >&2
    fail "event subscriber did not start"
}

# Waits for the reader and prints what it received. Polls rather than uses
# `wait`: callers run this in $(...), a subshell the reader is no child of.
events_wait() {
    wait_until 600 eval '! kill -0 "$EVENTS_PID" 2>/dev/null' # it has its own timeout
    EVENTS_PID=
    cat "$EVENTS_OUT"
}

# rawx REQ...: several raw requests (backslash escapes as in printf, or the
# @close/@half/@wait:/@repr: directives of qraw.py batch) in one process;
# one answer per line.
rawx() {
    python3 "$QRAW" batch "$@"
}

# qube_run QUBE [USER] COMMAND: COMMAND in QUBE through qvm-run, its output on stdout. A qube
# may only have busybox, whose qubes.VMShell reads a command per line: a multi-line COMMAND
# is sent as one line.
qube_run() {
    local q=$1 user=user
    [ $# -eq 3 ] && { user=$2; shift; }
    qvm-run -q -p -u "$user" "$q" "${2//$'\n'/ }"
}

# write_policy: stdin becomes this test's policy file.
write_policy() { cat >"$QUBES_ROOT/etc/qubes/policy.d/30-test.policy"; }
