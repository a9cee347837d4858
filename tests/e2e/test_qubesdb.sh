# qubesdb between dom0 and its qubes: what qubesd writes before a qube
# starts is there when its programs first look (qubesvm.py's entries, the
# services, the network and DNS), a provider learns its clients and their
# firewall as they come and go, and nothing a qube writes reaches another.
source "$(dirname "${BASH_SOURCE[0]}")/helpers.sh"

# A provider with no uplink: its clients' entries, no host interface touched.
make_provider() {
    mk_appvm "$1" min red
    ok admin.vm.property.Set "$1" provides_network True
    ok admin.vm.property.Set "$1" netvm ""
    qvm-features "$1" net.uplink none || fail "net.uplink"
}

# qubesdb-read in a qube, as its root.
qdb_in() {
    local q=$1
    shift
    qube_run "$q" root "qubesdb-read $*"
}

# Waits (10 s at most) until dom0's copy of QUBE's PATH reads VALUE.
wait_qdb() {
    local q=$1 path=$2 want=$3 got
    for _ in $(seq 100); do
        got=$(qubesdb-read -d "$q" "$path" 2>&1)
        [ "$got" = "$want" ] && return 0
        sleep 0.1
    done
    fail "$q's $path: expected '$want', got '$got'"
}

test_a_qube_reads_what_dom0_wrote_before_it_started() {
    make_template min
    mk_appvm work min blue
    qvm-service work crond on || fail "service"
    qvm-service work cups off || fail "service"
    assert_eq "work
AppVM
rw-only
False
AppVM
min
0
1
1
0" "$(qdb_in work /name /type /qubes-vm-persistence /qubes-vm-updateable /qubes-vm-type \
        /qubes-base-template /qubes-debug-mode /qubes-service/meminfo-writer \
        /qubes-service/crond /qubes-service/cups)" "the qube's own entries"
    # its name, resolvable (sudo looks it up)
    assert_eq "work
127.0.1.1	work" "$(qube_run work 'hostname; grep "^127.0.1.1" /etc/hosts')" "hostname"
    # the services as files, Qubes' way: the AppVM defaults, crond on, cups off
    assert_eq "crond meminfo-writer qubes-update-check" \
        "$(qube_run work 'ls /run/qubes-service' | tr '\n' ' ' | sed 's/ $//')" "services"
    # dom0's copy: the same, through the qube's dom0 daemon
    assert_eq "work" "$(qubesdb-read -d work /name)" "dom0's copy"
    # no network: no address, and resolv.conf left as the template has it
    assert_status 1 qube_run work root "qubesdb-read -q /qubes-ip"
    assert_eq "$(cat "$QUBES_ROOT/var/lib/qubes/vm-templates/min/root/etc/resolv.conf" 2>/dev/null)" \
        "$(qube_run work 'cat /etc/resolv.conf 2>/dev/null')" "resolv.conf untouched"
}

