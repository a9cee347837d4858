# qvm-create-default-netvms: sys-net and sys-firewall as Qubes' installer makes them, all or
# nothing. Its uplink is the tests' own "internet" (net_helpers.sh: a namespace of this test,
# nothing leaves the machine).
source "$(dirname "${BASH_SOURCE[0]}")/helpers.sh"
source "$E2E_DIR/net_helpers.sh"

T=qvm-create-default-netvms

# PROPERTY=VALUE... of QUBE, as qvm-prefs prints each.
assert_prefs() {
    local q=$1 kv
    shift
    for kv in "$@"; do
        assert_eq "${kv#*=}" "$(run_tool 0 qvm-prefs "$q" "${kv%%=*}")" "$q ${kv%%=*}"
    done
}

# The three global properties the tool sets, as admin.property.Get answers them.
global_prefs() {
    local p
    for p in default_netvm updatevm clockvm; do
        call admin.property.Get dom0 $p
        echo
    done
}

test_creates_both_qubes_and_the_global_prefs() {
    make_template min
    ok admin.property.Set dom0 default_template min
    assert_eq "" "$(run_tool 0 $T)" "no output"
    assert_prefs sys-net klass=AppVM template=min label=red netvm= provides_network=True \
        memory=425 autostart=True
    assert_prefs sys-firewall klass=AppVM template=min label=green netvm=sys-net \
        provides_network=True memory=500 autostart=True
    expect "0|default=False type=vm " admin.vm.property.Get sys-net netvm
    assert_eq "service.clocksync       1
service.meminfo-writer" "$(run_tool 0 qvm-features sys-net)" "sys-net's features"
    assert_eq "" "$(run_tool 0 qvm-features sys-firewall)" "sys-firewall's features"
    assert_eq "0|default=False type=vm sys-firewall
0|default=False type=vm sys-firewall
0|default=False type=vm sys-net" "$(global_prefs)"
    # a new qube's netvm is sys-firewall by default
    mk_appvm work min blue
    expect "0|default=True type=vm sys-firewall" admin.vm.property.Get work netvm
}

test_verbose_says_each_step_and_no_uplink_is_none() {
    make_template min
    assert_eq "$T: qvm-create --template min --label red sys-net
$T: qvm-prefs sys-net netvm ''
$T: qvm-prefs sys-net provides_network True
$T: qvm-prefs sys-net memory 425
$T: qvm-prefs sys-net autostart True
$T: qvm-features sys-net service.clocksync 1
$T: qvm-features sys-net service.meminfo-writer ''
$T: qvm-features sys-net net.uplink none
$T: qubes-prefs clockvm sys-net
$T: qvm-create --template min --label green sys-firewall
$T: qvm-prefs sys-firewall netvm sys-net
$T: qvm-prefs sys-firewall provides_network True
$T: qvm-prefs sys-firewall memory 500
$T: qvm-prefs sys-firewall autostart True
$T: qubes-prefs default_netvm sys-firewall
$T: qubes-prefs updatevm sys-firewall" "$(run_tool 0 $T --template min --no-uplink --verbose)"
    assert_eq "none" "$(run_tool 0 qvm-features sys-net net.uplink)" "net.uplink"
    run_tool 1 qvm-features sys-net net.uplink-address >/dev/null
}

test_refuses_when_a_qube_exists_or_no_template() {
    make_template min
    mk_appvm work min blue
    local before
    before=$(global_prefs)
    # no default_template and no --template
    assert_eq "$T: error: no default_template is set: give --template TEMPLATE" "$(run_tool 1 $T)"
    assert_eq "$T: error: no such template: 'nosuch': nothing changed" \
        "$(run_tool 1 $T --template nosuch)"
    assert_eq "$T: error: 'work' is not a TemplateVM (class AppVM): nothing changed" \
        "$(run_tool 1 $T --template work)"
    mk_appvm sys-net min blue
    assert_eq "$T: error: sys-net already exists: nothing changed" \
        "$(run_tool 1 $T --template min --no-uplink)"
    # errors go to stderr alone
    assert_eq "" "$($T --template min 2>/dev/null)" "stdout"
    expect "2|QubesVMNotFoundError||No such domain: 'sys-firewall'|" admin.vm.List sys-firewall
    assert_eq "$before" "$(global_prefs)" "qubes-prefs untouched"
    # sys-net is as it was
    expect "0|default=False type=label blue" admin.vm.property.Get sys-net label
    expect "0|default=True type=bool False" admin.vm.property.Get sys-net provides_network
    assert_eq "" "$(run_tool 0 qvm-features sys-net)" "sys-net's features"
    ok admin.vm.Remove sys-net
    mk_appvm sys-firewall min blue
    assert_eq "$T: error: sys-firewall already exists: nothing changed" \
        "$(run_tool 1 $T --template min)"
    expect "2|QubesVMNotFoundError||No such domain: 'sys-net'|" admin.vm.List sys-net
    assert_eq "$before" "$(global_prefs)" "qubes-prefs untouched"
}

