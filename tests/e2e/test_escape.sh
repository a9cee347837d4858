# A qube is root of its own volumes and may turn any name in them into a
# symbolic link to dom0's files. Each attack here sets such a link as root
# inside a qube, restarts it, and asserts that dom0 followed nothing: the start
# is refused with the name of what was refused, nothing was made in dom0's
# directory the link points at, and nothing of dom0 is visible to the qube.
source "$(dirname "${BASH_SOURCE[0]}")/helpers.sh"

PROBE="$BIN/../tests/probe/qubes-probe"

# dom0's directory the links point at, with one file of dom0's in it.
make_canary() {
    CANARY=$QUBES_ROOT/canary
    mkdir -p "$CANARY"
    echo dom0-secret >"$CANARY/secret"
}

assert_canary_untouched() {
    assert_eq "secret" "$(ls -A "$CANARY")" "nothing made in dom0's directory"
    assert_eq "dom0-secret" "$(cat "$CANARY/secret")" "dom0's file unchanged"
}

# The three spellings of a link to dom0's directory: absolute, relative with
# enough "..", and dom0's root itself.
link_targets() {
    printf '%s\n' "$CANARY" "../../../../../../../../../..$CANARY" "/"
}

# import_template NAME TREE: a TemplateVM whose root image is made from TREE.
import_template() {
    ok admin.vm.Create.TemplateVM dom0 "" "name=$1 label=black"
    local path
    path=$(printf '' | qubesd-query dom0 internal.vm.volume.ImportBegin "$1" root |
        tr '\0' ' ' | awk '{print $3}')
    mkfs.ext4 -q -F -d "$2" "$path" || fail "mkfs $1"
    ok internal.vm.volume.ImportEnd "$1" root ok
}

# as_root QUBE COMMAND: COMMAND as root in QUBE (started if it is not).
as_root() { qube_run "$1" root "$2" </dev/null; }

# restart_refused QUBE WHY: QUBE goes down, and its next start is refused
# because of WHY; it stays halted with nothing of it left running or mounted.
restart_refused() {
    ok admin.vm.Shutdown "$1" wait
    expect "2|QubesException||Start failed: $2: refused, see $QUBES_ROOT/var/log/qubes/guest-$1.log|" \
        admin.vm.Start "$1"
    assert_contains "state=Halted" "$(call admin.vm.List "$1")" "$1 halted"
    ! grep -q "$QUBES_ROOT/" /proc/self/mountinfo || fail "a mount of this root is left"
    ! losetup -a 2>/dev/null | grep -q "$QUBES_ROOT/" || fail "a loop device of this root is left"
    assert_serving
}

test_links_in_the_private_volume_are_refused() {
    make_template min
    make_canary
    local i=0 dir target
    for dir in home usrlocal config; do
        while read -r target; do
            i=$((i + 1))
            mk_appvm "a$i" min
            as_root "a$i" "mv /rw/$dir /rw/$dir.old && ln -s $target /rw/$dir" ||
                fail "link /rw/$dir in a$i"
            restart_refused "a$i" "private volume: /rw/$dir is a symbolic link"
            assert_canary_untouched
        done < <(link_targets)
    done
}

# A template's root comes as an image from elsewhere (qvm-template, an
# import): every mount point in it may be a link.
test_links_in_an_imported_template_root_are_refused() {
    make_canary
    local base=$QUBES_ROOT/base i=0 dir target tree
    sh "$BIN/../../templates/minimal/build.sh" "$base" >/dev/null || fail "template tree"
    for dir in rw home usr usr/local dev proc run tmp sys; do
        while read -r target; do
            i=$((i + 1))
            tree=$QUBES_ROOT/tree$i
            cp -a "$base" "$tree"
            rm -rf "${tree:?}/$dir"
            ln -s "$target" "$tree/$dir"
            import_template "t$i" "$tree"
            expect "2|QubesException||Start failed: root volume: /$dir is a symbolic link: refused, see $QUBES_ROOT/var/log/qubes/guest-t$i.log|" \
                admin.vm.Start "t$i"
            assert_canary_untouched
        done < <(link_targets)
    done
    # an AppVM gets its template's root: the same refusal
    mk_appvm app t1
    expect "2|QubesException||Start failed: root volume: /rw is a symbolic link: refused, see $QUBES_ROOT/var/log/qubes/guest-app.log|" \
        admin.vm.Start app
    assert_canary_untouched
    ! grep -q "$QUBES_ROOT/" /proc/self/mountinfo || fail "a mount of this root is left"
    assert_serving
}

