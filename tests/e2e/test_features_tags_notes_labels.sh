# Features, tags, notes and labels (reference §2.5, qubesd-facts §1, §5-§7).
source "$(dirname "${BASH_SOURCE[0]}")/helpers.sh"

test_features_basic() {
    mk_template fedora
    expect "0|" admin.vm.feature.List fedora
    ok admin.vm.feature.Set fedora zeta 1
    ok admin.vm.feature.Set fedora alpha "some value"
    ok admin.vm.feature.Set fedora empty ""
    ok admin.vm.feature.Set fedora dotted.name-x_y 2
    expect "0|alpha
dotted.name-x_y
empty
zeta
" admin.vm.feature.List fedora
    expect "0|some value" admin.vm.feature.Get fedora alpha
    expect "0|" admin.vm.feature.Get fedora empty
    # overwrite
    ok admin.vm.feature.Set fedora zeta 2
    expect "0|2" admin.vm.feature.Get fedora zeta
    expect "2|QubesFeatureNotFoundError||Feature not set for domain fedora: nope|" \
        admin.vm.feature.Get fedora nope
    ok admin.vm.feature.Remove fedora zeta
    expect "2|QubesFeatureNotFoundError||Feature not set for domain fedora: zeta|" \
        admin.vm.feature.Remove fedora zeta
    expect "0|alpha
dotted.name-x_y
empty
" admin.vm.feature.List fedora
    # dom0 has features too
    ok admin.vm.feature.Set dom0 gui 1
    expect "0|1" admin.vm.feature.Get dom0 gui
}

test_features_bad_input() {
    mk_template fedora
    ok admin.vm.feature.Set fedora keep v
    expect "2|QubesValueError||feature name contains illegal characters|" \
        admin.vm.feature.Set fedora "a/b" x
    expect "2|QubesValueError||feature name contains illegal characters|" \
        admin.vm.feature.Set fedora "a:b" x
    expect "2|QubesValueError||f1 value contains illegal characters|" \
        admin.vm.feature.Set fedora f1 "$(printf 'a\tb')"
    expect "2|QubesValueError||f1 value contains illegal characters|" \
        admin.vm.feature.Set fedora f1 "$(printf 'a\nb')"
    expect "2|QubesValueError||f1 value contains illegal characters|" admin.vm.feature.Set fedora f1 "é"
    long=$(head -c 4097 /dev/zero | tr '\0' x)
    expect "2|QubesValueError||f1 value contains illegal characters|" admin.vm.feature.Set fedora f1 "$long"
    ok admin.vm.feature.Set fedora f1 "${long:1}"
    expect "2|PermissionDenied||feature preload-dispvm can only be set by qubesd|" \
        admin.vm.feature.Set fedora preload-dispvm x
    expect "2|ProtocolError||expected an argument|" admin.vm.feature.Set fedora "" x
    expect "2|ProtocolError||unexpected argument|" admin.vm.feature.List fedora x
    expect "0|f1
keep
" admin.vm.feature.List fedora
    expect "0|v" admin.vm.feature.Get fedora keep
}

test_feature_check_with_template() {
    mk_template fedora
    mk_appvm dvm fedora
    ok admin.vm.property.Set dvm template_for_dispvms True
    ok admin.vm.Create.DispVM dom0 dvm "name=disp label=red"
    ok admin.vm.feature.Set fedora tfeat tval
    ok admin.vm.feature.Set dvm afeat aval
    ok admin.vm.feature.Set dom0 dfeat dval
    expect "0|tval" admin.vm.feature.CheckWithTemplate disp tfeat
    expect "0|aval" admin.vm.feature.CheckWithTemplate disp afeat
    expect "0|tval" admin.vm.feature.CheckWithTemplate dvm tfeat
    # the qube's own value first; an empty value counts as found
    ok admin.vm.feature.Set disp tfeat ""
    expect "0|" admin.vm.feature.CheckWithTemplate disp tfeat
    expect "2|QubesFeatureNotFoundError||Feature not set for domain disp: dfeat|" \
        admin.vm.feature.CheckWithTemplate disp dfeat
    expect "2|QubesFeatureNotFoundError||Feature not set for domain fedora: afeat|" \
        admin.vm.feature.CheckWithTemplate fedora afeat
}

test_feature_check_with_adminvm() {
    mk_template fedora
    mk_appvm work fedora
    ok admin.vm.feature.Set fedora tfeat tval
    ok admin.vm.feature.Set dom0 dfeat dval
    ok admin.vm.feature.Set dom0 both d
    ok admin.vm.feature.Set work both w
    expect "0|dval" admin.vm.feature.CheckWithAdminVM work dfeat
    expect "0|w" admin.vm.feature.CheckWithAdminVM work both
    # no template chain here
    expect "2|QubesFeatureNotFoundError||Feature not set for domain work: tfeat|" \
        admin.vm.feature.CheckWithAdminVM work tfeat
    expect "0|dval" admin.vm.feature.CheckWithAdminVM dom0 dfeat
    expect "2|QubesFeatureNotFoundError||Feature not set for domain dom0: nope|" \
        admin.vm.feature.CheckWithAdminVM dom0 nope
    # template chain, then dom0
    expect "0|tval" admin.vm.feature.CheckWithTemplateAndAdminVM work tfeat
    expect "0|dval" admin.vm.feature.CheckWithTemplateAndAdminVM work dfeat
    ok admin.vm.feature.Set fedora dfeat tpl
    expect "0|tpl" admin.vm.feature.CheckWithTemplateAndAdminVM work dfeat
    expect "2|QubesFeatureNotFoundError||Feature not set for domain work: nope|" \
        admin.vm.feature.CheckWithTemplateAndAdminVM work nope
}

