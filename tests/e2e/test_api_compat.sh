# Issue 11, qubesd's side: what Qubes' own client tools call answers as core-admin answers it.
# The device API (classes, empty lists, refusals of absent devices), Suspend/Resume/Console,
# a running qube's xid and start_time, Qubes' exception classes, the dom0 import services
# for a management qube, control characters in string properties, dom0's memory, and the
# policy agent told of denied calls.
source "$(dirname "${BASH_SOURCE[0]}")/helpers.sh"

# A busybox template and AppVMs of it (not started).
setup_qubes() {
    make_template min
    for q in "$@"; do
        ok admin.vm.Create.AppVM dom0 min "name=$q label=red"
    done
}

test_device_classes_and_lists() {
    mk_template fedora
    mk_appvm work fedora
    expect "0|pci
block
" admin.deviceclass.List dom0
    expect "2|ProtocolError||unexpected argument|" admin.deviceclass.List dom0 x
    expect "2|ProtocolError||expected destination to be AdminVM|" admin.deviceclass.List work
    # what qvm-clone asks after cloning: the classes, then each one's assignments
    for cls in $(call admin.deviceclass.List dom0 | sed 's/^0|//'); do
        for q in dom0 work; do
            for op in Available Assigned Attached; do
                ok "admin.vm.device.$cls.$op" "$q"
            done
        done
        ok "admin.vm.device.$cls.Available" dom0 00_1f.2
        ok "admin.vm.device.$cls.Assigned" work dom0+sda
        ok "admin.vm.device.$cls.Attached" work dom0+sda
        expect "2|ProtocolError||unexpected payload|" "admin.vm.device.$cls.Available" dom0 "" x
    done
    expect "2|ProtocolError||no such method: 'admin.vm.device.usb.Available'|" \
        admin.vm.device.usb.Available dom0
    expect "2|ProtocolError||no such method: 'admin.vm.device.mic.Assigned'|" \
        admin.vm.device.mic.Assigned work
}

test_device_changes_of_absent_devices() {
    mk_template fedora
    mk_appvm work fedora
    expect "2|QubesVMNotRunningError||VM not running, cannot attach device, do you mean \`assign\`?|" \
        admin.vm.device.block.Attach work dom0+sda "mode='manual'"
    expect "2|QubesValueError||pci devices cannot be attached manually.|" \
        admin.vm.device.pci.Attach work dom0+00_1f.2 "mode='manual'"
    expect "2|ProtocolError||block device not recognized in sda port.|" \
        admin.vm.device.block.Assign work dom0+sda "mode='required'"
    expect "2|ProtocolError||pci device not recognized in 00_1f.2 port.|" \
        admin.vm.device.pci.Assign work dom0+00_1f.2:0x8086:0x1234 "mode='required'"
    expect "2|DeviceNotAssigned||block device sda not attached to work|" \
        admin.vm.device.block.Detach work dom0+sda
    expect "2|DeviceNotAssigned||block device dom0:sda:* not assigned to work|" \
        admin.vm.device.block.Unassign work dom0+sda
    expect "2|DeviceNotAssigned||pci device dom0:00_1f.2:0x8086:0x1234 not assigned to work|" \
        admin.vm.device.pci.Unassign work dom0+00_1f.2:0x8086:0x1234
    expect "2|QubesValueError||Device dom0:sda:* not assigned to work|" \
        admin.vm.device.block.Set.assignment work dom0+sda auto-attach
    expect "2|PermissionDenied||Invalid assignment mode: expected required, ask-to-attach or auto-attach|" \
        admin.vm.device.block.Set.assignment work dom0+sda manual
    expect "2|QubesVMNotFoundError||No such domain: 'nope'|" \
        admin.vm.device.block.Detach work nope+sda
    expect "2|ProtocolError||Invalid device: expected <backend>+<port_id>|" \
        admin.vm.device.block.Detach work sda
    expect "2|ProtocolError||expected an argument|" admin.vm.device.block.Attach work "" x
    # nothing was assigned on the way
    ok admin.vm.device.block.Assigned work
    ok admin.vm.device.pci.Assigned work
}

