# Isolation of sandbox qubes: from inside a qube, as its root, everything a
# qube must not do fails, each with the errno asserted (the shipped seccomp
# filter and namespaces, measured by a probe inside a real qube).
source "$(dirname "${BASH_SOURCE[0]}")/helpers.sh"

PROBE="$BIN/../tests/probe/qubes-probe"


start_work() {
    make_template min
    assert_eq "0|" "$(call admin.vm.Create.AppVM dom0 min 'name=work label=red')" "create work"
    assert_eq "0|" "$(call admin.vm.Start work)" "start work"
    qrexec-client -d work root:'cat > /tmp/probe; chmod 0755 /tmp/probe' <"$PROBE" ||
        fail "copy the probe"
}

# in_qube USER COMMAND: runs COMMAND in work, prints its output
in_qube() {
    qrexec-client -d work "$1:$2"
}

test_starts_and_runs_commands() {
    start_work
    assert_eq "0|work class=AppVM state=Running uuid=$(call admin.vm.property.Get work uuid | sed 's/.* //')" \
        "$(call admin.vm.List work | head -1)" "running"
    assert_eq "uid=1000(user) gid=1000(user) groups=5(tty),100(users),1000(user)" \
        "$(in_qube user id)" "user"
    assert_eq "0" "$(in_qube root 'id -u')" "root"
    assert_eq "work" "$(in_qube user hostname)" "hostname"
    in_qube user 'exit 7'
    assert_eq 7 $? "exit code"
}

test_forbidden_syscalls_fail() {
    start_work
    for what in mount module init_module open_by_handle_at kexec reboot swapon keyctl add_key \
                bpf perf_event_open userfaultfd unshare_user clone_newuser setns raw_socket \
                packet_socket settime packet_socket_high raw_socket_high raw6_socket \
                raw6_socket_high sock_packet alg_socket vsock_socket pidfd_getfd; do
        assert_eq "$what: EPERM" "$what: $(in_qube root "/tmp/probe $what")" "$what as root"
    done
    # as on a kernel without it, so that libraries fall back to plain calls
    assert_eq "ENOSYS" "$(in_qube root "/tmp/probe io_uring")" "io_uring"
}

test_other_system_call_tables_kill_the_caller() {
    start_work
    # the filter is written for x86_64: mount through the i386 or the x32
    # table does not reach the kernel, the caller dies of SIGSYS (128 + 31).
    # Some hosts' kernels take no i386 call from a 64-bit process at all (the
    # probe dies of SIGSEGV, 139, in dom0's own throwaway mount namespace,
    # with no filter): there the qube's caller must die the same way.
    local want
    for what in i386_mount x32_mount; do
        want=159
        unshare -m "$PROBE" "$what" >/dev/null 2>&1
        [ $? = 139 ] && want=139
        assert_eq "$what: $want" "$what: $(in_qube root "/tmp/probe $what >/dev/null 2>&1; echo \$?")" \
            "$what"
    done
}

test_only_network_qubes_administer_their_network() {
    start_work
    # work's network namespace belongs to dom0's user namespace
    assert_eq "EPERM" "$(in_qube root '/tmp/probe netadmin')" "CAP_NET_ADMIN of a plain qube"
    assert_eq "0|" "$(call admin.vm.Create.AppVM dom0 min 'name=sys-net label=red')" "create"
    assert_eq "0|" "$(call admin.vm.property.Set sys-net provides_network True)" "provides"
    assert_eq "0|" "$(call admin.vm.Start sys-net)" "start sys-net"
    qrexec-client -d sys-net root:'cat > /tmp/probe; chmod 0755 /tmp/probe' <"$PROBE" ||
        fail "copy the probe"
    assert_eq "allowed" "$(qrexec-client -d sys-net root:'/tmp/probe netadmin')" \
        "a qube that provides network runs its own firewall"
    # the raw sockets stay closed there too
    assert_eq "EPERM" "$(qrexec-client -d sys-net root:'/tmp/probe packet_socket')" "packet"
}

test_kernel_knobs_and_masks() {
    start_work
    assert_eq "EACCES" "$(in_qube root '/tmp/probe write /proc/sys/kernel/hostname')" "/proc/sys"
    # the files exist only on kernels built with them; either way not writable
    case "$(in_qube root '/tmp/probe write /proc/sysrq-trigger')" in
    ENOENT|EACCES|EPERM) ;;
    *) fail "/proc/sysrq-trigger writable" ;;
    esac
    case "$(in_qube root '/tmp/probe open /proc/kcore')" in
    ENOENT|EACCES|EPERM) ;;
    *) fail "/proc/kcore readable" ;;
    esac
    assert_eq "0" "$(in_qube root 'ls /sys | wc -l')" "no /sys"
}

