# Disposables from the user's side: qvm-run --dispvm, calls to @dispvm from a qube, and
# qvm-open-in-dvm. Each disposable is gone once its work is done.
source "$(dirname "${BASH_SOURCE[0]}")/helpers.sh"

disposables() { qvm-ls --raw-list | grep '^disp' || true; }

# A DVM template "dvm" (the global default_dispvm) whose private holds test.Echo and an
# xdg-open that appends to the file it opens; qubes named in $@ from the same template.
setup_dvm() {
    make_template min
    qvm-create -q -t min -l red --prop template_for_dispvms=True dvm || fail "create dvm"
    qubes-prefs default_dispvm dvm >/dev/null || fail "default_dispvm"
    for q in "$@"; do
        qvm-create -q -t min -l blue "$q" || fail "create $q"
    done
    qube_run dvm root 'mkdir -p /usr/local/etc/qubes-rpc /usr/local/bin &&
        printf "#!/bin/sh\necho \"\$(hostname) from=\$QREXEC_REMOTE_DOMAIN\"\n" > /usr/local/etc/qubes-rpc/test.Echo &&
        printf "#!/bin/sh\necho edited 2>/dev/null >> \"\$1\" || true\n" > /usr/local/bin/xdg-open &&
        chmod 755 /usr/local/etc/qubes-rpc/test.Echo /usr/local/bin/xdg-open' ||
        fail "prepare the DVM template"
    qvm-shutdown -q --wait dvm || fail "shutdown dvm"
}

test_qvm_run_dispvm_runs_the_command_and_leaves_nothing() {
    setup_dvm
    out=$(qvm-run --dispvm -p -- 'echo hi; hostname')
    [[ "$out" =~ ^hi$'\n'disp[0-9]+$ ]] || fail "unexpected output: $out"
    assert_eq "3" "$(qvm-run --dispvm=dvm -p -- 'exit 3' >/dev/null; echo $?)" "the command's status"
    assert_eq "" "$(disposables)" "no disposable left"
    assert_eq "" "$(ls "$QUBES_ROOT/var/lib/qubes/appvms" | grep '^disp' || true)" "no volumes left"
    assert_eq "0" "$(pgrep -fc "qubes-sandbox .*--state-dir $QUBES_ROOT/run/qubes/sandbox/disp" || true)" \
        "no helper left"
}

test_concurrent_disposables_are_different_and_do_not_share() {
    setup_dvm
    qvm-run --dispvm -p -- 'hostname; echo secret > /home/user/s; sleep 1' >"$QUBES_ROOT/a" &
    a=$!
    qvm-run --dispvm -p -- 'hostname; sleep 1' >"$QUBES_ROOT/b" &
    b=$!
    wait $a $b
    [ "$(head -1 "$QUBES_ROOT/a")" != "$(head -1 "$QUBES_ROOT/b")" ] || fail "the same disposable twice"
    assert_eq "nothing" "$(qvm-run --dispvm -p -- 'cat /home/user/s 2>/dev/null || echo nothing')" \
        "a disposable cannot see what a previous one wrote"
    assert_eq "" "$(disposables)" "no disposable left"
}

test_qube_calls_at_dispvm() {
    setup_dvm work
    qvm-start -q work || fail "start work"
    write_policy <<'EOF'
test.Echo * work @dispvm     allow
test.Echo * work @dispvm:dvm allow
EOF
    out=$(qube_run work 'qrexec-client-vm @dispvm test.Echo </dev/null')
    [[ "$out" =~ ^disp[0-9]+\ from=work$ ]] || fail "@dispvm: $out"
    out=$(qube_run work 'qrexec-client-vm @dispvm:dvm test.Echo </dev/null')
    [[ "$out" =~ ^disp[0-9]+\ from=work$ ]] || fail "@dispvm:dvm: $out"
    wait_until 60 eval '[ -z "$(disposables)" ]'
    assert_eq "" "$(disposables)" "the disposables are gone after the calls"
    # a source without a default_dispvm has no @dispvm
    qvm-prefs work default_dispvm none >/dev/null || fail "unset default_dispvm"
    assert_eq "126" "$(qube_run work 'qrexec-client-vm @dispvm test.Echo </dev/null 2>/dev/null; echo $?')" \
        "refused without default_dispvm"
}

