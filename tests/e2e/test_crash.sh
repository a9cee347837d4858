# Crash safety: qubesd killed with SIGKILL in the middle of a storm of
# changes must come back with every acknowledged change in place.
source "$(dirname "${BASH_SOURCE[0]}")/helpers.sh"

# storm PREFIX LOG: creates, sets, tags, features and removes, forever;
# "try X" before and "ack X" after each operation answered with "0|".
storm() {
    local p=$1 log=$2 i=0 a
    # op METHOD DEST ARG PAYLOAD
    op() {
        echo "try|$1|$2|$3|$4" >>"$log"
        a=$(printf '%s' "$4" | qubesd-query dom0 "$1" "$2" $3 2>/dev/null | tr '\0' '|')
        [ "$a" = "0|" ] && echo "ack|$1|$2|$3|$4" >>"$log"
    }
    while :; do
        op admin.vm.Create.AppVM dom0 tpl "name=$p$i label=red"
        op admin.vm.property.Set "$p$i" memory "$((500 + i))"
        op admin.vm.tag.Set "$p$i" "tag$i" ""
        op admin.vm.feature.Set "$p$i" feat "v$i"
        op admin.vm.notes.Set "$p$i" "" "note $i"
        if [ $((i % 3)) = 2 ]; then
            op admin.vm.Remove "$p$((i - 1))" "" ""
        fi
        i=$((i + 1))
    done
}

# Checks every acknowledged operation of LOG against the restarted daemon.
verify_log() {
    local log=$1 n=0 what method dest arg payload
    while IFS='|' read -r what method dest arg payload; do
        [ "$what" = ack ] || continue
        n=$((n + 1))
        # a removal that was tried (acknowledged or not) may have happened
        local removed=no
        grep -q "^try|admin.vm.Remove|$dest|" "$log" && removed=maybe
        grep -q "^ack|admin.vm.Remove|$dest|" "$log" && removed=yes
        case $method in
        admin.vm.Create.AppVM)
            local name=${payload#name=}
            name=${name%% *}
            removed=no
            grep -q "^try|admin.vm.Remove|$name|" "$log" && removed=maybe
            grep -q "^ack|admin.vm.Remove|$name|" "$log" && removed=yes
            [ $removed = no ] && expect "0|default=False type=vm tpl" admin.vm.property.Get "$name" template
            ;;
        admin.vm.Remove)
            expect "2|QubesVMNotFoundError||No such domain: '$dest'|" admin.vm.List "$dest"
            ;;
        admin.vm.property.Set)
            [ $removed = no ] && expect "0|default=False type=int $payload" admin.vm.property.Get "$dest" memory
            ;;
        admin.vm.tag.Set)
            [ $removed = no ] && expect "0|1" admin.vm.tag.Get "$dest" "$arg"
            ;;
        admin.vm.feature.Set)
            [ $removed = no ] && expect "0|$payload" admin.vm.feature.Get "$dest" feat
            ;;
        admin.vm.notes.Set)
            [ $removed = no ] && expect "0|$payload" admin.vm.notes.Get "$dest"
            ;;
        esac
    done <"$log"
    echo "$n"
}

test_kill9_during_storm_keeps_acknowledged_changes() {
    mk_template tpl
    for round in 1 2 3; do
        log=$QUBES_ROOT/storm.$round
        : >"$log"
        storm "r${round}q" "$log" &
        storm_pid=$!
        # the kill lands at a random instant once a few changes were
        # acknowledged (a slow build, like the ASan one, acknowledges fewer)
        wait_until 60 eval '[ "$(grep -c "^ack" "$log")" -ge 5 ]'
        sleep "0.0$((RANDOM % 10))"
        kill9_qubesd
        kill "$storm_pid"
        wait "$storm_pid" 2>/dev/null
        restart_qubesd
        assert_serving
        n=$(verify_log "$log") || exit 1
        [ "$n" -ge 5 ] || fail "round $round: only $n operations acknowledged"
    done
    # the daemon still works normally after all this
    mk_appvm after tpl
    expect "0|default=False type=vm tpl" admin.vm.property.Get after template
    # and the qids in use are all different
    qids=$(for q in $(call admin.vm.List dom0 | sed 's/^0|//; s/ class=.*//'); do prop "$q" qid; echo; done)
    assert_eq "$(printf '%s\n' "$qids" | sort | uniq -d)" "" "duplicate qids"
}

test_kill9_right_after_acknowledged_create() {
    mk_template tpl
    for i in 1 2 3 4 5; do
        mk_appvm "q$i" tpl
        ok admin.vm.property.Set "q$i" vcpus "$i"
    done
    kill9_qubesd
    restart_qubesd
    for i in 1 2 3 4 5; do
        expect "0|default=False type=int $i" admin.vm.property.Get "q$i" vcpus
    done
}
