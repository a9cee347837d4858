# The Admin API wire format over a raw socket (reference admin-api.md §1):
# request framing, the three answer layouts, and hostile clients.
source "$(dirname "${BASH_SOURCE[0]}")/helpers.sh"

DOM0_LINE="dom0 class=AdminVM state=Running uuid=00000000-0000-0000-0000-000000000000"

test_ok_answer_layout() {
    # exact bytes, trailing newline included; a method returning nothing
    # answers just "0\0"
    got=$(rawx '@repr:admin.vm.List+ dom0 name dom0\0' '@repr:admin.vm.tag.Set+x dom0 name dom0\0')
    assert_eq "b'0\\x00$DOM0_LINE\\n'
b'0\\x00'" "$got" "OK answer bytes"
}

test_exception_layout() {
    got=$(rawx "@repr:admin.vm.List+ dom0 name nosuch\0" "admin.vm.List+ dom0 name nosuch\0")
    assert_eq "b\"2\\x00QubesVMNotFoundError\\x00\\x00No such domain: 'nosuch'\\x00\"
2|QubesVMNotFoundError||No such domain: 'nosuch'|" "$got" "exception: type, kind, empty traceback, message"
    assert_serving
}

test_list_without_plus() {
    # no '+' at all is fine; everything after the first '+' is the argument
    got=$(rawx 'admin.vm.List dom0 name dom0\0' 'admin.vm.List+force+wait dom0 name dom0\0')
    assert_eq "0|$DOM0_LINE

2|ProtocolError||unexpected argument|" "$got"
}

test_keyword_adminvm_destination() {
    mk_template fedora
    u=$(uuid_of fedora)
    got=$(rawx 'admin.vm.List+ dom0 keyword adminvm\0' 'admin.vm.tag.Set+kw dom0 keyword adminvm\0' \
        'admin.vm.List+ dom0 keyword default\0' \
        'admin.vm.List+ dom0 uuid 00000000-0000-0000-0000-000000000000\0')
    # any other keyword, or another destination type, is a framing error
    assert_eq "0|$DOM0_LINE
fedora class=TemplateVM state=Halted uuid=$u

0|" "$got"
    expect "0|1" admin.vm.tag.Get dom0 kw
    assert_serving
}

test_uuid_destination() {
    mk_template fedora
    mk_appvm work fedora
    u=$(uuid_of work)
    z=00000000-0000-0000-0000-000000000000
    got=$(rawx "admin.vm.List+ dom0 name uuid:$u\\0" \
        "admin.vm.property.Get+name dom0 name uuid:$u\\0" \
        "admin.vm.property.Get+name dom0 name uuid:$z\\0" \
        "admin.vm.List+ uuid:$z name work\\0" \
        "admin.vm.List+ dom0 name uuid:1234\\0" \
        "admin.vm.List+ dom0 name uuid:${u}0\\0" \
        "admin.vm.List+ dom0 name uuid:${u:0:35}\\0" \
        "admin.vm.List+ dom0 name uuid:${u//-/x}\\0" \
        "admin.vm.List+ dom0 name uuid:\\0" \
        "admin.vm.List+ dom0 name uuid:11111111-2222-4333-8444-555555555555\\0")
    assert_eq "0|work class=AppVM state=Halted uuid=$u

0|default=False type=str work
0|default=True type=str dom0
0|work class=AppVM state=Halted uuid=$u

2|QubesVMInvalidUUIDError||VM UUID is not valid: '1234'|
2|QubesVMInvalidUUIDError||VM UUID is not valid: '${u}0'|
2|QubesVMInvalidUUIDError||VM UUID is not valid: '${u:0:35}'|
2|QubesVMInvalidUUIDError||VM UUID is not valid: '${u//-/x}'|
2|QubesVMInvalidUUIDError||VM UUID is not valid: ''|
2|QubesVMNotFoundError||No such domain: 'uuid:11111111-2222-4333-8444-555555555555'|" "$got"
    assert_serving
}

test_source_is_checked() {
    got=$(rawx 'admin.vm.List+ nosuch name dom0\0' 'admin.vm.List+ a/b name dom0\0')
    assert_eq "2|QubesVMNotFoundError||No such domain: 'nosuch'|
2|QubesValueError||VM name contains illegal characters|" "$got"
    assert_serving
}

test_destination_name_validated() {
    expect "2|QubesValueError||VM name cannot start with hyphen, underscore, dot or numbers|" \
        admin.vm.List 1abc
    expect "2|QubesValueError||VM name contains illegal characters|" admin.vm.List 'a$b'
    expect "2|QubesValueError||VM name must be shorter than 32 characters|" \
        admin.vm.List aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
    # the destination takes the rest of the header, spaces included
    assert_eq "2|QubesValueError||VM name contains illegal characters|" \
        "$(rawx 'admin.vm.List+ dom0 name dom0 x\0')"
    assert_serving
}

test_unknown_method() {
    assert_eq "2|ProtocolError||no such method: 'x'|" "$(rawx 'x+ dom0 name dom0\0')"
    expect "2|ProtocolError||no such method: 'admin.vm.Nope'|" admin.vm.Nope dom0
    expect "2|ProtocolError||no such method: 'admin.vm.Create.'|" admin.vm.Create. dom0
    expect "2|ProtocolError||no such method: \"it's\"|" "it's" dom0
    assert_serving
}

