# qrexec protocol 3 end to end: a real qrexec-agent (as a host process, with a private
# /etc/passwd that has "user") and a real qrexec-daemon -n on the two ends of a socketpair,
# driven by qrexec-client; a fake agent in Python for hostile-agent cases. No qubesd.

# The launcher: real mode starts agent + daemon, then waits for both and prints how each
# ended; fake mode plays a hostile agent.
write_launcher() {
    cat >"$QUBES_ROOT/launch.py" <<'PY'
import fcntl, os, socket, struct, subprocess, sys, time
mode, root, bindir = sys.argv[1], sys.argv[2], sys.argv[3]
a, b = socket.socketpair()
fa, fb = fcntl.fcntl(a.fileno(), fcntl.F_DUPFD, 10), fcntl.fcntl(b.fileno(), fcntl.F_DUPFD, 10)
a.close(); b.close()
os.dup2(fa, 3, inheritable=True)
os.dup2(fb, 4, inheritable=True)
os.close(fa); os.close(fb)
env = dict(os.environ)
daemon_cmd = [bindir + "/qrexec-daemon", "--qube", "test", "--channel-fd", "4", "-n"]
if mode == "real":
    agent_env = dict(env, QREXEC_SERVICE_PATH=root + "/rpc-local:" + root + "/rpc")
    agent = subprocess.Popen(
        ["unshare", "-m", "sh", "-c",
         'mount --bind "$1/passwd" /etc/passwd && mount --bind "$1/group" /etc/group && '
         'exec "$2" --channel-fd 3', "sh", root, bindir + "/qrexec-agent"],
        pass_fds=[3], env=agent_env, stdin=subprocess.DEVNULL,
        stdout=open(root + "/agent.log", "w"), stderr=subprocess.STDOUT)
    daemon = subprocess.Popen(daemon_cmd, pass_fds=[4], stdin=subprocess.DEVNULL,
                              stdout=open(root + "/daemon.log", "w"), stderr=subprocess.STDOUT)
    os.close(3); os.close(4)
    open(root + "/pids.tmp", "w").write("%d %d\n" % (agent.pid, daemon.pid))
    os.rename(root + "/pids.tmp", root + "/pids")
    rc = {"daemon": daemon.wait()}
    rc["agent"] = agent.wait()
    print("agent=%d daemon=%d" % (rc["agent"], rc["daemon"]))
    sys.exit(0)

# fake agent: fd 3 is ours
daemon = subprocess.Popen(daemon_cmd, pass_fds=[4], stdin=subprocess.DEVNULL,
                          stdout=open(root + "/daemon.log", "w"), stderr=subprocess.STDOUT)
os.close(4)
s = socket.socket(fileno=3)
def msg(t, payload=b""):
    return struct.pack("<II", t, len(payload)) + payload
HELLO = msg(0x300, struct.pack("<I", 3))
scenario = sys.argv[4]
if scenario == "hello-size":
    s.sendall(msg(0x300, b"\3\0\0\0\0"))
elif scenario == "silent":
    pass
else:
    s.sendall(HELLO)
    hdr = s.recv(12)
    assert hdr == HELLO, hdr
    if scenario == "term-size":
        s.sendall(msg(0x211, b"\0" * 9))
    elif scenario == "bad-type":
        s.sendall(msg(0x999, b"\0" * 8))
    elif scenario == "data-type":
        s.sendall(msg(0x191, b"hi"))
    elif scenario == "huge":
        s.sendall(struct.pack("<II", 0x212, 0xffffffff))
    elif scenario == "hello-again":
        s.sendall(HELLO)
    elif scenario == "fd":
        r, w = os.pipe()
        s.sendmsg([msg(0x211, struct.pack("<II", 0, 513))],
                  [(socket.SOL_SOCKET, socket.SCM_RIGHTS, struct.pack("i", r))])
    elif scenario in ("trigger-bad-name", "trigger-refused"):
        name = b"a\0b\0" if scenario == "trigger-bad-name" else b"qubes.X+y\0"
        s.sendall(msg(0x212, b"dom0".ljust(64, b"\0") + b"SOCKET7".ljust(32, b"\0") + name))
        hdr = s.recv(8 + 32)
        print("reply=%x,%d,%s" % (struct.unpack("<II", hdr[:8]) + (hdr[8:].rstrip(b"\0").decode(),)))
        s.close()
    elif scenario == "terminate-unknown":
        s.sendall(msg(0x211, struct.pack("<II", 0, 9999)))
        s.close() # the daemon reads the message before the end of the stream
    elif scenario == "close":
        s.close()
try:
    rc = daemon.wait(timeout=10)
except subprocess.TimeoutExpired:
    daemon.kill(); rc = "timeout"
print("exit=%s" % rc)
PY
}