test_no_dom0_process_or_socket_visible() {
    start_work
    # only the qube's own processes: init, agent, and this call
    n=$(in_qube root 'ls /proc | grep -c "^[0-9]"')
    [ "$n" -lt 10 ] || fail "$n processes visible"
    assert_eq "ESRCH" "$(in_qube root "/tmp/probe kill $QUBESD_PID")" "signal to qubesd's pid"
    assert_eq "ENOENT" "$(in_qube root "/tmp/probe connect $QUBES_ROOT/run/qubesd.sock")" \
        "dom0 socket path"
    assert_eq "ENOENT" "$(in_qube root "/tmp/probe open $QUBES_ROOT/var/lib/qubes/qubes.db")" \
        "dom0 files"
}

test_no_way_out_through_ptrace_cgroups_or_exe() {
    start_work
    # dom0's processes are not even visible: ptrace and signals find nothing
    assert_eq "ESRCH" "$(in_qube root "/tmp/probe ptrace $QUBESD_PID")" "ptrace of qubesd"
    # no cgroup filesystem to reach a release_agent through, and no mounting one
    assert_eq "ENOENT" "$(in_qube root '/tmp/probe open /sys/fs/cgroup')" "cgroupfs"
    assert_eq "EPERM" "$(in_qube root '/tmp/probe mount')" "mount"
    # the programs dom0 gives every qube are read-only: /proc/self/exe of
    # the agent cannot be rewritten (the runc escape)
    case "$(in_qube root '/tmp/probe write /proc/1/exe')" in
    EROFS|ETXTBSY|EACCES|EPERM) ;;
    *) fail "/proc/1/exe writable" ;;
    esac
    case "$(in_qube root "/tmp/probe write /run/qubes-guest/qrexec-agent")" in
    EROFS|ETXTBSY|EACCES|EPERM) ;;
    *) fail "guest programs writable" ;;
    esac
}

test_qubes_cannot_see_each_other() {
    start_work
    assert_eq "0|" "$(call admin.vm.Create.AppVM dom0 min 'name=other label=red')" "create other"
    assert_eq "0|" "$(call admin.vm.Start other)" "start other"
    qrexec-client -d other user:'echo secret > /home/user/secret'
    # nothing of other's volumes or processes is reachable from work
    assert_eq "ENOENT" "$(in_qube root "/tmp/probe open $QUBES_ROOT/var/lib/qubes/appvms/other/private-dirty.img")" \
        "other's image"
    assert_eq "0" "$(in_qube root 'grep -rl secret /home /rw 2>/dev/null | wc -l')" "other's files"
    other_init=$(sed -n 's/^init=//p' "$QUBES_ROOT/run/qubes/sandbox/other/state")
    assert_eq "ESRCH" "$(in_qube root "/tmp/probe kill $other_init")" "other's init"
}

test_root_inside_is_not_root_outside() {
    start_work
    init=$(sed -n 's/^init=//p' "$QUBES_ROOT/run/qubes/sandbox/work/state")
    assert_eq "0" "$(in_qube root 'id -u')" "root inside"
    # the qube's root (its init) is a high, unprivileged uid on the host
    uid=$(awk '/^Uid:/ {print $2}' "/proc/$init/status")
    [ "$uid" -ge $((0x40000000)) ] || fail "the qube's root is host uid $uid"
    caps=$(awk '/^CapEff:/ {print $2}' "/proc/$init/status")
    assert_eq "000001ffffffffff" "$caps" "capabilities, valid in the qube's namespaces only"
}

test_files_of_root_volume_do_not_survive_restart() {
    start_work
    in_qube root 'echo gone > /etc/marker; echo kept > /home/user/marker'
    assert_eq "0|" "$(call admin.vm.Shutdown work wait)" "shutdown"
    assert_eq "0|" "$(call admin.vm.Start work)" "start again"
    assert_eq "missing" "$(in_qube root 'cat /etc/marker 2>/dev/null || echo missing')" "root reset"
    assert_eq "kept" "$(in_qube root 'cat /home/user/marker')" "home kept"
}

test_killed_init_halts_and_releases_everything() {
    start_work
    init=$(sed -n 's/^init=//p' "$QUBES_ROOT/run/qubes/sandbox/work/state")
    # the check below sees this host's cgroups: the running qube has some
    [ -n "$(qube_cgroups work)" ] || fail "no cgroup of the running qube found"
    kill -9 "$init"
    wait_until 10 eval '[[ "$(call admin.vm.List work)" == *state=Halted* ]]'
    assert_contains "state=Halted" "$(call admin.vm.List work)" "halted after kill -9"
    [ ! -e "$QUBES_ROOT/run/qubes/sandbox/work" ] || fail "state dir left"
    assert_eq "" "$(qube_cgroups work)" "cgroups left"
    ! losetup -a | grep -q "$QUBES_ROOT" || fail "loop device left"
}
test_netvm_chain_starts_first() {
    make_template min
    call admin.vm.Create.AppVM dom0 min 'name=sys-net label=red' >/dev/null
    call admin.vm.property.Set sys-net provides_network True >/dev/null
    call admin.vm.property.Set sys-net netvm "" >/dev/null
    call admin.vm.Create.AppVM dom0 min 'name=sys-firewall label=green' >/dev/null
    call admin.vm.property.Set sys-firewall provides_network True >/dev/null
    call admin.vm.property.Set sys-firewall netvm sys-net >/dev/null
    call admin.vm.Create.AppVM dom0 min 'name=work label=blue' >/dev/null
    call admin.vm.property.Set work netvm sys-firewall >/dev/null
    events_start dom0 work/domain-start --timeout 300
    assert_eq "0|" "$(call admin.vm.Start work)" "start work"
    for q in sys-net sys-firewall work; do
        assert_contains "state=Running" "$(call admin.vm.List $q)" "$q running"
    done
    # each qube of the chain is up before the next one starts
    assert_eq "sys-net|domain-pre-start
sys-net|domain-start
sys-firewall|domain-pre-start
sys-firewall|domain-start
work|domain-pre-start
work|domain-start" "$(events_wait | grep -E '\|domain-(pre-)?start(\||$)' | cut -d'|' -f2,3)" \
        "the order of the starts"
    assert_eq "2|QubesVMInUseError||There are other VMs connected to this VM: sys-firewall|" \
        "$(call admin.vm.Shutdown sys-net)" "shutdown of a netvm in use"
    assert_eq "0|" "$(call admin.vm.Shutdown sys-net force+wait)" "forced"
}

