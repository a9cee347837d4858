# admin.Events (reference §1.5, qubesd-facts §2): a python reader on the
# socket prints each event as "1|subject|event|key=value|...".
source "$(dirname "${BASH_SOURCE[0]}")/helpers.sh"

setup() {
    start_qubesd || return 1
    mk_template fedora
}

test_events_create() {
    events_start dom0 domain-tag-add:created-by-dom0
    mk_appvm work fedora
    assert_eq "1||connection-established
1||domain-add|vm=work
1|work|domain-tag-add:created-by-dom0|tag=created-by-dom0" "$(events_wait)"
}

test_events_stream_header_bytes() {
    # the first message, byte for byte
    got=$(rawx '@strm:admin.Events+ dom0 name dom0\0')
    assert_eq "1||connection-established||<TIMEOUT>" "$got"
    expect "2|ProtocolError||unexpected argument|" admin.Events dom0 x
    expect "2|ProtocolError||unexpected payload|" admin.Events dom0 "" x
    expect "2|QubesVMNotFoundError||No such domain: 'nope'|" admin.Events nope
}

test_events_property_set_and_reset() {
    mk_appvm work fedora
    events_start dom0 property-del:memory
    ok admin.vm.property.Set work memory 500
    ok admin.vm.property.Set work memory 600
    ok admin.vm.property.Reset work memory
    assert_eq "1||connection-established
1|work|property-pre-set:memory|name=memory|newvalue=500|oldvalue=400
1|work|property-set:memory|name=memory|newvalue=500|oldvalue=400
1|work|property-pre-set:memory|name=memory|newvalue=600|oldvalue=500
1|work|property-set:memory|name=memory|newvalue=600|oldvalue=500
1|work|property-pre-reset:memory|name=memory|oldvalue=600
1|work|property-pre-del:memory|name=memory|oldvalue=600
1|work|property-reset:memory|name=memory|oldvalue=600
1|work|property-del:memory|name=memory|oldvalue=600" "$(events_wait)"
}

test_events_vm_and_global_values() {
    mk_appvm work fedora
    mk_appvm net fedora
    ok admin.vm.property.Set net provides_network True
    events_start dom0 property-set:stats_interval
    ok admin.vm.property.Set work netvm net
    ok admin.vm.property.Set work netvm ""
    ok admin.vm.property.Set work label blue
    ok admin.property.Set dom0 stats_interval 7
    # a qube is named, None is "None", the app is the empty subject;
    # a label change resets the icon
    assert_eq "1||connection-established
1|work|property-pre-set:netvm|name=netvm|newvalue=net|oldvalue=None
1|work|property-set:netvm|name=netvm|newvalue=net|oldvalue=None
1|work|property-pre-set:netvm|name=netvm|newvalue=None|oldvalue=net
1|work|property-set:netvm|name=netvm|newvalue=None|oldvalue=net
1|work|property-pre-set:label|name=label|newvalue=blue|oldvalue=red
1|work|property-set:label|name=label|newvalue=blue|oldvalue=red
1|work|property-reset:icon|name=icon
1||property-pre-set:stats_interval|name=stats_interval|newvalue=7|oldvalue=3
1||property-set:stats_interval|name=stats_interval|newvalue=7|oldvalue=3" "$(events_wait)"
}

test_events_template_change_resets_children() {
    mk_appvm work fedora
    mk_appvm other fedora
    ok admin.vm.property.Set other vcpus 4
    events_start dom0 property-reset:vcpus
    ok admin.vm.property.Set fedora vcpus 3
    # only the child still using the default is told
    assert_eq "1||connection-established
1|fedora|property-pre-set:vcpus|name=vcpus|newvalue=3|oldvalue=2
1|fedora|property-set:vcpus|name=vcpus|newvalue=3|oldvalue=2
1|work|property-reset:vcpus|name=vcpus" "$(events_wait)"
}

test_events_feature_set_and_delete() {
    mk_appvm work fedora
    events_start dom0 domain-feature-delete:f
    ok admin.vm.feature.Set work f 1
    ok admin.vm.feature.Set work f ""
    ok admin.vm.feature.Remove work f
    assert_eq "1||connection-established
1|work|domain-feature-pre-set:f|feature=f|value=1
1|work|domain-feature-set:f|feature=f|value=1
1|work|domain-feature-pre-set:f|feature=f|value=|oldvalue=1
1|work|domain-feature-set:f|feature=f|value=|oldvalue=1
1|work|domain-feature-pre-delete:f|feature=f
1|work|domain-feature-delete:f|feature=f" "$(events_wait)"
}