setup() {
    new_root qubicle-qrexec
    chmod 755 "$QUBES_ROOT"
    mkdir -p "$QUBES_ROOT/rpc" "$QUBES_ROOT/rpc-local" "$QUBES_ROOT/home/user"
    chown 1000:1000 "$QUBES_ROOT/home/user"
    printf 'root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:User:%s/home/user:/bin/sh\n' \
        "$QUBES_ROOT" >"$QUBES_ROOT/passwd"
    printf 'root:x:0:\nuser:x:1000:\n' >"$QUBES_ROOT/group"
    cp "$BIN/../../src/qrexec/services/qubes.VMShell" "$BIN/../../src/qrexec/services/qubes.VMExec" \
        "$QUBES_ROOT/rpc/" 2>/dev/null ||
        cp "$(dirname "$BASH_SOURCE")/../../src/qrexec/services/"qubes.VM* "$QUBES_ROOT/rpc/"
    # the service runs the guest decoder from where a qube would have it: a copy in
    # the root, which "user" can reach (the build tree may be where it cannot: /root)
    mkdir -p "$QUBES_ROOT/guest"
    cp "$BIN/../guest/qubes-vmexec" "$QUBES_ROOT/guest/"
    sed -i "s|/run/qubes-guest/|$QUBES_ROOT/guest/|" "$QUBES_ROOT/rpc/qubes.VMExec"
    cat >"$QUBES_ROOT/rpc/test.Env" <<'SH'
#!/bin/sh
echo "argv=$#:$*"
echo "full=$QREXEC_SERVICE_FULL_NAME"
echo "arg=${QREXEC_SERVICE_ARGUMENT-unset}"
echo "remote=$QREXEC_REMOTE_DOMAIN"
[ "$QREXEC_AGENT_PID" -gt 1 ] && echo agentpid=ok
echo "leak=${QREXEC_SERVICE_PATH-none}"
echo "user=$(id -un)"
SH
    printf '#!/bin/sh\necho specific "$1"\n' >"$QUBES_ROOT/rpc/test.Pick+one"
    printf '#!/bin/sh\necho local\n' >"$QUBES_ROOT/rpc-local/test.Pick"
    printf '#!/bin/sh\necho generic "$1"\n' >"$QUBES_ROOT/rpc/test.Pick"
    printf '#!/bin/sh\ntouch "$HOME/just-exec-ran"\n' >"$QUBES_ROOT/rpc/test.Touch"
    chmod 755 "$QUBES_ROOT"/rpc/* "$QUBES_ROOT"/rpc-local/*
    write_launcher
}

# The pair runs under the launcher, which tells how each ended (stop_pair).
start_pair() {
    python3 "$QUBES_ROOT/launch.py" real "$QUBES_ROOT" "$BIN" >"$QUBES_ROOT/pair.out" 2>&1 &
    PAIR_PID=$!
    wait_until 10 test -e "$QUBES_ROOT/pids" || fail "launcher: $(cat "$QUBES_ROOT/pair.out")"
    read -r AGENT_PID DAEMON_PID <"$QUBES_ROOT/pids"
    wait_until 10 test -S "$QUBES_ROOT/run/qubes/qrexec.test" && return 0
    cat "$QUBES_ROOT/daemon.log" "$QUBES_ROOT/agent.log" >&2
    fail "daemon socket did not appear"
}

# SIGTERM to the daemon: it exits 0, which closes the channel, so the agent
# exits 0 too (AGENT_END: how the agent ends where the test kills it). First
# the daemon must have read the end of every call (CONNECTION_TERMINATED, sent
# by the agent after the call's answer): a daemon that exits with it unread
# resets the channel, and the agent then ends with status 1, "read error".
stop_pair() {
    local got
    [ -n "${AGENT_END:-}" ] || wait_until 10 calls_ended # (a killed agent ends no call)
    kill -TERM "$DAEMON_PID" 2>/dev/null
    wait "$PAIR_PID"
    got=$(tail -n 1 "$QUBES_ROOT/pair.out")
    PAIR_PID=
    [ "$got" = "agent=${AGENT_END:-0} daemon=0" ] ||
        cleanup_failed "qrexec pair ended: $got, expected agent=${AGENT_END:-0} daemon=0"
}

calls_ended() {
    [ "$(grep -c 'op=call .*result=ok' "$QUBES_ROOT/daemon.log")" = \
        "$(grep -c 'op=terminated' "$QUBES_ROOT/daemon.log")" ]
}

cleanup_extra() {
    [ -n "${PAIR_PID:-}" ] && stop_pair
    return 0
}

fake() {
    python3 "$QUBES_ROOT/launch.py" fake "$QUBES_ROOT" "$BIN" "$1"
}

test_echo_hi() {
    start_pair
    out=$(qrexec-client -d test user:'echo hi')
    rc=$?
    assert_eq "hi" "$out" "stdout"
    assert_eq 0 "$rc" "exit code"
    assert_eq "user" "$(qrexec-client -d test user:'id -un')" "runs as user"
    assert_eq "root" "$(qrexec-client -d test root:'id -un')" "runs as root"
    assert_eq "user" "$(qrexec-client -d test DEFAULT:'id -un')" "DEFAULT: is the default user"
    assert_eq "$QUBES_ROOT/home/user" "$(qrexec-client -d test user:'pwd')" "home directory"
}

test_exit_codes() {
    start_pair
    assert_status 7 qrexec-client -d test user:'exit 7'
    assert_status 0 qrexec-client -d test user:'true'
    assert_status 255 qrexec-client -d test user:'exit 255'
    assert_status 137 qrexec-client -d test user:'kill -9 $$'
    assert_status 125 qrexec-client -d test nosuchuser:'true'
    assert_eq "qrexec: unknown user 'nosuchuser'" \
        "$(qrexec-client -d test nosuchuser:'true' 2>&1)" "unknown user message"
    assert_status 125 qrexec-client -d nosuchqube -w 1 user:'true'
}

test_stdin_stdout_binary() {
    start_pair
    head -c 70000 /dev/urandom >"$QUBES_ROOT/in1"
    head -c 10485760 /dev/urandom >"$QUBES_ROOT/in2"
    for f in in1 in2; do
        want=$(sha256sum <"$QUBES_ROOT/$f" | cut -d' ' -f1)
        got=$(qrexec-client -d test user:'cat' <"$QUBES_ROOT/$f" | sha256sum | cut -d' ' -f1)
        assert_eq "$want" "$got" "cat $f"
        got=$(qrexec-client -d test user:'sha256sum' <"$QUBES_ROOT/$f" | cut -d' ' -f1)
        assert_eq "$want" "$got" "remote sha256 $f"
    done
    assert_eq "3" "$(printf 'a\nb\nc\n' | qrexec-client -d test user:'wc -l')" "lines"
    assert_eq "" "$(qrexec-client -d test user:'cat' </dev/null)" "empty stdin"
}

test_stderr_separated() {
    start_pair
    qrexec-client -d test user:'echo out; echo err >&2; exit 3' \
        >"$QUBES_ROOT/o" 2>"$QUBES_ROOT/e"
    rc=$?
    assert_eq 3 "$rc" "exit"
    assert_eq "out" "$(cat "$QUBES_ROOT/o")" "stdout"
    assert_eq "err" "$(cat "$QUBES_ROOT/e")" "stderr"
}

test_rpc_services() {
    start_pair
    out=$(qrexec-client -d test 'user:QUBESRPC test.Env+some.arg dom0')
    assert_eq "argv=1:some.arg
full=test.Env+some.arg
arg=some.arg
remote=dom0
agentpid=ok
leak=none
user=user" "$out" "environment with argument"
    out=$(qrexec-client -d test 'user:QUBESRPC test.Env work')
    assert_eq "argv=0:
full=test.Env+
arg=unset
remote=work
agentpid=ok
leak=none
user=user" "$out" "environment without argument"
    assert_eq "local" "$(qrexec-client -d test 'user:QUBESRPC test.Pick+two dom0')" \
        "first directory wins"
    rm "$QUBES_ROOT/rpc-local/test.Pick"
    assert_eq "specific one" "$(qrexec-client -d test 'user:QUBESRPC test.Pick+one dom0')" \
        "svc+arg file first"
    assert_eq "generic two" "$(qrexec-client -d test 'user:QUBESRPC test.Pick+two dom0')" \
        "svc file with argument"
    out=$(qrexec-client -d test 'user:QUBESRPC test.Missing dom0' 2>&1)
    rc=$?
    assert_eq 127 "$rc" "service not found"
    assert_eq "" "$out" "nothing on stdout/stderr for a missing service"
    assert_status 125 qrexec-client -d test 'user:QUBESRPC ../etc dom0'
    assert_eq "hello" "$(echo 'echo hello' | qrexec-client -d test 'user:QUBESRPC qubes.VMShell dom0')" \
        "qubes.VMShell"
    assert_eq "a b-c" "$(qrexec-client -d test 'user:QUBESRPC qubes.VMExec+echo+a-20b--c dom0')" \
        "qubes.VMExec"
    grep -q 'event=service-not-found' "$QUBES_ROOT/agent.log" || fail "agent logs the miss"
}

test_just_exec() {
    start_pair
    out=$(qrexec-client -d test -e 'user:QUBESRPC test.Touch dom0')
    rc=$?
    assert_eq 0 "$rc" "-e exit"
    assert_eq "" "$out" "-e prints nothing"
    wait_until 10 test -e "$QUBES_ROOT/home/user/just-exec-ran" || fail "-e service did not run"
    assert_status 0 qrexec-client -d test -e -W user:'true'
    assert_eq "x" "$(qrexec-client -d test -W user:'echo x')" "-W waits and passes output"
}

test_local_program() {
    start_pair
    out=$(qrexec-client -d test -l 'echo ping; read r; echo "got $r" >&2' user:'read x; echo "pong $x"' 2>&1)
    assert_eq "got pong ping" "$out" "-l connects the program"
}

test_concurrent_50() {
    start_pair
    local calls=()
    for i in $(seq 1 50); do
        (qrexec-client -d test user:"sleep 0.2; echo $i" >"$QUBES_ROOT/c.$i" 2>&1; echo $? >>"$QUBES_ROOT/c.$i") &
        calls+=($!)
    done
    wait "${calls[@]}"
    for i in $(seq 1 50); do
        assert_eq "$i
0" "$(cat "$QUBES_ROOT/c.$i")" "call $i"
    done
    kill -0 "$DAEMON_PID" || fail "daemon died"
}

test_agent_killed_mid_call() {
    start_pair
    # the call runs until its marker file goes away: it is mid-call while the file is there
    local mark=$QUBES_ROOT/home/user/running
    qrexec-client -d test user:"touch '$mark'; while [ -e '$mark' ]; do sleep 0.1; done" \
        >"$QUBES_ROOT/o" 2>&1 &
    cpid=$!
    wait_until 10 test -e "$mark" || fail "the call did not start"
    kill -9 "$AGENT_PID"
    AGENT_END=-9
    wait "$cpid"
    rc=$?
    rm -f "$mark" # the service, orphaned, ends
    assert_eq 125 "$rc" "client exit"
    assert_contains "connection closed without an exit code" "$(cat "$QUBES_ROOT/o")" "client says why"
    wait_until 10 eval '! kill -0 "$DAEMON_PID" 2>/dev/null' || fail "daemon still running"
    [ -e "$QUBES_ROOT/run/qubes/qrexec.test" ] && fail "socket left behind"
    assert_contains "event=closed" "$(cat "$QUBES_ROOT/daemon.log")" "daemon log"
}

test_daemon_fork_readiness_and_timeout() {
    python3 - "$BIN" "$QUBES_ROOT" <<'PY' || fail "readiness"
import os, socket, struct, subprocess, sys, time
bindir, root = sys.argv[1], sys.argv[2]
a, b = socket.socketpair()
os.dup2(b.fileno(), 4, inheritable=True)
a.sendall(struct.pack("<III", 0x300, 4, 3))
p = subprocess.run([bindir + "/qrexec-daemon", "--qube", "fork", "--channel-fd", "4", "-q"],
                   pass_fds=[4], capture_output=True, timeout=10)
assert p.returncode == 0, p
assert p.stderr == b"" and p.stdout == b"", p
assert os.path.exists(root + "/run/qubes/qrexec.fork")
assert oct(os.stat(root + "/run/qubes/qrexec.fork").st_mode & 0o777) == "0o660"
assert a.recv(12) == struct.pack("<III", 0x300, 4, 3)
a.close()
for _ in range(100):
    if not os.path.exists(root + "/run/qubes/qrexec.fork"):
        break
    time.sleep(0.05)
assert not os.path.exists(root + "/run/qubes/qrexec.fork"), "socket not removed"
c, d = socket.socketpair()
os.dup2(d.fileno(), 4, inheritable=True)
env = dict(os.environ, QREXEC_STARTUP_TIMEOUT="1")
p = subprocess.run([bindir + "/qrexec-daemon", "--qube", "slow", "--channel-fd", "4", "-q"],
                   pass_fds=[4], capture_output=True, timeout=10, env=env)
assert p.returncode == 3, p
assert p.stderr == b"Cannot connect to 'slow' qrexec agent for 1 seconds, giving up\n", p
PY
    out=$(qrexec-daemon --qube x --channel-fd 99 -n --timeout 1 2>&1)
    assert_eq 1 "$?" "a closed channel fd fails"
}

# A hostile agent: every malformed message ends the daemon with status 1 and a logged reason.
hostile() {
    scenario=$1 reason=$2
    assert_eq "exit=1" "$(fake "$scenario")" "daemon exit for $scenario"
    assert_contains "$reason" "$(cat "$QUBES_ROOT/daemon.log")" "reason for $scenario"
    [ -e "$QUBES_ROOT/run/qubes/qrexec.test" ] && fail "socket left behind after $scenario"
    return 0
}

test_hostile_agent() {
    hostile hello-size "wrong size of HELLO"
    hostile term-size "wrong size of CONNECTION_TERMINATED"
    hostile bad-type "unexpected message type from agent"
    hostile data-type "unexpected message type from agent"
    hostile huge "message too long"
    hostile hello-again "unexpected message type from agent"
    hostile fd "file descriptor from agent"
    assert_eq "exit=0" "$(fake close)" "closed channel is a clean exit"
    assert_eq "exit=0" "$(fake terminate-unknown)" "unknown port is ignored"
    out=$(fake trigger-refused)
    assert_eq "reply=203,32,SOCKET7
exit=0" "$out" "calls from the qube are refused when the policy service is unreachable"
    # a well-framed request with a bad name is refused; the qube keeps its daemon
    assert_eq "reply=203,32,SOCKET7
exit=0" "$(fake trigger-bad-name)" "bad name refused, daemon kept"
    assert_contains "service name not exactly NUL-terminated" "$(cat "$QUBES_ROOT/daemon.log")" \
        "the reason is logged"
}