# sys-firewall's creation fails for real: a file stands where its volumes' directory goes.
test_a_failure_midway_puts_everything_back() {
    make_template min
    mk_appvm other min blue
    ok admin.property.Set dom0 clockvm other
    local before dir=$QUBES_ROOT/var/lib/qubes/appvms
    before=$(global_prefs)
    mkdir -p "$dir"
    touch "$dir/sys-firewall"
    assert_eq "$T: error: Cannot create sys-firewall (qubes-prefs clockvm put back, qube sys-net removed): create volume root: mkdir $dir/sys-firewall: File exists" \
        "$(run_tool 1 $T --template min --uplink qbnosuch --uplink-address 10.200.0.2/24)"
    assert_eq "dom0
min
other" "$(run_tool 0 qvm-ls --raw-list)" "no qube left"
    assert_eq "$before" "$(global_prefs)" "qubes-prefs as before"
    expect "0|default=False type=vm other" admin.property.Get dom0 clockvm
    expect "0|default=True type=vm " admin.property.Get dom0 default_netvm
    assert_eq "other
sys-firewall" "$(ls "$dir")" "sys-net's volumes gone"
    # with the obstacle gone, the same command makes both
    rm "$dir/sys-firewall"
    assert_eq "" "$(run_tool 0 $T --template min)"
    expect "0|default=False type=vm sys-net" admin.property.Get dom0 clockvm
}

test_usage_errors() {
    make_template min
    local out
    out=$(run_tool 2 $T --template min --uplink-address 10.200.0.2/24)
    assert_contains "usage: $T " "$out"
    assert_contains "$T: error: argument --uplink-address: needs --uplink" "$out"
    out=$(run_tool 2 $T --template min --no-uplink --uplink-dns 10.200.0.1)
    assert_contains "$T: error: argument --uplink-dns: needs --uplink" "$out"
    out=$(run_tool 2 $T --template min --uplink eth9 --no-uplink)
    assert_contains "$T: error: argument --no-uplink: not allowed with argument --uplink" "$out"
    out=$(run_tool 2 $T --template min --no-uplink --uplink eth9)
    assert_contains "$T: error: argument --uplink: not allowed with argument --no-uplink" "$out"
    out=$(run_tool 2 $T --template min sys-net)
    assert_contains "$T: error: unrecognized arguments: sys-net" "$out"
    out=$(run_tool 2 $T --uplink)
    assert_contains "$T: error: argument --uplink: expected one argument" "$out"
    assert_eq "dom0
min" "$(run_tool 0 qvm-ls --raw-list)" "nothing made"
}

# The installer's network on the tests' internet: a new qube reaches it through sys-firewall
# and sys-net, until its firewall drops everything.
test_a_new_qube_reaches_the_internet_through_the_default_netvms() {
    make_template min
    make_internet
    assert_eq "" "$(run_tool 0 $T --template min --uplink "$UPLINK" \
        --uplink-address 10.200.0.2/24 --uplink-gateway $WEB --uplink-dns $WEB)"
    assert_eq "net.uplink              $UPLINK
net.uplink-address      10.200.0.2/24
net.uplink-dns          $WEB
net.uplink-gateway      $WEB
service.clocksync       1
service.meminfo-writer" "$(run_tool 0 qvm-features sys-net)" "sys-net's features"
    mk_appvm work min blue
    assert_eq "hello from the internet" "$(fetch work $WEB)" "through sys-firewall and sys-net"
    assert_contains "Address: $WEB" "$(qube_run work 'nslookup web.example 10.139.1.1 2>&1')" \
        "the uplink's DNS"
    assert_eq "sys-firewall
sys-net
work" "$(qvm-ls --raw-list --running | grep -v dom0)" "the chain started"
    local ip before
    ip=$(prop work visible_ip)
    before=$(handled "$ip")
    run_tool 0 qvm-firewall work add --before 0 drop >/dev/null
    assert_eq "action=drop
action=accept" "$(qvm-firewall --raw work list)" "the drop rule first"
    wait_until 10 eval '[ "$(handled "$ip")" -gt "$before" ]' ||
        fail "sys-firewall did not apply work's rules"
    assert_eq "unreachable" "$(no_fetch work $WEB)" "dropped by sys-firewall"
}
