# Qubes themselves: classes, listing, creation, removal, persistence and the
# daemon's life cycle (reference admin-api.md §2, qubesd-facts §1).
source "$(dirname "${BASH_SOURCE[0]}")/helpers.sh"

DOM0_LINE="dom0 class=AdminVM state=Running uuid=00000000-0000-0000-0000-000000000000"

test_vmclass_list() {
    expect "0|AdminVM
AppVM
DispVM
StandaloneVM
TemplateVM
" admin.vmclass.List dom0
}

test_vm_list_order() {
    mk_template zz-tpl
    mk_appvm m zz-tpl
    mk_appvm a1 zz-tpl
    mk_standalone B
    mk_appvm a zz-tpl
    # dom0 first, then by name (byte order: upper case before lower case)
    expect "0|$DOM0_LINE
B class=StandaloneVM state=Halted uuid=$(uuid_of B)
a class=AppVM state=Halted uuid=$(uuid_of a)
a1 class=AppVM state=Halted uuid=$(uuid_of a1)
m class=AppVM state=Halted uuid=$(uuid_of m)
zz-tpl class=TemplateVM state=Halted uuid=$(uuid_of zz-tpl)
" admin.vm.List dom0
    # a single qube as destination lists only that qube
    expect "0|m class=AppVM state=Halted uuid=$(uuid_of m)
" admin.vm.List m
    # uuids are random version-4 uuids, all different
    u=$(uuid_of m)
    [[ $u =~ ^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$ ]] ||
        fail "not a v4 uuid: $u"
    [ "$(uuid_of a)" != "$u" ] || fail "two qubes share a uuid"
}

test_create_each_class() {
    mk_template fedora
    mk_appvm work fedora blue
    mk_standalone alone
    # a DispVM needs an AppVM with template_for_dispvms
    expect "2|QubesPropertyValueError||template for DispVM must have template_for_dispvms=True|" \
        admin.vm.Create.DispVM dom0 work "name=disp1 label=red"
    ok admin.vm.property.Set work template_for_dispvms True
    ok admin.vm.Create.DispVM dom0 work "name=disp1 label=red"
    expect "0|$DOM0_LINE
alone class=StandaloneVM state=Halted uuid=$(uuid_of alone)
disp1 class=DispVM state=Halted uuid=$(uuid_of disp1)
fedora class=TemplateVM state=Halted uuid=$(uuid_of fedora)
work class=AppVM state=Halted uuid=$(uuid_of work)
" admin.vm.List dom0
    expect "0|default=False type=vm fedora" admin.vm.property.Get work template
    expect "0|default=False type=vm work" admin.vm.property.Get disp1 template
    expect "0|default=False type=label blue" admin.vm.property.Get work label
    # qids: lowest unused, in creation order
    expect "0|default=False type=int 1" admin.vm.property.Get fedora qid
    expect "0|default=False type=int 2" admin.vm.property.Get work qid
    expect "0|default=False type=int 3" admin.vm.property.Get alone qid
    expect "0|default=False type=int 4" admin.vm.property.Get disp1 qid
    # a DispVM has a dispid in 0..9999
    d=$(prop disp1 dispid)
    [[ $d =~ ^[0-9]+$ ]] && [ "$d" -lt 10000 ] || fail "dispid: $d"
    for q in fedora work alone disp1; do
        expect "0|created-by-dom0
" admin.vm.tag.List $q
    done
    # classes without a template refuse one
    expect "2|ProtocolError||StandaloneVM cannot be based on template|" \
        admin.vm.Create.StandaloneVM dom0 fedora "name=s2 label=red"
    expect "2|ProtocolError||TemplateVM cannot be based on template|" \
        admin.vm.Create.TemplateVM dom0 fedora "name=s2 label=red"
    expect "0|$DOM0_LINE
alone class=StandaloneVM state=Halted uuid=$(uuid_of alone)
disp1 class=DispVM state=Halted uuid=$(uuid_of disp1)
fedora class=TemplateVM state=Halted uuid=$(uuid_of fedora)
work class=AppVM state=Halted uuid=$(uuid_of work)
" admin.vm.List dom0
}

