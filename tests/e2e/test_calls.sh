# Calls between qubes (qrexec-client-vm): exactly what the policy allows happens. Real qubes of
# the minimal template; test.Echo is a service the tests install in the targets.
source "$(dirname "${BASH_SOURCE[0]}")/helpers.sh"

PROBE="$BIN/../tests/probe/qubes-probe"

# install_echo QUBE...: test.Echo prints its caller, argument and stdin.
install_echo() {
    for q in "$@"; do
        qube_run "$q" root 'mkdir -p /usr/local/etc/qubes-rpc && cat > /usr/local/etc/qubes-rpc/test.Echo && chmod 755 /usr/local/etc/qubes-rpc/test.Echo' <<'EOF' || fail "install test.Echo in $q"
#!/bin/sh
echo "$(hostname) from=$QREXEC_REMOTE_DOMAIN arg=$1 service=$QREXEC_SERVICE_FULL_NAME"
cat
EOF
    done
}

audit_tail() { tail -n "${1:-1}" "$QUBES_ROOT/var/log/qubes/qrexec-audit.log"; }

setup_qubes() {
    make_template min
    for q in "$@"; do
        qvm-create -q -t min -l red "$q" || fail "create $q"
    done
}

test_qube_to_qube_allowed_denied_redirected() {
    setup_qubes work personal vault
    qvm-start -q work personal vault || fail "start"
    install_echo personal vault
    write_policy <<'EOF'
test.Echo +secret work personal deny
test.Echo *       work personal allow
test.Echo *       work @default allow target=vault
test.Echo *       work work     allow
test.Missing *    work personal allow
EOF
    assert_eq "personal from=work arg=x service=test.Echo+x
hello" "$(echo hello | qube_run work 'qrexec-client-vm personal test.Echo+x')" "allowed call"
    assert_eq "allow" "$(audit_tail | sed 's/.* result=\([a-z]*\).*/\1/')" "audited"
    assert_contains "source=work target=personal service=test.Echo+x result=allow resolved=personal rule=$QUBES_ROOT/etc/qubes/policy.d/30-test.policy:2" \
        "$(audit_tail)" "audit line names the rule"

    assert_eq "Request refused
126" "$(qube_run work 'qrexec-client-vm personal test.Echo+secret </dev/null 2>&1; echo $?')" \
        "denied by a rule"
    assert_contains "result=deny rule=$QUBES_ROOT/etc/qubes/policy.d/30-test.policy:1" \
        "$(audit_tail)" "deny audited with its rule"
    assert_eq "Request refused
126" "$(qube_run personal 'qrexec-client-vm work test.Echo </dev/null 2>&1; echo $?')" \
        "no rule: denied"
    assert_eq "vault from=work arg= service=test.Echo+" \
        "$(qube_run work 'qrexec-client-vm @default test.Echo </dev/null')" "redirected"
    assert_eq "126" "$(qube_run work 'qrexec-client-vm work test.Echo </dev/null 2>/dev/null; echo $?')" \
        "loopback refused"
    assert_eq "127" "$(qube_run work 'qrexec-client-vm personal test.Missing </dev/null 2>/dev/null; echo $?')" \
        "no such service"
    assert_eq "126" "$(qube_run work 'qrexec-client-vm @dispvm test.Echo </dev/null 2>/dev/null; echo $?')" \
        "no disposables yet"
    # the $ spelling of keywords still works
    assert_eq "vault from=work arg= service=test.Echo+" \
        "$(qube_run work 'qrexec-client-vm \$default test.Echo </dev/null')" "\$default"
}

test_autostart_and_autostart_no() {
    setup_qubes work personal vault
    qvm-start -q work || fail "start"
    # services live in the private volume: install them once, then halt
    qvm-start -q personal vault && install_echo personal vault
    qvm-shutdown -q --wait personal vault || fail "shutdown"
    write_policy <<'EOF'
test.Echo * work personal allow
test.Echo * work vault    allow autostart=no
EOF
    assert_eq "personal from=work arg= service=test.Echo+" \
        "$(qube_run work 'qrexec-client-vm personal test.Echo </dev/null')" "autostarted"
    assert_contains "state=Running" "$(call admin.vm.List personal)" "personal runs now"
    assert_eq "126" "$(qube_run work 'qrexec-client-vm vault test.Echo </dev/null 2>/dev/null; echo $?')" \
        "autostart=no and halted"
    assert_contains "state=Halted" "$(call admin.vm.List vault)" "vault stays halted"
}

