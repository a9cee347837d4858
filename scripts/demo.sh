#!/bin/bash
# demo.sh BUILD: the main job. Starts a qubesd on a scratch root and walks
# through a real management session with the qvm-* tools, showing each
# command and what it printed.
set -eu
build=$(cd "${1:-build}" && pwd)
export PATH="$build/bin:$PATH"
export QUBES_ROOT=$(mktemp -d /tmp/qubicle-demo.XXXXXX)

bold=$(tput bold 2>/dev/null || true)
dim=$(tput dim 2>/dev/null || true)
reset=$(tput sgr0 2>/dev/null || true)

qubesd >"$QUBES_ROOT/qubesd.out" 2>&1 &
qubesd_pid=$!

# The demo's own "internet": a network namespace with a web server and a DNS
# server, joined by a veth whose dom0 end becomes sys-net's uplink. No packet
# of the demo leaves this machine.
inet=qubicle-demo$$
uplink=qbdemo$$
web=10.200.0.1
# cable: the veth, again after sys-net stopped (a veth goes with the namespace
# it was moved into; a real interface comes back to dom0).
cable() {
    ip link show $uplink >/dev/null 2>&1 && return
    ip link add $uplink type veth peer name eth0 netns $inet
    ip -n $inet addr add $web/24 dev eth0
    ip -n $inet link set eth0 up
}
ip netns add $inet
ip -n $inet link set lo up
cable
mkdir "$QUBES_ROOT/www"
echo "hello from the demo's internet" >"$QUBES_ROOT/www/index.html"
ip netns exec $inet busybox httpd -f -p $web:80 -h "$QUBES_ROOT/www" &
web_pid=$!
ip netns exec $inet python3 "$build/../tests/e2e/dns_server.py" $web web.example=$web &
dns_pid=$!

cleanup() {
    # qubes outlive qubesd, as VMs do in Qubes: stop this root's before leaving
    pkill -USR1 -f "qubes-(sandbox|vm) .*--state-dir $QUBES_ROOT/" 2>/dev/null && sleep 0.5
    kill $qubesd_pid $web_pid $dns_pid 2>/dev/null || true
    wait $qubesd_pid 2>/dev/null || true
    ip netns del $inet 2>/dev/null || true
    ip link del $uplink 2>/dev/null || true
    rm -rf "$QUBES_ROOT"
}
trap cleanup EXIT
for _ in $(seq 100); do [ -S "$QUBES_ROOT/run/qubesd.sock" ] && break; sleep 0.05; done

# firewall VM ARGS...: run qvm-firewall VM ARGS and wait until sys-firewall has
# applied the change (its agent counts each under /qubes-firewall-handled/IP).
firewall() {
    local ip before
    ip=$(qvm-prefs "$1" ip)
    before=$(qubesdb-read -d sys-firewall "/qubes-firewall-handled/$ip" 2>/dev/null || echo 0)
    run qvm-firewall "$@"
    for _ in $(seq 100); do
        [ "$(qubesdb-read -d sys-firewall "/qubes-firewall-handled/$ip" 2>/dev/null || echo 0)" -gt "$before" ] && return
        sleep 0.05
    done
}
step() { printf '\n%s== %s%s\n' "$bold" "$*" "$reset"; }
# run CMD...: show the command, run it, show its output; the demo stops if
# it fails unexpectedly.
run() {
    printf '%s$ %s%s\n' "$dim" "$*" "$reset"
    "$@"
}
# refused CMD...: a command that must fail; shows the error it gives.
refused() {
    printf '%s$ %s%s\n' "$dim" "$*" "$reset"
    if "$@"; then
        echo "demo: expected this to be refused" >&2
        exit 1
    fi
}

step "A fresh root holds dom0 alone (qubesd on $QUBES_ROOT)"
run qvm-ls

step "Templates: a minimal one (busybox, seconds) and Debian 12 (debootstrap, a minute)"
run qvm-template build --recipe minimal minimal
run qvm-template build --recipe debian-12 debian-12
run qvm-template list

step "The network qubes, as Qubes' installer makes them (sys-net's uplink: the demo's internet)"
run qubes-prefs default_template debian-12
run qvm-create-default-netvms --uplink $uplink --uplink-address 10.200.0.2/24 --uplink-gateway $web --uplink-dns $web
run qvm-ls --fields name,class,label,netvm,template sys-net sys-firewall

step "Qubes, each with a label"
run qvm-create --label blue work
run qvm-create --label purple --template minimal personal
run qvm-clone --class StandaloneVM minimal legacy
run qvm-create --label red untrusted --prop netvm=

step "A netvm chain: work -> sys-firewall -> sys-net"
run qubes-prefs default_netvm
refused qvm-prefs --default sys-net netvm
run qvm-prefs work netvm
run qvm-prefs work ip
run qvm-prefs work visible_gateway
refused qvm-prefs sys-net netvm sys-firewall
refused qvm-prefs personal netvm work
run qvm-prefs legacy label gray

