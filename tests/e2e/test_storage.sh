# Storage end to end (reference §4, §2.1, §5.3): volumes are created and
# removed with their qubes, the volume and pool methods and the qvm-volume /
# qvm-pool tools answer exactly, import/clone/revert work on real images, and
# a pool on a loop-mounted btrfs shares extents (reflinks).
source "$(dirname "${BASH_SOURCE[0]}")/helpers.sh"

setup() {
    start_qubesd || return 1
    mk_template fedora
    mk_appvm work fedora blue
}

images() { (cd "$QUBES_ROOT/var/lib/qubes" && find appvms vm-templates -type f 2>/dev/null | sort | tr '\n' ' '); }

test_volume_methods_exact() {
    local vl="$QUBES_ROOT/var/lib/qubes"
    expect "0|root
private
volatile
kernel
" admin.vm.volume.List work
    expect "0|pool=varlibqubes
vid=appvms/work/root
size=10737418240
usage=0
rw=True
source=vm-templates/fedora/root
path=$vl/appvms/work/root-dirty.img
save_on_stop=False
snap_on_start=True
revisions_to_keep=1
ephemeral=False
is_outdated=False
" admin.vm.volume.Info work root
    expect "0|pool=varlibqubes
vid=appvms/work/volatile
size=10737418240
usage=0
rw=True
source=
path=$vl/appvms/work/volatile-dirty.img
save_on_stop=False
snap_on_start=False
revisions_to_keep=1
ephemeral=False
is_outdated=False
" admin.vm.volume.Info work volatile
    expect "0|pool=linux-kernel
vid=
size=0
usage=0
rw=False
source=
path=
save_on_stop=False
snap_on_start=False
revisions_to_keep=0
ephemeral=False
" admin.vm.volume.Info work kernel
    expect "0|" admin.vm.volume.List dom0
    expect "0|" admin.vm.volume.ListSnapshots fedora root
    expect "2|PermissionDenied||Argument not in 'work volumes'|" admin.vm.volume.Info work nope
    expect "0|linux-kernel
varlibqubes
" admin.pool.List dom0
    expect "0|file-reflink revisions_to_keep dir_path setup_check ephemeral_volatile
linux-kernel dir_path
" admin.pool.ListDrivers dom0
    info=$(call admin.pool.Info dom0 varlibqubes)
    assert_eq "0|dir_path=$vl
driver=file-reflink
ephemeral_volatile=False
name=varlibqubes
revisions_to_keep=1" "$(printf '%s\n' "$info" | head -5)"
    assert_contains "size=" "$info"
    assert_contains "data_size=" "$(call admin.pool.UsageDetails dom0 varlibqubes)"
    expect "0|vm-templates/fedora/root
vm-templates/fedora/private
vm-templates/fedora/volatile
appvms/work/root
appvms/work/private
appvms/work/volatile
" admin.pool.volume.List dom0 varlibqubes
    # private volumes are ext4, owned by the qube's user, and sparse
    assert_eq "ext4" "$(blkid -o value -s TYPE "$vl/appvms/work/private.img")"
    [ "$(stat -c %b "$vl/appvms/work/private.img")" -lt 8192 ] || fail "private image not sparse"
}