test_running_qube_xid_start_time_suspend_console() {
    setup_qubes work other
    expect "0|default=True type=int -1" admin.vm.property.Get work xid
    expect "0|default=True type=str " admin.vm.property.Get work start_time
    expect "2|QubesVMNotRunningError||Domain not running (either powered off or paused): 'work'|" \
        admin.vm.Console work
    expect "2|QubesVMNotRunningError||Domain not running (either powered off or paused): 'work'|" \
        admin.vm.Suspend work
    before=$(date +%s)
    ok admin.vm.Start work
    after=$(date +%s)
    expect "0|default=True type=int 1" admin.vm.property.Get work xid
    t=$(prop work start_time)
    # libxl's centiseconds as Python prints the float: no trailing zero but one after the point
    [[ $t =~ ^[0-9]+\.([0-9]|[0-9][1-9])$ ]] || fail "start_time format: $t"
    [ "${t%.*}" -ge "$before" ] && [ "${t%.*}" -le "$after" ] || fail "start_time $t"
    assert_contains "xid default=True type=int 1" "$(call admin.vm.property.GetAll work)"
    assert_contains "start_time default=True type=str $t" "$(call admin.vm.property.GetAll work)"
    expect "2|QubesPropertyValueError||property 'xid' on AppVM instance cannot be set|" \
        admin.vm.property.Set work xid 5
    # the console is a log file: no tty to name
    ok admin.vm.Console work
    expect "2|ProtocolError||unexpected argument|" admin.vm.Console work x
    ok admin.vm.Console dom0

    # Suspend without PCI devices is a pause; Resume of a paused qube unpauses it
    events_start work domain-unpaused
    ok admin.vm.Suspend work
    assert_contains "work class=AppVM state=Paused" "$(call admin.vm.List work)"
    ok admin.vm.Suspend work
    expect "0|default=True type=int 1" admin.vm.property.Get work xid
    ok admin.vm.Resume work
    assert_eq "1||connection-established
1|work|domain-paused
1|work|domain-unpaused" "$(events_wait)" "events of Suspend and Resume"
    expect "2|QubesVMNotPausedError||Domain is not paused: 'work'|" admin.vm.Resume work
    expect "2|QubesVMError||Cannot suspend Dom0 fake domain!|" admin.vm.Suspend dom0
    expect "2|ProtocolError||unexpected argument|" admin.vm.Resume work x

    # a running frontend: the absent device itself is what fails
    expect "2|ProtocolError||Cannot attach ambiguous block device.|" \
        admin.vm.device.block.Attach work dom0+sda "mode='manual'"

    # xids are unique among running qubes and handed out in increasing order
    ok admin.vm.Start other
    expect "0|default=True type=int 2" admin.vm.property.Get other xid
    events_start work domain-shutdown
    ok admin.vm.Kill work
    assert_eq "1||connection-established
1|work|domain-stopped
1|work|property-reset:xid|name=xid
1|work|property-reset:start_time|name=start_time
1|work|domain-shutdown" "$(events_wait)" "events of the stop"
    expect "0|default=True type=int -1" admin.vm.property.Get work xid
    expect "0|default=True type=str " admin.vm.property.Get work start_time
    ok admin.vm.Start work
    expect "0|default=True type=int 3" admin.vm.property.Get work xid
    expect "0|default=True type=int 2" admin.vm.property.Get other xid
}

test_dom0_current_state() {
    state=$(call admin.vm.CurrentState dom0)
    max=$(( ($(getconf _PHYS_PAGES) * $(getconf PAGESIZE) >> 20) * 1024 ))
    [[ $state =~ ^0\|mem=([0-9]+)\ mem_static_max=$max\ cputime=0\ power_state=Running$ ]] ||
        fail "CurrentState of dom0: $state"
    mem=${BASH_REMATCH[1]}
    total=$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)
    [ "$mem" -gt 0 ] && [ "$mem" -le "$total" ] || fail "dom0 mem=$mem of $total KiB"
}

test_exception_classes() {
    mk_template fedora
    mk_appvm work fedora
    for bad in 'a.b' 'a/b'; do
        expect "2|QubesInvalidTagError||disallowed characters in tag '$bad'|" admin.vm.tag.Set work "$bad"
    done
    expect "2|PermissionDenied||Argument not in 'pools'|" admin.pool.Info dom0 nope
    expect "2|PermissionDenied||Argument not in 'pools'|" admin.pool.Remove dom0 nope
    expect "2|PermissionDenied||Argument not in 'pools'|" admin.pool.volume.List dom0 nope
    expect "2|PermissionDenied||Argument not in 'pools'|" admin.pool.Set.revisions_to_keep dom0 nope 2
    expect "2|PermissionDenied||Argument not in 'work volumes'|" admin.vm.volume.Info work nope
    expect "2|PermissionDenied||Argument not in 'work volumes'|" admin.vm.volume.Resize work nope 1
    expect "2|QubesVMAlreadyExistsError||VM work already exists|" \
        admin.vm.Create.AppVM dom0 fedora "name=work label=red"
    expect "2|ProtocolError||TemplateVM cannot be based on template|" \
        admin.vm.Create.TemplateVM dom0 fedora "name=t2 label=red"
    expect "2|QubesInvalidLabelError||Invalid label name: '12'|" \
        admin.vm.Create.AppVM dom0 fedora "name=w2 label=12"
    expect "2|QubesLabelNotFoundError||Label does not exist: mauve|" \
        admin.vm.Create.AppVM dom0 fedora "name=w2 label=mauve"
    expect "2|QubesInvalidLabelError||Invalid label name: '12'|" admin.label.Create dom0 12 0x123456
    expect "2|QubesInvalidLabelValueError||Invalid color: expected 0xRRGGBB|" \
        admin.label.Create dom0 mauve 0x12
    ok admin.label.Create dom0 mauve 0x123456
    ok admin.vm.property.Set work label mauve
    expect "2|QubesLabelInUseError||Label is still in use: 'mauve'|" admin.label.Remove dom0 mauve
    expect "2|QubesVMNotFoundError||No such domain: 'nope'|" admin.vm.property.Set work netvm nope
    expect "2|QubesValueError||Failed to parse property value as int|" \
        admin.vm.property.Set work memory lots
    expect "2|QubesVolumeCopyTokenNotFoundError||Token to clone volume of qube was not found|" \
        admin.vm.volume.CloneTo work private nope
    expect "2|ProtocolError||Invalid argument for admin.vm.CreateDisposable|" \
        admin.vm.CreateDisposable dom0 x
}

