# vm qubes (virt_mode=vm): each a QEMU virtual machine with Debian's cloud kernel, the same
# templates and volumes as sandbox qubes, qrexec tunnelled over a virtio-serial port. The
# subset make check runs under TCG: start, run, calls both ways, file copy, disposables,
# isolation.
source "$(dirname "${BASH_SOURCE[0]}")/helpers.sh"

# vm_qubes NAME...: AppVMs of the minimal template with virt_mode vm.
vm_qubes() {
    make_template min
    for q in "$@"; do
        qvm-create -q -t min -l red --prop virt_mode=vm "$q" || fail "create $q"
    done
}

install_echo() {
    qube_run "$1" root 'mkdir -p /usr/local/etc/qubes-rpc && cat > /usr/local/etc/qubes-rpc/test.Echo && chmod 755 /usr/local/etc/qubes-rpc/test.Echo' <<'EOF' || fail "install test.Echo in $1"
#!/bin/sh
echo "$(hostname) from=$QREXEC_REMOTE_DOMAIN arg=$1"
cat
EOF
}

# The QEMU of a running vm qube: its pid.
qemu_of() {
    sed -n 's/^qemu=//p' "$QUBES_ROOT/run/qubes/vm/$1/state"
}

test_vm_qube_starts_runs_and_shuts_down() {
    vm_qubes work
    qvm-start -q work || fail "start: $(tail -5 "$QUBES_ROOT/var/log/qubes/guest-work.log")"
    assert_contains "state=Running" "$(call admin.vm.List work)" "running"
    assert_eq "hello
qubes-init
work" "$(qube_run work 'echo hello; cat /proc/1/comm; hostname')" "a command runs in the VM"
    guest_kernel=$(qube_run work 'uname -r')
    case "$guest_kernel" in
    *-cloud-amd64) [ "$guest_kernel" != "$(uname -r)" ] || fail "dom0's kernel in the VM" ;;
    *) fail "the guest kernel is Debian's cloud kernel: $guest_kernel" ;;
    esac
    assert_contains "qubes-vm: qube=work accel=" "$(cat "$QUBES_ROOT/var/log/qubes/guest-work.log")" \
        "the log says which accelerator"
    events_start work domain-shutdown
    qvm-shutdown -q --wait work || fail "shutdown"
    assert_contains "state=Halted" "$(call admin.vm.List work)" "halted"
    assert_contains "1|work|domain-shutdown" "$(events_wait)" "shutdown event"
    [ ! -e "$QUBES_ROOT/run/qubes/vm/work" ] || fail "state directory left"
}

test_vm_qube_keeps_private_and_discards_root() {
    vm_qubes work
    template=$QUBES_ROOT/var/lib/qubes/vm-templates/min/root.img
    # (the volume is mostly holes: its mtime and the filesystem's own view
    # say it is unchanged, at a fraction of the cost of reading it)
    before=$(stat -c '%s %Y' "$template")
    qvm-start -q work || fail "start"
    qube_run work root 'echo kept > /rw/kept; echo gone > /etc/gone; sync' || fail "write"
    qvm-shutdown -q --wait work || fail "shutdown"
    assert_eq "$before" "$(stat -c '%s %Y' "$template")" "the template's root is untouched"
    debugfs -R 'stat /etc/gone' "$template" 2>&1 | grep -q 'File not found' ||
        fail "the qube's write reached the template"
    qvm-start -q work || fail "restart"
    assert_eq "kept
no /etc/gone" "$(qube_run work 'cat /rw/kept; [ -e /etc/gone ] || echo no /etc/gone')" \
        "private kept, root's writes discarded"
}

test_vm_calls_both_ways() {
    vm_qubes work
    qvm-create -q -t min -l blue personal || fail "create personal"
    qvm-start -q work personal || fail "start"
    install_echo work
    install_echo personal
    write_policy <<'EOF'
test.Echo * work personal allow
test.Echo * personal work allow
EOF
    assert_eq "personal from=work arg=x
from the vm" "$(echo 'from the vm' | qube_run work 'qrexec-client-vm personal test.Echo+x')" \
        "vm qube calls a sandbox qube"
    assert_eq "work from=personal arg=y
into the vm" "$(echo 'into the vm' | qube_run personal 'qrexec-client-vm work test.Echo+y')" \
        "a sandbox qube calls the vm qube"
    # 8 MiB through the tunnel, intact
    out=$(qube_run personal 'head -c 8388608 /dev/urandom > /tmp/d; sha256sum < /tmp/d; qrexec-client-vm work test.Echo < /tmp/d | tail -n +2 | sha256sum') ||
        fail "bulk call"
    # two hashes, of what was sent and of what came back, equal
    assert_eq "2" "$(echo "$out" | grep -c '^[0-9a-f]\{64\} ')" "both hashes computed"
    assert_eq "$(echo "$out" | head -1)" "$(echo "$out" | tail -1)" "bulk data"
}