test_feature_check_with_netvm() {
    mk_template fedora
    mk_appvm work fedora
    mk_appvm fw fedora
    mk_appvm net fedora
    ok admin.vm.property.Set net provides_network True
    ok admin.vm.property.Set fw provides_network True
    ok admin.vm.property.Set fw netvm net
    ok admin.vm.property.Set work netvm fw
    ok admin.vm.feature.Set net nfeat nval
    ok admin.vm.feature.Set fw ffeat fval
    ok admin.vm.feature.Set fedora tfeat tval
    ok admin.vm.feature.Set dom0 dfeat dval
    expect "0|nval" admin.vm.feature.CheckWithNetvm work nfeat
    expect "0|fval" admin.vm.feature.CheckWithNetvm work ffeat
    expect "2|QubesFeatureNotFoundError||Feature not set for domain work: tfeat|" \
        admin.vm.feature.CheckWithNetvm work tfeat
    expect "2|QubesFeatureNotFoundError||Feature not set for domain work: dfeat|" \
        admin.vm.feature.CheckWithNetvm work dfeat
    # the effective netvm counts, defaults included
    ok admin.vm.property.Set net netvm ""
    ok admin.vm.property.Reset work netvm
    expect "2|QubesFeatureNotFoundError||Feature not set for domain work: nfeat|" \
        admin.vm.feature.CheckWithNetvm work nfeat
    ok admin.property.Set dom0 default_netvm net
    expect "0|nval" admin.vm.feature.CheckWithNetvm work nfeat
}

test_tags() {
    mk_template fedora
    expect "0|created-by-dom0
" admin.vm.tag.List fedora
    ok admin.vm.tag.Set fedora zz
    ok admin.vm.tag.Set fedora b-tag
    ok admin.vm.tag.Set fedora A_tag
    # idempotent
    ok admin.vm.tag.Set fedora zz
    expect "0|A_tag
b-tag
created-by-dom0
zz
" admin.vm.tag.List fedora
    expect "0|1" admin.vm.tag.Get fedora zz
    expect "0|0" admin.vm.tag.Get fedora nope
    ok admin.vm.tag.Remove fedora zz
    expect "0|0" admin.vm.tag.Get fedora zz
    expect "2|QubesTagNotFoundError||Tag not set for domain fedora: zz|" admin.vm.tag.Remove fedora zz
    expect "2|QubesTagNotFoundError||Tag not set for domain dom0: x|" admin.vm.tag.Remove dom0 x
    for bad in "bad.tag" "a/b" "a:b" "a+b"; do
        expect "2|QubesInvalidTagError||disallowed characters in tag '$bad'|" admin.vm.tag.Set fedora "$bad"
        expect "2|QubesInvalidTagError||disallowed characters in tag '$bad'|" admin.vm.tag.Get fedora "$bad"
        expect "2|QubesInvalidTagError||disallowed characters in tag '$bad'|" admin.vm.tag.Remove fedora "$bad"
    done
    expect "2|ProtocolError||expected an argument|" admin.vm.tag.Set fedora
    expect "2|ProtocolError||unexpected payload|" admin.vm.tag.Set fedora x y
    ok admin.vm.tag.Set dom0 dtag
    expect "0|dtag
" admin.vm.tag.List dom0
    # created-by-* may be changed by dom0
    ok admin.vm.tag.Remove fedora created-by-dom0
    expect "0|A_tag
b-tag
" admin.vm.tag.List fedora
}

test_notes() {
    mk_template fedora
    expect "0|" admin.vm.notes.Get fedora
    ok admin.vm.notes.Set fedora "" "first line
second line"
    expect "0|first line
second line" admin.vm.notes.Get fedora
    # UTF-8 kept as it is
    ok admin.vm.notes.Set fedora "" "héllo wörld ✓ 日本 🙂"
    expect "0|héllo wörld ✓ 日本 🙂" admin.vm.notes.Get fedora
    # control characters and display tricks become '_'; tab and newline stay
    printf 'a\001b\033[31m\tc\nd\342\200\256e\r\177f\302\205g' |
        qubesd-query dom0 admin.vm.notes.Set fedora >/dev/null
    expect "0|a_b_[31m	c
d_e__f_g" admin.vm.notes.Get fedora
    # invalid UTF-8 is refused and changes nothing
    assert_eq "2|ProtocolError||Unable to sanitise qube notes: invalid UTF-8 at byte 1|" \
        "$(printf 'x\377' | qubesd-query dom0 admin.vm.notes.Set fedora | tr '\0' '|')"
    expect "0|a_b_[31m	c
d_e__f_g" admin.vm.notes.Get fedora
    # empty notes
    ok admin.vm.notes.Set fedora ""
    expect "0|" admin.vm.notes.Get fedora
    expect "2|ProtocolError||expected destination to not be AdminVM|" admin.vm.notes.Get dom0
    expect "2|ProtocolError||expected destination to not be AdminVM|" admin.vm.notes.Set dom0 "" x
    expect "2|ProtocolError||unexpected argument|" admin.vm.notes.Set fedora x y
}

