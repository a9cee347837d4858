# Disposables from qubesd's side: admin.vm.CreateDisposable, auto_cleanup at
# every kind of end (kill, crash of the qube, kill -9 of qubesd), and the pool
# of preloaded disposables.
source "$(dirname "${BASH_SOURCE[0]}")/helpers.sh"

# A minimal template "min" and a disposable template "dvm" based on it.
setup_dvm() {
    make_template min
    mk_appvm dvm min green
    ok admin.vm.property.Set dvm template_for_dispvms True
}

# The name CreateDisposable answered.
new_disp() {
    local a
    a=$(call admin.vm.CreateDisposable "${1:-dom0}")
    [[ "$a" =~ ^0\|disp[0-9]+$ ]] || fail "CreateDisposable ${1:-dom0}: $a"
    printf '%s' "${a#0|}"
}

disposables() { call admin.vm.List dom0 | grep -o '^\(0|\)\?disp[0-9]*' | sed 's/^0|//' || true; }

# Every trace of disposable $1 outside the store: image directory, helper
# and qrexec-daemon processes, mounts and loop devices of this root.
assert_no_trace() {
    local d=$1
    # Kill answers before the removal, which ends before qubesd serves another request
    call admin.vm.List dom0 >/dev/null
    [ -e "$QUBES_ROOT/var/lib/qubes/appvms/$d" ] && fail "volumes of $d left"
    pgrep -f "qubes-sandbox .*--state-dir $QUBES_ROOT/run/qubes/sandbox/$d\$" >/dev/null &&
        fail "helper of $d left"
    [ "$(root_daemons "$d ")" = 0 ] || fail "qrexec-daemon of $d left"
    grep -q "$QUBES_ROOT" /proc/self/mountinfo && fail "a mount of this root left"
    if command -v losetup >/dev/null; then
        losetup -a 2>/dev/null | grep -q "$QUBES_ROOT/var/lib/qubes/appvms/$d/" &&
            fail "a loop device of $d left"
    fi
    return 0
}

# Kills the init of qube $1: the qube crashes.
crash() {
    local init
    init=$(sed -n 's/^init=//p' "$QUBES_ROOT/run/qubes/sandbox/$1/state")
    [ -n "$init" ] || fail "no init pid for $1"
    kill -9 "$init"
}

# The preloaded disposables of $1 (feature preload-dispvm), one a line.
pool_of() { call admin.vm.feature.Get "$1" preload-dispvm | sed 's/^0|//; s/ /\n/g'; }

# True when $1 holds exactly $2 preloaded disposables, each paused and ready.
pool_ready() {
    local names n=0 d
    names=$(pool_of "$1")
    for d in $names; do
        [[ "$(call admin.vm.List "$d")" == *"state=Paused"* ]] || return 1
        [ "$(call admin.vm.feature.Get "$d" preload-dispvm-completed)" = "0|1" ] || return 1
        n=$((n + 1))
    done
    [ "$n" = "$2" ]
}