test_events_tag_add_and_delete() {
    mk_appvm work fedora
    events_start dom0 domain-tag-delete:t
    ok admin.vm.tag.Set work t
    ok admin.vm.tag.Set work t
    ok admin.vm.tag.Remove work t
    # a tag already present fires nothing
    assert_eq "1||connection-established
1|work|domain-tag-add:t|tag=t
1|work|domain-tag-delete:t|tag=t" "$(events_wait)"
}

test_events_remove() {
    mk_appvm work fedora
    events_start dom0 domain-delete
    ok admin.vm.Remove work
    assert_eq "1||connection-established
1||domain-pre-delete|vm=work
1||domain-delete|vm=work" "$(events_wait)"
}

test_events_refused_changes_fire_nothing() {
    mk_appvm work fedora
    events_start dom0 domain-tag-add:end
    call admin.vm.property.Set work memory 0 >/dev/null
    call admin.vm.property.Set work netvm nope >/dev/null
    call admin.vm.feature.Set work "a/b" x >/dev/null
    call admin.vm.tag.Remove work missing >/dev/null
    call admin.vm.Remove fedora >/dev/null
    call admin.vm.firewall.Set work "" "action=bogus" >/dev/null
    ok admin.vm.tag.Set work end
    assert_eq "1||connection-established
1|work|domain-tag-add:end|tag=end" "$(events_wait)"
}

test_events_firewall_changed() {
    mk_appvm work fedora
    events_start dom0 domain-tag-add:end
    ok admin.vm.firewall.Set work "" "action=drop"
    ok admin.vm.firewall.Reload work
    ok admin.vm.tag.Set work end
    assert_eq "1||connection-established
1|work|firewall-changed
1|work|firewall-changed
1|work|domain-tag-add:end|tag=end" "$(events_wait)"
}

test_events_per_qube_subscription() {
    mk_appvm work fedora
    mk_appvm other fedora
    events_start work domain-tag-add:end
    ok admin.vm.property.Set other memory 500
    ok admin.vm.property.Set work memory 700
    ok admin.vm.feature.Set other f 1
    ok admin.vm.feature.Set work g 2
    mk_appvm third fedora
    ok admin.property.Set dom0 stats_interval 9
    ok admin.vm.tag.Set other end
    ok admin.vm.tag.Set work end
    assert_eq "1||connection-established
1|work|property-pre-set:memory|name=memory|newvalue=700|oldvalue=400
1|work|property-set:memory|name=memory|newvalue=700|oldvalue=400
1|work|domain-feature-pre-set:g|feature=g|value=2
1|work|domain-feature-set:g|feature=g|value=2
1|work|domain-tag-add:end|tag=end" "$(events_wait)"
}

test_events_per_qube_stream_ends_with_qube() {
    mk_appvm work fedora
    events_start work never
    ok admin.vm.Remove work
    assert_eq "1||connection-established
<EOF>" "$(events_wait)"
    assert_serving
}

test_events_new_qube_events_seen() {
    events_start dom0 domain-tag-add:late
    mk_appvm fresh fedora
    ok admin.vm.tag.Set fresh late
    assert_eq "1||connection-established
1||domain-add|vm=fresh
1|fresh|domain-tag-add:created-by-dom0|tag=created-by-dom0
1|fresh|domain-tag-add:late|tag=late" "$(events_wait)"
}

test_events_subscriber_disconnect_harmless() {
    mk_appvm work fedora
    assert_eq "1||connection-established||" "$(python3 "$QRAW" subscribe-and-drop dom0)"
    assert_eq "1||connection-established||" "$(python3 "$QRAW" subscribe-and-drop work)"
    # events after the subscribers left
    ok admin.vm.property.Set work memory 500
    ok admin.vm.tag.Set work x
    assert_serving
    # another subscriber still gets everything
    events_start dom0 domain-tag-add:y
    ok admin.vm.tag.Set work y
    assert_eq "1||connection-established
1|work|domain-tag-add:y|tag=y" "$(events_wait)"
    assert_serving
}

test_events_two_subscribers_same_stream() {
    mk_appvm work fedora
    events_start dom0 domain-tag-add:z
    first_pid=$EVENTS_PID first_out=$EVENTS_OUT
    events_start dom0 domain-tag-add:z
    ok admin.vm.tag.Set work z
    second=$(events_wait)
    EVENTS_PID=$first_pid EVENTS_OUT=$first_out
    first=$(events_wait)
    assert_eq "1||connection-established
1|work|domain-tag-add:z|tag=z" "$first"
    assert_eq "$first" "$second"
}