test_vm_file_copy() {
    vm_qubes work
    qvm-create -q -t min -l blue personal || fail "create personal"
    qvm-start -q work personal || fail "start"
    echo 'qubes.Filecopy * work personal allow' | write_policy
    qube_run work 'mkdir -p tree/sub && echo one > tree/a && head -c 3000000 /dev/urandom > tree/sub/big && cd tree && sha256sum a sub/big' >"$QUBES_ROOT/sums" ||
        fail "make files"
    assert_eq "" "$(qube_run work 'qvm-copy-to-vm --without-progress personal tree 2>&1')" "copy"
    assert_eq "$(cat "$QUBES_ROOT/sums")" \
        "$(qube_run personal 'cd QubesIncoming/work/tree && sha256sum a sub/big')" "same bytes"
}

test_vm_disposable() {
    make_template min
    qvm-create -q -t min -l red --prop template_for_dispvms=True --prop virt_mode=vm dvm ||
        fail "create dvm"
    out=$(qvm-run --dispvm=dvm -p -- 'echo in $(hostname); cat /proc/1/comm' 2>&1) || fail "run: $out"
    case "$out" in
    "in disp"[0-9]*"
qubes-init") ;;
    *) fail "disposable output: $out" ;;
    esac
    no_disposable() { ! qvm-ls --raw-list 2>/dev/null | grep -q '^disp'; }
    wait_until 20 no_disposable ||
        fail "the disposable is removed after use"
}

test_vm_isolation_guest_sees_no_host_file_or_process() {
    vm_qubes work
    marker=$QUBES_ROOT/host-secret
    echo secret >"$marker"
    qvm-start -q work || fail "start"
    assert_eq "absent" "$(qube_run work "[ -e '$marker' ] && echo present || echo absent")" \
        "a dom0 file"
    # the guest's processes are its own: none of dom0's
    procs=$(qube_run work 'cat /proc/[0-9]*/comm') || fail "list the guest's processes"
    assert_contains "qubes-init" "$procs" "the guest's own processes are listed"
    assert_eq "" "$(echo "$procs" | grep -x -e qubesd -e qrexec-daemon -e qemu-system-x86)" \
        "no dom0 process"
    # QEMU itself: unprivileged, in its own namespaces, seccomp on, nothing of dom0's / but /usr
    pid=$(qemu_of work)
    [ -n "$pid" ] || fail "no QEMU pid"
    uid=$(awk '/^Uid:/ {print $2}' /proc/"$pid"/status)
    [ "$uid" -ge 1073741824 ] || fail "QEMU runs as uid $uid"
    assert_eq "Seccomp:	2" "$(grep '^Seccomp:' /proc/"$pid"/status)" "QEMU's seccomp filter"
    assert_eq "NoNewPrivs:	1" "$(grep '^NoNewPrivs:' /proc/"$pid"/status)" "no_new_privs"
    for ns in mnt pid net user ipc uts; do
        [ "$(readlink /proc/"$pid"/ns/$ns)" != "$(readlink /proc/1/ns/$ns)" ] ||
            fail "QEMU shares dom0's $ns namespace"
    done
    assert_eq "bin dev etc lib lib64 proc sbin usr var vm" \
        "$(ls /proc/"$pid"/root/ | tr '\n' ' ' | sed 's/ $//')" "QEMU's root"
    assert_eq "lo" "$(nsenter -t "$pid" -n cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d ' ')" \
        "QEMU's network: loopback only"
}

test_vm_kill_and_netvm_refused() {
    vm_qubes work
    qvm-start -q work || fail "start"
    pid=$(qemu_of work)
    # paused, QEMU's cgroup is frozen: the kill thaws it first
    qvm-pause work || fail "pause"
    assert_contains "state=Paused" "$(call admin.vm.List work)" "paused"
    qvm-kill -q work || fail "kill"
    assert_contains "state=Halted" "$(call admin.vm.List work)" "halted"
    qemu_gone() { [ ! -e /proc/"$pid" ]; }
    wait_until 10 qemu_gone || fail "QEMU still runs"
    qvm-create -q -t min -l red --prop provides_network=True net || fail "create net"
    qvm-prefs work netvm net || fail "set netvm"
    assert_eq "2|QubesException||Start failed: network: virt_mode vm has no network yet|" \
        "$(call admin.vm.Start work)" "a vm qube with a netvm"
    assert_contains "state=Halted" "$(call admin.vm.List work)" "halted after the refusal"
}
