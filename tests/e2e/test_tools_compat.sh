# What users of the Qubes tools type works as in Qubes (issue 11): --version, negative
# numbers, upstream's qvm-ls options and columns, qvm-check --halted, qvm-service,
# qvm-prefs with a backslash, qrexec-client's options and install paths, the
# admin.vm.volume.Import services, qvm-create --root-copy-from, qvm-template's features.
source "$(dirname "${BASH_SOURCE[0]}")/helpers.sh"

SRC_DIR=$(cd "$E2E_DIR/../.." && pwd)

setup() {
    start_qubesd || return 1
    mk_template fedora
    mk_appvm work fedora blue
}

# A qube that runs: a real (busybox) template and an AppVM of it, started.
running_qube() {
    make_template tpl
    ok admin.vm.Create.AppVM dom0 tpl "name=$1 label=red"
    run_tool 0 qvm-start "$1" >/dev/null
}

# The value of KEY in a volume.Info answer.
volume_info() {
    call admin.vm.volume.Info "$1" "$2" | sed -n "s/^\(0|\)\{0,1\}$3=//p"
}

test_version_everywhere() {
    local version
    version=$(sed -n "s/^  version: '\(.*\)',$/\1/p" "$SRC_DIR/meson.build")
    for t in qvm-ls qvm-create qvm-remove qvm-clone qvm-prefs qubes-prefs qvm-features \
        qvm-service qvm-tags qvm-check qvm-notes qvm-firewall qvm-volume qvm-pool qvm-start \
        qvm-shutdown qvm-kill qvm-pause qvm-unpause qvm-run qvm-template; do
        assert_eq "$t $version" "$(run_tool 0 "$t" --version)" "$t --version"
    done
    assert_eq "qvm-template list $version" "$(run_tool 0 qvm-template list --version)"
}

test_negative_numbers_are_values() {
    # argparse takes "-1" for a value when no option looks like a number
    out=$(run_tool 1 qvm-prefs work qrexec_timeout -1)
    assert_contains "qvm-prefs: error: " "$out"
    case "$out" in *unrecognized*) fail "-1 taken for an option: $out" ;; esac
    run_tool 0 qvm-features work level -1 >/dev/null
    assert_eq "-1" "$(run_tool 0 qvm-features work level)"
    run_tool 0 qvm-volume config work:private revisions_to_keep -1 >/dev/null
    assert_eq "-1" "$(volume_info work private revisions_to_keep)"
    run_tool 0 qvm-prefs work vcpus 3 >/dev/null
    out=$(run_tool 2 qvm-prefs work -x)
    assert_contains "qvm-prefs: error: unrecognized arguments: -x" "$out"
}

test_qvm_ls_volume_columns() {
    mk_appvm other fedora green
    ok admin.vm.volume.Resize other private 3221225472
    local ps pu rs ru
    ps=$(volume_info other private size)
    pu=$(volume_info other private usage)
    rs=$(volume_info other root size)
    ru=$(volume_info other root usage)
    local disk=$(( ($(volume_info other private usage) + $(volume_info other root usage) +
        $(volume_info other volatile usage)) / 1048576 ))
    assert_eq "NAME   DISK  PRIV-CURR  PRIV-MAX  PRIV-USED  PRIV-POOL    ROOT-MAX  ROOT-USED  ROOT-POOL
dom0   0     0          0         0          -            0         0          -
other  $disk     $((pu >> 20))          $((ps >> 20))      $(( (pu >> 20) * 100 / (ps >> 20) ))%         varlibqubes  $((rs >> 20))     $(( (ru >> 20) * 100 / (rs >> 20) ))%         varlibqubes" \
        "$(run_tool 0 qvm-ls -O name,disk,priv-curr,priv-max,priv-used,priv-pool,root-max,root-used,root-pool dom0 other)"
    assert_eq "NAME   STATE   DISK  PRIV-CURR  PRIV-MAX  PRIV-USED  ROOT-CURR  ROOT-MAX  ROOT-USED
other  Halted  $disk     $((pu >> 20))          $((ps >> 20))      $(( (pu >> 20) * 100 / (ps >> 20) ))%         $((ru >> 20))          $((rs >> 20))     $(( (ru >> 20) * 100 / (rs >> 20) ))%" \
        "$(run_tool 0 qvm-ls -d other)"
}