test_create_dispvm_from_default_dispvm() {
    mk_template fedora
    mk_appvm dvm fedora
    expect "2|QubesValueError||Template for the qube not specified, nor default template set.|" \
        admin.vm.Create.DispVM dom0 "" "name=d label=red"
    ok admin.vm.property.Set dvm template_for_dispvms True
    ok admin.property.Set dom0 default_dispvm dvm
    ok admin.vm.Create.DispVM dom0 "" "name=d label=red"
    expect "0|default=False type=vm dvm" admin.vm.property.Get d template
}

test_create_in_pool() {
    mk_template fedora
    ok admin.vm.CreateInPool.AppVM dom0 fedora "name=p1 label=red pool=varlibqubes"
    ok admin.vm.CreateInPool.AppVM dom0 fedora \
        "name=p2 label=red pool:root=varlibqubes pool:private=linux-kernel"
    ok admin.vm.CreateInPool.TemplateVM dom0 "" "name=p3 label=red pool:volatile=varlibqubes"
    expect "2|QubesException||Unknown storage pool nope|" \
        admin.vm.CreateInPool.AppVM dom0 fedora "name=x label=red pool=nope"
    expect "2|QubesException||Unknown storage pool nope|" \
        admin.vm.CreateInPool.AppVM dom0 fedora "name=x label=red pool:root=nope"
    expect "2|ProtocolError||Only one of 'pool=' and 'pool:volume=' can be used|" \
        admin.vm.CreateInPool.AppVM dom0 fedora "name=x label=red pool=varlibqubes pool:root=varlibqubes"
    expect "2|ProtocolError||Only one of 'pool=' and 'pool:volume=' can be used|" \
        admin.vm.CreateInPool.AppVM dom0 fedora "name=x label=red pool:root=varlibqubes pool=varlibqubes"
    expect "2|ProtocolError||Invalid volume name: 'bogus'|" \
        admin.vm.CreateInPool.AppVM dom0 fedora "name=x label=red pool:bogus=varlibqubes"
    expect "2|ProtocolError||duplicated pool parameter|" \
        admin.vm.CreateInPool.AppVM dom0 fedora "name=x label=red pool=varlibqubes pool=varlibqubes"
    expect "2|ProtocolError||duplicated pool:root parameter|" \
        admin.vm.CreateInPool.AppVM dom0 fedora "name=x label=red pool:root=varlibqubes pool:root=varlibqubes"
    # Create (not InPool) knows no pool parameter
    expect "2|ProtocolError||Invalid param name: 'pool'|" \
        admin.vm.Create.AppVM dom0 fedora "name=x label=red pool=varlibqubes"
    expect "2|ProtocolError||no such method: 'admin.vm.CreateInPool.Nope'|" \
        admin.vm.CreateInPool.Nope dom0 "" "name=x label=red pool=varlibqubes"
    expect "2|QubesVMNotFoundError||No such domain: 'x'|" admin.vm.List x
    list=$(call admin.vm.List dom0 | sed 's/ class=.*//' | tr '\n' ' ')
    assert_eq "0|dom0 fedora p1 p2 p3 " "$list" "qubes"
}

test_create_duplicates() {
    mk_template fedora
    mk_appvm work fedora
    expect "2|QubesVMAlreadyExistsError||VM work already exists|" \
        admin.vm.Create.AppVM dom0 fedora "name=work label=red"
    expect "2|QubesVMAlreadyExistsError||VM fedora already exists|" \
        admin.vm.Create.StandaloneVM dom0 "" "name=fedora label=red"
    expect "2|QubesVMAlreadyExistsError||VM dom0 already exists|" \
        admin.vm.Create.AppVM dom0 fedora "name=dom0 label=red"
    expect "2|ProtocolError||duplicated parameters|" \
        admin.vm.Create.AppVM dom0 fedora "name=a name=b label=red"
    expect "2|ProtocolError||duplicated parameters|" \
        admin.vm.Create.AppVM dom0 fedora "name=a label=red label=blue"
    list=$(call admin.vm.List dom0 | sed 's/ class=.*//' | tr '\n' ' ')
    assert_eq "0|dom0 fedora work " "$list" "qubes"
    expect "0|default=False type=label red" admin.vm.property.Get work label
}

