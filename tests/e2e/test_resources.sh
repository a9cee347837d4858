# One qube exhausting its limits (processes, memory) does not stop dom0 or
# another qube from working.


two_qubes() {
    make_template min
    for q in hog good; do
        call admin.vm.Create.AppVM dom0 min "name=$q label=red" >/dev/null
    done
    call admin.vm.property.Set hog vcpus 1 >/dev/null
    call admin.vm.property.Set hog memory 64 >/dev/null
    call admin.vm.property.Set hog maxmem 64 >/dev/null
    assert_eq "0|" "$(call admin.vm.Start hog)" "start hog"
    assert_eq "0|" "$(call admin.vm.Start good)" "start good"
}

# good and dom0 still answer, each within 10 s
still_working() {
    assert_eq "alive" "$(timeout 10 qrexec-client -d good user:'echo alive')" "other qube"
    assert_eq "0|" "$(timeout 10 qubesd-query dom0 admin.vm.List good </dev/null | head -c 2 |
        tr '\0' '|')" "qubesd"
}

# limit_hits QUBE: how many times the qube's cgroups held it back: processes
# the OOM killer ended (v1 memory.oom_control, v2 memory.events) and forks
# refused at pids.max (pids.events), on whatever cgroup layout the host has.
limit_hits() {
    local n=0 v d
    for d in $(qube_cgroups "$1"); do
        for v in $(cat "$d/memory.oom_control" "$d/memory.events" "$d/pids.events" 2>/dev/null |
            awk '$1 == "oom_kill" || $1 == "max" {print $2}'); do
            n=$((n + v))
        done
    done
    echo "$n"
}

test_fork_bomb_is_contained() {
    two_qubes
    assert_eq 0 "$(limit_hits hog)" "limits hit before the bomb"
    qrexec-client -d hog user:'b() { b | b & }; b' >/dev/null 2>&1 &
    bomb=$!
    # the bomb ran: it grew until a limit of its qube stopped it
    wait_until 120 eval '[ "$(limit_hits hog)" -gt 0 ]' || fail "the bomb never reached a limit"
    still_working
    assert_eq "0|" "$(call admin.vm.Kill hog)" "kill the bomb's qube"
    wait "$bomb" 2>/dev/null
    still_working
}

test_memory_hog_is_contained() {
    two_qubes
    # tail keeps everything it reads: 512 MiB in a 64 MiB qube
    timeout 60 qrexec-client -d hog user:'head -c 536870912 /dev/zero | tail -c 536870912 >/dev/null'
    rc=$?
    # the OOM killer ends tail (SIGKILL: 128 + 9) inside the qube's cgroup
    assert_eq 137 "$rc" "the hog was killed"
    still_working
    assert_eq "still here" "$(qrexec-client -d hog user:'echo still here')" "hog qube itself"
}

# A qube that floods its console fills at most 16 MiB of dom0's log per run,
# and the log says where it stopped (drivers/console_log.c).
test_console_log_is_capped() {
    make_template min
    qvm-create -q -t min -l red work || fail "create"
    qvm-start -q work || fail "start"
    out=$(qvm-run -q -p -u root work 'mkdir -p /rw/config && printf "#!/bin/sh\nhead -c 20000000 /dev/zero\n" > /rw/config/rc.local && chmod 755 /rw/config/rc.local' 2>&1) ||
        fail "install rc.local: $out"
    qvm-shutdown -q --wait work || fail "shutdown"
    log=$QUBES_ROOT/var/log/qubes/guest-work.log
    before=$(stat -c %s "$log")
    qvm-start -q work || fail "restart"
    wait_until 30 grep -q "qubes-sandbox: qube=work console log reached 16777216 bytes: further output dropped" "$log" ||
        fail "the cap is said in the log"
    sleep 1
    grown=$(($(stat -c %s "$log") - before))
    [ "$grown" -ge 16777216 ] && [ "$grown" -lt $((16777216 + 65536)) ] ||
        fail "the log grew by $grown bytes in this run"
}
