# The network tests' own "internet" and Qubes' network qubes (sourced after
# helpers.sh). No packet ever leaves this machine: the internet is a network
# namespace the test makes, joined to sys-net by a veth; sys-net's uplink is
# that veth (feature net.uplink), never the host's.

WEB=10.200.0.1

# make_internet [NAME=IP...]: the internet namespace, a web server on $WEB
# and a DNS server there that knows web.example and the names given; its
# veth's dom0 end ($UPLINK) becomes sys-net's eth0.
make_internet() {
    INET=qbinet$$
    UPLINK=qbt$$
    ip netns add "$INET" || fail "netns"
    ip link add "$UPLINK" type veth peer name eth0 netns "$INET" || fail "veth"
    ip -n "$INET" addr add $WEB/24 dev eth0
    ip -n "$INET" link set eth0 up
    ip -n "$INET" link set lo up
    mkdir -p "$QUBES_ROOT/www"
    echo "hello from the internet" >"$QUBES_ROOT/www/index.html"
    ip netns exec "$INET" busybox httpd -f -p $WEB:80 -h "$QUBES_ROOT/www" &
    WEB_PID=$!
    ip netns exec "$INET" python3 "$E2E_DIR/dns_server.py" $WEB web.example=$WEB "$@" &
    DNS_PID=$!
    trap 'kill $WEB_PID $DNS_PID 2>/dev/null; cleanup_root; ip netns del $INET 2>/dev/null' EXIT
}

# sys-net on the internet's uplink, as Qubes' installer makes it.
make_sys_net() {
    make_internet "$@"
    mk_appvm sys-net min red
    ok admin.vm.property.Set sys-net provides_network True
    ok admin.vm.property.Set sys-net netvm ""
    qvm-features sys-net net.uplink "$UPLINK" || fail "net.uplink"
    qvm-features sys-net net.uplink-address 10.200.0.2/24 || fail "address"
    qvm-features sys-net net.uplink-gateway $WEB || fail "gateway"
    qvm-features sys-net net.uplink-dns $WEB || fail "dns"
}

make_sys_firewall() {
    mk_appvm sys-firewall min green
    ok admin.vm.property.Set sys-firewall provides_network True
    ok admin.vm.property.Set sys-firewall netvm sys-net
}

# How many times sys-firewall's agent applied IP's rules (dom0's copy).
handled() { qubesdb-read -d sys-firewall "/qubes-firewall-handled/$1" 2>/dev/null || echo 0; }

fetch() { qube_run "$1" "wget -q -O- http://$2/ 2>/dev/null || echo unreachable"; }
# Where the answer is to be none: a dropped connection is given up after 5 s.
no_fetch() { qube_run "$1" "timeout 5 wget -q -O- http://$2/ 2>/dev/null || echo unreachable"; }

# nft in a qube's network namespace, run from dom0.
qube_nft() {
    local init
    init=$(sed -n 's/^init=//p' "$QUBES_ROOT/run/qubes/sandbox/$1/state")
    shift
    nsenter --net="/proc/$init/ns/net" nft "$@"
}
