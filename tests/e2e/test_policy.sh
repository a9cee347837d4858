# qrexec-policy-exec --just-evaluate against a real qubesd: system info from
# the Admin API, policy from a temp directory (and the repo's default policy).

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

setup() {
    start_qubesd || return 1
    call admin.vm.Create.TemplateVM dom0 "" "name=tpl label=black" >/dev/null
    for q in work personal dvm sys-net; do
        call admin.vm.Create.AppVM dom0 tpl "name=$q label=red" >/dev/null
    done
    call admin.vm.property.Set dvm template_for_dispvms True >/dev/null
    call admin.vm.property.Set work default_dispvm dvm >/dev/null
    call admin.vm.tag.Set personal mytag >/dev/null
    POL=$(mktemp -d "$QUBES_ROOT/policy.XXXXXX")
}

# pe EXPECTED_RC SRC TGT SVC: runs --just-evaluate on $POL, checks the exit
# status and leaves the output in $OUT.
pe() {
    want=$1
    shift
    OUT=$(qrexec-policy-exec --just-evaluate --path "$POL" "$@" 2>"$QUBES_ROOT/pe.err")
    rc=$?
    [ "$rc" = "$want" ] || fail "qrexec-policy-exec $*: rc $rc, expected $want; $OUT $(cat "$QUBES_ROOT/pe.err")"
}

uuid_of() {
    call admin.vm.List dom0 | tr '|' '\n' | awk -v q="$1" '$1 == q { sub("uuid=", "", $4); print $4 }'
}

test_allow_deny_ask_lines() {
    cat >"$POL/30-user.policy" <<'P'
test.Allow  *  work  personal  allow
test.Deny   *  @anyvm @anyvm deny
test.Ask    *  work  @anyvm  ask default_target=personal
test.Redir  *  work  @anyvm  allow target=dom0 user=root
P
    pe 0 work personal test.Allow
    assert_eq "user=DEFAULT
result=allow
target=personal
target_uuid=uuid:$(uuid_of personal)
autostart=True
requested_target=personal" "$OUT" "allow"
    pe 1 work personal test.Deny
    assert_eq "result=deny" "$OUT" "deny"
    assert_contains "denied by policy $POL/30-user.policy:2" "$(cat "$QUBES_ROOT/pe.err")"
    pe 1 work personal test.Ask+arg
    assert_eq "result=ask
targets=@dispvm:dvm dvm personal sys-net tpl
default_target=personal" "$OUT" "ask"
    pe 0 work personal test.Redir
    assert_eq "user=root
result=allow
target=dom0
autostart=True
requested_target=personal" "$OUT" "redirect to dom0"
    pe 1 work personal test.Nothing
    assert_eq "result=deny" "$OUT" "no rule"
}

test_dispvm_and_default() {
    cat >"$POL/30-user.policy" <<'P'
test.D  *  @anyvm  @dispvm  allow
test.D  *  @anyvm  @dispvm:@tag:nothere  allow
test.T  *  @anyvm  @dispvm:dvm  allow
test.N  *  @anyvm  @default  allow target=sys-net
test.L  *  @anyvm  @anyvm  allow
P
    pe 0 work @dispvm test.D
    assert_eq "user=DEFAULT
result=allow
target=@dispvm:dvm
target_uuid=@dispvm:uuid:$(uuid_of dvm)
autostart=True
requested_target=@dispvm" "$OUT" "@dispvm"
    pe 1 personal @dispvm test.D
    pe 0 work @dispvm test.T
    assert_contains "target=@dispvm:dvm" "$OUT"
    pe 1 work @dispvm:personal test.T
    assert_contains "not a template for dispvm: personal" "$(cat "$QUBES_ROOT/pe.err")"
    pe 0 personal "" test.N
    assert_contains "target=sys-net" "$OUT"
    assert_contains "requested_target=@default" "$OUT"
    pe 0 personal no-such-qube test.N
    pe 1 work work test.L
    assert_contains "loopback" "$(cat "$QUBES_ROOT/pe.err")"
    pe 1 work @anyvm test.L
    assert_contains "invalid intendedtarget token: '@anyvm'" "$(cat "$QUBES_ROOT/pe.err")"
}

test_tags_and_types() {
    cat >"$POL/30-user.policy" <<'P'
test.S  *  @tag:mytag      @anyvm  allow target=work
test.S  *  @type:TemplateVM @anyvm allow target=sys-net
test.S  *  @anyvm          @anyvm  deny
P
    pe 0 personal dvm test.S
    assert_contains "target=work" "$OUT"
    pe 0 tpl dvm test.S
    assert_contains "target=sys-net" "$OUT"
    pe 1 work dvm test.S
}