# What root inside a template (or standalone) can change in its own root while
# it runs: the names that are no mount point then.
test_links_a_running_template_makes_in_its_root_are_refused() {
    make_template min
    make_canary
    local i=0 target
    while read -r target; do
        i=$((i + 1))
        qvm-clone -q min "u$i" || fail "clone u$i"
        as_root "u$i" "mv /usr /usr.real && ln -s $target /usr" || fail "link /usr in u$i"
        restart_refused "u$i" "root volume: /usr is a symbolic link"
        qvm-clone -q min "l$i" || fail "clone l$i"
        as_root "l$i" "mv /usr /usr.real && mkdir /usr && ln -s $target /usr/local" ||
            fail "link /usr/local in l$i"
        restart_refused "l$i" "root volume: /usr/local is a symbolic link"
        qvm-create -q --standalone -t min -l green "s$i" || fail "create s$i"
        as_root "s$i" "rmdir /sys && ln -s $target /sys" || fail "link /sys in s$i"
        restart_refused "s$i" "root volume: /sys is a symbolic link"
        assert_canary_untouched
    done < <(link_targets)
}

# Names that no step of dom0's touches may be links: the qube starts, and the
# link resolves inside the qube's own tree, never to dom0's.
test_links_dom0_never_follows_leave_the_qube_inside_its_tree() {
    make_template min
    make_canary
    mk_appvm work min
    qvm-run -q -p -u root work 'cat > /rw/probe; chmod 0755 /rw/probe' <"$PROBE" ||
        fail "copy the probe"
    as_root work "ln -s $CANARY /rw/canary-link; mkdir -p /rw/config;
                  ln -s $CANARY/secret /rw/config/rc.local" || fail "links"
    ok admin.vm.Shutdown work wait
    ok admin.vm.Start work
    assert_eq "ENOENT" "$(as_root work "/rw/probe open /rw/canary-link/secret")" \
        "dom0's directory through a link in /rw"
    assert_eq "ENOENT" "$(as_root work "/rw/probe open $CANARY/secret")" "dom0's directory"
    # a template whose /etc is a link to "/" starts; its /etc is its own root
    qvm-clone -q min tpl || fail "clone tpl"
    as_root tpl "cp -a /etc /etc.real && rm -rf /etc && ln -s /etc.real /etc" || fail "/etc link"
    ok admin.vm.Shutdown tpl wait
    ok admin.vm.Start tpl
    assert_eq "root:x:0:0:root:/root:/bin/sh" "$(as_root tpl 'head -1 /etc/passwd')" "own /etc"
    assert_canary_untouched
}

test_a_disposable_inherits_the_refusal_of_its_dvm_template() {
    make_template min
    make_canary
    mk_appvm dvm min green
    ok admin.vm.property.Set dvm template_for_dispvms True
    as_root dvm "mv /rw/home /rw/home.old && ln -s / /rw/home" || fail "link /rw/home in dvm"
    ok admin.vm.Shutdown dvm wait
    local before
    before=$(call admin.vm.List dom0 | wc -l)
    got=$(qvm-run --dispvm=dvm -p -- true 2>&1)
    assert_contains "private volume: /rw/home is a symbolic link: refused" "$got" \
        "qvm-run --dispvm says why"
    assert_eq "$before" "$(call admin.vm.List dom0 | wc -l)" "no disposable left"
    assert_canary_untouched
    assert_serving
}