test_ask_goes_to_the_policy_agent() {
    setup_qubes work personal vault
    qvm-start -q work personal vault || fail "start"
    install_echo personal vault
    write_policy <<'EOF'
test.Echo * work @anyvm ask default_target=personal
EOF
    assert_eq "126" "$(qube_run work 'qrexec-client-vm personal test.Echo </dev/null 2>/dev/null; echo $?')" \
        "no agent: denied"
    assert_contains "asked=no-agent" "$(audit_tail)" "audited as unanswered"
    daemon_start agent qrexec-policy-agent --count 3 --answer allow --answer allow:vault --answer deny
    agent=$DAEMON_PID
    wait_until 10 grep -q waiting "$QUBES_ROOT/agent.out" || fail "the agent is not waiting"
    assert_eq "personal from=work arg= service=test.Echo+" \
        "$(qube_run work 'qrexec-client-vm personal test.Echo </dev/null')" "agent allowed"
    assert_eq "vault from=work arg= service=test.Echo+" \
        "$(qube_run work 'qrexec-client-vm personal test.Echo </dev/null')" "agent chose another target"
    assert_eq "126" "$(qube_run work 'qrexec-client-vm personal test.Echo </dev/null 2>/dev/null; echo $?')" \
        "agent denied"
    daemon_wait $agent 0
    assert_eq "
qrexec: work asks for test.Echo (argument none)
  1) min
  2) personal (default)
  3) vault
answer: allow:personal" "$(sed -n 2,7p "$QUBES_ROOT/agent.out")" "the prompt lists the candidates"
    assert_contains "result=deny rule=$QUBES_ROOT/etc/qubes/policy.d/30-test.policy:1 asked=agent reason=\"denied by the user\"" \
        "$(audit_tail)" "the user's deny is audited"
    assert_contains "resolved=vault" "$(audit_tail 2 | head -1)" "the user's choice is audited"
}

test_qube_to_dom0_service() {
    setup_qubes work
    qvm-start -q work || fail "start"
    mkdir -p "$QUBES_ROOT/etc/qubes-rpc"
    cat >"$QUBES_ROOT/etc/qubes-rpc/test.Dom0" <<'EOF'
#!/bin/sh
echo "dom0 from=$QREXEC_REMOTE_DOMAIN type=$QREXEC_REQUESTED_TARGET_TYPE target=$QREXEC_REQUESTED_TARGET$QREXEC_REQUESTED_TARGET_KEYWORD arg=$1"
cat
exit 3
EOF
    chmod 755 "$QUBES_ROOT/etc/qubes-rpc/test.Dom0"
    write_policy <<'EOF'
test.Dom0 * work dom0     allow
test.Dom0 * work @default allow target=dom0
EOF
    assert_eq "dom0 from=work type=name target=dom0 arg=a.b
in
3" "$(echo in | qube_run work 'qrexec-client-vm dom0 test.Dom0+a.b; echo $?')" "dom0 service"
    assert_eq "dom0 from=work type=keyword target=default arg=" \
        "$(qube_run work 'qrexec-client-vm @default test.Dom0 </dev/null')" "keyword target"
    assert_eq "no" "$(qube_run work 'qrexec-client-vm dom0 qubes.NoSuch </dev/null >/dev/null 2>&1 && echo yes || echo no')" \
        "no rule for it"
}

test_management_qube_lists_what_policy_allows() {
    setup_qubes mgmt work secret
    qvm-start -q mgmt || fail "start"
    write_policy <<'EOF'
admin.vm.List * mgmt @adminvm allow target=dom0
admin.vm.List * mgmt work     allow target=dom0
admin.vm.List * mgmt mgmt     allow target=dom0
EOF
    assert_eq "0|dom0 class=AdminVM state=Running uuid=00000000-0000-0000-0000-000000000000
mgmt class=AppVM state=Running uuid=$(uuid_of mgmt)
work class=AppVM state=Halted uuid=$(uuid_of work)" "$(qube_run mgmt 'qrexec-client-vm dom0 admin.vm.List </dev/null | tr "\0" "|"')" \
        "only what the policy lets it see"
    assert_eq "Request refused|126" \
        "$(qube_run mgmt 'qrexec-client-vm dom0 admin.vm.property.Get+label </dev/null 2>&1; echo $?' | tr '\n' '|' | sed 's/|$//')" \
        "everything else refused"
    assert_eq "Request refused|126" \
        "$(qube_run mgmt 'qrexec-client-vm work admin.vm.Start </dev/null 2>&1; echo $?' | tr '\n' '|' | sed 's/|$//')" \
        "starting a qube refused"
    assert_contains "state=Halted" "$(call admin.vm.List work)" "nothing happened"
}

