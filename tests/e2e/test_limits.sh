# What a qube whose root is hostile can make dom0 spend (security issue 9): log lines (cut,
# repeats collapsed, files capped and rotated), data ports of another qube's qrexec-daemon
# (a share per source qube, a reserve for dom0's own calls), and the OOM killer's order.
source "$(dirname "${BASH_SOURCE[0]}")/helpers.sh"

LOGS=var/log/qubes
CAP=$((8 * 1024 * 1024)) # LOG_FILE_MAX_BYTES
PER_SOURCE=64            # QREXEC_MAX_CALLS_PER_SOURCE
QUBE_PORTS=224           # QREXEC_QUBE_PORTS: 256 data ports, 32 kept for dom0's calls

setup_qubes() {
    make_template min
    for q in "$@"; do
        qvm-create -q -t min -l red "$q" || fail "create $q"
    done
    qvm-start -q "$@" || fail "start $*"
}

# install_service QUBE NAME SCRIPT: a qrexec service in QUBE.
install_service() {
    qube_run "$1" root "mkdir -p /usr/local/etc/qubes-rpc && cat > /usr/local/etc/qubes-rpc/$2 && chmod 755 /usr/local/etc/qubes-rpc/$2" <<<"$3" ||
        fail "install $2 in $1"
}

# logged_times FILE BODY: how many times a line with BODY (after its timestamp) was logged:
# its own lines plus the counts of "message repeated N times: [BODY]".
logged_times() {
    awk -v body="$2" '
        { sub(/^[^ ]+ /, "") }
        $0 == body { n++; next }
        $1 == "message" && $2 == "repeated" && $4 == "times:" &&
            substr($0, index($0, "[")) == "[" body "]" { n += $3 }
        END { print n + 0 }' "$1"
}

# Lines of FILE, timestamps dropped.
bodies() { sed 's/^[^ ]* //' "$1"; }

size_of() { if [ -e "$1" ]; then stat -c %s "$1"; else echo 0; fi; }

# A service name of 64995 bytes (the protocol takes up to 65000): "test." and 64990 x "A".
FLOOD_NAME='test.$(head -c 64990 /dev/zero | tr "\0" A)'