test_qvm_ls_memory_of_running_qubes() {
    running_qube run1
    # paused, the qube's memory holds still between the two reads
    run_tool 0 qvm-pause run1 >/dev/null
    local mem
    mem=$(call admin.vm.CurrentState run1 | sed 's/^0|mem=\([0-9]*\) .*/\1/')
    assert_eq "NAME  STATE   MEMORY
run1  Paused  $((mem / 1024))
tpl   Halted  -" "$(run_tool 0 qvm-ls -O name,state,memory run1 tpl)"
    run_tool 0 qvm-kill run1 >/dev/null
}

test_qvm_ls_filters_as_upstream() {
    mk_appvm net fedora red
    mk_appvm svc fedora green
    mk_standalone alone
    ok admin.vm.property.Set net provides_network True
    ok admin.vm.property.Set work netvm net
    ok admin.vm.feature.Set svc internal 1
    ok admin.vm.feature.Set svc servicevm true
    ok admin.vm.feature.Set work updates-available 1
    ok admin.vm.feature.Set work blank ""
    ok admin.vm.feature.Set net color red
    ok admin.vm.tag.Set work t1
    ok admin.vm.tag.Set net t2
    assert_eq "net
svc
work" "$(run_tool 0 qvm-ls --raw-list --template-source fedora)"
    # "" is a qube without a template property
    assert_eq "alone
dom0
fedora" "$(run_tool 0 qvm-ls --raw-list --template-source '')"
    assert_eq "work" "$(run_tool 0 qvm-ls --raw-list --netvm-is net)"
    assert_eq "svc" "$(run_tool 0 qvm-ls --raw-list --internal y)"
    assert_eq "alone
dom0
fedora
net
work" "$(run_tool 0 qvm-ls --raw-list --internal no)"
    assert_eq "svc" "$(run_tool 0 qvm-ls --raw-list --servicevm yes)"
    assert_eq "work" "$(run_tool 0 qvm-ls --raw-list --pending-update)"
    assert_eq "net" "$(run_tool 0 qvm-ls --raw-list --features color=red)"
    assert_eq "work" "$(run_tool 0 qvm-ls --raw-list --features "blank=''" updates-available=1)"
    assert_eq "alone
dom0
fedora
svc
work" "$(run_tool 0 qvm-ls --raw-list --features color=)"
    assert_eq "net" "$(run_tool 0 qvm-ls --raw-list --prefs provides_network=True)"
    assert_eq "work" "$(run_tool 0 qvm-ls --raw-list --prefs netvm=net label=blue)"
    assert_eq "alone
dom0
fedora
svc" "$(run_tool 0 qvm-ls --raw-list --exclude-tags t1 t2)"
    assert_eq "alone
fedora" "$(run_tool 0 qvm-ls --raw-list --class TemplateVM StandaloneVM)"
    assert_eq "net
svc" "$(run_tool 0 qvm-ls --raw-list --label red green --class AppVM)"
    # nargs='+' takes the names after it, as argparse does; an option ends the list
    assert_eq "work" "$(run_tool 0 qvm-ls --raw-list --tags t1 --class AppVM)"
    assert_eq "work" "$(run_tool 0 qvm-ls --raw-list --tags t1 t2 --all --exclude net)"
    out=$(run_tool 2 qvm-ls --internal maybe)
    assert_contains "qvm-ls: error: argument --internal: invalid choice: 'maybe' (choose from 'y', 'yes', 'n', 'no')" "$out"
    out=$(run_tool 2 qvm-ls --features color)
    assert_contains "qvm-ls: error: Invalid argument: --features color" "$out"
    out=$(run_tool 2 qvm-ls --exclude net)
    assert_contains "qvm-ls: error: --exclude can only be used with --all" "$out"
}