test_a_random_seed_each_start() {
    make_template min
    mk_appvm work min blue
    local first second
    first=$(qdb_in work /qubes-random-seed)
    ok admin.vm.Kill work
    second=$(qdb_in work /qubes-random-seed)
    [ ${#first} -eq 88 ] || fail "a 64-byte seed in base64: '$first'"
    [ "$first" != "$second" ] || fail "the same seed twice: $first"
}

test_a_client_has_its_address_and_dns() {
    make_template min
    make_provider sys-net
    mk_appvm work min blue
    ok admin.vm.property.Set work netvm sys-net
    assert_eq "10.137.0.3
255.255.255.255
10.137.0.2
10.139.1.1
10.139.1.2" "$(qdb_in work /qubes-ip /qubes-netmask /qubes-gateway /qubes-primary-dns \
        /qubes-secondary-dns)" "the client's network"
    assert_eq "nameserver 10.139.1.1
nameserver 10.139.1.2" "$(qube_run work 'cat /etc/resolv.conf')" "resolv.conf from qubesdb"
    assert_eq "NetVM
10.137.0.2
10.137.0.2" "$(qdb_in sys-net /qubes-vm-type /qubes-netvm-network /qubes-netvm-gateway)" \
        "the provider's own"
    assert_eq "meminfo-writer network-manager qubes-firewall qubes-network qubes-update-check qubes-updates-proxy" \
        "$(qube_run sys-net 'ls /run/qubes-service' | tr '\n' ' ' | sed 's/ $//')" \
        "a NetVM's default services"
}

test_a_netvm_learns_its_clients_and_their_firewall() {
    make_template min
    make_provider sys-net
    mk_appvm work min blue
    mk_appvm other min green
    ok admin.vm.property.Set work netvm sys-net
    ok admin.vm.property.Set other netvm sys-net
    ok admin.vm.Start sys-net
    assert_eq "" "$(qdb_in sys-net /connected-ips)" "no client yet"
    ok admin.vm.Start work
    wait_qdb sys-net /connected-ips 10.137.0.3
    assert_eq "/mapped-ip/10.137.0.3/visible-gateway = 10.137.0.2
/mapped-ip/10.137.0.3/visible-ip = 10.137.0.3
/qubes-firewall/10.137.0.3 = 
/qubes-firewall/10.137.0.3/0000 = action=accept
/qubes-firewall/10.137.0.3/policy = drop" \
        "$(qube_run sys-net root 'qubesdb-multiread -f /mapped-ip/ /qubes-firewall/' | sort)" \
        "the client's mapping and Qubes' default firewall"
    ok admin.vm.Start other
    # in qube order, by name as Qubes iterates app.domains
    wait_qdb sys-net /connected-ips "10.137.0.4 10.137.0.3"

    qvm-firewall work reset || fail "reset"
    qvm-firewall work add action=accept dsthost=10.200.0.1 proto=tcp dstports=80 || fail "add"
    qvm-firewall work add action=drop || fail "add"
    wait_qdb sys-net /qubes-firewall/10.137.0.3/0001 "action=accept dst4=10.200.0.1/32 proto=tcp dstports=80-80"
    assert_eq "/qubes-firewall/10.137.0.3/0000 = action=accept
/qubes-firewall/10.137.0.3/0001 = action=accept dst4=10.200.0.1/32 proto=tcp dstports=80-80
/qubes-firewall/10.137.0.3/0002 = action=drop
/qubes-firewall/10.137.0.3/policy = drop" \
        "$(qube_run sys-net root 'qubesdb-multiread -f /qubes-firewall/10.137.0.3/' | sort)" \
        "reset keeps one accept (qvm-firewall), then the new rules"

    ok admin.vm.Kill work
    wait_qdb sys-net /connected-ips 10.137.0.4
    assert_eq "/mapped-ip/10.137.0.4/visible-gateway = 10.137.0.2
/mapped-ip/10.137.0.4/visible-ip = 10.137.0.4
/qubes-firewall/10.137.0.4 = 
/qubes-firewall/10.137.0.4/0000 = action=accept
/qubes-firewall/10.137.0.4/policy = drop" \
        "$(qube_run sys-net root 'qubesdb-multiread -f /mapped-ip/ /qubes-firewall/' | sort)" \
        "a stopped client's entries gone"
}

test_an_expired_rule_leaves_the_netvm() {
    make_template min
    make_provider sys-net
    mk_appvm work min blue
    ok admin.vm.property.Set work netvm sys-net
    qvm-firewall work reset || fail "reset"
    qvm-firewall work add action=accept proto=tcp dstports=22 expire=+2 || fail "add"
    qvm-firewall work add action=drop || fail "add"
    ok admin.vm.Start work
    assert_eq "action=accept proto=tcp dstports=22-22" \
        "$(qubesdb-read -d sys-net /qubes-firewall/10.137.0.3/0001)" "before it expires"
    # expire's second passes; qubesd writes the rules again without it
    wait_qdb sys-net /qubes-firewall/10.137.0.3/0001 "Failed to read /qubes-firewall/10.137.0.3/0001"
    assert_eq "action=drop" "$(qubesdb-read -d sys-net /qubes-firewall/10.137.0.3/0002)" \
        "the rules after it keep their numbers"
}

test_what_a_qube_writes_stays_in_its_own_database() {
    make_template min
    make_provider sys-net
    mk_appvm work min blue
    ok admin.vm.property.Set work netvm sys-net
    ok admin.vm.Start work
    qube_run work root 'qubesdb-write /connected-ips 10.137.0.9 && qubesdb-rm /qubes-ip' >/dev/null
    # the qube's writes reach its dom0 copy (as in Qubes, untrusted there)...
    wait_qdb work /connected-ips 10.137.0.9
    # ...and no other database: the netvm's entries are qubesd's alone
    assert_eq "10.137.0.3" "$(qubesdb-read -d sys-net /connected-ips)" "the netvm's copy"
    assert_eq "10.137.0.3" "$(qdb_in sys-net /connected-ips)" "the netvm's own"
    # no dom0 socket is in reach of a qube
    assert_status 1 qube_run work root "test -e $QUBES_ROOT/run/qubes/qubesdb.sys-net.sock"
}

test_a_daemon_that_dies_leaves_the_qube_running() {
    make_template min
    mk_appvm work min blue
    ok admin.vm.Start work
    local xid
    xid=$(prop work xid)
    pkill -f -- "qubesdb-daemon --qube work" || fail "no dom0 daemon for work"
    # qrexec is its own channel: the qube still answers, the same run of it
    assert_eq "alive" "$(qube_run work 'echo alive')" "qrexec without qubesdb"
    assert_eq "$xid" "$(prop work xid)" "not started again"
    ok admin.vm.Kill work
    ok admin.vm.Start work
    assert_eq "work" "$(qdb_in work /name)" "a new daemon with the next start"
}

test_after_a_qubesd_restart_changes_still_reach_the_netvm() {
    make_template min
    make_provider sys-net
    mk_appvm work min blue
    ok admin.vm.property.Set work netvm sys-net
    ok admin.vm.Start work
    restart_qubesd
    # the qubes ran on; qubesd reaches sys-net's dom0 daemon through its socket now
    qvm-firewall work add action=drop proto=udp || fail "add"
    wait_qdb sys-net /qubes-firewall/10.137.0.3/0001 "action=drop proto=udp"
    assert_eq "action=drop proto=udp" "$(qdb_in sys-net /qubes-firewall/10.137.0.3/0001)" \
        "and the qube's copy follows"
}