test_denied_call_flood_is_cut_collapsed_and_capped() {
    setup_qubes work personal
    install_service personal test.Echo '#!/bin/sh
echo "from=$QREXEC_REMOTE_DOMAIN arg=$1"'
    write_policy <<'EOF'
test.Echo * work personal allow
EOF
    # 300 denied calls carry 19.5 MB of service names: more than the log and its
    # rotation may ever hold
    assert_eq "300" "$(qube_run work "n=$FLOOD_NAME; i=0; r=0; while [ \$i -lt 300 ]; do qrexec-client-vm personal \$n </dev/null 2>/dev/null; [ \$? = 126 ] && r=\$((r+1)); i=\$((i+1)); done; echo \$r")" \
        "every call of the flood refused"
    assert_eq "from=work arg=x" "$(qube_run work 'qrexec-client-vm personal test.Echo+x </dev/null')" \
        "a normal call after the flood"

    local audit=$QUBES_ROOT/$LOGS/qrexec-audit.log cut
    cut="test.$(head -c 250 /dev/zero | tr '\0' A)…(cut, 64995 bytes)"
    local deny="source=work target=personal service=$cut result=deny rule=none reason=\"no matching rule found\""
    local first
    first=$(bodies "$audit" | head -1)
    [ ${#first} -lt 1024 ] || fail "the first audit line has ${#first} bytes"
    assert_eq "$deny" "$first" "the first denial, its service cut at 255 bytes"
    assert_eq "300" "$(logged_times "$audit" "$deny")" "all 300 denials, collapsed"
    assert_eq "source=work target=personal service=test.Echo+x result=allow resolved=personal rule=$QUBES_ROOT/etc/qubes/policy.d/30-test.policy:1" \
        "$(bodies "$audit" | tail -1)" "the decision after the flood, in full"
    assert_eq "0" "$(bodies "$audit" | grep -vc -e '^source=' -e '^message repeated [0-9]* times: \[source=')" \
        "nothing else in the audit log"
    [ $(($(size_of "$audit") + $(size_of "$audit.1"))) -le $((2 * CAP)) ] || fail "audit log over its cap"
    [ "$(size_of "$audit")" -le 4096 ] || fail "the flood took $(size_of "$audit") bytes of audit log"

    local qlog=$QUBES_ROOT/$LOGS/qrexec.work.log
    assert_eq "300" "$(logged_times "$qlog" "info qube=work op=trigger service=$cut target=personal result=refused reason=\"denied by policy\"")" \
        "the caller's qrexec log: one line and a count"
    assert_eq "0" "$(cat "$qlog" "$audit" | grep -c 'A\{251\}')" \
        "no log line holds more than 255 bytes of the name"
    [ "$(size_of "$qlog")" -le 8192 ] || fail "the flood took $(size_of "$qlog") bytes of qrexec log"
    assert_serving
}

test_logs_rotate_at_their_cap() {
    # the cap made small (the daemons inherit it from qubesd), and names that differ, so
    # that nothing collapses: each file rotates, at most twice the cap remains
    export QUBICLE_LOG_MAX_BYTES=16384
    restart_qubesd
    setup_qubes work personal
    install_service personal test.Echo '#!/bin/sh
echo "from=$QREXEC_REMOTE_DOMAIN arg=$1"'
    write_policy <<'EOF'
test.Echo * work personal allow
EOF
    # names that differ in their first bytes, which the logs keep
    assert_eq "200" "$(qube_run work "a=\$(head -c 64980 /dev/zero | tr '\\0' A); i=0; r=0; while [ \$i -lt 200 ]; do qrexec-client-vm personal test.\$i\$a </dev/null 2>/dev/null; [ \$? = 126 ] && r=\$((r+1)); i=\$((i+1)); done; echo \$r")" \
        "every call refused"
    assert_eq "from=work arg=y" "$(qube_run work 'qrexec-client-vm personal test.Echo+y </dev/null')" \
        "a normal call after the flood"
    local f
    for f in qrexec-audit.log qrexec.work.log; do
        f=$QUBES_ROOT/$LOGS/$f
        [ -e "$f.1" ] || fail "$f was not rotated"
        [ "$(size_of "$f")" -le 16384 ] && [ "$(size_of "$f.1")" -le 16384 ] ||
            fail "$f: $(size_of "$f") + $(size_of "$f.1") bytes, over the cap"
        [ -e "$f.2" ] && fail "$f: more than one rotated file"
    done
    assert_eq "source=work target=personal service=test.Echo+y result=allow resolved=personal rule=$QUBES_ROOT/etc/qubes/policy.d/30-test.policy:1" \
        "$(bodies "$QUBES_ROOT/$LOGS/qrexec-audit.log" | tail -1)" "the newest decision is in the current file"
    assert_eq "0" "$(bodies "$QUBES_ROOT/$LOGS/qrexec-audit.log.1" | grep -vc '^source=work target=personal service=test\.[0-9]*A*…(cut, 6498[0-9] bytes) result=deny rule=none reason="no matching rule found"$')" \
        "the rotated file holds denials of the flood, cut"
    assert_serving
}

# hold_calls QUBE TARGET SERVICE N: N calls at once from QUBE that stay open (their stdin
# is a fifo nobody writes to; a held call prints "held"); prints "held=H refused=R" once
# each call either answered or was refused (bounded wait, 60 s).
hold_calls() {
    qube_run "$1" "rm -rf /tmp/hold; mkdir /tmp/hold; mkfifo /tmp/hold/in; (sleep 1000000 >/tmp/hold/in) >/dev/null 2>&1 </dev/null & i=0; while [ \$i -lt $4 ]; do (qrexec-client-vm $2 $3 </tmp/hold/in >/tmp/hold/out.\$i 2>/dev/null; echo \$? >/tmp/hold/rc.\$i) >/dev/null 2>&1 </dev/null & i=\$((i+1)); done; t=0; while [ \$t -lt 1200 ]; do h=\$(cat /tmp/hold/out.* 2>/dev/null | grep -c held); r=\$(cat /tmp/hold/rc.* 2>/dev/null | grep -c 126); [ \$((h + r)) -ge $4 ] && break; sleep 0.05; t=\$((t+1)); done; echo held=\$h refused=\$r"
}

test_held_calls_capped_per_source_and_dom0_keeps_its_ports() {
    setup_qubes personal work1 work2 work3 work4
    install_service personal test.Hold '#!/bin/sh
echo held
exec sleep 1000000'
    write_policy <<'EOF'
test.Hold * @anyvm personal allow
EOF
    assert_eq "held=$PER_SOURCE refused=6" "$(hold_calls work1 personal test.Hold $((PER_SOURCE + 6)))" \
        "one qube holds at most its share of personal's ports"
    assert_eq "ok" "$(qvm-run -p personal 'echo ok')" "dom0's call while they are held"
    local qid1 plog=$QUBES_ROOT/$LOGS/qrexec.personal.log
    qid1=$(prop work1 qid)
    assert_eq "6" "$(logged_times "$plog" "warning qube=personal op=client source_domid=$qid1 result=refused reason=\"the source qube holds its maximum of calls\" held_by_source=$PER_SOURCE held_by_qubes=$PER_SOURCE limits=$PER_SOURCE/$QUBE_PORTS")" \
        "the target logs each refusal with its reason, collapsed"
    assert_eq "6" "$(logged_times "$QUBES_ROOT/$LOGS/qrexec.work1.log" "info qube=work1 op=trigger service=test.Hold target=personal result=refused reason=\"the target's qrexec daemon refused (see its log): request refused by the daemon: connection closed\"")" \
        "and the caller's log once per refusal"

    # more qubes: together they get the ports that are not dom0's, and no more
    assert_eq "held=$PER_SOURCE refused=0" "$(hold_calls work2 personal test.Hold $PER_SOURCE)" "work2"
    assert_eq "held=$PER_SOURCE refused=0" "$(hold_calls work3 personal test.Hold $PER_SOURCE)" "work3"
    local left=$((QUBE_PORTS - 3 * PER_SOURCE))
    assert_eq "held=$left refused=$((PER_SOURCE - left))" \
        "$(hold_calls work4 personal test.Hold $PER_SOURCE)" "work4 gets what is left of the shared ports"
    assert_eq "ok" "$(qvm-run -p personal 'echo ok')" "dom0's call with every shared port held"
    assert_eq "ok" "$(qvm-run -p work4 'echo ok')" "and to a caller"
    assert_serving
}

