# Qubes' network on sandbox qubes: a qube reaches the tests' own "internet"
# (a network namespace this file makes, with a web and a DNS server) through
# its netvm chain, and nothing else: no route without a netvm, no way to
# another qube, no spoofed address. No packet ever leaves this machine: the
# internet is a namespace of the test's own, joined to sys-net by a veth.
source "$(dirname "${BASH_SOURCE[0]}")/helpers.sh"
source "$E2E_DIR/net_helpers.sh"

# The default route inside a qube.
default_route() { qube_run "$1" root 'ip route' | sed -n 's/ *$//; /^default/p'; }

test_a_qube_reaches_the_internet_through_sys_net() {
    make_template min
    make_sys_net
    mk_appvm work min blue
    ok admin.vm.property.Set work netvm sys-net
    assert_eq "hello from the internet" "$(fetch work $WEB)" "through sys-net"
    assert_eq "inet 10.137.0.3/32 scope global eth0" \
        "$(qube_run work root 'ip -4 addr show eth0' | sed -n 's/^ *\(inet .*eth0\)$/\1/p')" \
        "a /32 address"
    assert_eq "default via 10.137.0.2 dev eth0 onlink" "$(default_route work)" \
        "the netvm is the gateway"
    # IPv6 is off
    assert_eq "1" "$(qube_run work 'cat /proc/sys/net/ipv6/conf/eth0/disable_ipv6')" "no IPv6"
}

test_a_chain_through_sys_firewall_and_its_dns() {
    make_template min
    make_sys_net
    make_sys_firewall
    mk_appvm work min blue
    ok admin.vm.property.Set work netvm sys-firewall
    assert_eq "hello from the internet" "$(fetch work $WEB)" "through sys-firewall and sys-net"
    # 10.139.1.1 reaches sys-net's upstream resolver, through both
    assert_contains "Address: $WEB" "$(qube_run work 'nslookup web.example 10.139.1.1 2>&1')" \
        "the qubes' DNS address"
    assert_contains "state=Running" "$(call admin.vm.List sys-net)" "the chain started"
}

test_a_qube_without_netvm_has_only_loopback() {
    make_template min
    make_sys_net
    mk_appvm offline min blue
    ok admin.vm.property.Set offline netvm ""
    assert_eq "lo" "$(qube_run offline 'ip -o link | cut -d: -f2 | tr -d " "')" "links"
    assert_eq "" "$(qube_run offline root 'ip route')" "no route"
    assert_eq "unreachable" "$(no_fetch offline $WEB)" "no internet"
}

test_no_qube_reaches_another_nor_its_netvm() {
    make_template min
    make_sys_net
    mk_appvm work min blue
    mk_appvm personal min blue
    ok admin.vm.property.Set work netvm sys-net
    ok admin.vm.property.Set personal netvm sys-net
    assert_eq "hello from the internet" "$(fetch work $WEB)" "work has a network"
    qvm-start -q personal || fail "start personal"
    qube_run personal root 'mkdir -p /tmp/w && echo secret > /tmp/w/index.html &&
        httpd -p 8080 -h /tmp/w' </dev/null
    assert_eq "secret" "$(fetch personal 127.0.0.1:8080)" "personal serves itself"
    assert_eq "unreachable" "$(no_fetch work 10.137.0.4:8080)" "another client of the same netvm"
    qube_run sys-net root 'mkdir -p /tmp/w && echo netvm > /tmp/w/index.html &&
        httpd -p 8080 -h /tmp/w' </dev/null
    assert_eq "netvm" "$(fetch sys-net 127.0.0.1:8080)" "sys-net serves itself"
    assert_eq "unreachable" "$(no_fetch work 10.137.0.2:8080)" "the netvm itself"
}

# A qube that provides network holds CAP_NET_ADMIN in its namespace and could
# send with any source address: its netvm drops what is not its own.
test_spoofed_source_addresses_are_dropped() {
    make_template min
    make_sys_net
    make_sys_firewall
    qvm-start -q sys-firewall || fail "start"
    # as a compromised sys-firewall would: its own rules (and their masquerade) gone
    qube_nft sys-firewall delete table ip qubes || fail "delete sys-firewall's table"
    assert_eq "hello from the internet" "$(fetch sys-firewall $WEB)" "its own address passes"
    qube_run sys-firewall root 'ip addr add 10.137.0.99/32 dev eth0' </dev/null ||
        fail "second address"
    qube_run sys-firewall root 'ip route replace default via 10.137.0.2 dev eth0 onlink src 10.137.0.99' \
        </dev/null || fail "route with a spoofed source"
    assert_eq "unreachable" "$(no_fetch sys-firewall $WEB)" "a spoofed source"
    assert_contains "counter packets" "$(qube_nft sys-net list chain ip qubes antispoof)" "counted"
    [ "$(qube_nft sys-net list chain ip qubes antispoof | sed -n 's/.*counter packets \([0-9]*\).*/\1/p')" -gt 0 ] ||
        fail "sys-net's anti-spoofing dropped nothing"
}

