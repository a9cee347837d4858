# A DispVM's private volume with the sandbox driver (DESIGN §2, reference
# §4.1): its DVM template's last committed private image, loop-mounted
# read-only and id-mapped under a tmpfs layer of the disposable's own. The
# disposable sees what the template committed, never what it has not yet; it
# writes /home/user, within a share of its memory (then ENOSPC); nothing it
# writes reaches the template or another disposable; after it ends no loop
# device, mount or file of it remains.
source "$(dirname "${BASH_SOURCE[0]}")/helpers.sh"

in_qube() {
    qrexec-client -d "$1" "$2:$3"
}

# peek QUBE FILE...: the files' contents ("absent" for a missing one), as
# the qube's user sees them, on one line.
peek() {
    local q=$1
    shift
    in_qube "$q" user "for f in $*; do cat \$f 2>/dev/null || echo absent; done" | paste -sd' '
}

setup() {
    start_qubesd || return 1
    make_template min
    mk_appvm dvm min
    ok admin.vm.property.Set dvm template_for_dispvms True
}

dvm_image() { printf '%s' "$QUBES_ROOT/var/lib/qubes/appvms/dvm/private.img"; }

# The DVM template commits a marker file of its user (written while it runs,
# committed by its shutdown).
commit_marker() {
    ok admin.vm.Start dvm
    in_qube dvm user "cd /home/user && echo '$1' > marker && mkdir -p docs && echo doc > docs/a"
    ok admin.vm.Shutdown dvm wait
}

# Loop devices of this root: "RO INODE FILE" per line, sorted.
loops() {
    losetup -l -n -O RO,BACK-INO,BACK-FILE 2>/dev/null | grep "$QUBES_ROOT/" |
        awk '{print $1, $2, $3}' | sort
}

# This root's share of the host, for before/after comparisons (other tests
# may run at the same time, so only what names this root counts).
leftovers() {
    echo "mounts=$(grep -c "$QUBES_ROOT/" /proc/self/mountinfo || true)"
    echo "loops=$(loops | wc -l)"
    echo "files=$(cd "$QUBES_ROOT/var/lib/qubes" && find appvms vm-templates -type f | sort)"
    echo "sandbox=$(ls -A "$QUBES_ROOT/run/qubes/sandbox" 2>/dev/null | tr '\n' ' ')"
}

# Waits until the loop devices of this root are down to $1: a
# self-clearing loop device may take a moment after the last unmount.
wait_loops() {
    local want=$1
    wait_until 30 eval '[ "$(loops | wc -l)" = "$want" ]' && return 0
    loops >&2
    fail "loop devices of this root: expected $1"
}

test_disposable_sees_what_the_template_committed() {
    commit_marker committed-1
    ok admin.vm.Create.DispVM dom0 dvm "name=disp1 label=red"
    ok admin.vm.Start disp1
    assert_eq "committed-1 doc" "$(peek disp1 /home/user/marker /home/user/docs/a)" \
        "the committed files"
    # the template's user (uid 1000 in the image) is the disposable's user
    assert_eq "1000 1000 1000 1000" \
        "$(in_qube disp1 user 'cd /home/user; echo $(id -u) $(stat -c "%u %g" marker) $(stat -c %u .)')" \
        "owner through the id mapping"
    # /rw is the template's image under a layer: no copy of the image was made
    assert_eq "private.img" "$(cd "$QUBES_ROOT/var/lib/qubes/appvms/disp1" && ls private*)" \
        "no private copy"
    assert_eq "$(stat -c %i "$(dvm_image)")" \
        "$(stat -c %i "$QUBES_ROOT/var/lib/qubes/appvms/disp1/private.img")" "a hardlink pins it"
    assert_contains "1 $(stat -c %i "$(dvm_image)") $QUBES_ROOT/var/lib/qubes/appvms/disp1/" \
        "$(loops)" "the committed image, on a read-only loop device"
    ok admin.vm.Kill disp1
}

test_disposable_writes_home_and_nothing_reaches_the_template() {
    commit_marker committed-1
    before=$(stat -c '%i %Y %b %s' "$(dvm_image)")
    ok admin.vm.Create.DispVM dom0 dvm "name=disp1 label=red"
    ok admin.vm.Create.DispVM dom0 dvm "name=disp2 label=red"
    ok admin.vm.Start disp1
    files="/home/user/marker /home/user/docs/a /home/user/fromdisp /rw/config/rc.local /usr/local/x"
    in_qube disp1 user 'cd /home/user && echo mine > fromdisp && echo changed > marker &&
        rm -r docs && head -c 33554432 /dev/zero > big' || fail "write /home/user"
    in_qube disp1 root 'echo evil > /rw/config/rc.local; echo x > /usr/local/x' || fail "write /rw"
    assert_eq "changed absent mine evil x" "$(peek disp1 $files)" "the writes happened, inside"
    assert_eq "33554432" "$(in_qube disp1 user 'stat -c %s /home/user/big')" "a big file"
    # a second disposable, running at the same time, sees the template's state
    ok admin.vm.Start disp2
    assert_eq "committed-1 doc absent absent absent" "$(peek disp2 $files)" "another disposable"
    ok admin.vm.Kill disp1
    ok admin.vm.Kill disp2
    assert_eq "$before" "$(stat -c '%i %Y %b %s' "$(dvm_image)")" "the template's image, untouched"
    # the template itself, restarted, and a disposable started afterwards
    ok admin.vm.Start dvm
    assert_eq "committed-1 doc absent absent absent" "$(peek dvm $files)" \
        "the template after the disposables"
    ok admin.vm.Shutdown dvm wait
    ok admin.vm.Start disp1
    assert_eq "committed-1 doc absent absent absent" "$(peek disp1 $files)" \
        "the same disposable, started again"
    ok admin.vm.Kill disp1
}

