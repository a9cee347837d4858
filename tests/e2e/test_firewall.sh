# admin.vm.firewall.* and qvm-firewall (reference §6).
source "$(dirname "${BASH_SOURCE[0]}")/helpers.sh"

setup() {
    start_qubesd || return 1
    mk_template fedora
    mk_appvm work fedora
}

test_firewall_default_accept() {
    expect "0|action=accept
" admin.vm.firewall.Get work
    expect "0|action=accept
" admin.vm.firewall.Get fedora
    expect "2|ProtocolError||expected destination to not be AdminVM|" admin.vm.firewall.Get dom0
    expect "2|ProtocolError||expected destination to not be AdminVM|" admin.vm.firewall.Set dom0 "" action=drop
    expect "2|ProtocolError||expected destination to not be AdminVM|" admin.vm.firewall.Reload dom0
    expect "2|ProtocolError||unexpected argument|" admin.vm.firewall.Get work x
    expect "2|ProtocolError||unexpected payload|" admin.vm.firewall.Reload work "" x
}

test_firewall_set_get_canonical() {
    ok admin.vm.firewall.Set work "" "action=accept dst4=1.2.3.4 proto=tcp dstports=80
action=drop dst6=2001:DB8:0:0::1/64 proto=udp dstports=1000-2000
action=accept specialtarget=dns
action=accept dsthost=example.com
action=accept dstname=a-b.example_x.org proto=tcp dstports=443
action=accept dsthost=10.0.0.0/8
action=drop proto=icmp icmptype=8 expire=99999999999 comment=ping: no [really], ok.
action=drop"
    expect "0|action=accept dst4=1.2.3.4/32 proto=tcp dstports=80-80
action=drop dst6=2001:db8::1/64 proto=udp dstports=1000-2000
action=accept specialtarget=dns
action=accept dsthost=example.com
action=accept dsthost=a-b.example_x.org proto=tcp dstports=443-443
action=accept dst4=10.0.0.0/8
action=drop expire=99999999999 proto=icmp icmptype=8 comment=ping: no [really], ok.
action=drop
" admin.vm.firewall.Get work
    # option order does not matter; CRLF line ends are fine
    ok admin.vm.firewall.Set work "" "$(printf 'proto=udp dstports=53 action=accept dst6=::1\r\naction=drop\n')"
    expect "0|action=accept dst6=::1/128 proto=udp dstports=53-53
action=drop
" admin.vm.firewall.Get work
    # no rules at all
    ok admin.vm.firewall.Set work ""
    expect "0|" admin.vm.firewall.Get work
    # the canonical form goes round again unchanged
    ok admin.vm.firewall.Set work "" "action=accept dst4=1.2.3.4/32 proto=tcp dstports=80-80"
    expect "0|action=accept dst4=1.2.3.4/32 proto=tcp dstports=80-80
" admin.vm.firewall.Get work
}

test_firewall_bad_rules_keep_old() {
    ok admin.vm.firewall.Set work "" "action=drop dst4=192.168.0.0/16
action=accept"
    old="0|action=drop dst4=192.168.0.0/16
action=accept
"
    while IFS='|' read -r rules msg; do
        expect "2|QubesValueError||$msg|" admin.vm.firewall.Set work "" "$(printf "$rules")"
        expect "$old" admin.vm.firewall.Get work
    done <<'EOF'
action=maybe|line 1: invalid action 'maybe' (expected accept or drop)
proto=tcp|line 1: missing action
action=accept bogus=1|line 1: unknown firewall option 'bogus'
action=accept dstports=80|line 1: dstports valid only with proto tcp or udp
action=accept proto=udp icmptype=8|line 1: icmptype valid only with proto icmp
action=accept proto=tcp dstports=70000|line 1: invalid dstports '70000' (expected N or N-M with 0 <= N <= M <= 65535)
action=accept proto=tcp dstports=90-80|line 1: invalid dstports '90-80' (expected N or N-M with 0 <= N <= M <= 65535)
action=accept proto=icmp icmptype=256|line 1: invalid icmptype '256' (expected 0..255)
action=accept proto=sctp|line 1: invalid proto 'sctp' (expected tcp, udp or icmp)
action=accept specialtarget=ntp|line 1: invalid specialtarget 'ntp' (expected dns)
action=accept dst4=1.2.3.4/33|line 1: invalid dsthost '1.2.3.4/33': netmask for IPv4 must be 0..32
action=accept dsthost=Example.com|line 1: invalid dsthost 'Example.com': not an IP address, and a hostname may only use a-z 0-9 - . _
action=accept dst4=1.2.3.4 dst6=::1|line 1: destination given twice (dsthost, dst4, dst6 and dstname are one option)
action=accept action=drop|line 1: firewall option 'action' given twice
action=accept expire=soon|line 1: invalid expire 'soon' (expected a UNIX timestamp in seconds)
action=accept\n\naction=drop|line 2: empty firewall rule
action=accept\naction=drop proto=gre|line 2: invalid proto 'gre' (expected tcp, udp or icmp)
action=accept comment=a#b|line 1: invalid character in comment (allowed: A-Z a-z 0-9 space :;,./-_[])
action=accept  proto=tcp|line 1: empty firewall option (two spaces in a row?)
action=accept proto|line 1: firewall option 'proto' is not key=value
EOF
}