test_open_in_dvm_brings_back_only_changes() {
    setup_dvm work
    qvm-start -q work || fail "start work"
    write_policy <<'EOF'
qubes.OpenInVM * work @dispvm allow
EOF
    qube_run work 'echo text > doc.txt'
    assert_eq "0" "$(qube_run work 'qvm-open-in-dvm doc.txt; echo $?')" "opened in a disposable"
    assert_eq "text
edited" "$(qube_run work 'cat doc.txt')" "the edit came back"
    qube_run work 'qvm-open-in-dvm --view-only doc.txt' || fail "view-only"
    assert_eq "text
edited" "$(qube_run work 'cat doc.txt')" "view-only: unchanged"
    wait_until 60 eval '[ -z "$(disposables)" ]'
    assert_eq "" "$(disposables)" "the disposables are gone"
}

# hold_dispvm_calls QUBE N: N calls from QUBE to @dispvm test.Hold, each held open by its
# service; prints how many were held and how many refused (126) once all have answered.
hold_dispvm_calls() {
    qube_run "$1" "mkdir -p /tmp/hold; [ -p /tmp/hold/in ] || { mkfifo /tmp/hold/in; (sleep 1000000 >/tmp/hold/in) >/dev/null 2>&1 </dev/null & }; i=0; while [ \$i -lt $2 ]; do (qrexec-client-vm @dispvm test.Hold </tmp/hold/in >/tmp/hold/out.$2.\$i 2>/dev/null; echo \$? >/tmp/hold/rc.$2.\$i) >/dev/null 2>&1 </dev/null & i=\$((i+1)); done; t=0; while [ \$t -lt 1200 ]; do h=\$(cat /tmp/hold/out.$2.* 2>/dev/null | grep -c held); r=\$(cat /tmp/hold/rc.$2.* 2>/dev/null | grep -c 126); [ \$((h + r)) -ge $2 ] && break; sleep 0.05; t=\$((t+1)); done; echo held=\$h refused=\$r"
}

# A qube's calls hold at most 8 disposables at once, or what its feature
# dispvm-calls-max says: a flood is refused past it, and dom0 goes on serving.
test_a_flood_of_disposables_stops_at_the_callers_cap() {
    setup_dvm work
    qube_run dvm root 'printf "#!/bin/sh\necho held\nexec sleep 1000000\n" > /usr/local/etc/qubes-rpc/test.Hold &&
        chmod 755 /usr/local/etc/qubes-rpc/test.Hold' || fail "test.Hold in the DVM template"
    qvm-shutdown -q --wait dvm || fail "shutdown dvm"
    qvm-start -q work || fail "start work"
    write_policy <<'EOF'
test.Hold * work @dispvm allow
EOF
    assert_eq "held=8 refused=2" "$(hold_dispvm_calls work 10)" "the default cap"
    assert_eq "8" "$(disposables | wc -l)" "disposables held"
    assert_eq "ok" "$(qvm-run --dispvm -p -- 'echo ok')" "dom0's own disposable"
    assert_serving
    assert_contains "info qube=work op=trigger service=test.Hold target=@dispvm result=refused reason=\"work holds its maximum of disposables from calls: 8 (feature dispvm-calls-max)\"" \
        "$(cat "$QUBES_ROOT/var/log/qubes/qrexec.work.log")" "the reason, in work's log"
    qvm-features work dispvm-calls-max 9 || fail "raise the cap"
    assert_eq "held=1 refused=1" "$(hold_dispvm_calls work 2)" "the feature raises it"
    assert_eq "qvm-features: error: Invalid dispvm-calls-max value: a number from 0 to 1000" \
        "$(qvm-features work dispvm-calls-max nine 2>&1)" "no number"
    assert_eq "9" "$(qvm-features work dispvm-calls-max)" "the cap stays"
}
