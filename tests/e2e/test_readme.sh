# The README's examples (and scripts/demo.sh's tool invocations) work as written: every
# command below is taken from those files verbatim (the test fails if one is no longer
# there) and run from the source tree, and what it prints is checked exactly.
source "$(dirname "${BASH_SOURCE[0]}")/helpers.sh"

SRC_DIR=$(cd "$E2E_DIR/../.." && pwd)
README="$SRC_DIR/README.md"
DEMO="$SRC_DIR/scripts/demo.sh"

# The lines of the README's sh blocks, comments taken off.
readme_lines() {
    sed -n '/^```sh$/,/^```$/p' "$README" | sed -e 's/ *#.*$//' -e 's/ *$//'
}

# readme EXPECTED_RC CMD: CMD is a line of the README's examples; runs it as written (from the
# source tree, as the README's relative paths assume) and prints stdout+stderr, NUL as '|'.
readme() {
    local want=$1 cmd=$2 out rc
    readme_lines | grep -qxF -- "$cmd" || fail "not in the README: $cmd"
    out=$(set -o pipefail; cd "$SRC_DIR" && eval "$cmd" 2>&1 | tr '\0' '|')
    rc=$?
    [ "$rc" = "$want" ] || fail "README: $cmd: exit status $rc, not $want; output: $out"
    printf '%s' "$out"
}

# demo EXPECTED_RC CMD: the same for a `run CMD` or `refused CMD` line of scripts/demo.sh.
demo() {
    local want=$1 cmd=$2 out rc
    grep -qxF -e "run $cmd" -e "refused $cmd" "$DEMO" || fail "not in demo.sh: $cmd"
    out=$(eval "$cmd" 2>&1)
    rc=$?
    [ "$rc" = "$want" ] || fail "demo: $cmd: exit status $rc, not $want; output: $out"
    printf '%s' "$out"
}

# The README's first steps: a template, default_template, the qube work.
readme_start() {
    readme_lines | grep -qxF 'export QUBES_ROOT=/tmp/q; qubesd &' || fail "README's qubesd line"
    out=$(readme 0 'qvm-template build --recipe minimal minimal')
    assert_eq "qvm-template build: template minimal is ready" "$(printf '%s' "$out" | tail -n 1)"
    assert_eq "" "$(readme 0 'qubes-prefs default_template minimal')"
    assert_eq "" "$(readme 0 'qvm-create --label blue work')"
}

test_readme_usage() {
    readme_start
    assert_eq "uid=1000(user) gid=1000(user) groups=5(tty),100(users),1000(user)
work" "$(readme 0 "qvm-run -p work 'id; hostname'")"
    local uuid mac start xid
    uuid=$(qvm-prefs work uuid)
    mac=$(qvm-prefs work mac)
    # qvm-run started work: it has a domain id and a start time
    start=$(qvm-prefs work start_time)
    xid=$(qvm-prefs work xid)
    [[ $xid =~ ^[1-9][0-9]*$ && $start =~ ^[0-9]+\.[0-9]+$ ]] || fail "xid $xid, start_time $start"
    assert_eq "audiovm               D  dom0
autostart             D  False
backup_timestamp      U
debug                 D  False
default_dispvm        D  None
default_user          D  user
dns                   D  
gateway               D  
guivm                 D  dom0
icon                  D  appvm-blue
include_in_backups    D  True
installed_by_rpm      D  False
ip                    D  
kernel                D  
kernelopts            D  
klass                 D  AppVM
label                 -  blue
mac                   D  $mac
management_dispvm     D  None
maxmem                D  4000
memory                D  400
name                  -  work
netvm                 D  None
provides_network      D  False
qid                   -  2
qrexec_timeout        D  60
shutdown_timeout      D  60
start_time            D  $start
template              -  minimal
template_for_dispvms  D  False
updateable            D  False
uuid                  -  $uuid
vcpus                 D  2
virt_mode             D  sandbox
visible_gateway       D  
visible_ip            D  
xid                   D  $xid" "$(readme 0 'qvm-prefs work')"
    assert_eq "" "$(readme 0 'qvm-firewall work del accept')"
    assert_eq "" "$(readme 0 'qvm-firewall work add accept dsthost=debian.org proto=tcp dstports=443')"
    assert_eq "" "$(readme 0 'qvm-firewall work add drop')"
    assert_eq "NO  ACTION  HOST        PROTOCOL  PORT(S)  SPECIAL TARGET  ICMP TYPE  EXPIRE  COMMENT
0   accept  debian.org  tcp       443      -               -          -       -
1   drop    -           -         -        -               -          -       -" \
        "$(readme 0 'qvm-firewall work')"
    assert_eq "NAME     STATE    CLASS       LABEL  TEMPLATE  NETVM
dom0     Running  AdminVM     black  -         -
minimal  Halted   TemplateVM  black  -         -
work     Running  AppVM       blue   minimal   -" "$(readme 0 'qvm-ls')"
    assert_eq "" "$(readme 0 'qvm-shutdown --wait --all')"
    assert_eq "0|dom0 class=AdminVM state=Running uuid=00000000-0000-0000-0000-000000000000
minimal class=TemplateVM state=Halted uuid=$(qvm-prefs minimal uuid)
work class=AppVM state=Halted uuid=$uuid" \
        "$(readme 0 'qubesd-query dom0 admin.vm.List dom0 </dev/null')"
}