test_argument_and_payload_contract() {
    mk_template fedora
    expect "2|ProtocolError||unexpected argument|" admin.vm.List dom0 x
    expect "2|ProtocolError||expected an argument|" admin.vm.property.Get dom0
    expect "2|ProtocolError||unexpected payload|" admin.vm.List dom0 "" payload
    expect "2|ProtocolError||expected payload|" admin.vm.Create.AppVM dom0 fedora ""
    expect "2|ProtocolError||expected destination to be AdminVM|" admin.vmclass.List fedora
    expect "2|ProtocolError||expected destination to not be AdminVM|" admin.vm.notes.Get dom0
    # the checks come after the destination lookup
    expect "2|QubesVMNotFoundError||No such domain: 'nosuch'|" admin.vm.List nosuch x
    assert_serving
}

test_request_without_nul_dropped() {
    assert_eq "" "$(rawx 'admin.vm.List+ dom0 name dom0')"
    assert_serving
}

test_garbage_dropped() {
    head -c 4000 /dev/urandom | tr -d '\0' >"$QUBES_ROOT/noise"
    got=$(rawx 'garbage' '\0\0\0' ' \0' 'a b\0' '\x01\x02\x03\x04\0' \
        'admin.vm.List+ dom0 name do\x01m0\0' 'admin.vm.List+ dom0 name \xff\xfe\0' \
        'admin.vm.List+\tdom0 name dom0\0' 'admin.vm.List+ dom0 name dom0\0'; raw <"$QUBES_ROOT/noise")
    # each is dropped unanswered; the last valid request is still served
    assert_eq "







0|$DOM0_LINE" "$got"
    assert_serving
}

test_oversized_request_dropped() {
    mk_template fedora
    mk_appvm work fedora
    ok admin.vm.notes.Set work "" before
    { printf 'admin.vm.notes.Set+ dom0 name work\0'; head -c 70000 /dev/zero | tr '\0' a; } \
        >"$QUBES_ROOT/big"
    assert_eq "" "$(raw <"$QUBES_ROOT/big")" "answer to a 70 KB request"
    assert_serving
    expect "0|before" admin.vm.notes.Get work
    # one byte over the limit is enough
    head=$(printf 'admin.vm.notes.Set+ dom0 name work')
    { printf '%s\0' "$head"; head -c $((65536 - ${#head})) /dev/zero | tr '\0' b; } \
        >"$QUBES_ROOT/big"
    assert_eq 65537 "$(stat -c %s "$QUBES_ROOT/big")" "request size"
    assert_eq "" "$(raw <"$QUBES_ROOT/big")" "answer to a 65537-byte request"
    assert_serving
    expect "0|before" admin.vm.notes.Get work
}

test_request_of_exactly_64k_processed() {
    mk_template fedora
    mk_appvm work fedora
    head=$(printf 'admin.vm.notes.Set+ dom0 name work')
    n=$((65536 - ${#head} - 1))
    { printf '%s\0' "$head"; head -c $n /dev/zero | tr '\0' c; } >"$QUBES_ROOT/big"
    assert_eq 65536 "$(stat -c %s "$QUBES_ROOT/big")" "request size"
    assert_eq "0|" "$(raw <"$QUBES_ROOT/big")" "answer to a 64 KiB request"
    notes=$(call admin.vm.notes.Get work)
    assert_eq $((n + 2)) "${#notes}" "length of the stored notes (plus '0|')"
    assert_eq "0|ccc" "${notes:0:5}" "stored notes"
}

test_client_connects_and_closes() {
    assert_eq "closed
closed
closed" "$(rawx @close @close @close)"
    assert_serving
}

test_client_sends_half_and_disconnects() {
    assert_eq "closed
closed
closed" "$(rawx @half @half @half)"
    assert_serving
}

test_silent_client_does_not_delay_others() {
    got=$(python3 "$QRAW" silent-vs-served)
    assert_eq "0|$DOM0_LINE
prompt
silent still waiting" "$got"
    assert_serving
}

test_request_waits_for_eof() {
    # without the half-close the request is not complete: no answer yet
    got=$(rawx '@wait:admin.vm.List+ dom0 name dom0\0')
    assert_eq "<TIMEOUT>" "$got"
    assert_serving
}

test_200_concurrent_clients() {
    mk_template tpl
    assert_eq "ok 200/200" "$(python3 "$QRAW" concurrent 200 tpl)"
    list=$(call admin.vm.List dom0)
    assert_eq 102 "$(printf '%s\n' "$list" | wc -l)" "qubes after 100 creates"
    names=$(printf '%s\n' "$list" | sed -n 's/^\([a-z0-9]*\) class=AppVM .*/\1/p' | tr '\n' ' ')
    assert_eq "$(for i in $(seq 0 2 198); do printf 'c%03d ' "$i"; done)" "$names" "created qubes"
    # every qube got its own qid
    qids=$(for i in $(seq 0 2 198); do prop "$(printf 'c%03d' "$i")" qid; echo; done | sort -u | wc -l)
    assert_eq 100 "$qids" "distinct qids"
    assert_serving
}