test_hostile_requests_lose_only_their_connection() {
    setup_qubes work personal
    qvm-start -q work personal || fail "start"
    install_echo personal
    qrexec-client -d work root:'cat > /tmp/probe; chmod 0755 /tmp/probe' <"$PROBE" ||
        fail "copy the probe"
    write_policy <<'EOF'
* * work personal allow
EOF
    # trig TYPE LEN SERVICE: a TRIGGER_SERVICE3-shaped request to personal; LEN "auto" is the
    # true length, SERVICE has \0-style escapes
    trig() {
        python3 -c 'import struct,sys
t,l,svc=int(sys.argv[1],0),sys.argv[2],sys.argv[3].encode().decode("unicode_escape").encode("latin1")
body=b"personal".ljust(64,b"\0")+b"SOCKET".ljust(32,b"\0")+svc
sys.stdout.buffer.write(struct.pack("<II",t,len(body) if l=="auto" else int(l))+body)' "$@"
    }
    assert_eq "connected" "$(trig 0x212 auto 'test.Echo\0' | qube_run work '/tmp/probe trigger')" \
        "a well-formed request"
    while read -r type len svc want; do
        assert_eq "$want" "$(trig "$type" "$len" "$svc" | qube_run work '/tmp/probe trigger')" \
            "request $type $len $svc"
    done <<'EOF'
0x212 auto test.Echo closed
0x212 auto test\0Echo\0 closed
0x212 auto +x\0 closed
0x212 auto \0 closed
0x212 4294967295 x\0 closed
0x212 200000 x\0 closed
0x999 auto test.Echo\0 closed
0x210 auto test.Echo\0 closed
0x212 auto ../../bin/sh\0 connected
0x212 auto ..\0 connected
EOF
    assert_eq "127" "$(qube_run work 'qrexec-client-vm personal ../../bin/sh </dev/null 2>/dev/null; echo $?')" \
        "a path is no service"
    assert_eq "125" "$(qube_run work 'qrexec-client-vm personal .. </dev/null 2>/dev/null; echo $?')" \
        "'..' is no service"
    # a forged source in the service name stays part of the (sanitized) argument
    assert_eq "personal from=work arg=x_dom0 service=test.Echo+x_dom0" \
        "$(qube_run work "qrexec-client-vm personal 'test.Echo+x dom0' </dev/null")" \
        "no way to claim another source"
    assert_eq "personal from=work arg= service=test.Echo+" \
        "$(qube_run work 'qrexec-client-vm personal test.Echo </dev/null')" "the qube is still served"
    assert_eq "ok" "$(qvm-run -p personal 'echo ok')" "the other qube is untouched"
}

test_policy_reload_and_service_config() {
    setup_qubes work personal
    qvm-start -q work personal || fail "start"
    install_echo personal
    qube_run personal root 'mkdir -p /usr/local/etc/qubes/rpc-config &&
        printf "#!/bin/sh\nid -u\n" > /usr/local/etc/qubes-rpc/test.Whoami &&
        chmod 755 /usr/local/etc/qubes-rpc/test.Whoami &&
        echo "force-user = '"'"'root'"'"'" > /usr/local/etc/qubes/rpc-config/test.Whoami'
    write_policy <<'EOF2'
test.Echo   * work personal allow
test.Whoami * work personal allow user=user
EOF2
    assert_eq "0" "$(qube_run work 'qrexec-client-vm personal test.Whoami </dev/null')" \
        "force-user of the service config wins"
    assert_eq "0" "$(qube_run work 'qrexec-client-vm personal test.Echo </dev/null >/dev/null; echo $?')" \
        "allowed"
    echo 'test.Echo * work personal deny' >"$QUBES_ROOT/etc/qubes/policy.d/20-deny.policy"
    assert_eq "126" "$(qube_run work 'qrexec-client-vm personal test.Echo </dev/null 2>/dev/null; echo $?')" \
        "a new file takes effect at once"
    echo 'test.Echo * work personal allow extra' >"$QUBES_ROOT/etc/qubes/policy.d/20-deny.policy"
    assert_eq "126" "$(qube_run work 'qrexec-client-vm personal test.Whoami </dev/null 2>/dev/null; echo $?')" \
        "a syntax error anywhere denies everything"
    assert_contains "20-deny.policy:1" "$(cat "$QUBES_ROOT/qubesd.out")" "the error names file and line"
    rm "$QUBES_ROOT/etc/qubes/policy.d/20-deny.policy"
    assert_eq "0" "$(qube_run work 'qrexec-client-vm personal test.Echo </dev/null >/dev/null; echo $?')" \
        "fixed policy: allowed again"
}