test_syntax_error_denies_all() {
    echo 'test.A * @anyvm @anyvm allow' >"$POL/10-good.policy"
    printf '# comment\n\ntest.B * @anyvm\n' >"$POL/20-bad.policy"
    pe 1 work personal test.A
    assert_eq "result=deny" "$OUT"
    assert_contains "$POL/20-bad.policy:3: wrong number of fields" "$(cat "$QUBES_ROOT/pe.err")"
    rm "$POL/20-bad.policy"
    pe 0 work personal test.A
    echo 'test.A * @anyvm @anyvm deny' >"$POL/Bad-Name.policy"
    pe 1 work personal test.A
    assert_contains "invalid filename: $POL/Bad-Name.policy" "$(cat "$QUBES_ROOT/pe.err")"
}

test_includes() {
    mkdir -p "$POL/include"
    echo '!include-service test.Old * include/old' >"$POL/40-old.policy"
    echo '$tag:mytag $anyvm allow,target=work' >"$POL/include/old"
    echo '!include include/new' >"$POL/50-inc.policy"
    echo 'test.New * @anyvm @anyvm allow target=dvm' >"$POL/include/new"
    pe 0 personal sys-net test.Old
    assert_contains "target=work" "$OUT"
    pe 1 work sys-net test.Old
    pe 0 personal sys-net test.New+x
    assert_contains "target=dvm" "$OUT"
}

test_default_policy() {
    cp "$REPO/policy/90-default.policy" "$POL/"
    pe 0 work @dispvm qubes.OpenURL
    assert_contains "target=@dispvm:dvm" "$OUT"
    pe 1 work personal qubes.OpenURL
    assert_eq "result=ask
targets=@dispvm:dvm dvm personal sys-net tpl
default_target=" "$OUT" "OpenURL ask"
    pe 1 work personal qubes.VMShell
    assert_eq "result=deny" "$OUT"
    pe 0 work dom0 qubes.FeaturesRequest
    assert_eq "user=DEFAULT
result=allow
target=dom0
autostart=True
requested_target=dom0" "$OUT" "FeaturesRequest"
    pe 0 work "" qubes.Notifications
    assert_contains "target=dom0" "$OUT"
    pe 0 tpl "" qubes.UpdatesProxy
    assert_eq "user=DEFAULT
result=allow
target=sys-net
target_uuid=uuid:$(uuid_of sys-net)
autostart=True
requested_target=@default" "$OUT" "UpdatesProxy"
    pe 1 work "" qubes.UpdatesProxy
    pe 0 work personal qubes.GetDate
    assert_contains "target=dom0" "$OUT"
    pe 1 work personal qubes.Filecopy
    assert_contains "result=ask" "$OUT"
}

test_cli() {
    echo 'test.A * @anyvm @anyvm allow' >"$POL/10-good.policy"
    echo 'test.B * @anyvm @anyvm ask' >"$POL/20-ask.policy"
    assert_status 0 qrexec-policy-exec --path "$POL" work personal test.A
    # a decision about --path files has nobody to ask
    assert_status 1 qrexec-policy-exec --path "$POL" work personal test.B
    assert_eq "result=deny" "$(qrexec-policy-exec --path "$POL" work personal test.B 2>/dev/null)"
    assert_status 2 qrexec-policy-exec --just-evaluate work personal
    # default directories under $QUBES_ROOT: run first, then etc
    mkdir -p "$QUBES_ROOT/run/qubes/policy.d" "$QUBES_ROOT/etc/qubes/policy.d"
    echo 'test.A * @anyvm @anyvm deny' >"$QUBES_ROOT/etc/qubes/policy.d/10-a.policy"
    echo 'test.A * @anyvm @anyvm allow user=run' >"$QUBES_ROOT/run/qubes/policy.d/10-a.policy"
    out=$(qrexec-policy-exec --just-evaluate work personal test.A)
    assert_contains "user=run" "$out"
    # --assume-yes-for-ask answers with the requested target
    echo 'test.Q * @anyvm @anyvm ask' >"$QUBES_ROOT/etc/qubes/policy.d/20-q.policy"
    out=$(qrexec-policy-exec --assume-yes-for-ask --just-evaluate work personal test.Q)
    assert_contains "result=allow" "$out"
    assert_contains "target=personal" "$out"
    assert_status 1 qrexec-policy-exec --assume-yes-for-ask --just-evaluate work "" test.Q
    # a real decision is qubesd's: asked of the policy agent (none here) and audited
    assert_eq "result=deny" "$(qrexec-policy-exec work personal test.Q)" "ask without agent"
    assert_eq "result=allow" "$(qrexec-policy-exec --assume-yes-for-ask work personal test.Q |
        grep result)" "assume yes"
    assert_contains "source=work target=personal service=test.Q result=allow resolved=personal rule=$QUBES_ROOT/etc/qubes/policy.d/20-q.policy:1 asked=assume-yes" \
        "$(tail -1 "$QUBES_ROOT/var/log/qubes/qrexec-audit.log")" "audited"
}
