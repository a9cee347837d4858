# The core services between real qubes: qubes.Filecopy (qvm-copy family), qubes.OpenInVM and
# qubes.OpenURL, qubes.GetDate under the shipped default policy.
source "$(dirname "${BASH_SOURCE[0]}")/helpers.sh"

setup_qubes() {
    make_template min
    for q in "$@"; do
        qvm-create -q -t min -l red "$q" || fail "create $q"
    done
    qvm-start -q "$@" || fail "start"
}

# Checksums and link targets of a tree, relative to DIR, for comparison across qubes.
tree_digest() { # tree_digest QUBE DIR NAMES...
    local q=$1 dir=$2
    shift 2
    qube_run "$q" "cd $dir && find $* | sort | while read -r f; do
        if [ -L \"\$f\" ]; then echo \"link \$f -> \$(readlink \"\$f\")\";
        elif [ -d \"\$f\" ]; then echo \"dir \$f\";
        else echo \"file \$f \$(sha256sum < \"\$f\" | cut -d' ' -f1)\"; fi; done"
}

test_copy_of_a_tree_and_a_1gib_file_arrives_intact() {
    setup_qubes work personal
    write_policy <<'EOF'
qubes.Filecopy * work personal allow
EOF
    qube_run work 'mkdir -p tree/a/b/c tree/empty &&
        echo deep > tree/a/b/c/deep.txt && echo unicode > "tree/ünïcødé 名前.txt" &&
        ln -s a/b/c/deep.txt tree/link && ln -s ../a tree/a/b/up && : > tree/zero &&
        chmod 640 tree/a/b/c/deep.txt &&
        head -c 1048583 /dev/urandom > chunk &&
        i=0; while [ $i -lt 1024 ]; do cat chunk; i=$((i+1)); done | head -c 1073741824 > big &&
        rm chunk' || fail "make the tree"
    assert_eq "" "$(qube_run work 'qvm-copy-to-vm --without-progress personal tree big 2>&1')" \
        "silent on success"
    want=$(tree_digest work /home/user tree big)
    assert_eq "$want" "$(tree_digest personal /home/user/QubesIncoming/work tree big)" \
        "checksums and links"
    assert_contains "file big " "$want" "the big file is there"
    assert_eq "640 1073741824" "$(qube_run personal 'cd QubesIncoming/work &&
        stat -c %a tree/a/b/c/deep.txt && stat -c %s big' | tr '\n' ' ' | sed 's/ $//')" \
        "mode and size"
    # never overwrite: the second copy fails and changes nothing
    qube_run work 'echo changed > tree/a/b/c/deep.txt'
    out=$(qube_run work 'qvm-copy-to-vm --without-progress personal tree 2>&1; echo "exit=$?"')
    assert_contains "already exists in QubesIncoming dir" "$out" "a second copy fails"
    [[ "$out" == *"exit=0" ]] && fail "a failed copy exits 0"
    assert_eq "deep" "$(qube_run personal 'cat QubesIncoming/work/tree/a/b/c/deep.txt')" \
        "nothing overwritten"
}

test_move_under_ask_and_refusal_keep_or_remove_sources() {
    setup_qubes work personal
    write_policy <<'EOF'
qubes.Filecopy * work @default ask default_target=personal
qubes.Filecopy * work @anyvm   ask
EOF
    qube_run work 'echo one > one && echo two > two'
    daemon_start agent qrexec-policy-agent --count 2 --answer allow --answer deny
    agent=$DAEMON_PID
    wait_until 10 grep -q waiting "$QUBES_ROOT/agent.out" || fail "the agent is not waiting"
    assert_eq "0" "$(qube_run work 'qvm-move --without-progress one; echo $?')" "moved to @default"
    assert_eq "one" "$(qube_run personal 'cat QubesIncoming/work/one')" "arrived"
    assert_eq "gone" "$(qube_run work '[ -e one ] && echo kept || echo gone')" "source removed"
    assert_eq "126" "$(qube_run work 'qvm-move-to-vm --without-progress personal two 2>/dev/null; echo $?')" \
        "refused by the user"
    assert_eq "kept" "$(qube_run work '[ -e two ] && echo kept || echo gone')" "source kept"
    daemon_wait $agent 0
}

# stream NAME MODE DATA [NAME MODE DATA...]: a qubes.Filecopy stream with the end marker.
stream() {
    python3 -c 'import struct,sys
a=sys.argv[1:]; out=b""
for i in range(0,len(a),3):
    name,mode,data=a[i].encode()+b"\0",int(a[i+1],8),a[i+2].encode()
    out+=struct.pack("<IIQIIII",len(name),mode,len(data),0,0,0,0)+name+data
sys.stdout.buffer.write(out+b"\0"*32)' "$@"
}

test_hostile_streams_write_nothing_outside_incoming() {
    setup_qubes work personal
    qube_run personal 'echo keep > victim && mkdir -p QubesIncoming/work && echo old > QubesIncoming/work/existing'
    listing() { qube_run personal 'find /home/user -path /home/user/QubesIncoming/work -prune -o -print | sort'; }
    before=$(listing)
    unpack() { qrexec-client -d personal 'user:QUBESRPC qubes.Filecopy work' >/dev/null 2>&1; echo $?; }
    assert_eq 0 "$(stream good 100644 fine | unpack)" "a good stream"
    assert_eq "fine" "$(qube_run personal 'cat QubesIncoming/work/good')" "it landed"
    for bad in "../victim 100644 x" "/home/user/victim 100644 x" "a//b 100644 x" \
               "./x 100644 x" "existing 100644 new" "dev 20644 x" "fifo 10644 x" \
               "esc 120777 ../../../victim" "abs 120777 /home/user/victim"; do
        # shellcheck disable=SC2086
        got=$(stream $bad | unpack)
        [ "$got" != 0 ] || fail "stream accepted: $bad"
    done
    # a directory, then a symlink out of it, then a file through the symlink
    [ "$(stream d 40755 '' d/l 120777 ../../.. d/l/victim 100644 x | unpack)" != 0 ] ||
        fail "escaping symlink accepted"
    assert_eq "$before" "$(listing)" "nothing outside QubesIncoming/work"
    assert_eq "keep|old" "$(qube_run personal 'cat victim QubesIncoming/work/existing' | tr '\n' '|' | sed 's/|$//')" \
        "nothing overwritten"
    assert_eq "" "$(qube_run personal 'find QubesIncoming/work \( -type b -o -type c -o -type p \)')" \
        "no device nodes"
}

test_open_in_vm_and_open_url() {
    setup_qubes work personal
    write_policy <<'EOF'
qubes.OpenInVM * work personal allow
qubes.OpenURL  * work personal allow
EOF
    # the qube's "application": appends to a file, records a URL
    qube_run personal root 'mkdir -p /usr/local/bin && cat > /usr/local/bin/xdg-open && chmod 755 /usr/local/bin/xdg-open' <<'EOF'
#!/bin/sh
case $1 in
*://*) echo "$1" > /tmp/url ;;
*) echo edited 2>/dev/null >> "$1" || true ;; # view-only files are read-only
esac
EOF
    qube_run work 'echo text > doc.txt'
    assert_eq "0" "$(qube_run work 'qvm-open-in-vm personal doc.txt; echo $?')" "opened"
    assert_eq "text
edited" "$(qube_run work 'cat doc.txt')" "the edit came back"
    qube_run work 'qvm-open-in-vm --view-only personal doc.txt' || fail "view-only"
    assert_eq "text
edited" "$(qube_run work 'cat doc.txt')" "view-only: no change"
    assert_eq "0" "$(qube_run work 'qvm-open-in-vm personal https://example.org/a?b=c; echo $?')" "URL"
    assert_eq "https://example.org/a?b=c" "$(qube_run personal 'cat /tmp/url')" "the URL arrived"
    assert_eq "1" "$(echo 'gopher://x' | qrexec-client -d personal 'user:QUBESRPC qubes.OpenURL work' 2>/dev/null; echo $?)" \
        "only http, https and ftp"
}

test_getdate_under_the_default_policy() {
    setup_qubes work
    cp "$BIN/../../policy/90-default.policy" "$QUBES_ROOT/etc/qubes/policy.d/" 2>/dev/null ||
        cp "$(dirname "${BASH_SOURCE[0]}")/../../policy/90-default.policy" \
            "$QUBES_ROOT/etc/qubes/policy.d/"
    got=$(qube_run work 'qrexec-client-vm @default qubes.GetDate </dev/null')
    [[ "$got" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\+00:00$ ]] ||
        fail "qubes.GetDate from dom0: '$got'"
    assert_contains "service=qubes.GetDate result=allow resolved=dom0" \
        "$(tail -1 "$QUBES_ROOT/var/log/qubes/qrexec-audit.log")" "answered by dom0"
    qvm-tags work add anon-vm >/dev/null
    assert_eq "126" "$(qube_run work 'qrexec-client-vm @default qubes.GetDate </dev/null 2>/dev/null; echo $?')" \
        "anon-vm qubes may not ask"
    assert_eq "126" "$(qube_run work 'qrexec-client-vm dom0 qubes.VMShell </dev/null 2>/dev/null; echo $?')" \
        "the default policy denies the rest"
}
