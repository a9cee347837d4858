# What the qubes of one instance may take of the host together: a start that
# would pass the memory dom0 leaves to qubes is refused as Qubes refuses it,
# and the instance's cgroup bounds what the running qubes really use, so dom0
# stays alive whatever they do.
source "$(dirname "${BASH_SOURCE[0]}")/helpers.sh"

# The qubes' share of the host (src/common/host_budget.h): the host's memory
# less an eighth of it, and never less than 1 GiB, for dom0.
budget_mib() {
    local host reserve
    host=$(call admin.property.Get dom0 maxmem)
    host=${host#0|default=* type=int }
    host=${host%|}
    reserve=$((host / 8))
    [ "$reserve" -ge 1024 ] || reserve=1024
    echo $((host - reserve))
}

test_a_start_past_the_memory_left_to_qubes_is_refused() {
    make_template min
    local budget
    budget=$(budget_mib)
    mk_appvm big min
    ok admin.vm.property.Set big memory $((budget - 300))
    mk_appvm small min
    ok admin.vm.property.Set small memory 400
    ok admin.vm.Start big
    expect "2|QubesMemoryError||Not enough memory to start domain 'small'|" admin.vm.Start small
    assert_contains "state=Halted" "$(call admin.vm.List small)" "small halted"
    assert_eq "Not enough memory to start domain 'small'" \
        "$(qvm-start small 2>&1)" "what qvm-start says"
    # the memory of a qube that went is free again
    ok admin.vm.Shutdown big wait
    ok admin.vm.Start small
    ok admin.vm.property.Set small memory 300
    ok admin.vm.Start big
    assert_serving
}

test_the_instance_cgroup_bounds_all_qubes_together() {
    make_template min
    mk_appvm work min
    ok admin.vm.Start work
    local tag mem pids pid_max threads want_pids dir
    tag=$(qube_tag)
    pid_max=$(cat /proc/sys/kernel/pid_max)
    threads=$(cat /proc/sys/kernel/threads-max)
    want_pids=$(( (pid_max < threads ? pid_max : threads) / 4 * 3 ))
    if [ -d "/sys/fs/cgroup/memory/qubicle-$tag" ]; then # v1 or hybrid
        mem=$(cat "/sys/fs/cgroup/memory/qubicle-$tag/memory.limit_in_bytes")
        pids=$(cat "/sys/fs/cgroup/pids/qubicle-$tag/pids.max")
        [ -d "/sys/fs/cgroup/memory/qubicle-$tag/work" ] || fail "work is not in the group"
    else
        dir=/sys/fs/cgroup/qubicle-$tag
        mem=$(cat "$dir/memory.max")
        pids=$(cat "$dir/pids.max")
        [ -d "$dir/work" ] || fail "work is not in the group"
    fi
    assert_eq $(($(budget_mib) * 1024 * 1024)) "$mem" "memory of all qubes"
    assert_eq "$want_pids" "$pids" "processes of all qubes"
}