test_running_template_uncommitted_writes_are_not_seen() {
    commit_marker committed-1
    ok admin.vm.Start dvm
    in_qube dvm user 'echo committed-2 > /home/user/marker; echo new > /home/user/uncommitted; sync'
    ok admin.vm.Create.DispVM dom0 dvm "name=disp1 label=red"
    ok admin.vm.Start disp1
    assert_eq "committed-1 absent" "$(peek disp1 /home/user/marker /home/user/uncommitted)" \
        "the last commit only"
    # never the same image read-write in one place and read-only in another
    rw=$(loops | awk '$1 == 0 {print $2}' | sort)
    ro=$(loops | awk '$1 == 1 {print $2}' | sort)
    assert_eq "" "$(comm -12 <(echo "$rw") <(echo "$ro"))" "an inode both read-write and read-only"
    assert_contains "0 " "$(loops | grep appvms/dvm/private-dirty.img)" \
        "the template runs its dirty image"
    # the template commits while the disposable runs: the disposable keeps
    # the image it started with, the next one gets the new commit
    ok admin.vm.Shutdown dvm wait
    assert_eq "committed-1" "$(peek disp1 /home/user/marker)" "still the old commit"
    ok admin.vm.Create.DispVM dom0 dvm "name=disp2 label=red"
    ok admin.vm.Start disp2
    assert_eq "committed-2 new" "$(peek disp2 /home/user/marker /home/user/uncommitted)" \
        "the new commit"
    assert_contains "is_outdated=True" "$(call admin.vm.volume.Info disp1 private)" "disp1 outdated"
    assert_contains "is_outdated=False" "$(call admin.vm.volume.Info disp2 private)" "disp2 current"
    ok admin.vm.Kill disp1
    ok admin.vm.Kill disp2
}

test_kill_leaves_no_loop_mount_or_file() {
    commit_marker committed-1
    ok admin.vm.Create.DispVM dom0 dvm "name=disp1 label=red"
    # once first, so lazily made things (parent cgroups, run dirs) exist
    ok admin.vm.Start disp1
    ok admin.vm.Kill disp1
    wait_loops 0
    before=$(leftovers)
    for i in 1 2 3; do
        ok admin.vm.Start disp1
        in_qube disp1 user "echo $i > /home/user/run$i" || fail "write in run $i"
        [ "$(loops | wc -l)" = 2 ] || fail "run $i: not one root and one private loop: $(loops)"
        if [ "$i" = 2 ]; then ok admin.vm.Shutdown disp1 wait; else ok admin.vm.Kill disp1; fi
        wait_loops 0
        assert_eq "$before" "$(leftovers)" "after run $i"
    done
    ok admin.vm.Remove disp1
    [ -e "$QUBES_ROOT/var/lib/qubes/appvms/disp1" ] && fail "disp1's directory remains"
    return 0
}

test_template_with_snapshots_disabled() {
    commit_marker committed-1
    ok admin.vm.volume.Set.revisions_to_keep dvm private "-1"
    ok admin.vm.Create.DispVM dom0 dvm "name=disp1 label=red"
    # the template running on its image in place: no disposable may use it
    ok admin.vm.Start dvm
    assert_contains "in use with snapshots disabled (revisions_to_keep=-1)" \
        "$(call admin.vm.Start disp1)" "refused while the template writes its image"
    ok admin.vm.Shutdown dvm wait
    # a disposable holds the image: the template then runs on a copy
    ok admin.vm.Start disp1
    ok admin.vm.Start dvm
    in_qube dvm user 'echo committed-2 > /home/user/marker'
    ok admin.vm.Shutdown dvm wait
    assert_eq "committed-1" "$(in_qube disp1 user 'cat /home/user/marker')" "the disposable's image"
    ok admin.vm.Kill disp1
    ok admin.vm.Start disp1
    assert_eq "committed-2" "$(peek disp1 /home/user/marker)" "the template's new state"
    ok admin.vm.Kill disp1
}

test_disposable_writes_are_bounded_by_its_memory() {
    commit_marker committed-1
    ok admin.vm.Create.DispVM dom0 dvm "name=disp1 label=red"
    ok admin.vm.property.Set disp1 memory 160
    ok admin.vm.property.Set disp1 maxmem 160
    ok admin.vm.Start disp1
    # the writable layers live in the qube's memory, capped at half of it:
    # 32 MiB fit; 100 end in ENOSPC, not in the OOM killer
    in_qube disp1 user 'head -c 33554432 /dev/zero > /home/user/fits' || fail "32 MiB"
    assert_contains "No space left on device" \
        "$(in_qube disp1 user 'dd if=/dev/zero of=/home/user/big bs=1M count=100 2>&1')" \
        "100 MiB with maxmem 160"
    in_qube disp1 user 'rm /home/user/big'
    mem=$(call admin.vm.CurrentState disp1 | sed -n 's/.*mem=\([0-9]*\) .*/\1/p')
    [ -n "$mem" ] && [ "$mem" -le $((160 * 1024)) ] || fail "memory of disp1: $mem KiB"
    assert_eq "committed-1" "$(in_qube disp1 user 'cat /home/user/marker')" "still serving"
    ok admin.vm.Kill disp1
}