test_create_invalid_names() {
    mk_template fedora
    for pair in \
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa|VM name must be shorter than 32 characters" \
        "1abc|VM name cannot start with hyphen, underscore, dot or numbers" \
        "_abc|VM name cannot start with hyphen, underscore, dot or numbers" \
        ".abc|VM name cannot start with hyphen, underscore, dot or numbers" \
        "-abc|VM name cannot start with hyphen, underscore, dot or numbers" \
        "a/b|VM name contains illegal characters" \
        "a+b|VM name contains illegal characters" \
        "a:b|VM name contains illegal characters" \
        "|VM name contains illegal characters" \
        "Domain-0|VM name cannot be 'Domain-0'" \
        "none|VM name cannot be 'none' nor 'default'" \
        "default|VM name cannot be 'none' nor 'default'" \
        "sys-net-dm|VM name cannot end with -dm"; do
        name=${pair%%|*} msg=${pair#*|}
        expect "2|QubesValueError||$msg|" admin.vm.Create.AppVM dom0 fedora "name=$name label=red"
    done
    # 31 characters is the longest allowed name
    ok admin.vm.Create.AppVM dom0 fedora "name=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa label=red"
    ok admin.vm.Create.AppVM dom0 fedora "name=a.b_c-d9 label=red"
    list=$(call admin.vm.List dom0 | sed 's/ class=.*//' | tr '\n' ' ')
    assert_eq "0|dom0 a.b_c-d9 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa fedora " "$list" "qubes"
}

test_create_label_and_payload_errors() {
    mk_template fedora
    expect "2|QubesLabelNotFoundError||Label does not exist: nope|" \
        admin.vm.Create.AppVM dom0 fedora "name=x label=nope"
    # a label is named in Create, never given by index
    expect "2|QubesInvalidLabelError||Invalid label name: '3'|" \
        admin.vm.Create.AppVM dom0 fedora "name=x label=3"
    expect "2|QubesInvalidLabelError||Invalid label name: 'a/b'|" \
        admin.vm.Create.AppVM dom0 fedora "name=x label=a/b"
    expect "2|ProtocolError||Missing name or label|" admin.vm.Create.AppVM dom0 fedora "name=x"
    expect "2|ProtocolError||Missing name or label|" admin.vm.Create.AppVM dom0 fedora "label=red"
    expect "2|ProtocolError||Invalid param name: 'junk'|" \
        admin.vm.Create.AppVM dom0 fedora "name=x label=red junk"
    expect "2|ProtocolError||Invalid param name: 'color'|" \
        admin.vm.Create.AppVM dom0 fedora "name=x label=red color=1"
    expect "2|ProtocolError||Invalid param name: ''|" \
        admin.vm.Create.AppVM dom0 fedora "name=x  label=red"
    expect "2|ProtocolError||expected destination to be AdminVM|" \
        admin.vm.Create.AppVM fedora fedora "name=x label=red"
    # label given by another spelling of the same name works
    ok admin.vm.Create.AppVM dom0 fedora "name=x label=purple"
    expect "0|default=False type=label purple" admin.vm.property.Get x label
    list=$(call admin.vm.List dom0 | sed 's/ class=.*//' | tr '\n' ' ')
    assert_eq "0|dom0 fedora x " "$list" "qubes"
}

test_create_unknown_class() {
    expect "2|ProtocolError||no such method: 'admin.vm.Create.Foo'|" \
        admin.vm.Create.Foo dom0 "" "name=x label=red"
    expect "2|ProtocolError||no such method: 'admin.vm.Create.AdminVM'|" \
        admin.vm.Create.AdminVM dom0 "" "name=x label=red"
    expect "2|ProtocolError||no such method: 'admin.vm.Create.appvm'|" \
        admin.vm.Create.appvm dom0 "" "name=x label=red"
    expect "0|$DOM0_LINE
" admin.vm.List dom0
}

test_create_template_errors() {
    mk_template fedora
    mk_appvm work fedora
    mk_standalone alone
    expect "2|QubesPropertyValueError||wrong VM class: domains['work'] is of type AppVM and not TemplateVM|" \
        admin.vm.Create.AppVM dom0 work "name=x label=red"
    expect "2|QubesPropertyValueError||wrong VM class: domains['alone'] is of type StandaloneVM and not TemplateVM|" \
        admin.vm.Create.AppVM dom0 alone "name=x label=red"
    expect "2|QubesVMNotFoundError||No such domain: 'nope'|" \
        admin.vm.Create.AppVM dom0 nope "name=x label=red"
    expect "2|QubesVMNotFoundError||No such domain: 'x'|" admin.vm.List x
}

test_create_without_default_template() {
    mk_template fedora
    expect "2|QubesValueError||Template for the qube not specified, nor default template set.|" \
        admin.vm.Create.AppVM dom0 "" "name=x label=red"
    ok admin.property.Set dom0 default_template fedora
    ok admin.vm.Create.AppVM dom0 "" "name=x label=red"
    expect "0|default=False type=vm fedora" admin.vm.property.Get x template
}

test_remove() {
    mk_template fedora
    mk_appvm work fedora
    mk_appvm net fedora
    ok admin.vm.property.Set net provides_network True
    ok admin.vm.property.Set work netvm net
    expect "2|QubesVMInUseError||Domain is in use: 'fedora' (template of net)|" admin.vm.Remove fedora
    expect "2|QubesVMInUseError||Domain is in use: 'net' (netvm of work)|" admin.vm.Remove net
    expect "2|QubesVMInUseError||'dom0' cannot be removed|" admin.vm.Remove dom0
    expect "2|QubesVMNotFoundError||No such domain: 'nope'|" admin.vm.Remove nope
    expect "2|ProtocolError||unexpected argument|" admin.vm.Remove work x
    # nothing was removed
    list=$(call admin.vm.List dom0 | sed 's/ class=.*//' | tr '\n' ' ')
    assert_eq "0|dom0 fedora net work " "$list" "qubes"
    # once the reference goes, removal is allowed
    ok admin.vm.property.Set work netvm ""
    ok admin.vm.Remove net
    expect "2|QubesVMInUseError||Domain is in use: 'fedora' (template of work)|" admin.vm.Remove fedora
    ok admin.vm.Remove work
    ok admin.vm.Remove fedora
    expect "0|$DOM0_LINE
" admin.vm.List dom0
    expect "2|QubesVMNotFoundError||No such domain: 'work'|" admin.vm.property.Get work name
    # the qid is free again
    mk_template again
    expect "0|default=False type=int 1" admin.vm.property.Get again qid
}

test_remove_refused_for_global_references() {
    mk_template fedora
    mk_standalone sys-net
    ok admin.vm.property.Set sys-net provides_network True
    ok admin.property.Set dom0 clockvm sys-net
    expect "2|QubesVMInUseError||Domain is in use: 'sys-net' (clockvm of the global properties)|" \
        admin.vm.Remove sys-net
    ok admin.property.Reset dom0 clockvm
    # a default counts: dom0's default_dispvm follows the global one
    mk_appvm dvm fedora
    ok admin.vm.property.Set dvm template_for_dispvms True
    ok admin.property.Set dom0 default_dispvm dvm
    expect "2|QubesVMInUseError||Domain is in use: 'dvm' (default_dispvm of dom0)|" admin.vm.Remove dvm
    ok admin.property.Set dom0 default_dispvm ""
    ok admin.vm.Remove dvm
    ok admin.vm.Remove sys-net
    ok admin.property.Set dom0 default_template fedora
    expect "2|QubesVMInUseError||Domain is in use: 'fedora' (default_template of the global properties)|" \
        admin.vm.Remove fedora
}

test_remove_installed_by_rpm_refused() {
    mk_template fedora
    ok admin.vm.property.Set fedora installed_by_rpm True
    expect "2|QubesVMInUseError||VM installed by package manager: fedora|" admin.vm.Remove fedora
    ok admin.vm.property.Reset fedora installed_by_rpm
    ok admin.vm.Remove fedora
}

# Everything there is to read about the state, for before/after comparisons.
dump_state() {
    call admin.vm.List dom0
    echo
    call admin.property.GetAll dom0
    echo
    call admin.label.List dom0
    echo
    for l in $(call admin.label.List dom0 | tr -d '0|'); do call admin.label.Get dom0 "$l"; echo; done
    for q in $(call admin.vm.List dom0 | sed 's/^0|//; s/ class=.*//'); do
        echo "== $q"
        call admin.vm.property.GetAll "$q"
        echo
        for f in $(call admin.vm.feature.List "$q" | sed 's/^0|//'); do
            echo "$f=$(call admin.vm.feature.Get "$q" "$f")"
        done
        call admin.vm.tag.List "$q"
        echo
        if [ "$q" != dom0 ]; then
            call admin.vm.notes.Get "$q"
            echo
            call admin.vm.firewall.Get "$q"
            echo
        fi
    done
}

test_store_survives_restart() {
    mk_template fedora
    mk_appvm work fedora blue
    mk_appvm net fedora
    mk_standalone alone
    ok admin.vm.CreateInPool.AppVM dom0 fedora "name=pooled label=red pool=varlibqubes"
    ok admin.vm.property.Set net provides_network True
    ok admin.vm.property.Set work netvm net
    ok admin.vm.property.Set net netvm ""
    ok admin.vm.property.Set work memory 1234
    ok admin.vm.property.Set work default_user alice
    ok admin.vm.property.Set fedora vcpus 4
    ok admin.vm.property.Set alone template_for_dispvms True
    ok admin.vm.Create.DispVM dom0 alone "name=disp label=red"
    ok admin.property.Set dom0 default_netvm net
    ok admin.property.Set dom0 default_template fedora
    ok admin.vm.feature.Set work feat1 value1
    ok admin.vm.feature.Set work empty ""
    ok admin.vm.feature.Set dom0 dfeat 1
    ok admin.vm.tag.Set work mytag
    ok admin.vm.tag.Set dom0 dtag
    ok admin.vm.tag.Remove alone created-by-dom0
    ok admin.vm.notes.Set work "" "notes with
lines and ünïcode"
    ok admin.vm.firewall.Set work "" "action=accept dst4=10.0.0.0/8 proto=tcp dstports=443
action=drop comment=rest"
    ok admin.label.Create dom0 custom 0x123456
    ok admin.vm.property.Set alone label custom
    before=$(dump_state)
    restart_qubesd
    after=$(dump_state)
    assert_eq "$before" "$after" "state after a restart"
    # spot checks, in case both dumps were wrong the same way
    expect "0|default=False type=int 1234" admin.vm.property.Get work memory
    expect "0|default=True type=int 4" admin.vm.property.Get work vcpus
    expect "0|value1" admin.vm.feature.Get work feat1
    expect "0|notes with
lines and ünïcode" admin.vm.notes.Get work
    expect "0|action=accept dst4=10.0.0.0/8 proto=tcp dstports=443-443
action=drop comment=rest
" admin.vm.firewall.Get work
    expect "0|9" admin.label.Index dom0 custom
    expect "0|default=False type=label custom" admin.vm.property.Get alone label
    expect "0|dtag
" admin.vm.tag.List dom0
    # a new qube after the restart gets the next qid
    mk_appvm later fedora
    expect "0|default=False type=int 7" admin.vm.property.Get later qid
}

test_second_qubesd_refused() {
    out=$("$BIN/qubesd" 2>&1)
    rc=$?
    assert_eq 1 "$rc" "exit status of a second qubesd"
    assert_eq "qubesd: another qubesd (pid $QUBESD_PID) is already serving root $QUBES_ROOT (lock $QUBES_ROOT/run/qubesd.lock held)" "$out"
    out=$("$BIN/qubesd" --root "$QUBES_ROOT" 2>&1)
    assert_eq 1 "$?" "exit status of a second qubesd (--root)"
    assert_contains "already serving root $QUBES_ROOT " "$out"
    # the first one is unaffected
    assert_serving
    [ -S "$QUBES_ROOT/run/qubesd.sock" ] || fail "socket gone"
}

test_sigterm_exits_cleanly() {
    mk_template fedora
    kill -TERM "$QUBESD_PID"
    wait "$QUBESD_PID"
    rc=$?
    QUBESD_PID=
    assert_eq 0 "$rc" "exit status after SIGTERM"
    [ -e "$QUBES_ROOT/run/qubesd.sock" ] && fail "socket left behind after SIGTERM"
    # and it starts again on the same root, with the same content
    restart_qubesd
    expect "0|fedora class=TemplateVM state=Halted uuid=$(uuid_of fedora)
" admin.vm.List fedora
    kill -INT "$QUBESD_PID"
    wait "$QUBESD_PID"
    assert_eq 0 "$?" "exit status after SIGINT"
    QUBESD_PID=
    [ -e "$QUBES_ROOT/run/qubesd.sock" ] && fail "socket left behind after SIGINT"
    true
}

test_stale_socket_replaced() {
    kill9_qubesd
    [ -S "$QUBES_ROOT/run/qubesd.sock" ] || fail "kill -9 should leave the socket"
    restart_qubesd
    assert_serving
}