test_firewall_expired_rules_hidden() {
    now=$(date +%s)
    ok admin.vm.firewall.Set work "" "action=accept proto=tcp dstports=22 expire=$((now - 10))
action=accept proto=tcp dstports=80 expire=$((now + 3600))
action=drop"
    expect "0|action=accept expire=$((now + 3600)) proto=tcp dstports=80-80
action=drop
" admin.vm.firewall.Get work
    # a rule whose time has come disappears without a change
    ok admin.vm.firewall.Set work "" "action=accept proto=tcp dstports=22 expire=$((now + 1))
action=drop"
    wait_until 10 eval '[ "$(date +%s)" -gt $((now + 1)) ]'
    expect "0|action=drop
" admin.vm.firewall.Get work
}

test_firewall_reload_fires_event() {
    events_start work firewall-changed
    ok admin.vm.firewall.Reload work
    assert_eq "1||connection-established
1|work|firewall-changed" "$(events_wait)"
    # Set fires it too
    events_start work firewall-changed
    ok admin.vm.firewall.Set work "" "action=drop"
    assert_eq "1||connection-established
1|work|firewall-changed" "$(events_wait)"
}

test_qvm_firewall_list_add_del_reset() {
    assert_eq "NO  ACTION  HOST  PROTOCOL  PORT(S)  SPECIAL TARGET  ICMP TYPE  EXPIRE  COMMENT
0   accept  -     -         -        -               -          -       -" "$(qvm-firewall work)"
    assert_status 0 qvm-firewall work add drop 10.0.0.0/8 tcp 22
    assert_status 0 qvm-firewall work add --before 0 accept dsthost=example.com proto=udp \
        dstports=53-54 "comment=dns hole"
    assert_status 0 qvm-firewall work add action=accept proto=icmp icmptype=8 expire=99999999999
    assert_status 0 qvm-firewall work add accept specialtarget=dns
    assert_eq "action=accept dsthost=example.com proto=udp dstports=53-54 comment=dns hole
action=accept
action=drop dst4=10.0.0.0/8 proto=tcp dstports=22-22
action=accept expire=99999999999 proto=icmp icmptype=8
action=accept specialtarget=dns" "$(qvm-firewall --raw work list)"
    got=$(qvm-firewall work list | sed 's/  *$//' | sed -n '1,4p;6p')
    # (the EXPIRE column is as wide as "+<seconds left>s" of rule 3)
    assert_eq "NO  ACTION  HOST         PROTOCOL  PORT(S)  SPECIAL TARGET  ICMP TYPE  EXPIRE         COMMENT
0   accept  example.com  udp       53-54    -               -          -              dns hole
1   accept  -            -         -        -               -          -              -
2   drop    10.0.0.0/8   tcp       22       -               -          -              -
4   accept  -            -         -        dns             -          -              -" "$got"
    # the seconds left, as counted between the two clock readings around the listing
    t0=$(date +%s)
    row3=$(qvm-firewall work list | sed -n 5p)
    t1=$(date +%s)
    [[ $row3 =~ ^3\ +accept\ +-\ +icmp\ +-\ +-\ +8\ +\+([0-9]+)s\ +-$ ]] ||
        fail "expiring rule row: $row3"
    left=${BASH_REMATCH[1]}
    [ "$left" -ge $((99999999999 - t1)) ] && [ "$left" -le $((99999999999 - t0)) ] ||
        fail "expiring rule row: $left seconds left, read between $t0 and $t1"
    # delete by rule text and by number
    assert_status 0 qvm-firewall work del drop 10.0.0.0/8 tcp 22
    assert_status 0 qvm-firewall work del --rule-no 0
    assert_eq "action=accept
action=accept expire=99999999999 proto=icmp icmptype=8
action=accept specialtarget=dns" "$(qvm-firewall --raw work)"
    out=$(qvm-firewall work del --rule-no 5 2>&1)
    assert_eq "1 qvm-firewall: error: no rule number 5" "$? $out"
    out=$(qvm-firewall work del drop 1.1.1.1 2>&1)
    assert_eq "1 qvm-firewall: error: no such rule" "$? $out"
    assert_status 0 qvm-firewall work reset
    expect "0|action=accept
" admin.vm.firewall.Get work
    # --reload
    events_start work firewall-changed
    assert_status 0 qvm-firewall --reload work list
    assert_eq "1||connection-established
1|work|firewall-changed" "$(events_wait)"
}

test_qvm_firewall_errors() {
    out=$(qvm-firewall work add bogus 2>&1)
    assert_eq "2 usage: qvm-firewall [--verbose] [--quiet] [--help] [--reload] [--raw]
                    VMNAME {add,del,list,reset} ...
qvm-firewall: error: invalid rule action=bogus: invalid action 'bogus' (expected accept or drop)" "$? $out"
    out=$(qvm-firewall nosuch 2>&1)
    assert_eq "2" "$?"
    assert_contains "qvm-firewall: error: no such domain: 'nosuch'" "$out"
    out=$(qvm-firewall dom0 list 2>&1)
    assert_eq "1 qvm-firewall: error: expected destination to not be AdminVM" "$? $out"
    out=$(qvm-firewall work frobnicate 2>&1)
    assert_eq 2 "$?"
    assert_contains "qvm-firewall: error: argument command: invalid choice: 'frobnicate' (choose from 'add', 'del', 'list', 'reset')" "$out"
    # nothing changed
    expect "0|action=accept
" admin.vm.firewall.Get work
}