test_tools_exact() {
    local vl="$QUBES_ROOT/var/lib/qubes"
    assert_eq "POOL:VOLUME                               VMNAME  VOLUME_NAME  REVERT_POSSIBLE
linux-kernel:                             work    kernel       No
linux-kernel:                             fedora  kernel       No
varlibqubes:appvms/work/private           work    private      No
varlibqubes:appvms/work/root              work    root         No
varlibqubes:appvms/work/volatile          work    volatile     No
varlibqubes:vm-templates/fedora/private   fedora  private      No
varlibqubes:vm-templates/fedora/root      fedora  root         No
varlibqubes:vm-templates/fedora/volatile  fedora  volatile     No" "$(run_tool 0 qvm-volume)"
    assert_eq "POOL:VOLUME                       VMNAME  VOLUME_NAME  REVERT_POSSIBLE
varlibqubes:appvms/work/private   work    private      No
varlibqubes:appvms/work/root      work    root         No
varlibqubes:appvms/work/volatile  work    volatile     No" "$(run_tool 0 qvm-volume ls -p varlibqubes work)"
    assert_eq "pool               varlibqubes
vid                appvms/work/root
rw                 True
source             vm-templates/fedora/root
save_on_stop       False
snap_on_start      True
size               10737418240
usage              0
revisions_to_keep  1
ephemeral          False
is_outdated        False
List of available revisions (for revert): none" "$(run_tool 0 qvm-volume info work:root)"
    assert_eq "2147483648" "$(run_tool 0 qvm-volume info work:private size)"
    assert_eq "qvm-volume: error: No such property: nope" "$(run_tool 1 qvm-volume info work:private nope)"
    assert_contains "no volume 'bogus' in domain 'work'" "$(run_tool 2 qvm-volume info work:bogus)"
    assert_eq "NAME          DRIVER
linux-kernel  linux-kernel
varlibqubes   file-reflink" "$(run_tool 0 qvm-pool)"
    assert_eq "$(run_tool 0 qvm-pool list)" "$(run_tool 0 qvm-pool -l)"
    assert_eq "DRIVER        OPTIONS
file-reflink  revisions_to_keep, dir_path, setup_check, ephemeral_volatile
linux-kernel  dir_path" "$(run_tool 0 qvm-pool drivers)"
    assert_eq "name                varlibqubes
dir_path            $vl
driver              file-reflink
ephemeral_volatile  False
revisions_to_keep   1" "$(run_tool 0 qvm-pool info varlibqubes | head -5)"
    assert_eq "$(run_tool 0 qvm-pool info varlibqubes | head -5)" "$(run_tool 0 qvm-pool -i varlibqubes | head -5)"
    run_tool 0 qvm-pool set varlibqubes -o revisions_to_keep=3 >/dev/null
    expect "0|default=True type=str varlibqubes" admin.property.Get dom0 default_pool
    assert_contains "revisions_to_keep=3" "$(call admin.pool.Info dom0 varlibqubes)"
    assert_contains "Setting option dir_path is not supported for pool varlibqubes" \
        "$(run_tool 1 qvm-pool set varlibqubes -o dir_path=/x)"
    assert_contains "Storage pool is in use" "$(run_tool 1 qvm-pool remove varlibqubes)"
}

test_create_remove_leave_nothing() {
    mk_standalone sa
    ok admin.vm.property.Set work template_for_dispvms True
    ok admin.vm.Create.DispVM dom0 work "name=disp1 label=red"
    assert_eq "appvms/sa/private-precache.img appvms/sa/private.img appvms/sa/root-precache.img appvms/sa/root.img appvms/work/private-precache.img appvms/work/private.img vm-templates/fedora/private-precache.img vm-templates/fedora/private.img vm-templates/fedora/root-precache.img vm-templates/fedora/root.img " "$(images)"
    expect "0|pool=varlibqubes
vid=appvms/disp1/private
size=2147483648
usage=0
rw=True
source=appvms/work/private
path=$QUBES_ROOT/var/lib/qubes/appvms/disp1/private-dirty.img
save_on_stop=False
snap_on_start=True
revisions_to_keep=1
ephemeral=False
is_outdated=False
" admin.vm.volume.Info disp1 private
    for q in disp1 sa work fedora; do
        [ "$q" = work ] && ok admin.vm.property.Set work template_for_dispvms False
        ok admin.vm.Remove "$q"
    done
    assert_eq "" "$(images)"
    assert_eq "" "$(cd "$QUBES_ROOT/var/lib/qubes" && find appvms vm-templates -mindepth 1)"
}

