# Power states of real sandbox qubes as the Admin API shows them: the
# events of each step, vm-stats, CurrentState, standalones made from a
# template's root.
source "$(dirname "${BASH_SOURCE[0]}")/helpers.sh"

test_start_and_shutdown_events_in_order() {
    make_template min
    call admin.vm.Create.AppVM dom0 min 'name=work label=red' >/dev/null
    events_start work domain-shutdown
    assert_eq "0|" "$(call admin.vm.Start work)" "start"
    assert_eq "0|" "$(call admin.vm.Pause work)" "pause"
    assert_contains "state=Paused" "$(call admin.vm.List work)" "paused"
    assert_eq "0|" "$(call admin.vm.Unpause work)" "unpause"
    assert_eq "0|" "$(call admin.vm.Shutdown work wait)" "shutdown"
    assert_eq "1||connection-established
1|work|domain-pre-start
1|work|property-reset:xid|name=xid
1|work|property-reset:start_time|name=start_time
1|work|domain-spawn
1|work|domain-start|start_guid=False
1|work|domain-paused
1|work|domain-unpaused
1|work|domain-pre-shutdown|force=False
1|work|domain-stopped
1|work|property-reset:xid|name=xid
1|work|property-reset:start_time|name=start_time
1|work|domain-shutdown" "$(events_wait)" "events"
}

test_failed_start_says_why_and_where_to_look() {
    make_template min
    call admin.vm.Create.AppVM dom0 min 'name=work label=red' >/dev/null
    # a root volume that holds no filesystem: the helper cannot mount it
    : >"$QUBES_ROOT/var/lib/qubes/vm-templates/min/root.img"
    # (the kernel's errno for an empty image: EIO here, EINVAL on some kernels)
    got=$(call admin.vm.Start work)
    case "$got" in
    "2|QubesException||Start failed: root volume: mount $QUBES_ROOT/var/lib/qubes/appvms/work/root.img: create ext4: "*", see $QUBES_ROOT/var/log/qubes/guest-work.log|") ;;
    *) fail "the reason and where to look: $got" ;;
    esac
    assert_contains "qubes-sandbox: root volume: mount $QUBES_ROOT/var/lib/qubes/appvms/work/root.img: create ext4: " \
        "$(cat "$QUBES_ROOT/var/log/qubes/guest-work.log")" "the log says why"
    assert_contains "state=Halted" "$(call admin.vm.List work)" "halted after a failed start"
}

test_current_state_and_stats() {
    make_template min
    call admin.vm.Create.AppVM dom0 min 'name=work label=red' >/dev/null
    assert_eq "0|mem=0 mem_static_max=$(( $(call admin.vm.property.Get work maxmem | sed 's/.* //; s/|//') * 1024 )) cputime=0 power_state=Halted" \
        "$(call admin.vm.CurrentState work)" "halted state"
    call admin.property.Set dom0 stats_interval 1 >/dev/null
    assert_eq "0|" "$(call admin.vm.Start work)" "start"
    assert_contains "power_state=Running" "$(call admin.vm.CurrentState work)" "running state"
    got=$(python3 - "$QUBES_ROOT/run/qubesd.sock" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(b"admin.vm.Stats+ dom0 name dom0\0")
s.shutdown(socket.SHUT_WR)
s.settimeout(5)
data = b""
deadline = time.time() + 5
while b"vm-stats" not in data and time.time() < deadline:
    data += s.recv(65536)
fields = data.split(b"\0")
i = fields.index(b"vm-stats")
print(fields[i - 1].decode(), " ".join(f.decode() for f in fields[i + 1:i + 9:2]))
PY
)
    assert_eq "work memory_kb cpu_time cpu_usage online_vcpus" "$got" "a vm-stats event"
}

test_qvm_create_standalone_copies_the_template_root() {
    make_template min
    assert_eq "0|" "$(call admin.vm.Start min)" "start the template"
    qrexec-client -d min root:'echo from-template > /etc/marker'
    assert_eq "0|" "$(call admin.vm.Shutdown min wait)" "commit"
    out=$(qvm-create --standalone -t min -l green alone 2>&1) || fail "qvm-create: $out"
    assert_contains "class=StandaloneVM" "$(call admin.vm.List alone)" "a standalone"
    assert_eq "0|" "$(call admin.vm.Start alone)" "start it"
    assert_eq "from-template" "$(qrexec-client -d alone root:'cat /etc/marker')" \
        "a copy of the template's root"
}

test_template_cannot_change_while_running() {
    make_template min
    make_template other
    call admin.vm.Create.AppVM dom0 min 'name=work label=red' >/dev/null
    assert_eq "0|" "$(call admin.vm.Start work)" "start"
    assert_eq "2|QubesVMNotHaltedError||Cannot change template while qube is running|" \
        "$(call admin.vm.property.Set work template other)" "refused while running"
    assert_eq "0|default=False type=vm min" "$(call admin.vm.property.Get work template)" \
        "unchanged"
    assert_eq "0|" "$(call admin.vm.Shutdown work wait)" "shutdown"
    assert_eq "0|" "$(call admin.vm.property.Set work template other)" "allowed once halted"
}
