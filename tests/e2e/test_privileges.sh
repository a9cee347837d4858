# Privileges inside a qube: its user becomes its root the way templates
# expect (set-user-ID sudo and su, as in Qubes, where the qube is the
# boundary), and that root is the qube's only. A set-user-ID program works
# from the template's root only, never from a volume the qube writes (/rw,
# /home, /tmp), and the seccomp filter binds it as everything else.
source "$(dirname "${BASH_SOURCE[0]}")/helpers.sh"

PROBE="$BIN/../tests/probe/qubes-probe"

# The minimal template with a set-user-ID root copy of the probe, as a
# package would install sudo.
make_template_with_suid_probe() {
    local tree path
    tree=$(mktemp -d "$QUBES_ROOT/tree.XXXXXX")
    sh "$BIN/../../templates/minimal/build.sh" "$tree" >/dev/null || fail "template build"
    install -o 0 -g 0 -m 4755 "$PROBE" "$tree/usr/bin/qubes-probe-suid" || fail "install"
    call admin.vm.Create.TemplateVM dom0 "" "name=$1 label=black" >/dev/null
    path=$(printf '' | qubesd-query dom0 internal.vm.volume.ImportBegin "$1" root |
        tr '\0' ' ' | awk '{print $3}')
    mkfs.ext4 -q -F -d "$tree" "$path" || fail "mkfs"
    rm -rf "$tree"
    assert_eq "0|" "$(call internal.vm.volume.ImportEnd "$1" root ok)" "import end"
}

test_a_set_user_id_program_of_the_template_makes_the_qubes_root() {
    make_template_with_suid_probe suid
    mk_appvm work suid blue
    assert_eq "1000" "$(qube_run work 'id -u')" "the user"
    assert_eq "euid=0 nnp=0" "$(qube_run work '/usr/bin/qubes-probe-suid euid')" \
        "root through the set-user-ID bit, no_new_privs unset"
    # that root is the qube's: the filter holds, no namespace of its own, no mount
    assert_eq "EPERM" "$(qube_run work '/usr/bin/qubes-probe-suid mount')" "mount"
    assert_eq "EPERM" "$(qube_run work '/usr/bin/qubes-probe-suid unshare_user')" "user namespace"
    assert_eq "EPERM" "$(qube_run work '/usr/bin/qubes-probe-suid module')" "kernel module"
    assert_eq "2" "$(qube_run work 'sed -n "s/^Seccomp:\t//p" /proc/self/status')" \
        "every process of the qube is filtered"
}

test_set_user_id_bits_on_the_qubes_own_volumes_do_nothing() {
    make_template_with_suid_probe suid
    mk_appvm work suid blue
    ok admin.vm.Start work
    local dir
    for dir in /rw /home/user /tmp /usr/local; do
        qrexec-client -d work root:"cat > $dir/probe; chmod 4755 $dir/probe" <"$PROBE" ||
            fail "copy the probe to $dir"
        assert_eq "euid=1000 nnp=0" "$(qube_run work "$dir/probe euid")" "nosuid $dir"
    done
}

test_the_template_itself_runs_set_user_id_programs_too() {
    make_template_with_suid_probe suid
    # a TemplateVM's root is its own image, mapped, not a layer
    assert_eq "euid=0 nnp=0" "$(qube_run suid '/usr/bin/qubes-probe-suid euid')" "template"
}