test_failed_create_leaves_nothing() {
    mkdir -p "$QUBES_ROOT/bad"
    ok admin.pool.Add dom0 file-reflink "name=bad
dir_path=$QUBES_ROOT/bad
setup_check=False"
    rm -rf "$QUBES_ROOT/bad/vm-templates"
    touch "$QUBES_ROOT/bad/vm-templates" # a file where a directory must go
    before=$(images)
    got=$(call admin.vm.CreateInPool.TemplateVM dom0 "" "name=t2 label=red pool:private=bad")
    assert_contains "2|QubesException||create volume private: mkdir $QUBES_ROOT/bad/vm-templates" "$got"
    assert_eq "$before" "$(images)" "no images left"
    expect "2|QubesVMNotFoundError||No such domain: 't2'|" admin.vm.List t2
    restart_qubesd
    expect "2|QubesVMNotFoundError||No such domain: 't2'|" admin.vm.List t2
    # the pool works again once the obstacle is gone
    rm -f "$QUBES_ROOT/bad/vm-templates"
    ok admin.vm.CreateInPool.TemplateVM dom0 "" "name=t2 label=red pool:private=bad"
    [ -f "$QUBES_ROOT/bad/vm-templates/t2/private.img" ] || fail "private not in pool bad"
    expect "0|vm-templates/t2/private
" admin.pool.volume.List dom0 bad
    expect "2|QubesPoolInUseError||Storage pool is in use: volume private of t2|" admin.pool.Remove dom0 bad
    ok admin.vm.Remove t2
    ok admin.pool.Remove dom0 bad
    expect "0|linux-kernel
varlibqubes
" admin.pool.List dom0
}

test_bad_input_changes_nothing() {
    info=$(call admin.vm.volume.Info fedora private)
    expect "2|ProtocolError||Size contains non ASCII digits|" admin.vm.volume.Resize fedora private abc
    expect "2|ProtocolError||Size contains spurious leading zeros|" admin.vm.volume.Resize fedora private 012
    expect "2|ProtocolError||Size is bigger than 19 decimal digits|" admin.vm.volume.Resize fedora private 12345678901234567890
    expect "2|StoragePoolException||Cannot resize: kernel volume is read-only|" \
        admin.vm.volume.Resize work kernel 10
    expect "2|ProtocolError||Invalid value|" admin.vm.volume.Set.rw fedora private maybe
    expect "2|QubesValueError||Invalid value for revisions_to_keep|" admin.vm.volume.Set.revisions_to_keep fedora private -2
    expect "2|QubesVolumeRevisionNotFoundError||Revision 7 not found for volume vm-templates/fedora/private|" \
        admin.vm.volume.Revert fedora private 7
    expect "2|QubesVolumeCopyTokenNotFoundError||Token to clone volume of qube was not found|" admin.vm.volume.CloneTo fedora private nope
    expect "2|QubesException||unexpected driver options: bogus|" admin.pool.Add dom0 file-reflink "name=x
dir_path=/tmp
bogus=1"
    expect "2|QubesException||unexpected driver name: lvm|" admin.pool.Add dom0 lvm "name=x"
    expect "2|ProtocolError||Pool already exists|" admin.pool.Add dom0 file-reflink "name=varlibqubes
dir_path=/tmp"
    expect "2|StoragePoolException||The filesystem for '$QUBES_ROOT/nope' does not support reflinks. If you can live with VM startup delays and wasted disk space, pass the \"setup_check=False\" option.|" \
        admin.pool.Add dom0 file-reflink "name=x
dir_path=$QUBES_ROOT/nope"
    [ -e "$QUBES_ROOT/nope" ] && fail "refused pool left its directory"
    assert_eq "2|ProtocolError||Argument not in fedora volumes|" \
        "$(call_from work internal.vm.volume.ImportBegin fedora nope)"
    assert_eq "$info" "$(call admin.vm.volume.Info fedora private)"
    expect "0|linux-kernel
varlibqubes
" admin.pool.List dom0
    assert_serving
}

# call_from SRC METHOD DEST ARG: a call claiming another source.
call_from() {
    printf '' | qubesd-query "$1" "$2" "$3" "$4" | tr '\0' '|'
}