test_qvm_ls_tree_and_sort() {
    mk_appvm sys-net fedora red
    mk_appvm sys-fw fedora green
    mk_appvm Zeta fedora purple
    ok admin.vm.property.Set sys-net provides_network True
    ok admin.vm.property.Set sys-fw provides_network True
    ok admin.vm.property.Set sys-fw netvm sys-net
    ok admin.vm.property.Set work netvm sys-fw
    ok admin.vm.property.Set work vcpus 12
    ok admin.vm.property.Set Zeta vcpus 4
    # without network first, then each network root with what connects through it
    assert_eq "NAME      NETVM
Zeta      -
dom0      -
fedora    -
sys-net   -
└─sys-fw  sys-net
  └─work  sys-fw" "$(run_tool 0 qvm-ls --tree -O name,netvm)"
    # a qube not listed hides its part of the tree
    assert_eq "NAME      NETVM
sys-net   -
└─sys-fw  sys-net" "$(run_tool 0 qvm-ls -t -O name,netvm sys-net sys-fw)"
    # numeric columns sort as numbers ("-" is 0); equal keys keep the by-name order
    assert_eq "NAME     VCPUS
dom0     -
fedora   2
sys-fw   2
sys-net  2
Zeta     4
work     12" "$(run_tool 0 qvm-ls -O name,vcpus --sort vcpus)"
    assert_eq "NAME     LABEL
sys-net  red
Zeta     purple
sys-fw   green
work     blue
dom0     black
fedora   black" "$(run_tool 0 qvm-ls -O name,label --sort label --reverse)"
    assert_eq "dom0
fedora
sys-fw
sys-net
work
Zeta" "$(run_tool 0 qvm-ls -O name --sort name --ignore-case | tail -n +2)"
    assert_eq "Zeta
dom0
fedora
sys-fw
sys-net
work" "$(run_tool 0 qvm-ls -O name | tail -n +2)"
    # a column that is not shown does not sort (as upstream), nor does raw output
    assert_eq "Zeta
dom0
fedora
sys-fw
sys-net
work" "$(run_tool 0 qvm-ls -O name --sort vcpus | tail -n +2)"
    assert_eq "Zeta
dom0
fedora
sys-fw
sys-net
work" "$(run_tool 0 qvm-ls --raw-data -O name,vcpus --sort vcpus | cut -d'|' -f1)"
}

test_qvm_check_halted() {
    assert_eq "qvm-check: fedora: halted
qvm-check: work: halted" "$(run_tool 0 qvm-check --halted work fedora)"
    assert_eq "qvm-check: work: halted" "$(run_tool 3 qvm-check --halted work dom0)"
    assert_eq "qvm-check: None of qubes: halted" "$(run_tool 1 qvm-check --halted dom0)"
    assert_eq "" "$(run_tool 0 qvm-check -q --halted work)"
}

test_qvm_service() {
    assert_eq "" "$(run_tool 0 qvm-service work)"
    run_tool 0 qvm-service --enable work cups >/dev/null
    run_tool 0 qvm-service work crond off >/dev/null
    run_tool 0 qvm-service -d work meminfo-writer >/dev/null
    run_tool 0 qvm-service work ntpd ON >/dev/null
    expect "0|1" admin.vm.feature.Get work service.cups
    expect "0|" admin.vm.feature.Get work service.crond
    expect "0|" admin.vm.feature.Get work service.meminfo-writer
    expect "0|1" admin.vm.feature.Get work service.ntpd
    ok admin.vm.feature.Set work other 1
    assert_eq "crond           off
cups            on
meminfo-writer  off
ntpd            on" "$(run_tool 0 qvm-service --list work)"
    assert_eq "on" "$(run_tool 0 qvm-service work cups)"
    assert_eq "off" "$(run_tool 0 qvm-service work crond)"
    assert_eq "" "$(run_tool 1 qvm-service work nosuch)"
    run_tool 0 qvm-service -D work cups >/dev/null
    run_tool 0 qvm-service --unset work cups >/dev/null
    assert_eq "" "$(run_tool 1 qvm-service work cups)"
    assert_eq "qvm-service: error: Invalid literal for boolean value: 'maybe'" \
        "$(run_tool 1 qvm-service work cups maybe)"
    out=$(run_tool 2 qvm-service -D work)
    assert_contains "qvm-service: error: --unset requires a feature" "$out"
    out=$(run_tool 2 qvm-service -D work cups on)
    assert_contains "qvm-service: error: cannot both set and unset a value" "$out"
    out=$(run_tool 2 qvm-service nosuch)
    assert_contains "qvm-service: error: no such domain: 'nosuch'" "$out"
}

