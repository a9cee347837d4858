# qubesd --debug: exceptions carry a traceback field (reference §1.3).
source "$(dirname "${BASH_SOURCE[0]}")/helpers.sh"

setup() { start_qubesd --debug; }

test_debug_sends_traceback() {
    got=$(rawx "admin.vm.List+ dom0 name nosuch\\0" "x+ dom0 name dom0\\0" \
        "admin.vm.property.Get+nope dom0 name dom0\\0")
    assert_eq "2|QubesVMNotFoundError|qubesd: admin.vm.List+ (dom0 -> nosuch): QubesVMNotFoundError: No such domain: 'nosuch'
|No such domain: 'nosuch'|
2|ProtocolError|qubesd: x+ (dom0 -> dom0): ProtocolError: no such method: 'x'
|no such method: 'x'|
2|QubesNoSuchPropertyError|qubesd: admin.vm.property.Get+nope (dom0 -> dom0): QubesNoSuchPropertyError: Invalid property 'nope' of dom0
|Invalid property 'nope' of dom0|" "$got"
}

test_debug_traceback_field_not_empty() {
    got=$(call admin.vm.List nosuch)
    tb=$(printf '%s' "$got" | cut -d'|' -f3)
    [ -n "$tb" ] || fail "empty traceback field with --debug: $got"
    # success answers are unchanged
    assert_serving
}
