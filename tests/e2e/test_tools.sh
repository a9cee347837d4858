# The qvm-* tools end to end (reference §5).
source "$(dirname "${BASH_SOURCE[0]}")/helpers.sh"

setup() {
    start_qubesd || return 1
    mk_template fedora
    mk_appvm work fedora blue
    mk_appvm net fedora
    ok admin.vm.property.Set net provides_network True
    ok admin.vm.property.Set work netvm net
}

test_qvm_ls_default_table() {
    assert_eq "NAME    STATE    CLASS       LABEL  TEMPLATE  NETVM
dom0    Running  AdminVM     black  -         -
fedora  Halted   TemplateVM  black  -         -
net     Halted   AppVM       red    fedora    -
work    Halted   AppVM       blue   fedora    net" "$(run_tool 0 qvm-ls)"
    assert_eq "NAME  STATE   CLASS  LABEL  TEMPLATE  NETVM
work  Halted  AppVM  blue   fedora    net" "$(run_tool 0 qvm-ls work)"
}

test_qvm_ls_raw_and_fields() {
    assert_eq "dom0
fedora
net
work" "$(run_tool 0 qvm-ls --raw-list)"
    assert_eq "dom0|AdminVM|black|-|-
fedora|TemplateVM|black|-|2
net|AppVM|red|-|2
work|AppVM|blue|net|2" "$(run_tool 0 qvm-ls --raw-data --fields name,class,label,netvm,vcpus)"
    assert_eq "NAME  FLAGS     IP          GATEWAY     VCPUS
net   a--N----  10.137.0.3  -           2
work  a-------  10.137.0.2  10.137.0.3  2" "$(run_tool 0 qvm-ls -O name,flags,ip,gateway,vcpus work net)"
    assert_eq "NAME  QID  DEFAULT-USER
dom0  0    -
work  2    user" "$(run_tool 0 qvm-ls --fields NAME,qid,default-user dom0 work)"
    u=$(uuid_of work)
    assert_eq "work|Halted|AppVM|blue|2|-1|$u" "$(run_tool 0 qvm-ls --raw-data --format full work)"
    out=$(run_tool 2 qvm-ls --format bogus)
    assert_contains "qvm-ls: error: argument --format/-o: invalid choice: 'bogus' (choose from 'simple', 'network', 'kernel', 'full', 'prefs', 'disk')" "$out"
    out=$(run_tool 2 qvm-ls nosuch)
    assert_contains "qvm-ls: error: no such domain: 'nosuch'" "$out"
}

test_qvm_ls_filters() {
    ok admin.vm.tag.Set work special
    ok admin.vm.tag.Set fedora other
    assert_eq "fedora" "$(run_tool 0 qvm-ls --raw-list --class TemplateVM)"
    assert_eq "net
work" "$(run_tool 0 qvm-ls --raw-list --class AppVM)"
    assert_eq "dom0" "$(run_tool 0 qvm-ls --raw-list --running)"
    assert_eq "fedora
net
work" "$(run_tool 0 qvm-ls --raw-list --halted)"
    assert_eq "work" "$(run_tool 0 qvm-ls --raw-list --tags special)"
    assert_eq "fedora
work" "$(run_tool 0 qvm-ls --raw-list --tags special other)"
    assert_eq "work" "$(run_tool 0 qvm-ls --raw-list --label blue)"
    assert_eq "" "$(run_tool 0 qvm-ls --raw-list --paused)"
    # as upstream, --raw-data/--raw-list are by name whatever --sort and --reverse say
    assert_eq "dom0
fedora
net
work" "$(run_tool 0 qvm-ls --raw-list --reverse)"
    assert_eq "NAME
work
net
fedora
dom0" "$(run_tool 0 qvm-ls -O name --reverse)"
}