test_qvm_prefs_prints_values_raw() {
    # upstream prints the value as it is (print(str(value))): GetAll's "\\" is one backslash
    # again (control characters, which GetAll escapes too, are refused by qubesd)
    printf 'a b\\c' | qubesd-query dom0 admin.vm.property.Set work kernelopts >/dev/null
    assert_eq 'a b\c' "$(run_tool 0 qvm-prefs work kernelopts)"
    assert_eq 'kernelopts            -  a b\c' "$(run_tool 0 qvm-prefs work | grep '^kernelopts')"
}

test_qrexec_client_options() {
    running_qube q
    assert_eq "prefixed" "$(qrexec-client -d q -p 'echo prefixed; exit
' 'DEFAULT:QUBESRPC qubes.VMShell dom0' </dev/null)"
    assert_eq "from prefix
from stdin" "$(printf 'echo from stdin; exit\n' |
        qrexec-client -d q --prefix-data='echo from prefix
' 'DEFAULT:QUBESRPC qubes.VMShell dom0')"
    assert_status 3 qrexec-client -d q -p 'exit 3
' 'DEFAULT:QUBESRPC qubes.VMShell dom0'
    assert_status 0 qrexec-client -E -d q -p 'exit 3
' 'DEFAULT:QUBESRPC qubes.VMShell dom0'
    assert_status 0 qrexec-client --no-exit-code -d q user:'exit 4'
    # -t / -T: unsafe bytes of stdout / stderr become '_'
    assert_eq "_[31mX" "$(qrexec-client -t -d q user:'printf "\033[31mX"')"
    assert_eq "$(printf '\033[31mX')" "$(qrexec-client -d q user:'printf "\033[31mX"')"
    assert_eq "_[1mE" "$(qrexec-client -T -d q user:'printf "\033[1mE" >&2' 2>&1 >/dev/null)"
    assert_eq "ok" "$(qrexec-client -w 0 -d q user:'echo ok')"
    assert_status 0 qrexec-client -e -d q user:'true'
    # usage errors exit 1, as upstream
    assert_eq "ERROR: only one of -e, -l, -c can be specified" \
        "$(qrexec-client -d q -e -l cat user:true 2>&1 | head -1)"
    assert_status 1 qrexec-client -d q -e -l cat user:true
    assert_eq "ERROR: when target domain is 'dom0', -c must be specified" \
        "$(qrexec-client -d dom0 user:true 2>&1 | head -1)"
    assert_status 1 qrexec-client -d dom0 user:true
    assert_eq 'Invalid -c parameter (should be: "-c request_id,src_domain_name,src_domain_id")' \
        "$(qrexec-client -d q -c a,b user:true 2>&1)"
    assert_status 1 qrexec-client -d q user:true -c a,b
    assert_status 125 qrexec-client -d q -c SOCKET1,work,3 user:true
    assert_status 1 qrexec-client -d q
    assert_status 1 qrexec-client user:true
    assert_status 0 qrexec-client --help
    # -k: the qube is killed right before qrexec-client exits
    assert_eq "bye" "$(qrexec-client -k -d q user:'echo bye')"
    assert_eq "q|Halted" "$(qvm-ls --raw-data -O name,state q)"
}

test_installed_where_qubes_has_them() {
    local dest
    dest=$(mktemp -d "$QUBES_ROOT/dest.XXXXXX")
    meson install -C "$BIN/.." --no-rebuild --quiet --destdir "$dest" >/dev/null 2>&1 ||
        fail "meson install"
    local prefix
    prefix=$(meson introspect "$BIN/.." --buildoptions |
        python3 -c 'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"]=="prefix"][0])')
    assert_eq "../../bin/qrexec-client" "$(readlink "$dest$prefix/lib/qubes/qrexec-client")"
    [ -x "$dest$prefix/lib/qubes/qrexec-client" ] || fail "lib/qubes/qrexec-client runs"
    assert_eq "qrexec-policy-exec" "$(readlink "$dest$prefix/bin/qrexec-policy")"
    assert_eq "qvm" "$(readlink "$dest$prefix/bin/qvm-service")"
    local man="$dest$prefix/share/man/man1"
    assert_eq "qvm-pause.1" "$(readlink "$man/qvm-unpause.1")"
    assert_eq "qvm-open-in-vm.1" "$(readlink "$man/qvm-open-in-dvm.1")"
    [ -e "$man/qvm-service.1" ] || fail "qvm-service.1 installed"
    local rpc
    rpc=$(find "$dest" -path '*/dom0-rpc/admin.vm.volume.ImportWithSize')
    [ -x "$rpc" ] || fail "admin.vm.volume.ImportWithSize installed"
    # the templates link Qubes' guest paths
    make_template lt
    local img="$QUBES_ROOT/var/lib/qubes/vm-templates/lt/root.img"
    assert_eq "/run/qubes-guest/qfile-agent" \
        "$(debugfs -R 'stat /usr/lib/qubes/qfile-agent' "$img" 2>/dev/null |
            sed -n 's/^Fast link dest: "\(.*\)"$/\1/p')"
}

test_man_pages_read_with_man_l() {
    for page in "$SRC_DIR"/docs/man/*.1; do
        out=$(man -l "$page" 2>&1 >/dev/null)
        assert_eq "" "$out" "man -l $(basename "$page")"
    done
}

# The dom0 services, run as qubesadmin's QubesLocal runs them.
service() {
    QREXEC_REMOTE_DOMAIN=dom0 QREXEC_REQUESTED_TARGET=$1 \
        "$BIN/../dom0/qubes-rpc/$2" "$3" | tr '\0' '|'
}

test_volume_import_services() {
    head -c 300000 /dev/urandom >"$QUBES_ROOT/data"
    assert_eq "0|" "$({ echo 300000; cat "$QUBES_ROOT/data"; } |
        service work admin.vm.volume.ImportWithSize private)"
    assert_eq "300000" "$(volume_info work private size)"
    cmp "$QUBES_ROOT/data" "$QUBES_ROOT/var/lib/qubes/appvms/work/private.img" ||
        fail "imported data"
    # Import: exactly the volume's size
    assert_eq "0|" "$(service work admin.vm.volume.Import private <"$QUBES_ROOT/data")"
    assert_eq "2|QubesException||Data import failed: not enough data (copied 1000 bytes, expected 300000 bytes)|" \
        "$(head -c 1000 "$QUBES_ROOT/data" | service work admin.vm.volume.Import private)"
    assert_eq "2|QubesException||Data import failed: too much data (expected 100 bytes)|" \
        "$({ echo 100; head -c 1000 "$QUBES_ROOT/data"; } |
            service work admin.vm.volume.ImportWithSize private)"
    cmp "$QUBES_ROOT/data" "$QUBES_ROOT/var/lib/qubes/appvms/work/private.img" ||
        fail "a failed import changed the volume"
    # qvm-volume import goes through them
    head -c 5000 /dev/urandom >"$QUBES_ROOT/small"
    run_tool 0 qvm-volume import work:private "$QUBES_ROOT/small" >/dev/null
    assert_eq "5000" "$(volume_info work private size)"
    assert_eq "qvm-volume: error: Data import failed: not enough data (copied 5000 bytes, expected 6000 bytes)" \
        "$(run_tool 1 qvm-volume import --size 6000 work:private - <"$QUBES_ROOT/small")"
    run_tool 0 qvm-volume import --no-resize work:private - <"$QUBES_ROOT/small" >/dev/null
    assert_eq "qvm-volume: error: Failed to get - file size, specify it explicitly with --size, or use --no-resize option" \
        "$(run_tool 1 qvm-volume import work:private - <"$QUBES_ROOT/small")"
}

test_qvm_create_root_from_an_image() {
    head -c 4096 /dev/urandom >"$QUBES_ROOT/root.img"
    truncate -s 8M "$QUBES_ROOT/root.img"
    run_tool 0 qvm-create -C StandaloneVM -l red -r "$QUBES_ROOT/root.img" sa >/dev/null
    cmp -n 8388608 "$QUBES_ROOT/root.img" "$QUBES_ROOT/var/lib/qubes/appvms/sa/root.img" ||
        fail "root copied"
    # the volume keeps its own (larger) size
    assert_eq "10737418240" "$(volume_info sa root size)"
    [ -e "$QUBES_ROOT/root.img" ] || fail "--root-copy-from keeps the file"
    cp "$QUBES_ROOT/root.img" "$QUBES_ROOT/move.img"
    run_tool 0 qvm-create --class TemplateVM --label black --root-move-from "$QUBES_ROOT/move.img" \
        tm >/dev/null
    [ -e "$QUBES_ROOT/move.img" ] && fail "--root-move-from removes the file"
    cmp -n 8388608 "$QUBES_ROOT/root.img" "$QUBES_ROOT/var/lib/qubes/vm-templates/tm/root.img" ||
        fail "root moved"
    out=$(run_tool 2 qvm-create -t fedora -l red -r "$QUBES_ROOT/root.img" app)
    assert_contains "qvm-create: error: --root-copy-from/--root-move-from used but this qube does not have own 'root' volume (uses template's one)" "$out"
    out=$(run_tool 2 qvm-create -C StandaloneVM -l red -r "$QUBES_ROOT/nosuch" x)
    assert_contains "qvm-create: error: File pointed by --root-copy-from/--root-move-from does not exist" "$out"
    out=$(run_tool 2 qvm-create -C StandaloneVM -l red -r "$QUBES_ROOT/root.img" -R "$QUBES_ROOT/root.img" x)
    assert_contains "qvm-create: error: argument --root-move-from/-R: not allowed with argument --root-copy-from/-r" "$out"
    expect "2|QubesVMNotFoundError||No such domain: 'app'|" admin.vm.List app
}

test_qvm_template_build_features_and_list() {
    SOURCE_DATE_EPOCH=1700000000 run_tool 0 qvm-template build --recipe minimal tb >/dev/null
    local version installtime
    version=$(sed -n "s/^  version: '\(.*\)',$/\1/p" "$SRC_DIR/meson.build")
    installtime=$(call admin.vm.feature.Get tb template-installtime)
    installtime=${installtime#0|}
    [[ "$installtime" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}\ [0-9]{2}:[0-9]{2}:[0-9]{2}$ ]] ||
        fail "installtime format: $installtime"
    assert_eq "template-buildtime    2023-11-14 22:13:20
template-description  A root filesystem made in seconds from Debian's busybox-static:|sh and the usual applets, and a user account (uid 1000).
template-epoch        0
template-installtime  $installtime
template-license      GPL-2.0-only
template-name         tb
template-release      202311142213
template-reponame     @commandline
template-summary      Qubicle minimal template (busybox)
template-url          https://busybox.net/
template-version      $version" "$(run_tool 0 qvm-features tb)"
    assert_eq "Installed Templates
tb  0:$version-202311142213  @commandline" "$(run_tool 0 qvm-template list --installed)"
    assert_eq "Installed Templates
tb  0:$version-202311142213  @commandline" "$(run_tool 0 qvm-template list 'tb*')"
    assert_eq "installed|tb|0:$version-202311142213|@commandline" \
        "$(run_tool 0 qvm-template list --machine-readable)"
    assert_eq "{\"extra\": [{\"name\": \"tb\", \"evr\": \"0:$version-202311142213\", \"reponame\": \"@commandline\"}]}" \
        "$(run_tool 0 qvm-template list --extras --machine-readable-json)"
    local size
    size=$(( $(volume_info tb root usage) + $(volume_info tb private usage) +
        $(volume_info tb volatile usage) ))
    assert_eq "installed|tb|0|$version|202311142213|@commandline|$size|2023-11-14 22:13:20|$installtime|GPL-2.0-only|https://busybox.net/|Qubicle minimal template (busybox)|A root filesystem made in seconds from Debian's busybox-static:|sh and the usual applets, and a user account (uid 1000)." \
        "$(run_tool 0 qvm-template info --machine-readable tb)"
    out=$(run_tool 0 qvm-template info tb)
    assert_eq "Installed Templates
Name          :  tb
Epoch         :  0
Version       :  $version
Release       :  202311142213" "$(printf '%s\n' "$out" | head -5)"
    assert_eq "Description   :  A root filesystem made in seconds from Debian's busybox-static:
              :  sh and the usual applets, and a user account (uid 1000).
                  " "$(printf '%s\n' "$out" | tail -3)"
    # fedora (not made by qvm-template build) is not listed; nothing to list is an error
    out=$(run_tool 2 qvm-template list fedora)
    assert_contains "qvm-template: error: No matching templates to list" "$out"
}