test_string_properties_refuse_control_characters() {
    mk_template fedora
    ok admin.vm.property.Set fedora kernelopts "quiet"
    for c in '\t' '\n' '\r' '\v' '\f' '\033' '\177'; do
        expect "2|QubesValueError||Invalid characters in property value|" \
            admin.vm.property.Set fedora kernelopts "$(printf "a${c}b")"
        expect "2|QubesValueError||Invalid characters in property value|" \
            admin.vm.property.Set fedora default_user "$(printf "a${c}b")"
    done
    expect "0|default=False type=str quiet" admin.vm.property.Get fedora kernelopts
    expect "0|default=True type=str user" admin.vm.property.Get fedora default_user
    # an int is read as Python's int() reads it, surrounding whitespace included
    ok admin.vm.property.Set fedora memory "$(printf '\t500\n')"
    expect "0|default=False type=int 500" admin.vm.property.Get fedora memory
}

# The dom0 Import services, called for a management qube (QREXEC_REMOTE_DOMAIN): qubesd takes
# the internal.vm.volume.* calls from any source, as upstream's internal socket does.
test_volume_import_for_a_management_qube() {
    mk_template fedora
    mk_appvm work fedora
    mk_appvm mgmt fedora
    head -c 4096 /dev/urandom >"$QUBES_ROOT/data"
    assert_eq "0|" "$({ echo 4096; cat "$QUBES_ROOT/data"; } |
        QREXEC_REMOTE_DOMAIN=mgmt QREXEC_REQUESTED_TARGET=work \
            "$BIN/../dom0/qubes-rpc/admin.vm.volume.ImportWithSize" private | tr '\0' '|')"
    cmp "$QUBES_ROOT/data" "$QUBES_ROOT/var/lib/qubes/appvms/work/private.img" ||
        fail "imported data"
    expect "2|ProtocolError||Argument not in work volumes|" internal.vm.volume.ImportBegin work nope
    expect "2|ProtocolError||Argument not in work volumes|" internal.vm.volume.ImportEnd work nope ok
    expect "2|ProtocolError||Size of new data contains non ASCII digits|" \
        internal.vm.volume.ImportBegin work private x
    # they are no qrexec services: no qube reaches them through a policy
    [ -S "$QUBES_ROOT/run/qubes-rpc/admin.vm.volume.Info" ] || fail "admin.* services"
    [ -e "$QUBES_ROOT/run/qubes-rpc/internal.vm.volume.ImportBegin" ] && fail "internal.* as a service"
    assert_serving
}

test_denied_calls_are_notified_to_the_policy_agent() {
    make_template min
    for q in work personal; do
        qvm-create -q -t min -l red "$q" || fail "create $q"
    done
    qvm-start -q work personal || fail "start"
    write_policy <<'EOF'
test.Echo +quiet work personal deny notify=no
test.Echo *      work personal deny
test.Echo *      work @default deny
EOF
    qrexec-policy-agent >"$QUBES_ROOT/agent.out" 2>&1 </dev/null &
    agent=$!
    for _ in $(seq 100); do grep -q waiting "$QUBES_ROOT/agent.out" && break; sleep 0.02; done
    for call in 'personal test.Echo+x' 'personal test.Echo+quiet' 'personal test.Other' \
        '@default test.Echo'; do
        assert_eq "126" "$(qube_run work "qrexec-client-vm $call </dev/null 2>/dev/null; echo \$?")" \
            "denied: $call"
    done
    # the notifications went out before the answers; wait for the agent to print them
    for _ in $(seq 200); do [ "$(grep -c '^Denied ' "$QUBES_ROOT/agent.out")" = 3 ] && break; sleep 0.02; done
    kill "$agent"
    assert_eq "qrexec-policy-agent: waiting for requests

Denied: test.Echo
Denied test.Echo+x from work to personal

Denied: test.Other
Denied test.Other from work to personal

Denied: test.Echo
Denied test.Echo from work to @default" "$(cat "$QUBES_ROOT/agent.out")" "the agent's notifications"
}