test_netvm_change_while_running() {
    make_template min
    make_sys_net
    make_sys_firewall
    mk_appvm work min blue
    ok admin.vm.property.Set work netvm sys-net
    assert_eq "hello from the internet" "$(fetch work $WEB)" "through sys-net"
    # the new netvm must run
    expect "2|QubesVMNotStartedError||Cannot dynamically attach to stopped NetVM: 'sys-firewall'|" \
        admin.vm.property.Set work netvm sys-firewall
    qvm-start -q sys-firewall || fail "start sys-firewall"
    ok admin.vm.property.Set work netvm sys-firewall
    assert_eq "default via 10.137.0.3 dev eth0 onlink" "$(default_route work)" "the new gateway"
    assert_eq "hello from the internet" "$(fetch work $WEB)" "through sys-firewall now"
    assert_eq "vif3.0" "$(qvm-run -p -u root sys-net 'ip -o link' </dev/null | grep -o 'vif[0-9]*\.0' | sort -u)" \
        "only sys-firewall's vif is left in sys-net"
    ok admin.vm.property.Set work netvm ""
    assert_eq "unreachable" "$(no_fetch work $WEB)" "no netvm, no network"
}

# Without net.uplink, sys-net's uplink is a veth to dom0 that dom0
# masquerades (nothing is sent here: only its shape is checked).
test_the_default_uplink_is_a_nat_veth_to_dom0() {
    make_template min
    mk_appvm sys-net min red
    ok admin.vm.property.Set sys-net provides_network True
    ok admin.vm.property.Set sys-net netvm ""
    qvm-start -q sys-net || fail "start"
    local slot host qube
    slot=$(sed -n 's/.*qube=sys-net op=uplink mode=nat slot=\([0-9]*\).*/\1/p' \
        "$QUBES_ROOT/var/log/qubes/qubesd.log")
    [ -n "$slot" ] || fail "no uplink logged"
    host=$((slot * 4 + 1))
    qube=$((slot * 4 + 2))
    assert_contains "inet 10.139.$((128 + host / 256)).$((host % 256))/30" \
        "$(ip -4 addr show "qbu$slot")" "dom0's end"
    assert_contains "inet 10.139.$((128 + qube / 256)).$((qube % 256))/30" \
        "$(qvm-run -p -u root sys-net 'ip -4 addr show eth0' </dev/null)" "sys-net's end"
    assert_contains "masquerade" "$(nft list table ip "qubicle-$slot")" "dom0 masquerades"
    ok admin.vm.Shutdown sys-net wait
    ! ip link show "qbu$slot" >/dev/null 2>&1 || fail "dom0's end outlived sys-net"
    ! nft list table ip "qubicle-$slot" >/dev/null 2>&1 || fail "dom0's table outlived sys-net"
}

test_a_qubesd_restart_keeps_track_of_the_uplink() {
    make_template min
    mk_appvm sys-net min red
    ok admin.vm.property.Set sys-net provides_network True
    ok admin.vm.property.Set sys-net netvm ""
    qvm-start -q sys-net || fail "start"
    local slot
    slot=$(sed -n 's/.*qube=sys-net op=uplink mode=nat slot=\([0-9]*\).*/\1/p' \
        "$QUBES_ROOT/var/log/qubes/qubesd.log")
    [ -n "$slot" ] || fail "no uplink logged"
    restart_qubesd
    nft list table ip "qubicle-$slot" >/dev/null || fail "the table went with qubesd"
    ok admin.vm.Shutdown sys-net wait
    ! nft list table ip "qubicle-$slot" >/dev/null 2>&1 || fail "dom0's table outlived sys-net"
}

# A restarted qubesd keeps each running qube's xid and start time (a Xen domain
# keeps its domid), so the vif<xid>.0 it finds is the one it detaches later.
test_a_qubesd_restart_keeps_xids_and_their_vifs() {
    make_template min
    make_sys_net
    mk_appvm work min blue
    ok admin.vm.property.Set work netvm sys-net
    assert_eq "hello from the internet" "$(fetch work $WEB)" "through sys-net"
    local xid started
    xid=$(prop work xid)
    started=$(prop work start_time)
    assert_eq "vif$xid.0" "$(qvm-run -p -u root sys-net 'ip -o link' </dev/null |
        grep -o 'vif[0-9]*\.0' | sort -u)" "work's vif is named after its xid"
    restart_qubesd
    assert_eq "$xid $started" "$(prop work xid) $(prop work start_time)" "kept over the restart"
    ok admin.vm.property.Set work netvm ""
    assert_eq "" "$(qvm-run -p -u root sys-net 'ip -o link' </dev/null |
        grep -o 'vif[0-9]*\.0' | sort -u)" "the vif went with the link"
    assert_eq "unreachable" "$(no_fetch work $WEB)" "no netvm, no network"
    mk_appvm other min green
    qvm-start -q other || fail "start other"
    [ "$(prop other xid)" -gt "$(prop sys-net xid)" ] && [ "$(prop other xid)" -gt "$xid" ] ||
        fail "a new xid counts on from the ones kept: $(prop other xid)"
}