test_calls_to_dom0_services_capped_per_qube() {
    setup_qubes work
    mkdir -p "$QUBES_ROOT/etc/qubes-rpc"
    # the call's stdin stays open in the qube; the service ends when it closes
    printf '#!/bin/sh\necho held\nexec cat >/dev/null\n' >"$QUBES_ROOT/etc/qubes-rpc/test.Dom0Hold"
    chmod 755 "$QUBES_ROOT/etc/qubes-rpc/test.Dom0Hold"
    write_policy <<'EOF'
test.Dom0Hold * work dom0 allow
EOF
    assert_eq "held=$PER_SOURCE refused=3" "$(hold_calls work dom0 test.Dom0Hold $((PER_SOURCE + 3)))" \
        "a qube runs at most its share of dom0 services at once"
    assert_eq "ok" "$(qvm-run -p work 'echo ok')" "dom0's call to that qube while they are held"
    assert_eq "3" "$(logged_times "$QUBES_ROOT/$LOGS/qrexec.work.log" "warning qube=work op=trigger service=test.Dom0Hold target=dom0 result=refused reason=\"the source qube holds its maximum of calls\"")" \
        "each refusal logged with its reason"
    assert_serving
}

# pid_of_daemon QUBE: the pid of this root's qrexec-daemon of QUBE.
pid_of_daemon() {
    local p
    for p in $(pgrep -f "qrexec-daemon --qube $1 " || true); do
        tr '\0' '\n' </proc/"$p"/environ 2>/dev/null | grep -qx "QUBES_ROOT=$QUBES_ROOT" &&
            { echo "$p"; return; }
    done
}

# True if this process may lower oom_score_adj: CAP_SYS_RESOURCE (24) is effective. A
# container may drop it even for root; qubesd and its daemons then say so in their logs.
can_lower_oom_score() {
    local eff
    eff=$(awk '/^CapEff:/ { print $2 }' /proc/self/status)
    [ $(((0x$eff >> 24) & 1)) -eq 1 ]
}

test_oom_score_adj() {
    setup_qubes work
    local daemon
    daemon=$(pid_of_daemon work)
    [ -n "$daemon" ] || fail "no qrexec-daemon of work"
    if can_lower_oom_score; then
        assert_eq "-900" "$(cat /proc/"$QUBESD_PID"/oom_score_adj)" "qubesd"
        assert_eq "-500" "$(cat /proc/"$daemon"/oom_score_adj)" "work's qrexec-daemon"
    else
        assert_eq "0 0" "$(cat /proc/"$QUBESD_PID"/oom_score_adj /proc/"$daemon"/oom_score_adj | tr '\n' ' ' | sed 's/ $//')" \
            "without CAP_SYS_RESOURCE nothing is lowered"
        assert_eq "1" "$(grep -c 'warning op=oom-score-adj value=-900 result=error reason="Permission denied"' "$QUBES_ROOT/$LOGS/qubesd.log")" \
            "qubesd says it could not"
        assert_eq "1" "$(grep -c 'warning qube=work op=oom-score-adj value=-500 result=error reason="Permission denied"' "$QUBES_ROOT/$LOGS/qrexec.work.log")" \
            "the qrexec-daemon says it could not"
    fi
    assert_eq "500 500" "$(qube_run work 'cat /proc/1/oom_score_adj /proc/self/oom_score_adj' | tr '\n' ' ' | sed 's/ $//')" \
        "the OOM killer takes the qube's processes first"
    if can_lower_oom_score; then
        assert_eq "refused" "$(qube_run work root 'echo 499 >/proc/self/oom_score_adj 2>/dev/null && echo lowered || echo refused')" \
            "the qube's root cannot go below it"
    fi
    assert_eq "refused" "$(qube_run work root 'echo -1 >/proc/self/oom_score_adj 2>/dev/null && echo lowered || echo refused')" \
        "nor below the default"
    assert_eq "600" "$(qube_run work root 'echo 600 >/proc/self/oom_score_adj; cat /proc/self/oom_score_adj')" \
        "nor is it kept from going above"
}