test_console_flood_is_capped() {
    start_work
    # what init's children print goes to the console: rc.local floods it
    in_qube root 'printf "#!/bin/sh\nhead -c 41943040 /dev/zero\n" >/rw/config/rc.local;
                  chmod 0755 /rw/config/rc.local'
    assert_eq "0|" "$(call admin.vm.Shutdown work wait)" "shutdown"
    assert_eq "0|" "$(call admin.vm.Start work)" "start: rc.local runs"
    log="$QUBES_ROOT/var/log/qubes/guest-work.log"
    wait_until 60 grep -q "further output dropped" "$log"
    assert_eq "alive" "$(in_qube user 'echo alive')" "the qube goes on"
    size=$(stat -c %s "$log")
    [ "$size" -le $((16 * 1024 * 1024 + 65536)) ] || fail "guest log grew to $size bytes"
    [ "$size" -ge $((16 * 1024 * 1024)) ] || fail "guest log only $size bytes"
    assert_contains "further output dropped" "$(grep -a "further output" "$log")" \
        "the log says it was capped"
}

# Host uids are a host-wide resource: two instance roots each run their first
# qube (the same qid), and the two get ranges of their own.
test_two_roots_never_share_host_uids() {
    start_work
    # globals: the EXIT trap runs after this function's locals are gone
    first=$QUBES_ROOT first_pid=$QUBESD_PID
    start_qubesd
    second=$QUBES_ROOT
    trap 'QUBES_ROOT=$second cleanup_root; QUBES_ROOT=$first QUBESD_PID=$first_pid cleanup_root' EXIT
    make_template min
    assert_eq "0|" "$(call admin.vm.Create.AppVM dom0 min 'name=work label=red')" "create"
    assert_eq "0|" "$(call admin.vm.Start work)" "start in the second root"
    assert_eq "$(call admin.vm.property.Get work qid)" \
        "$(QUBES_ROOT=$first call admin.vm.property.Get work qid)" "the same qid"
    local a b
    a=$(sed -n 's/^init=//p' "$first/run/qubes/sandbox/work/state")
    b=$(sed -n 's/^init=//p' "$second/run/qubes/sandbox/work/state")
    a=$(awk '/^Uid:/ {print $2}' "/proc/$a/status")
    b=$(awk '/^Uid:/ {print $2}' "/proc/$b/status")
    [ "$a" -ge $((0x40000000)) ] && [ "$b" -ge $((0x40000000)) ] || fail "uids $a $b"
    [ $(((a - b) % 65536)) -eq 0 ] || fail "ranges not aligned: $a $b"
    [ "$a" != "$b" ] || fail "both roots' qubes run as host uid $a"
}

# alive PID: the process runs (a zombie waiting for the host's init to reap it does not).
alive() {
    local st
    st=$(awk '/^State:/ {print $2}' "/proc/$1/status" 2>/dev/null)
    [ -n "$st" ] && [ "$st" != Z ]
}

# The helper holds the qube's uid range: a qube never outlives it, so the
# range is never handed out while a qube still runs with it.
test_a_qube_dies_with_its_helper() {
    start_work
    local init launcher
    init=$(sed -n 's/^init=//p' "$QUBES_ROOT/run/qubes/sandbox/work/state")
    launcher=$(sed -n 's/^launcher=//p' "$QUBES_ROOT/run/qubes/sandbox/work/state")
    alive "$init" || fail "no init"
    kill -9 "$launcher"
    for _ in $(seq 250); do
        alive "$init" || break
        sleep 0.02
    done
    ! alive "$init" || fail "init $init outlived its helper"
    for _ in $(seq 250); do
        [[ "$(call admin.vm.List work)" == *state=Halted* ]] && break
        sleep 0.02
    done
    assert_contains "state=Halted" "$(call admin.vm.List work)" "halted"
}