test_import_revisions_revert_resize() {
    local vl="$QUBES_ROOT/var/lib/qubes" img="$QUBES_ROOT/in.img"
    truncate -s 64M "$img"
    printf 'first' | dd of="$img" bs=1 seek=$((32 << 20)) conv=notrunc status=none
    run_tool 0 qvm-volume import fedora:root "$img" >/dev/null
    assert_eq "67108864" "$(run_tool 0 qvm-volume info fedora:root size)"
    [ "$(stat -c %b "$vl/vm-templates/fedora/root.img")" -le 512 ] || fail "import not sparse"
    assert_eq "first" "$(dd if="$vl/vm-templates/fedora/root.img" bs=1 skip=$((32 << 20)) count=5 status=none)"
    # the empty ext4 the template started with is revision 1
    expect "0|1
" admin.vm.volume.ListSnapshots fedora root
    printf 'second' | dd of="$img" bs=1 seek=$((32 << 20)) conv=notrunc status=none
    # exactly --size bytes, as upstream's admin.vm.volume.ImportWithSize wants
    printf 'data' >"$QUBES_ROOT/private.in"
    truncate -s 1048576 "$QUBES_ROOT/private.in"
    run_tool 0 qvm-volume import --size 1048576 fedora:private "$QUBES_ROOT/private.in" >/dev/null
    run_tool 0 qvm-volume import fedora:root "$img" >/dev/null
    expect "0|2
" admin.vm.volume.ListSnapshots fedora root
    assert_contains "List of available revisions (for revert):
  2" "$(run_tool 0 qvm-volume info fedora:root)"
    run_tool 0 qvm-volume revert fedora:root >/dev/null
    assert_eq "first" "$(dd if="$vl/vm-templates/fedora/root.img" bs=1 skip=$((32 << 20)) count=5 status=none)"
    expect "0|3
" admin.vm.volume.ListSnapshots fedora root
    run_tool 0 qvm-volume config fedora:root revisions_to_keep 0 >/dev/null
    expect "0|0" admin.vm.volume.Info fedora root | sed -n 's/^revisions_to_keep=//p' >/dev/null
    run_tool 0 qvm-volume import fedora:root "$img" >/dev/null
    expect "0|" admin.vm.volume.ListSnapshots fedora root
    assert_eq "No snapshots available" "$(run_tool 1 qvm-volume revert fedora:root | sed 's/^qvm-volume: error: //')"
    # resize: growing is fine, shrinking needs --force
    run_tool 0 qvm-volume resize fedora:private 3GiB >/dev/null
    assert_eq "3221225472" "$(run_tool 0 qvm-volume info fedora:private size)"
    assert_eq "qvm-volume: error: For your own safety, shrinking of private is disabled (1073741824 < 3221225472). If you really know what you are doing, resize filesystem manually first, then use \`-f\` option." \
        "$(run_tool 1 qvm-volume resize fedora:private 1GiB)"
    run_tool 0 qvm-volume resize -f fedora:private 1GiB >/dev/null
    restart_qubesd
    assert_eq "1073741824" "$(run_tool 0 qvm-volume info fedora:private size)"
    assert_eq "0" "$(run_tool 0 qvm-volume info fedora:root revisions_to_keep)"
    # clear: an empty image of the same size
    run_tool 0 qvm-volume clear -f fedora:private >/dev/null
    assert_eq "0" "$(stat -c %b "$vl/vm-templates/fedora/private.img")"
    assert_eq "1073741824" "$(stat -c %s "$vl/vm-templates/fedora/private.img")"
}

# Same size and same first 4 MiB (where mkfs wrote): cmp of whole sparse
# multi-GiB images would read gigabytes of holes.
same_data() {
    [ "$(stat -c %s "$1")" = "$(stat -c %s "$2")" ] &&
        cmp -n $((4 << 20)) "$1" "$2"
}