test_qvm_ls_json() {
    out=$(run_tool 0 qvm-ls --json)
    got=$(printf '%s' "$out" | python3 -c '
import json, sys
rows = json.load(sys.stdin)
for r in rows:
    print(" ".join("%s=%s" % (k, r[k]) for k in ("name", "state", "class", "label", "template", "netvm")))
')
    assert_eq "name=dom0 state=Running class=AdminVM label=black template=- netvm=-
name=fedora state=Halted class=TemplateVM label=black template=- netvm=-
name=net state=Halted class=AppVM label=red template=fedora netvm=-
name=work state=Halted class=AppVM label=blue template=fedora netvm=net" "$got"
    got=$(qvm-ls --json -O name,ip,vcpus work | python3 -c 'import json,sys; print(json.load(sys.stdin))')
    assert_eq "[{'name': 'work', 'ip': '10.137.0.2', 'vcpus': '2'}]" "$got"
}

test_qvm_create() {
    run_tool 0 qvm-create -t fedora -l green --prop memory=800 --property vcpus=3 newq >/dev/null
    expect "0|default=False type=int 800" admin.vm.property.Get newq memory
    expect "0|default=False type=int 3" admin.vm.property.Get newq vcpus
    expect "0|default=False type=label green" admin.vm.property.Get newq label
    expect "0|default=False type=vm fedora" admin.vm.property.Get newq template
    run_tool 0 qvm-create --class TemplateVM --label red tpl2 >/dev/null
    run_tool 0 qvm-create --standalone -l red sa >/dev/null
    run_tool 0 qvm-create -C AppVM --template tpl2 --label purple app2 >/dev/null
    run_tool 0 qvm-create -P varlibqubes -t fedora -l red pooled >/dev/null
    assert_eq "0|newq class=AppVM
pooled class=AppVM
sa class=StandaloneVM
tpl2 class=TemplateVM
app2 class=AppVM" "$(for q in newq pooled sa tpl2 app2; do call admin.vm.List $q | sed 's/ state=.*//'; done | sed '2,$s/^0|//')"
    # server errors: exit 1, "qvm-create: error: ..."
    assert_eq "qvm-create: error: VM newq already exists" "$(run_tool 1 qvm-create -t fedora -l red newq)"
    assert_eq "qvm-create: error: Template for the qube not specified, nor default template set." \
        "$(run_tool 1 qvm-create -l red x1)"
    assert_eq "qvm-create: error: VM name cannot start with hyphen, underscore, dot or numbers" \
        "$(run_tool 1 qvm-create -t fedora -l red 9x)"
    # a property that cannot be set removes the qube again
    assert_eq "qvm-create: error: Error setting property memory (qube removed): memory must be positive" \
        "$(run_tool 1 qvm-create -t fedora -l red --prop memory=0 bad1)"
    expect "2|QubesVMNotFoundError||No such domain: 'bad1'|" admin.vm.List bad1
    # usage errors: exit 2
    out=$(run_tool 2 qvm-create -t fedora x2)
    assert_contains "qvm-create: error: --label option is mandatory" "$out"
    assert_contains "usage: qvm-create " "$out"
    out=$(run_tool 2 qvm-create -t fedora -l nolabel x3)
    assert_contains "qvm-create: error: no such label: 'nolabel'; available: 'red', 'orange', 'yellow', 'green', 'gray', 'blue', 'purple', 'black'" "$out"
    out=$(run_tool 2 qvm-create -C Foo -l red x4)
    assert_contains "qvm-create: error: no such domain class: 'Foo'" "$out"
    out=$(run_tool 2 qvm-create -l red)
    assert_contains "qvm-create: error: VMNAME is mandatory" "$out"
    out=$(run_tool 2 qvm-create --prop memory -l red x5)
    assert_contains "qvm-create: error: invalid property token: 'memory'" "$out"
    out=$(run_tool 2 qvm-create --bogus)
    assert_contains "qvm-create: error: unrecognized arguments: --bogus" "$out"
    assert_eq "AdminVM
AppVM
DispVM
StandaloneVM
TemplateVM" "$(run_tool 0 qvm-create --help-classes)"
    list=$(call admin.vm.List dom0 | sed 's/ class=.*//' | tr '\n' ' ')
    assert_eq "0|dom0 app2 fedora net newq pooled sa tpl2 work " "$list"
}

test_qvm_remove() {
    run_tool 0 qvm-create -t fedora -l red gone >/dev/null
    run_tool 0 qvm-remove --force gone >/dev/null
    expect "2|QubesVMNotFoundError||No such domain: 'gone'|" admin.vm.List gone
    # confirmation
    run_tool 0 qvm-create -t fedora -l red gone2 >/dev/null
    out=$(echo n | qvm-remove gone2 2>&1)
    assert_eq "1" "$?"
    assert_eq "This will completely remove the selected VM(s)...
  gone2
Are you sure? [y/N] Remove cancelled." "$out"
    out=$(echo y | qvm-remove gone2 2>&1)
    assert_eq "0" "$?"
    expect "2|QubesVMNotFoundError||No such domain: 'gone2'|" admin.vm.List gone2
    # in use
    assert_eq "VM fedora cannot be removed. It is in use as:
 - template for net
 - template for work
qvm-remove: error: Domain is in use: 'fedora' (template of net)" "$(run_tool 1 qvm-remove -f fedora)"
    assert_eq "Domain 'dom0' cannot be removed." "$(run_tool 1 qvm-remove -f dom0)"
    out=$(run_tool 2 qvm-remove -f nosuch)
    assert_contains "qvm-remove: error: no such domain: 'nosuch'" "$out"
    out=$(run_tool 2 qvm-remove -f)
    assert_contains "qvm-remove: error: one of the arguments --all VMNAME is required" "$out"
}

test_qvm_clone() {
    ok admin.vm.property.Set work memory 777
    ok admin.vm.property.Set work default_user alice
    ok admin.vm.tag.Set work t1
    ok admin.vm.feature.Set work f1 v1
    ok admin.vm.feature.Set work f2 ""
    ok admin.vm.notes.Set work "" "my notes"
    ok admin.vm.firewall.Set work "" "action=accept dsthost=example.com
action=drop"
    run_tool 0 qvm-clone work copy >/dev/null
    expect "0|copy class=AppVM state=Halted uuid=$(uuid_of copy)
" admin.vm.List copy
    expect "0|default=False type=int 777" admin.vm.property.Get copy memory
    expect "0|default=False type=str alice" admin.vm.property.Get copy default_user
    expect "0|default=False type=vm net" admin.vm.property.Get copy netvm
    expect "0|default=False type=label blue" admin.vm.property.Get copy label
    expect "0|default=False type=vm fedora" admin.vm.property.Get copy template
    expect "0|default=True type=int 2" admin.vm.property.Get copy vcpus
    expect "0|created-by-dom0
t1
" admin.vm.tag.List copy
    expect "0|f1
f2
" admin.vm.feature.List copy
    expect "0|v1" admin.vm.feature.Get copy f1
    expect "0|" admin.vm.feature.Get copy f2
    expect "0|my notes" admin.vm.notes.Get copy
    expect "0|action=accept dsthost=example.com
action=drop
" admin.vm.firewall.Get copy
    [ "$(uuid_of copy)" != "$(uuid_of work)" ] || fail "clone has the same uuid"
    assert_eq "qvm-clone: error: VM copy already exists" "$(run_tool 1 qvm-clone work copy)"
    out=$(run_tool 2 qvm-clone nosuch x)
    assert_contains "qvm-clone: error: no such domain: 'nosuch'" "$out"
    out=$(run_tool 2 qvm-clone work)
    assert_contains "qvm-clone: error: the following arguments are required: NAME" "$out"
    # a template clones into a template
    run_tool 0 qvm-clone fedora fedora2 >/dev/null
    expect "0|fedora2 class=TemplateVM state=Halted uuid=$(uuid_of fedora2)
" admin.vm.List fedora2
}

test_qvm_prefs() {
    assert_eq "800" "$(run_tool 0 qvm-prefs work memory 800; qvm-prefs work memory)"
    assert_eq "" "$(run_tool 0 qvm-prefs --default work memory)"
    assert_eq "400" "$(run_tool 0 qvm-prefs work memory)"
    assert_eq "" "$(run_tool 0 qvm-prefs --hide-default work memory)"
    assert_eq "fedora" "$(run_tool 0 qvm-prefs --hide-default work template)"
    assert_eq "net" "$(run_tool 0 qvm-prefs work netvm)"
    run_tool 0 qvm-prefs work netvm none >/dev/null
    assert_eq "" "$(run_tool 0 qvm-prefs work netvm)"
    expect "0|default=False type=vm " admin.vm.property.Get work netvm
    run_tool 0 qvm-prefs work netvm net >/dev/null
    run_tool 0 qvm-prefs work default-user bob >/dev/null
    expect "0|default=False type=str bob" admin.vm.property.Get work default_user
    # listing: name, D (default) / - (set) / U (unset), value
    out=$(run_tool 0 qvm-prefs work)
    assert_eq "audiovm               D  dom0
autostart             D  False
backup_timestamp      U
debug                 D  False
default_dispvm        D  None
default_user          -  bob
dns                   D  10.139.1.1 10.139.1.2" "$(printf '%s\n' "$out" | head -7)"
    assert_eq "netvm                 -  net" "$(printf '%s\n' "$out" | grep '^netvm ')"
    assert_eq "label                 -  blue
memory                D  400" "$(printf '%s\n' "$out" | grep -E '^(label|memory) ')"
    assert_eq "backup_timestamp      U
default_user          -  bob
label                 -  blue
name                  -  work
netvm                 -  net
qid                   -  2
template              -  fedora
uuid                  -  $(uuid_of work)" "$(run_tool 0 qvm-prefs --hide-default work)"
    out=$(run_tool 0 qvm-prefs --help-properties work)
    assert_eq "  audiovm               VM used for Audio
  autostart             Setting this to True means that VM should be autostarted
                          on dom0 boot." "$(printf '%s\n' "$out" | head -3)"
    # errors
    out=$(run_tool 2 qvm-prefs work nope)
    assert_contains "qvm-prefs: error: no such property: 'nope'" "$out"
    assert_eq "qvm-prefs: error: memory must be positive" "$(run_tool 1 qvm-prefs work memory 0)"
    out=$(run_tool 2 qvm-prefs nosuch)
    assert_contains "qvm-prefs: error: no such domain: 'nosuch'" "$out"
    out=$(run_tool 2 qvm-prefs)
    assert_contains "qvm-prefs: error: the following arguments are required: VMNAME" "$out"
}

test_qubes_prefs() {
    assert_eq "3" "$(run_tool 0 qubes-prefs stats_interval)"
    run_tool 0 qubes-prefs stats-interval 5 >/dev/null
    assert_eq "5" "$(run_tool 0 qubes-prefs stats_interval)"
    run_tool 0 qubes-prefs -D stats_interval >/dev/null
    assert_eq "3" "$(run_tool 0 qubes-prefs stats_interval)"
    assert_eq "" "$(run_tool 0 qubes-prefs default_netvm)"
    run_tool 0 qubes-prefs default_template fedora >/dev/null
    expect "0|default=False type=vm fedora" admin.property.Get dom0 default_template
    out=$(run_tool 0 qubes-prefs)
    assert_eq "check_updates_vm          D  True
clockvm                   D  None
default_audiovm           D  dom0" "$(printf '%s\n' "$out" | head -3)"
    assert_eq "default_template          -  fedora" "$(printf '%s\n' "$out" | grep '^default_template ')"
    assert_eq "qubes-prefs: error: wrong VM class: domains['work'] is of type AppVM and not TemplateVM" \
        "$(run_tool 1 qubes-prefs default_template work)"
    out=$(run_tool 2 qubes-prefs nope)
    assert_contains "qubes-prefs: error: no such property: 'nope'" "$out"
}

test_qvm_features() {
    assert_eq "" "$(run_tool 0 qvm-features work)"
    run_tool 0 qvm-features work zeta 1 >/dev/null
    run_tool 0 qvm-features work alpha "two words" >/dev/null
    assert_eq "alpha  two words
zeta   1" "$(run_tool 0 qvm-features work)"
    assert_eq "two words" "$(run_tool 0 qvm-features work alpha)"
    assert_eq "" "$(run_tool 1 qvm-features work nope)"
    run_tool 0 qvm-features --unset work zeta >/dev/null
    run_tool 0 qvm-features -D work zeta >/dev/null
    assert_eq "alpha  two words" "$(run_tool 0 qvm-features work)"
    assert_eq "qvm-features: error: feature name contains illegal characters" \
        "$(run_tool 1 qvm-features work a/b x)"
    out=$(run_tool 2 qvm-features nosuch)
    assert_contains "qvm-features: error: no such domain: 'nosuch'" "$out"
}

test_qvm_tags() {
    assert_eq "created-by-dom0" "$(run_tool 0 qvm-tags work)"
    run_tool 0 qvm-tags work add t2 t1 >/dev/null
    assert_eq "created-by-dom0
t1
t2" "$(run_tool 0 qvm-tags work list)"
    assert_eq "t1" "$(run_tool 0 qvm-tags work list t1)"
    assert_eq "" "$(run_tool 1 qvm-tags work list tX)"
    run_tool 0 qvm-tags work del t1 tX >/dev/null
    assert_eq "created-by-dom0
t2" "$(run_tool 0 qvm-tags work ls)"
    assert_eq "qvm-tags: error: disallowed characters in tag 'a.b'" "$(run_tool 1 qvm-tags work add a.b)"
    out=$(run_tool 2 qvm-tags work frob)
    assert_contains "qvm-tags: error: argument command: invalid choice: 'frob'" "$out"
}

test_qvm_check() {
    assert_eq "qvm-check: work: exists" "$(run_tool 0 qvm-check work)"
    assert_eq "qvm-check: nosuch: non-existent!" "$(run_tool 1 qvm-check nosuch)"
    assert_eq "qvm-check: work: exists
qvm-check: nosuch: non-existent!" "$(run_tool 1 qvm-check work nosuch)"
    assert_eq "qvm-check: None of qubes: running" "$(run_tool 1 qvm-check --running work)"
    assert_eq "qvm-check: dom0: running" "$(run_tool 3 qvm-check --running dom0 work)"
    assert_eq "qvm-check: fedora: template" "$(run_tool 0 qvm-check --template fedora)"
    assert_eq "qvm-check: work: networked" "$(run_tool 0 qvm-check --networked work)"
    assert_eq "qvm-check: net: networked" "$(run_tool 3 qvm-check --networked net fedora)"
    assert_eq "" "$(run_tool 0 qvm-check -q work)"
    assert_eq "" "$(run_tool 1 qvm-check -q nosuch)"
}

test_qvm_notes() {
    assert_eq "" "$(run_tool 0 qvm-notes work)"
    run_tool 0 qvm-notes --set "hi there" work >/dev/null
    assert_eq "hi there" "$(run_tool 0 qvm-notes -p work)"
    run_tool 0 qvm-notes --append more work >/dev/null
    assert_eq "hi there
more" "$(run_tool 0 qvm-notes --print work)"
    printf 'from\nfile' >"$QUBES_ROOT/notes.txt"
    run_tool 0 qvm-notes --import "$QUBES_ROOT/notes.txt" work >/dev/null
    expect "0|from
file" admin.vm.notes.Get work
    printf 'stdin' | qvm-notes -i - work
    expect "0|stdin" admin.vm.notes.Get work
    run_tool 0 qvm-notes -d -f work >/dev/null
    expect "0|" admin.vm.notes.Get work
    out=$(run_tool 2 qvm-notes --set a --delete work)
    assert_contains "qvm-notes: error: argument --delete/-d: not allowed with argument --set/-s" "$out"
    out=$(run_tool 1 qvm-notes -p dom0)
    assert_eq "qvm-notes: error: Unable to get qube notes: expected destination to not be AdminVM" "$out"
}

test_tools_help() {
    for t in qvm-ls qvm-create qvm-create-default-netvms qvm-remove qvm-clone qvm-prefs qubes-prefs \
        qvm-features qvm-tags qvm-check qvm-notes qvm-firewall; do
        out=$("$t" --help 2>&1)
        assert_eq 0 "$?" "$t --help exit status"
        assert_eq "usage: $t " "${out:0:$((8 + ${#t}))}" "$t --help"
        out=$("$t" -h 2>&1)
        assert_eq 0 "$?" "$t -h exit status"
        out=$("$t" --no-such-option 2>&1)
        assert_eq 2 "$?" "$t with an unknown option"
        assert_contains "$t: error: unrecognized arguments: --no-such-option" "$out"
    done
    out=$(qubesd-query --help)
    assert_eq 0 "$?"
    assert_contains "usage: qubesd-query " "$out"
}

test_tools_honour_qubes_root() {
    # a second qubesd on another root, with other content
    other=$(mktemp -d /tmp/qubicle-e2e.XXXXXX)
    daemon_start other-qubesd "$BIN/qubesd" --root "$other"
    other_pid=$DAEMON_PID
    wait_until 30 eval 'kill -0 $other_pid && QUBES_ROOT=$other qvm-check dom0 >/dev/null 2>&1' ||
        fail "qubesd on $other did not start: $(cat "$QUBES_ROOT/other-qubesd.out")"
    (
        export QUBES_ROOT=$other
        qvm-create --class TemplateVM -l red only-there >/dev/null || exit 1
        [ "$(qvm-ls --raw-list)" = "dom0
only-there" ] || exit 2
        qvm-prefs only-there vcpus 4 || exit 3
        qvm-check only-there >/dev/null 2>&1 || exit 4
        qvm-features only-there f 1 && qvm-tags only-there add t && qvm-notes --set n only-there ||
            exit 5
        qubes-prefs stats_interval 9 || exit 6
        qvm-firewall only-there reset || exit 7
        qvm-clone only-there copy-there || exit 8
        qvm-remove -f copy-there || exit 9
    )
    rc=$?
    kill -TERM "$other_pid"
    daemon_wait "$other_pid" 0
    rm -rf "$other"
    assert_eq 0 "$rc" "tools on the other root"
    # this root saw none of it
    assert_eq "dom0
fedora
net
work" "$(qvm-ls --raw-list)"
    assert_eq "3" "$(qubes-prefs stats_interval)"
    # no qubesd on a root: a clear error, exit 1
    empty=$(mktemp -d /tmp/qubicle-e2e.XXXXXX)
    out=$(QUBES_ROOT=$empty qvm-ls 2>&1)
    rc=$?
    rm -rf "$empty"
    assert_eq 1 "$rc" "qvm-ls without qubesd"
    assert_contains "qvm-ls: error: Failed to connect to qubesd service: $empty/run/qubesd.sock: No such file or directory" "$out"
}
