# Templates and their qubes, with real sandboxes: what reaches whom, when.
source "$(dirname "${BASH_SOURCE[0]}")/helpers.sh"

in_qube() {
    qrexec-client -d "$1" "$2:$3"
}

with_template_and_appvm() {
    make_template min
    assert_eq "0|" "$(call admin.vm.Create.AppVM dom0 min 'name=work label=red')" "create work"
}

test_template_change_reaches_appvm_after_both_restart() {
    with_template_and_appvm
    assert_eq "0|" "$(call admin.vm.Start work)" "start work"
    assert_eq "0|" "$(call admin.vm.Start min)" "start the template"
    in_qube min root 'echo v2 > /etc/release-marker'
    assert_eq "absent" "$(in_qube work root 'cat /etc/release-marker 2>/dev/null || echo absent')" \
        "not before restarts"
    assert_eq "0|" "$(call admin.vm.Shutdown min wait)" "template down: committed"
    assert_eq "0|" "$(call admin.vm.Shutdown work wait)" "work down"
    assert_eq "0|" "$(call admin.vm.Start work)" "work up again"
    assert_eq "v2" "$(in_qube work root 'cat /etc/release-marker')" "the template's change"
}

test_appvm_cannot_write_the_template_image() {
    with_template_and_appvm
    img="$QUBES_ROOT/var/lib/qubes/vm-templates/min/root.img"
    # a write would change the modification time or the allocated blocks
    # (not the change time: every start hardlinks the image)
    before=$(stat -c '%i %Y %b' "$img")
    assert_eq "0|" "$(call admin.vm.Start work)" "start work"
    in_qube work root 'echo changed > /etc/hostname; rm -f /bin/ls; touch /evil'
    # the qube's root may change its /: into a layer of its own
    assert_eq "changed" "$(in_qube work root 'cat /etc/hostname; ls /bin/ls 2>/dev/null')" \
        "the writes happened, inside"
    assert_eq "0|" "$(call admin.vm.Shutdown work wait)" "shutdown"
    assert_eq "$before" "$(stat -c '%i %Y %b' "$img")" "template image unchanged"
}

test_standalone_is_independent_of_its_template() {
    make_template min
    out=$(qvm-clone --class StandaloneVM min alone 2>&1) || fail "clone: $out"
    assert_eq "0|" "$(call admin.vm.Start min)" "start the template"
    in_qube min root 'echo from-template > /etc/marker'
    assert_eq "0|" "$(call admin.vm.Shutdown min wait)" "commit the template"
    assert_eq "0|" "$(call admin.vm.Start alone)" "start the standalone"
    assert_eq "absent" "$(in_qube alone root 'cat /etc/marker 2>/dev/null || echo absent')" \
        "template changes do not reach it"
    in_qube alone root 'echo mine > /etc/own'
    assert_eq "0|" "$(call admin.vm.Shutdown alone wait)" "standalone down"
    assert_eq "0|" "$(call admin.vm.Start alone)" "standalone up"
    assert_eq "mine" "$(in_qube alone root 'cat /etc/own')" "its root is its own, and kept"
}

test_revert_brings_back_the_previous_root() {
    make_template min
    assert_eq "0|" "$(call admin.vm.Start min)" "start"
    in_qube min root 'echo one > /etc/version'
    assert_eq "0|" "$(call admin.vm.Shutdown min wait)" "commit one"
    assert_eq "0|" "$(call admin.vm.Start min)" "start"
    in_qube min root 'echo two > /etc/version'
    assert_eq "0|" "$(call admin.vm.Shutdown min wait)" "commit two"
    revs=$(call admin.vm.volume.ListSnapshots min root)
    last=$(printf '%s' "$revs" | sed 's/^0|//' | tr '|' '\n' | grep . | tail -1)
    [ -n "$last" ] || fail "no revision listed: $revs"
    assert_eq "0|" "$(call admin.vm.volume.Revert min root "$last")" "revert to $last"
    assert_eq "0|" "$(call admin.vm.Start min)" "start"
    assert_eq "one" "$(in_qube min root 'cat /etc/version')" "the previous root"
}

test_qubesd_restart_finds_running_qubes() {
    with_template_and_appvm
    assert_eq "0|" "$(call admin.vm.Start work)" "start work"
    in_qube work user 'echo before > /home/user/f'
    restart_qubesd
    assert_contains "state=Running" "$(call admin.vm.List work)" "found again"
    assert_eq "before" "$(in_qube work user 'cat /home/user/f')" "still the same qube"
    assert_eq "0|" "$(call admin.vm.Shutdown work wait)" "and it can be stopped"
    assert_contains "state=Halted" "$(call admin.vm.List work)" "halted"
}
