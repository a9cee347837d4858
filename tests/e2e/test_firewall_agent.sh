# The firewall agent (qubes-firewall) in sys-firewall: each client's
# qvm-firewall rules as Qubes' agent applies them, in the tests' own
# internet (net_helpers.sh: a namespace of this test, nothing leaves the
# machine).
source "$(dirname "${BASH_SOURCE[0]}")/helpers.sh"
source "$E2E_DIR/net_helpers.sh"

# sys-net, sys-firewall and the client qubes named, each behind sys-firewall.
make_chain() {
    make_template min
    make_sys_net "$@"
    make_sys_firewall
}
make_clients() {
    local q
    for q in "$@"; do
        mk_appvm "$q" min blue
        ok admin.vm.property.Set "$q" netvm sys-firewall
    done
}

# How many times sys-firewall's agent applied IP's rules (dom0's copy).
handled() { qubesdb-read -d sys-firewall "/qubes-firewall-handled/$1" 2>/dev/null || echo 0; }

# rules QUBE RULE...: sets QUBE's rules and waits until sys-firewall's agent
# applied them (its handled count grew); starts QUBE first.
rules() {
    local q=$1 ip before
    shift
    qvm-check -q --running "$q" 2>/dev/null || qvm-start -q "$q" || fail "start $q"
    ip=$(prop "$q" visible_ip)
    before=$(handled "$ip")
    ok admin.vm.firewall.Set "$q" "" "$(printf '%s\n' "$@")"
    wait_until 10 eval '[ "$(handled "$ip")" -gt "$before" ]' ||
        fail "sys-firewall did not apply $q's rules"
}

test_the_web_through_sys_firewall_with_qubes_default_accept() {
    make_chain
    make_clients work
    assert_eq "hello from the internet" "$(fetch work $WEB)" "through sys-firewall and sys-net"
    assert_eq "table ip qubes-firewall {
	set dns-addr {
		type ipv4_addr
		elements = { 10.139.1.1, 10.139.1.2 }
	}

	chain qubes-forward {
		ip saddr 10.137.0.4 jump qbs-10-137-0-4
	}

	chain forward {
		type filter hook forward priority filter; policy drop;
		ct state established,related accept
		iifname != \"vif*\" accept
		jump qubes-forward
	}

	chain prerouting {
		type filter hook prerouting priority raw; policy accept;
		iifname != \"vif*\" ip saddr 10.137.0.4 drop
	}

	chain postrouting {
		type filter hook postrouting priority raw; policy accept;
		oifname != \"vif*\" ip daddr 10.137.0.4 drop
	}

	chain qbs-10-137-0-4 {
		accept
		reject with icmp admin-prohibited
	}
}" "$(qube_nft sys-firewall list table ip qubes-firewall)" "sys-firewall's table"
}

# reject_msg QUBE HOST: what a TCP connection to HOST:80 meets, in 5 s at most.
# The agent rejects with ICMP admin-prohibited, which the client's TCP reports
# as "No route to host" at once (after the SYN's first retransmission here:
# the ICMP comes back so fast that it finds connect() still holding its
# socket); a drop is given up after 5 s.
connect_result() {
    qube_run "$1" "timeout 5 nc $2 80 </dev/null >/dev/null 2>/tmp/nc.err && echo connected ||
        { grep -q 'No route to host' /tmp/nc.err && echo rejected || echo dropped; }"
}

# ask_dns QUBE: whether the test's DNS server ($WEB, udp) answers QUBE, in 5 s.
ask_dns() {
    qube_run "$1" "timeout 5 nslookup web.example $WEB >/dev/null 2>&1 && echo answer || echo no answer"
}

test_a_reject_rule_and_rule_order() {
    make_chain
    make_clients work
    rules work "action=drop dst4=$WEB proto=tcp dstports=80" "action=accept"
    assert_eq "rejected" "$(connect_result work $WEB)" "the web server, rejected"
    assert_eq "table ip qubes-firewall {
	chain qbs-10-137-0-4 {
		ip daddr $WEB tcp dport 80 reject with icmp admin-prohibited
		accept
		reject with icmp admin-prohibited
	}
}" "$(qube_nft sys-firewall list chain ip qubes-firewall qbs-10-137-0-4)" "the client's chain"
    # udp is not tcp: the accept after the drop lets DNS to the same host through
    assert_eq "answer" "$(ask_dns work)" "udp passes"
    # the first rule that matches decides
    rules work "action=accept dst4=$WEB proto=tcp dstports=80" "action=drop"
    assert_eq "hello from the internet" "$(fetch work $WEB)" "accepted before the drop"
    assert_eq "no answer" "$(ask_dns work)" "the rest dropped"
    rules work "action=drop" "action=accept dst4=$WEB proto=tcp dstports=80"
    assert_eq "rejected" "$(connect_result work $WEB)" "dropped before the accept"
}

test_dsthost_and_dns_rules() {
    make_chain other.example=10.200.0.3
    ip -n "$INET" addr add 10.200.0.3/24 dev eth0 || fail "second address"
    ip netns exec "$INET" busybox httpd -f -p 10.200.0.3:80 -h "$QUBES_ROOT/www" &
    make_clients work
    rules work "action=accept specialtarget=dns" \
        "action=accept dsthost=web.example proto=tcp dstports=80" "action=drop"
    # web.example resolved in sys-firewall, through its own DNS (the test's server)
    assert_eq "hello from the internet" "$(fetch work web.example)" "by name, resolved"
    assert_eq "rejected" "$(connect_result work 10.200.0.3)" "another host of the internet"
    assert_eq "{'$WEB/32'}" "$(qubesdb-read -d sys-firewall /dns/10.137.0.4/web.example)" \
        "what it resolved to, as upstream publishes it"
    # without the dns rule, the client cannot resolve names
    rules work "action=accept dst4=$WEB proto=tcp dstports=80" "action=drop"
    assert_eq "no answer" \
        "$(qube_run work "timeout 5 nslookup web.example 10.139.1.1 >/dev/null 2>&1 && echo answer || echo no answer")" \
        "the qubes' DNS, blocked"
    assert_eq "" "$(qubesdb-read -d sys-firewall /dns/10.137.0.4/web.example 2>/dev/null)" \
        "no dsthost rule, nothing published"
    # a name that does not resolve blocks the client, as upstream
    rules work "action=accept specialtarget=dns" "action=accept dsthost=nowhere.example" \
        "action=accept"
    assert_eq "rejected" "$(connect_result work $WEB)" "blocked"
    assert_contains "Failed to apply rules for 10.137.0.4 (Failed to resolve nowhere.example" \
        "$(cat "$QUBES_ROOT/var/log/qubes/guest-sys-firewall.log")" "the reason, logged"
}