test_readme_calls_between_qubes() {
    readme_start
    assert_eq "" "$(readme 0 'cp policy/90-default.policy $QUBES_ROOT/etc/qubes/policy.d/')"
    assert_eq "" "$(readme 0 "echo 'qubes.Filecopy * work personal allow' > \$QUBES_ROOT/etc/qubes/policy.d/30-user.policy")"
    assert_eq "" "$(readme 0 'qvm-create --label green personal')"
    assert_eq "" "$(readme 0 "qvm-run -p work 'echo draft > report.txt'")"
    # nothing on success: no progress line when stderr is no terminal
    assert_eq "" "$(readme 0 "qvm-run -p work 'qvm-copy-to-vm personal report.txt'")"
    assert_eq "draft" "$(readme 0 "qvm-run -p personal 'cat QubesIncoming/work/report.txt'")"
    readme_lines | grep -qxF 'qrexec-policy-agent' || fail "README's qrexec-policy-agent line"
    assert_eq "" "$(readme 0 'qvm-prefs work template_for_dispvms True; qubes-prefs default_dispvm work')"
    local disp
    disp=$(readme 0 "qvm-run --dispvm -p -- 'hostname'")
    [[ "$disp" =~ ^disp[0-9]+$ ]] || fail "a disposable's hostname: $disp"
    # gone after: removed once it stopped
    for _ in $(seq 500); do
        qvm-ls --raw-list | grep -qx "$disp" || break
        sleep 0.02
    done
    assert_eq "dom0
minimal
personal
work" "$(qvm-ls --raw-list)"
}

test_demo_invocations() {
    make_template debian-12
    make_template minimal
    assert_eq "" "$(demo 0 'qubes-prefs default_template debian-12')"
    # sys-net's uplink: an interface name nothing uses (the demo's is its internet's veth)
    assert_eq "" "$(uplink=qbreadme$$ web=10.200.0.1 demo 0 'qvm-create-default-netvms --uplink $uplink --uplink-address 10.200.0.2/24 --uplink-gateway $web --uplink-dns $web')"
    assert_eq "NAME          CLASS  LABEL  NETVM    TEMPLATE
sys-firewall  AppVM  green  sys-net  debian-12
sys-net       AppVM  red    -        debian-12" \
        "$(demo 0 'qvm-ls --fields name,class,label,netvm,template sys-net sys-firewall')"
    assert_eq "" "$(demo 0 'qvm-create --label blue work')"
    assert_eq "" "$(demo 0 'qvm-create --label purple --template minimal personal')"
    assert_eq "" "$(demo 0 'qvm-create --label red untrusted --prop netvm=')"
    assert_eq "sys-firewall" "$(demo 0 'qubes-prefs default_netvm')"
    assert_eq "sys-firewall" "$(demo 0 'qvm-prefs work netvm')"
    assert_eq "qvm-prefs: error: Loops in network are unsupported" \
        "$(demo 1 'qvm-prefs --default sys-net netvm')"
    assert_eq "$(prop work ip)" "$(demo 0 'qvm-prefs work ip')"
    assert_eq "$(prop sys-firewall gateway)" "$(demo 0 'qvm-prefs work visible_gateway')"
    assert_eq "400" "$(demo 0 'qvm-prefs work memory')"
    assert_eq "" "$(demo 0 'qvm-prefs debian-12 memory 800')"
    assert_eq "800" "$(demo 0 'qvm-prefs work memory')"
    assert_eq "" "$(demo 0 'qvm-prefs work memory 1200')"
    assert_eq "" "$(demo 0 'qvm-prefs --default work memory')"
    assert_eq "800" "$(demo 0 'qvm-prefs work memory')"
    assert_eq "" "$(demo 0 'qvm-features work service.cups 1')"
    assert_eq "service.cups  1" "$(demo 0 'qvm-features work')"
    assert_eq "" "$(demo 0 'qvm-tags work add project-x')"
    assert_eq "created-by-dom0
project-x" "$(demo 0 'qvm-tags work list')"
    assert_eq "" "$(demo 0 'qvm-notes work --set "keys for project X live here"')"
    assert_eq "keys for project X live here" "$(demo 0 'qvm-notes work')"
    assert_eq "" "$(demo 0 'qvm-firewall work reset')"
    assert_eq "" "$(demo 0 'qvm-firewall work del accept')"
    assert_eq "" "$(demo 0 'qvm-firewall work add accept dsthost=web.example proto=tcp dstports=443')"
    assert_eq "" "$(demo 0 'qvm-firewall work add accept specialtarget=dns')"
    assert_eq "" "$(demo 0 'qvm-firewall work add drop')"
    assert_eq "NO  ACTION  HOST         PROTOCOL  PORT(S)  SPECIAL TARGET  ICMP TYPE  EXPIRE  COMMENT
0   accept  web.example  tcp       443      -               -          -       -
1   accept  -            -         -        dns             -          -       -
2   drop    -            -         -        -               -          -       -" \
        "$(demo 0 'qvm-firewall work list')"
    assert_eq "" "$(demo 0 'qvm-remove --force untrusted')"
    assert_eq "qvm-clone: Cloning private volume" "$(demo 0 'qvm-clone work work-copy')"
    assert_eq "" "$(demo 0 'qvm-remove --force work-copy')"
    assert_eq "debian-12
dom0
minimal
personal
sys-firewall
sys-net
work" "$(demo 0 'qvm-ls --raw-list')"
}
