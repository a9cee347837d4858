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

# stream QUBE: the lines QUBE receives from the test's trickle server (port
# 9000: 50 lines, one each 0.1 s), counted; a stream that stops is given up
# after 8 s.
stream() { qube_run "$1" "timeout 8 nc $WEB 9000 </dev/null | wc -l"; }
streams_open() { [ "$(grep -c '^from' "$QUBES_ROOT/trickle.out" 2>/dev/null)" -ge "$1" ]; }

test_a_live_update_ends_only_the_flows_it_blocks() {
    make_chain
    make_clients work other
    ip netns exec "$INET" python3 "$E2E_DIR/trickle_server.py" $WEB 9000 50 0.1 \
        >"$QUBES_ROOT/trickle.out" 2>&1 &
    rules work "action=accept"
    rules other "action=accept"
    stream other >"$QUBES_ROOT/other.count" &
    local other_pid=$!
    stream work >"$QUBES_ROOT/work.count" &
    local work_pid=$!
    wait_until 10 streams_open 2 || fail "the transfers did not start"
    # while both run: work may no longer reach the internet
    rules work "action=drop"
    wait "$work_pid"
    wait "$other_pid"
    assert_eq "50" "$(tr -d ' ' <"$QUBES_ROOT/other.count")" "other's transfer went on to its end"
    local got
    got=$(tr -d ' ' <"$QUBES_ROOT/work.count")
    [ "$got" -gt 0 ] && [ "$got" -lt 50 ] || fail "work's transfer was not ended midway: $got lines"
    assert_contains "ip=10.137.0.4 op=conntrack ended=1" \
        "$(cat "$QUBES_ROOT/var/log/qubes/guest-sys-firewall.log")" "its tracked flow ended"
    assert_eq "rejected" "$(connect_result work $WEB)" "work's new flows"
    assert_eq "hello from the internet" "$(fetch other $WEB)" "other's new flows"
}

test_an_expired_rule_stops_being_enforced() {
    make_chain
    make_clients work
    rules work "action=drop dst4=$WEB proto=tcp dstports=80 expire=$(($(date +%s) + 3))" \
        "action=accept"
    assert_eq "rejected" "$(connect_result work $WEB)" "before it expires"
    # qubesd rewrites the rules without it once it expired; the agent follows
    wait_until 15 eval '[ "$(qube_nft sys-firewall list chain ip qubes-firewall qbs-10-137-0-4 |
        grep -c reject)" = 1 ]' || fail "the expired rule is still there"
    assert_eq "hello from the internet" "$(fetch work $WEB)" "after it expired"
}

# Entries written by hand into sys-firewall's qubesdb (dom0's copy, which
# the qube's follows), as a compromised dom0 tool or the qube itself could:
# only that client is blocked, and the agent says why.
test_a_malformed_entry_blocks_only_that_client() {
    make_chain
    make_clients work other
    rules work "action=accept"
    rules other "action=accept"
    local bad=(
        "0000=action=accept bogus=1|rule 0000: unsupported rule option 'bogus'"
        "0000=action=accept dst4=10.0.0.0/33|rule 0000: invalid dsthost '10.0.0.0/33'"
        "0000=action=accept dst6=2001:db8::1|rule 0000: dst6 rule found for IPv4 address"
        "0000=action=accept comment=x|rule 0000: unsupported rule option 'comment'"
        "01=action=accept|unexpected non-rule found: 01"
        "policy=reject|invalid policy (expected accept or drop)"
    )
    local b key value reason before
    for b in "${bad[@]}"; do
        key=${b%%=*} value=${b#*=} reason=${value#*|} value=${value%%|*}
        before=$(handled 10.137.0.4)
        qubesdb-write -d sys-firewall "/qubes-firewall/10.137.0.4/$key" "$value" || fail "write"
        qubesdb-write -d sys-firewall /qubes-firewall/10.137.0.4 "" || fail "trigger"
        wait_until 10 eval '[ "$(handled 10.137.0.4)" -gt "$before" ]' || fail "not handled: $b"
        assert_contains "Failed to apply rules for 10.137.0.4 ($reason" \
            "$(cat "$QUBES_ROOT/var/log/qubes/guest-sys-firewall.log")" "the reason of $key=$value"
        assert_eq "rejected" "$(connect_result work $WEB)" "work blocked by $key=$value"
        assert_eq "hello from the internet" "$(fetch other $WEB)" "other unharmed by $key=$value"
        # dom0's rules again
        rules work "action=accept"
    done
    # no policy at all
    before=$(handled 10.137.0.4)
    qubesdb-rm -d sys-firewall /qubes-firewall/10.137.0.4/policy || fail "rm"
    qubesdb-write -d sys-firewall /qubes-firewall/10.137.0.4 "" || fail "trigger"
    wait_until 10 eval '[ "$(handled 10.137.0.4)" -gt "$before" ]' || fail "not handled"
    assert_eq "rejected" "$(connect_result work $WEB)" "no policy"
    # no rules tree at all: no chain, and Qubes' forward policy drops new flows
    before=$(handled 10.137.0.4)
    qubesdb-rm -d sys-firewall /qubes-firewall/10.137.0.4/ || fail "rm"
    qubesdb-write -d sys-firewall /qubes-firewall/10.137.0.4 "" || fail "trigger"
    wait_until 10 eval '[ "$(handled 10.137.0.4)" -gt "$before" ]' || fail "not handled"
    assert_eq "dropped" "$(connect_result work $WEB)" "no rules tree"
    assert_eq "	chain qubes-forward {
		ip saddr 10.137.0.5 jump qbs-10-137-0-5
	}" "$(qube_nft sys-firewall list chain ip qubes-firewall qubes-forward | sed -n '2,4p')" \
        "work's jump gone"
    assert_eq "hello from the internet" "$(fetch other $WEB)" "other unharmed"
}

