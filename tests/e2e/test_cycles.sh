# 500 start/stop cycles of a sandbox qube leave nothing behind on the host:
# no mount, loop device, cgroup, helper process or qubesd descriptor.


# This root's share of the host: other tests may run on the machine at the same time.
host_resources() {
    echo "mounts=$(grep -c "$QUBES_ROOT/" /proc/self/mountinfo)"
    echo "loops=$(losetup -a | grep -c "$QUBES_ROOT/" || true)"
    echo "cgroups=$(qube_cgroups | wc -l)"
    echo "helpers=$(pgrep -fc "qubes-sandbox .*$QUBES_ROOT/" || true)"
    echo "daemons=$(root_daemons work)"
    echo "qubesd_fds=$(ls /proc/"$QUBESD_PID"/fd | wc -l)"
}

test_500_start_stop_cycles_leave_nothing() {
    make_template min
    call admin.vm.Create.AppVM dom0 min 'name=work label=red' >/dev/null
    # one cycle first, so lazily created things (parent cgroups) exist
    assert_eq "0|" "$(call admin.vm.Start work)" "first start"
    # the count below sees this host's cgroups: the running qube has some
    [ -n "$(qube_cgroups work)" ] || fail "no cgroup of the running qube found"
    assert_eq "0|" "$(call admin.vm.Shutdown work wait)" "first shutdown"
    before=$(host_resources)
    for i in $(seq 500); do
        out=$(call admin.vm.Start work)
        [ "$out" = "0|" ] || fail "start $i: $out"
        if [ $((i % 2)) = 0 ]; then
            out=$(call admin.vm.Shutdown work wait)
        else
            out=$(call admin.vm.Kill work)
        fi
        [ "$out" = "0|" ] || fail "stop $i: $out"
    done
    assert_eq "$before" "$(host_resources)" "host resources after 500 cycles"
}