test_create_disposable_answers_and_refuses_as_qubes() {
    setup_dvm
    expect "2|QubesException||Refusing to create disposable for dom0: it has no default_dispvm|" \
        admin.vm.CreateDisposable dom0
    expect "2|QubesException||Refusing to create disposable out of this AppVM, because template_for_dispvms=False|" \
        admin.vm.CreateDisposable min
    mk_appvm plain min
    expect "2|QubesException||Refusing to create disposable out of this AppVM, because template_for_dispvms=False|" \
        admin.vm.CreateDisposable plain
    expect "2|ProtocolError||Invalid argument for admin.vm.CreateDisposable|" \
        admin.vm.CreateDisposable dvm other
    expect "2|QubesValueError||Invalid payload for admin.vm.CreateDisposable: expected the empty string or 'uuid'|" \
        admin.vm.CreateDisposable dvm "" uuidx
    assert_eq "" "$(disposables)" "nothing made by refusals"

    # by name, and by the caller's default_dispvm
    events_start dom0 domain-tag-add:disp-created-by-dom0
    d1=$(new_disp dvm)
    assert_eq "1||connection-established
1||domain-add|vm=$d1
1|$d1|domain-tag-add:created-by-dom0|tag=created-by-dom0
1|$d1|domain-tag-add:disp-created-by-dom0|tag=disp-created-by-dom0" "$(events_wait)" "events"
    ok admin.property.Set dom0 default_dispvm dvm
    d2=$(new_disp)
    [ "$d1" != "$d2" ] || fail "the same name twice"
    expect "0|$d2 class=DispVM state=Halted uuid=$(uuid_of "$d2")
" admin.vm.List "$d2"
    expect "0|default=False type=vm dvm" admin.vm.property.Get "$d2" template
    expect "0|default=False type=bool True" admin.vm.property.Get "$d2" auto_cleanup
    expect "0|default=False type=int ${d2#disp}" admin.vm.property.Get "$d2" dispid
    expect "0|default=False type=label green" admin.vm.property.Get "$d2" label
    # a qube's own default_dispvm decides for its requests
    mk_appvm work min
    ok admin.vm.property.Set work default_dispvm ""
    assert_eq "2|QubesException||Refusing to create disposable for work: it has no default_dispvm|" \
        "$(raw_create work)" "CreateDisposable from work"
    # payload uuid: the answer names it by uuid
    a=$(call admin.vm.CreateDisposable dvm "" uuid)
    [[ "$a" =~ ^0\|uuid:[0-9a-f-]{36}$ ]] || fail "uuid answer: $a"
    assert_contains "class=DispVM state=Halted" "$(call admin.vm.List "${a#0|}")" "the uuid names it"
}

# CreateDisposable from another source than dom0.
raw_create() { printf '' | qubesd-query "$1" admin.vm.CreateDisposable dom0 | tr '\0' '|'; }

test_disposable_copies_its_template() {
    setup_dvm
    ok admin.vm.property.Set dvm qrexec_timeout 33
    ok admin.vm.property.Set dvm vcpus 1
    ok admin.vm.property.Set dvm label purple
    ok admin.vm.feature.Set dvm color blue
    ok admin.vm.feature.Set dvm preload-dispvm-max 0
    ok admin.vm.tag.Set dvm blue-team
    ok admin.vm.firewall.Set dvm "" "action=accept dsthost=10.1.1.1
action=drop
"
    d=$(new_disp dvm)
    expect "0|default=False type=int 33" admin.vm.property.Get "$d" qrexec_timeout
    expect "0|default=False type=int 1" admin.vm.property.Get "$d" vcpus
    expect "0|default=False type=label purple" admin.vm.property.Get "$d" label
    expect "0|default=True type=int 400" admin.vm.property.Get "$d" memory
    expect "0|color
" admin.vm.feature.List "$d"
    expect "0|blue-team
created-by-dom0
disp-created-by-dom0
" admin.vm.tag.List "$d"
    expect "0|action=accept dst4=10.1.1.1/32
action=drop
" admin.vm.firewall.Get "$d"
    # a named disposable (admin.vm.Create.DispVM) copies the same, and stays
    ok admin.vm.Create.DispVM dom0 dvm "name=named label=red"
    expect "0|default=False type=int 33" admin.vm.property.Get named qrexec_timeout
    expect "0|default=False type=label red" admin.vm.property.Get named label
    expect "0|default=True type=bool False" admin.vm.property.Get named auto_cleanup
    ok admin.vm.Start named
    ok admin.vm.Kill named
    assert_contains "named class=DispVM state=Halted" "$(call admin.vm.List named)" "named stays"
}

test_disposable_runs_a_command_and_nothing_remains() {
    setup_dvm
    before=$(call admin.vm.List dom0)
    d=$(new_disp dvm)
    ok admin.vm.Start "$d"
    assert_contains "$d class=DispVM state=Running" "$(call admin.vm.List "$d")" "running"
    assert_eq "hello from $d" "$(qrexec-client -d "$d" user:'echo hello from $(hostname)')" "runs"
    [ -d "$QUBES_ROOT/var/lib/qubes/appvms/$d" ] || fail "no volumes while running"
    events_start dom0 domain-delete
    ok admin.vm.Kill "$d"
    # the Kill answers once the disposable is gone
    assert_eq "$before" "$(call admin.vm.List dom0)" "store as before"
    assert_no_trace "$d"
    assert_eq "1|$d|domain-stopped
1|$d|property-reset:xid|name=xid
1|$d|property-reset:start_time|name=start_time
1|$d|domain-shutdown
1||domain-pre-delete|vm=$d
1||domain-delete|vm=$d" "$(events_wait | grep -v connection-established)" "events of the end"
    # a clean shutdown ends it the same way
    d=$(new_disp dvm)
    ok admin.vm.Start "$d"
    ok admin.vm.Shutdown "$d" wait
    assert_eq "$before" "$(call admin.vm.List dom0)" "store as before (shutdown)"
    assert_no_trace "$d"
}

test_crash_of_the_qube_removes_it() {
    setup_dvm
    d=$(new_disp dvm)
    ok admin.vm.Start "$d"
    crash "$d"
    wait_until 5 sh -c "! qubesd-query dom0 admin.vm.List dom0 | grep -q '^.*$d '" ||
        fail "still listed after its crash"
    assert_no_trace "$d"
}

test_failed_start_removes_it() {
    setup_dvm
    # copied from the DVM template: a vm qube with a netvm, which the vm
    # driver cannot wire yet (the netvm starts; the disposable's start fails)
    ok admin.vm.Create.AppVM dom0 min "name=net label=red"
    ok admin.vm.property.Set net provides_network True
    ok admin.vm.property.Set dvm virt_mode vm
    ok admin.vm.property.Set dvm netvm net
    d=$(new_disp dvm)
    expect "2|QubesException||Start failed: network: virt_mode vm has no network yet|" \
        admin.vm.Start "$d"
    assert_eq "" "$(disposables)" "removed after the failed start"
    assert_no_trace "$d"
}

test_a_disposable_cannot_see_what_the_previous_one_wrote() {
    setup_dvm
    d1=$(new_disp dvm)
    ok admin.vm.Start "$d1"
    qrexec-client -d "$d1" user:'echo secret > /home/user/s; echo x > /rw/x' || fail "write"
    ok admin.vm.Kill "$d1"
    d2=$(new_disp dvm)
    ok admin.vm.Start "$d2"
    assert_eq "none" "$(qrexec-client -d "$d2" user:'cat /home/user/s /rw/x 2>/dev/null || echo none')" \
        "the previous disposable's writes"
    ok admin.vm.Kill "$d2"
    ok admin.vm.Start dvm
    assert_eq "none" "$(qrexec-client -d dvm user:'cat /home/user/s 2>/dev/null || echo none')" \
        "nor does the DVM template"
}

test_two_concurrent_requests_get_two_disposables() {
    setup_dvm
    local pids=()
    for i in 1 2; do
        (d=$(new_disp dvm) && call admin.vm.Start "$d" >/dev/null &&
            qrexec-client -d "$d" user:hostname >"$QUBES_ROOT/c$i") &
        pids+=($!)
    done
    wait "${pids[@]}"
    a=$(cat "$QUBES_ROOT/c1") b=$(cat "$QUBES_ROOT/c2")
    [[ "$a" =~ ^disp[0-9]+$ && "$b" =~ ^disp[0-9]+$ ]] || fail "both ran: '$a' '$b'"
    [ "$a" != "$b" ] || fail "the same disposable twice: $a"
    ok admin.vm.Kill "$a"
    ok admin.vm.Kill "$b"
    assert_eq "" "$(disposables)" "none left"
}

test_kill_9_of_qubesd_then_restart_cleans_up() {
    setup_dvm
    ok admin.vm.Create.DispVM dom0 dvm "name=disp5 label=red"
    dead=$(new_disp dvm)
    ok admin.vm.Start "$dead"
    alive=$(new_disp dvm)
    ok admin.vm.Start "$alive"
    idle=$(new_disp dvm)
    kill9_qubesd
    # while qubesd is away: one disposable dies, images of a disposable the
    # store never got are left, and directories that are not a disposable's
    crash "$dead"
    appvms=$QUBES_ROOT/var/lib/qubes/appvms
    mkdir -p "$appvms/disp77" "$appvms/disp5" "$appvms/dispatch" "$appvms/disp78/sub"
    : >"$appvms/disp77/private-dirty.img"
    : >"$appvms/disp5/keep.img"
    wait_until 5 sh -c "! pgrep -f 'qubes-sandbox .*--state-dir $QUBES_ROOT/run/qubes/sandbox/$dead\$' >/dev/null" ||
        fail "qube did not die"
    restart_qubesd
    assert_eq "$(printf '%s\n' disp5 "$alive" | sort)" "$(disposables | sort)" \
        "only the named and the running one"
    assert_contains "$alive class=DispVM state=Running" "$(call admin.vm.List "$alive")" "still running"
    assert_no_trace "$dead"
    assert_no_trace "$idle"
    [ -e "$appvms/disp77" ] && fail "leftover images kept"
    [ -e "$appvms/disp5/keep.img" ] || fail "a named qube's directory removed"
    [ -d "$appvms/dispatch" ] || fail "a directory of another name removed"
    [ -d "$appvms/disp78/sub" ] || fail "a directory holding more than images removed"
    # the one that survived goes when it stops
    ok admin.vm.Kill "$alive"
    assert_eq "disp5" "$(disposables)" "the reattached one removed at its end"
    assert_no_trace "$alive"
}

test_200_disposables_in_a_row_leave_nothing() {
    setup_dvm
    before=$(call admin.vm.List dom0)
    start=$(date +%s%N)
    for i in $(seq 200); do
        d=$(qubesd-query dom0 admin.vm.CreateDisposable dvm </dev/null | tr -d '\0')
        d=${d#0}
        [[ "$d" =~ ^disp[0-9]+$ ]] || fail "create #$i: $d"
        a=$(qubesd-query dom0 admin.vm.Start "$d" </dev/null | tr '\0' '|')
        [ "$a" = "0|" ] || fail "start #$i $d: $a"
        a=$(qubesd-query dom0 admin.vm.Kill "$d" </dev/null | tr '\0' '|')
        [ "$a" = "0|" ] || fail "kill #$i $d: $a"
    done
    ms=$((($(date +%s%N) - start) / 1000000))
    echo "200 disposables: $ms ms ($((ms / 200)) ms each)" >&2
    assert_eq "$before" "$(call admin.vm.List dom0)" "store as before"
    assert_eq "" "$(ls "$QUBES_ROOT/var/lib/qubes/appvms" | grep '^disp' || true)" "no volumes"
    assert_eq "0" "$(pgrep -fc "qubes-sandbox .*--state-dir $QUBES_ROOT/" || true)" "no helpers"
    assert_eq "0" "$(root_daemons disp)" "no qrexec-daemons"
    grep -q "$QUBES_ROOT" /proc/self/mountinfo && fail "mounts left"
    return 0
}

test_preload_feature_is_guarded() {
    setup_dvm
    for f in preload-dispvm preload-dispvm-completed preload-dispvm-in-progress; do
        expect "2|PermissionDenied||feature $f can only be set by qubesd|" \
            admin.vm.feature.Set dvm "$f" 1
    done
    expect "2|QubesValueError||Invalid preload-dispvm-max value: not a digit|" \
        admin.vm.feature.Set dvm preload-dispvm-max -1
    expect "2|QubesValueError||Invalid preload-dispvm-max value: not a digit|" \
        admin.vm.feature.Set dvm preload-dispvm-max 1a
    expect "2|QubesValueError||Qube min is a TemplateVM, not a disposable template: preload-dispvm-max is not for it|" \
        admin.vm.feature.Set min preload-dispvm-max 1
    ok admin.vm.feature.Set dom0 preload-dispvm-max 0
    ok admin.vm.feature.Set dvm preload-dispvm-max ""
    expect "0|" admin.vm.CreateDisposable dvm preload
    # a pool whose disposables cannot start does not retry at once (vm
    # qubes with a netvm: the vm driver cannot wire them yet)
    ok admin.vm.Create.AppVM dom0 min "name=net label=red"
    ok admin.vm.property.Set net provides_network True
    ok admin.vm.property.Set dvm virt_mode vm
    ok admin.vm.property.Set dvm netvm net
    ok admin.vm.feature.Set dvm preload-dispvm-max 1
    local log=$QUBES_ROOT/var/log/qubes/qubesd.log
    wait_until 60 grep -q 'op=preload template=dvm result=error' "$log" || fail "no preload tried"
    wait_until 60 eval '[ -z "$(disposables)" ]' || fail "the failed one is not removed"
    # by then a pool that retried at once would have tried again
    assert_eq "1" "$(grep -c 'op=preload template=dvm result=error' "$log")" \
        "one failed preload, no retry at once"
}

test_preload_pool_is_kept_full_and_used_first() {
    setup_dvm
    ok admin.vm.feature.Set dvm preload-dispvm-max 2
    wait_until 10 pool_ready dvm 2 || fail "no pool of 2: $(pool_of dvm)"
    pool=$(pool_of dvm)
    for d in $pool; do
        expect "0|1" admin.vm.feature.Get "$d" internal
        expect "0|default=False type=bool True" admin.vm.property.Get "$d" auto_cleanup
    done
    first=$(echo "$pool" | head -1)
    start=$(date +%s%N)
    d=$(new_disp dvm)
    ms=$((($(date +%s%N) - start) / 1000000))
    echo "CreateDisposable from the pool: $ms ms" >&2
    assert_eq "$first" "$d" "the oldest preloaded one"
    assert_contains "$d class=DispVM state=Running" "$(call admin.vm.List "$d")" "running already"
    ok admin.vm.Start "$d"
    assert_eq "$d" "$(qrexec-client -d "$d" user:hostname)" "usable at once"
    expect "2|QubesFeatureNotFoundError||Feature not set for domain $d: internal|" \
        admin.vm.feature.Get "$d" internal
    expect "0|created-by-dom0
disp-created-by-dom0
" admin.vm.tag.List "$d"
    wait_until 10 pool_ready dvm 2 || fail "not refilled: $(pool_of dvm)"
    [[ "$(pool_of dvm)" == *"$d"* ]] && fail "a used one back in the pool"
    ok admin.vm.Kill "$d"
    assert_no_trace "$d"

    # unpaused by hand: it is used, and leaves the pool
    u=$(pool_of dvm | head -1)
    ok admin.vm.Unpause "$u"
    wait_until 10 sh -c "! qubesd-query dom0 admin.vm.feature.Get dvm preload-dispvm | tr -d '\\0' | grep -qw '$u'" ||
        fail "$u still in the pool"
    expect "2|QubesFeatureNotFoundError||Feature not set for domain $u: internal|" \
        admin.vm.feature.Get "$u" internal
    wait_until 10 pool_ready dvm 2 || fail "not refilled after the unpause: $(pool_of dvm)"
    ok admin.vm.Kill "$u"

    # a lower maximum removes the extras, 0 removes them all
    pool=$(pool_of dvm)
    ok admin.vm.feature.Set dvm preload-dispvm-max 1
    wait_until 10 pool_ready dvm 1 || fail "not 1: $(pool_of dvm)"
    ok admin.vm.feature.Set dvm preload-dispvm-max 0
    wait_until 10 sh -c "[ -z \"\$(qubesd-query dom0 admin.vm.List dom0 | tr -d '\\0' | grep -o '^0\\?disp[0-9]*')\" ]" ||
        fail "preloaded ones left: $(disposables)"
    for d in $pool; do assert_no_trace "$d"; done
    expect "0|" admin.vm.feature.Get dvm preload-dispvm
}

test_preload_replaced_when_templates_shut_down() {
    setup_dvm
    ok admin.property.Set dom0 default_dispvm dvm
    # the global maximum applies to the global default_dispvm
    ok admin.vm.feature.Set dom0 preload-dispvm-max 2
    wait_until 10 pool_ready dvm 2 || fail "no pool of 2: $(pool_of dvm)"
    old=$(pool_of dvm)
    # the template changes: what the preloaded ones run is outdated
    ok admin.vm.Start min
    qrexec-client -d min root:'echo v2 > /etc/version' || fail "update the template"
    ok admin.vm.Shutdown min wait
    wait_until 10 sh -c "[ -z \"\$(echo '$old' | grep -xF \"\$(qubesd-query dom0 admin.vm.List dom0 | tr -d '\\0' | sed 's/^0//; s/ .*//')\")\" ]" ||
        fail "outdated ones still there: $old / $(disposables)"
    wait_until 10 pool_ready dvm 2 || fail "not replaced: $(pool_of dvm)"
    d=$(new_disp)
    assert_eq "v2" "$(qrexec-client -d "$d" user:'cat /etc/version')" "the new root"
    ok admin.vm.Kill "$d"
    # the DVM template's private too
    wait_until 10 pool_ready dvm 2 || fail "not refilled: $(pool_of dvm)"
    old=$(pool_of dvm)
    ok admin.vm.Start dvm
    qrexec-client -d dvm user:'echo p2 > /home/user/marker' || fail "write the DVM template"
    ok admin.vm.Shutdown dvm wait
    wait_until 10 sh -c "[ -z \"\$(echo '$old' | grep -xF \"\$(qubesd-query dom0 admin.vm.List dom0 | tr -d '\\0' | sed 's/^0//; s/ .*//')\")\" ]" ||
        fail "outdated ones still there: $old / $(disposables)"
    wait_until 10 pool_ready dvm 2 || fail "not replaced: $(pool_of dvm)"
    d=$(new_disp)
    assert_eq "p2" "$(qrexec-client -d "$d" user:'cat /home/user/marker')" "the new private"
}

test_preload_pool_survives_a_qubesd_restart() {
    setup_dvm
    ok admin.vm.feature.Set dvm preload-dispvm-max 1
    wait_until 10 pool_ready dvm 1 || fail "no pool: $(pool_of dvm)"
    kept=$(pool_of dvm)
    kill9_qubesd
    restart_qubesd
    wait_until 10 pool_ready dvm 1 || fail "no pool after restart: $(pool_of dvm)"
    assert_eq "$kept" "$(pool_of dvm)" "the ready one kept"
    d=$(new_disp dvm)
    assert_eq "$kept" "$d" "and handed out"
    assert_eq "$d" "$(qrexec-client -d "$d" user:hostname)" "usable"
}