test_notes_size_limit() {
    mk_template fedora
    ok admin.vm.notes.Set fedora "" keep
    # more than 256000 bytes cannot even be sent: the request limit (64 KiB)
    # drops the connection first
    { printf 'admin.vm.notes.Set+ dom0 name fedora\0'; head -c 256001 /dev/zero | tr '\0' n; } \
        >"$QUBES_ROOT/big"
    assert_eq "" "$(raw <"$QUBES_ROOT/big")" "answer to a 256001-byte note"
    assert_serving
    expect "0|keep" admin.vm.notes.Get fedora
    # 60000 bytes are fine
    head -c 60000 /dev/zero | tr '\0' m | qubesd-query dom0 admin.vm.notes.Set fedora >/dev/null
    notes=$(call admin.vm.notes.Get fedora)
    assert_eq 60002 "${#notes}" "length of notes (plus '0|')"
}

test_labels() {
    expect "0|red
orange
yellow
green
gray
blue
purple
black
" admin.label.List dom0
    i=1
    for pair in red:0xcc0000 orange:0xf57900 yellow:0xedd400 green:0x73d216 gray:0x555555 \
        blue:0x3465a4 purple:0x75507b black:0x000000; do
        expect "0|${pair#*:}" admin.label.Get dom0 "${pair%:*}"
        expect "0|$i" admin.label.Index dom0 "${pair%:*}"
        expect "0|${pair#*:}" admin.label.Get dom0 $i
        i=$((i + 1))
    done
    expect "2|QubesValueError||Label does not exist: nope|" admin.label.Get dom0 nope
    expect "2|QubesValueError||Label does not exist: nope|" admin.label.Index dom0 nope
    expect "2|QubesValueError||Label does not exist: 9|" admin.label.Index dom0 9
    expect "2|QubesVMNotFoundError||No such domain: 'nosuch'|" admin.label.List nosuch
    mk_template fedora
    expect "2|ProtocolError||expected destination to be AdminVM|" admin.label.List fedora
}

test_label_create_and_remove() {
    ok admin.label.Create dom0 mine 0xabcdef
    expect "0|9" admin.label.Index dom0 mine
    expect "0|0xabcdef" admin.label.Get dom0 mine
    expect "0|0xabcdef" admin.label.Get dom0 9
    # surrounding blanks of the colour are stripped
    ok admin.label.Create dom0 second "  0x123456
"
    expect "0|0x123456" admin.label.Get dom0 second
    expect "0|10" admin.label.Index dom0 second
    expect "0|red
orange
yellow
green
gray
blue
purple
black
mine
second
" admin.label.List dom0
    # duplicates, by name or index
    expect "2|QubesValueError||label already exists|" admin.label.Create dom0 mine 0x111111
    expect "2|QubesValueError||label already exists|" admin.label.Create dom0 red 0x111111
    # bad names and colours
    expect "2|QubesInvalidLabelError||Invalid label name: '99'|" admin.label.Create dom0 99 0x111111
    expect "2|QubesInvalidLabelError||Invalid label name: 'a/b'|" admin.label.Create dom0 a/b 0x111111
    for col in 0x12345 0X123456 0x12345g 123456 0x1234567; do
        expect "2|QubesInvalidLabelValueError||Invalid color: expected 0xRRGGBB|" admin.label.Create dom0 bad "$col"
    done
    expect "2|ProtocolError||expected payload|" admin.label.Create dom0 bad ""
    # in use
    mk_template fedora
    ok admin.vm.property.Set fedora label mine
    expect "2|QubesLabelInUseError||Label is still in use: 'mine'|" admin.label.Remove dom0 mine
    ok admin.vm.property.Set fedora label red
    ok admin.label.Remove dom0 mine
    expect "2|QubesValueError||Label does not exist: mine|" admin.label.Get dom0 mine
    expect "2|QubesValueError||Label does not exist: mine|" admin.label.Remove dom0 mine
    # defaults stay
    expect "2|ProtocolError||default label red cannot be removed|" admin.label.Remove dom0 red
    expect "2|ProtocolError||default label black cannot be removed|" admin.label.Remove dom0 8
    # the next index is above the highest one in use
    ok admin.label.Create dom0 third 0x000001
    expect "0|11" admin.label.Index dom0 third
    # a qube may use a custom label from creation on, and keeps it over a restart
    ok admin.vm.Create.AppVM dom0 fedora "name=work label=third"
    restart_qubesd
    expect "0|default=False type=label third" admin.vm.property.Get work label
    expect "0|red
orange
yellow
green
gray
blue
purple
black
second
third
" admin.label.List dom0
}