test_clone_standalone_and_qvm_clone() {
    local vl="$QUBES_ROOT/var/lib/qubes"
    printf 'payload' >"$QUBES_ROOT/root.in"
    truncate -s 4194304 "$QUBES_ROOT/root.in"
    run_tool 0 qvm-volume import fedora:root "$QUBES_ROOT/root.in" >/dev/null
    run_tool 0 qvm-clone fedora fedora2 >/dev/null
    cmp "$vl/vm-templates/fedora/root.img" "$vl/vm-templates/fedora2/root.img" || fail "root not cloned"
    same_data "$vl/vm-templates/fedora/private.img" "$vl/vm-templates/fedora2/private.img" || fail "private not cloned"
    run_tool 0 qvm-clone -C StandaloneVM fedora sa >/dev/null
    expect "0|sa class=StandaloneVM state=Halted uuid=$(uuid_of sa)
" admin.vm.List sa
    cmp "$vl/vm-templates/fedora/root.img" "$vl/appvms/sa/root.img" || fail "standalone root not copied"
    ok admin.vm.Create.StandaloneVM dom0 "" "name=sb label=green"
    run_tool 0 qvm-volume clone fedora:root sb:root >/dev/null
    cmp "$vl/vm-templates/fedora/root.img" "$vl/appvms/sb/root.img" || fail "qvm-volume clone"
    # a token is good once
    tok=$(call admin.vm.volume.CloneFrom fedora root)
    ok admin.vm.volume.CloneTo sb root "${tok#0|}"
    expect "2|QubesVolumeCopyTokenNotFoundError||Token to clone volume of qube was not found|" admin.vm.volume.CloneTo sb root "${tok#0|}"
    expect "2|StoragePoolException||Cannot import_volume: appvms/work/root is not save_on_stop|" \
        admin.vm.volume.CloneTo work root "$(call admin.vm.volume.CloneFrom fedora root | cut -c3-)"
}

# A pool on its own btrfs: clones and revisions share extents (FICLONE).
test_btrfs_pool_reflinks() {
    command -v mkfs.btrfs >/dev/null || skip "no mkfs.btrfs (package btrfs-progs)"
    local fs="$QUBES_ROOT/btrfs.img" mnt="$QUBES_ROOT/mnt"
    truncate -s 300M "$fs"
    mkfs.btrfs -q "$fs" >/dev/null 2>&1 || fail "mkfs.btrfs"
    mkdir -p "$mnt"
    mount -o loop "$fs" "$mnt" || skip "cannot mount a loop device here"
    BTRFS_MNT=$mnt
    run_tool 0 qvm-pool add bt file-reflink -o dir_path="$mnt/pool" >/dev/null
    assert_eq "NAME          DRIVER
bt            file-reflink
linux-kernel  linux-kernel
varlibqubes   file-reflink" "$(run_tool 0 qvm-pool list)"
    ok admin.vm.CreateInPool.TemplateVM dom0 "" "name=bt1 label=red pool=bt"
    assert_contains "pool=bt" "$(call admin.vm.volume.Info bt1 root)"
    head -c $((64 << 20)) /dev/urandom >"$QUBES_ROOT/data.img"
    run_tool 0 qvm-volume import bt1:root "$QUBES_ROOT/data.img" >/dev/null
    sync
    used_before=$(df -k --output=used "$mnt" | tail -1)
    run_tool 0 qvm-clone -P bt bt1 bt2 >/dev/null
    sync
    used_after=$(df -k --output=used "$mnt" | tail -1)
    cmp "$QUBES_ROOT/data.img" "$mnt/pool/vm-templates/bt2/root.img" || fail "clone differs"
    # 64 MiB of data cloned (plus precache copies) for next to nothing
    [ $((used_after - used_before)) -lt 16384 ] || fail "clone used $((used_after - used_before)) KiB"
    filefrag -v "$mnt/pool/vm-templates/bt2/root.img" | grep -q shared || fail "no shared extents"
    # the template's previous image is a revision, its data shared too
    expect "0|1
" admin.vm.volume.ListSnapshots bt1 root
    ok admin.vm.Remove bt2
    ok admin.vm.Remove bt1
    assert_eq "" "$(cd "$mnt/pool" && find appvms vm-templates -mindepth 1)"
    run_tool 0 qvm-pool remove bt >/dev/null
    umount "$mnt" || fail "umount: the pool's filesystem is still in use"
    BTRFS_MNT=
}

# the btrfs of a test that failed half-way
cleanup_extra() {
    [ -n "${BTRFS_MNT:-}" ] && umount "$BTRFS_MNT"
    return 0
}