step "Properties: inherited from the template until set"
run qvm-prefs work memory
run qvm-prefs debian-12 memory 800
run qvm-prefs work memory
run qvm-prefs work memory 1200
run qvm-prefs --default work memory
run qvm-prefs work memory
refused qvm-prefs work memory lots
refused qvm-prefs work name other

step "Features, tags and notes"
run qvm-features work service.cups 1
run qvm-features work
run qvm-tags work add project-x
run qvm-tags work list
run qvm-notes work --set "keys for project X live here"
run qvm-notes work

step "Firewall rules of work (sys-firewall enforces them)"
run qvm-firewall work reset
run qvm-firewall work del accept
run qvm-firewall work add accept dsthost=web.example proto=tcp dstports=443
run qvm-firewall work add accept specialtarget=dns
run qvm-firewall work add drop
run qvm-firewall work list
refused qvm-firewall work add accept dstports=80

step "Qubes that run: starting work starts its netvm chain first"
run qvm-start work
run qvm-ls --running
run qvm-run -p work 'grep PRETTY_NAME /etc/os-release; id; hostname'
run qvm-run -p -u root work 'echo "root here is uid $(id -u); processes visible: $(ls /proc | grep -c "^[0-9]")"'
run qvm-run -p personal 'echo "personal runs $(uname -s) in its own sandbox"; cat /etc/os-release'

step "The network: personal reaches a web server through sys-firewall and sys-net, until a rule says no"
run qvm-run -p personal 'cat /etc/resolv.conf; ip route; wget -q -O- http://web.example/'
firewall personal add --before 0 drop dsthost=web.example
refused qvm-run -p personal 'wget -O- http://web.example/'
firewall personal del --rule-no 0
run qvm-run -p personal 'wget -q -O- http://web.example/'

step "What a qube writes: / is discarded at shutdown, /home/user is kept"
run qvm-run -p personal 'echo kept > /home/user/note'
run qvm-run -p -u root personal 'echo gone > /note; ls /note /home/user/note'
run qvm-shutdown --wait personal
run qvm-run -p -u root personal 'cat /home/user/note; ls /note 2>&1 || true'

step "Isolation: root in a qube is not root of dom0"
refused qvm-run -p -u root work 'mount -t tmpfs none /mnt'
refused qvm-run -p -u root work 'echo 1 > /proc/sys/kernel/sysrq'
run qvm-run -p -u root work 'ls /proc | grep -c "^[0-9]"; ls /sys | wc -l'

step "Calls between qubes: exactly what the policy allows (etc/qubes/policy.d)"
run cp "$build/../policy/90-default.policy" "$QUBES_ROOT/etc/qubes/policy.d/"
run sh -c "echo 'qubes.Filecopy * work personal allow' > $QUBES_ROOT/etc/qubes/policy.d/30-demo.policy"
run qvm-run -p work 'echo "quarterly report" > report.txt && qvm-copy-to-vm personal report.txt && echo copied'
run qvm-run -p personal 'ls -l QubesIncoming/work && cat QubesIncoming/work/report.txt'
refused qvm-run -p personal 'qvm-copy-to-vm work /etc/hostname'
run qvm-run -p work 'qrexec-client-vm @default qubes.GetDate'
run tail -n 3 "$QUBES_ROOT/var/log/qubes/qrexec-audit.log"

step "Disposables: a fresh qube for one task, gone when it is done"
run qvm-run -p -u root personal 'mkdir -p /usr/local/bin && printf "#!/bin/sh\necho \"reviewed in \$(hostname)\" >> \"\$1\"\n" > /usr/local/bin/xdg-open && chmod 755 /usr/local/bin/xdg-open'
run qvm-shutdown --wait personal
run qvm-prefs personal template_for_dispvms True
run qubes-prefs default_dispvm personal
run qvm-run --dispvm -p -- 'echo "I am $(hostname), started from personal"; ls /home/user'
run qvm-run -p work 'echo "draft letter" > letter.txt && qvm-open-in-dvm letter.txt && cat letter.txt'
run sh -c "qvm-ls --raw-list | grep -c '^disp' || true"
run tail -n 1 "$QUBES_ROOT/var/log/qubes/qrexec-audit.log"

step "All qubes now"
run qvm-ls
run qvm-ls --format network
run qvm-shutdown --wait --all

step "Removal: refused while another qube or a global default uses the qube"
refused qvm-remove --force sys-net
refused qvm-remove --force debian-12
run qvm-volume list work
run qvm-remove --force untrusted
run qvm-clone work work-copy
run qvm-remove --force work-copy
run qvm-ls --raw-list

step "The daemon kept every change in its store: restart it and look again"
kill $qubesd_pid
wait $qubesd_pid || true
qubesd >>"$QUBES_ROOT/qubesd.out" 2>&1 &
qubesd_pid=$!
for _ in $(seq 100); do [ -S "$QUBES_ROOT/run/qubesd.sock" ] && break; sleep 0.05; done
run qvm-ls
run qvm-prefs debian-12 memory
cable
run qvm-run -p work 'echo work still starts after a qubesd restart'
run qvm-shutdown --wait --all

printf '\n%sDemo complete.%s\n' "$bold" "$reset"