test_the_agent_deletes_its_table_when_it_stops() {
    make_chain
    make_clients work
    rules work "action=accept"
    qube_nft sys-firewall list table ip qubes-firewall >/dev/null || fail "no table"
    qube_run sys-firewall root 'kill $(pidof qubes-firewall)'
    wait_until 10 eval '! qube_nft sys-firewall list table ip qubes-firewall >/dev/null 2>&1' ||
        fail "the table outlived the agent"
    assert_contains "info op=stop result=ok" \
        "$(cat "$QUBES_ROOT/var/log/qubes/guest-sys-firewall.log")" "a clean stop"
    assert_contains "qubes-init: qubes-firewall exited (status 0)" \
        "$(cat "$QUBES_ROOT/var/log/qubes/guest-sys-firewall.log")" "reaped"
}

# 200 qubes behind one sys-firewall (the issue's count): a chain each, the
# anti-spoofing of all, and a rule change that touches its own client only.
# About 20 s on 2 cores (45 s in the ASan build), most of it the starts, so
# make check runs all 200; FW_AGENT_CLIENTS=N runs fewer while working.
test_200_qubes_behind_one_sys_firewall() {
    local n=${FW_AGENT_CLIENTS:-200} i names=()
    make_chain
    qvm-start -q sys-firewall || fail "start sys-firewall"
    for i in $(seq "$n"); do
        names+=("c$i")
    done
    make_clients "${names[@]}"
    # a busybox qube needs little: Qubes' 400 MiB each would not be admitted 200 times
    for i in "${names[@]}"; do
        ok admin.vm.property.Set "$i" memory 32
    done
    qvm-start -q "${names[@]}" || fail "start $n clients"
    # qube c1 is 10.137.0.4 (sys-net .2, sys-firewall .3), then in order
    local last=10.137.0.$((n + 3))
    [ $((n + 3)) -lt 256 ] || fail "n too large for one /24"
    wait_until 60 eval '[ "$(handled "$last")" -ge 1 ]' || fail "the last client's rules not applied"
    assert_eq "$n" "$(qube_nft sys-firewall list chain ip qubes-firewall qubes-forward | grep -c jump)" \
        "a jump for each"
    assert_contains "iifname != \"vif*\" ip saddr { 10.137.0.4" \
        "$(qube_nft sys-firewall list chain ip qubes-firewall prerouting | tr -d '\n\t' |
            sed 's/  */ /g')" "anti-spoofing"
    assert_eq "$n" "$(qube_nft sys-firewall list chain ip qubes-firewall prerouting |
        grep -o '10\.137\.0\.[0-9]*' | sort -u | wc -l)" "anti-spoofing of every client"
    rules "c$n" "action=drop"
    assert_eq "rejected" "$(connect_result "c$n" $WEB)" "the last client, blocked"
    assert_eq "hello from the internet" "$(fetch c1 $WEB)" "the first, unharmed"
    assert_eq "hello from the internet" "$(fetch "c$((n / 2))" $WEB)" "one in the middle, unharmed"
}

# Without qubesdb the agent cannot follow dom0: it ends, and leaves its
# table, so what was blocked stays blocked (upstream's agent dies the same).
test_the_agent_keeps_its_table_when_qubesdb_fails() {
    make_chain
    make_clients work
    rules work "action=drop"
    qube_run sys-firewall root 'kill $(pidof qubesdb-daemon)'
    wait_until 10 eval 'grep -q "qubes-init: qubes-firewall exited (status 1)" \
        "$QUBES_ROOT/var/log/qubes/guest-sys-firewall.log"' || fail "the agent did not end"
    assert_eq "rejected" "$(connect_result work $WEB)" "still blocked"
    qube_nft sys-firewall list chain ip qubes-firewall qbs-10-137-0-4 >/dev/null ||
        fail "the table went"
}
