# The lifecycle tools end to end: qvm-template build/import/list/remove,
# qvm-start, qvm-shutdown, qvm-kill, qvm-pause/-unpause and qvm-run against
# real sandbox qubes made from the minimal recipe.

source "$(dirname "${BASH_SOURCE[0]}")/helpers.sh"

# state QUBE: its power state as admin.vm.List says
state() {
    call admin.vm.List "$1" | sed 's/.*state=\([A-Za-z]*\).*/\1/'
}

# A minimal template "min" and an AppVM "work" on it (halted).
make_work() {
    qvm-template build --recipe minimal min >"$QUBES_ROOT/build.log" 2>&1 ||
        { cat "$QUBES_ROOT/build.log" >&2; fail "template build"; }
    qvm-create -t min -l red work || fail "create work"
}

test_template_build_list_remove() {
    make_work
    assert_contains "Writing the root volume: done" "$(cat "$QUBES_ROOT/build.log")" "progress"
    assert_eq "TemplateVM" "$(call admin.vm.List min | sed 's/.*class=\([A-Za-z]*\).*/\1/')" \
        "class"
    assert_contains "min " "$(qvm-template list)" "listed"
    # the work tree is always removed
    assert_eq "" "$(ls "$QUBES_ROOT/var/tmp")" "no work directory left"
    # a taken name fails before any build, and removes nothing
    assert_status 1 qvm-template build --recipe minimal min
    assert_contains "state=Halted" "$(call admin.vm.List min)" "min still there"
    assert_status 1 qvm-template build --recipe no-such-recipe other
    assert_status 2 qvm-template build --recipe minimal
    assert_status 1 qvm-template remove --yes work
    qvm-remove -f work || fail "remove work"
    qvm-template remove --yes min || fail "template remove"
    assert_contains "QubesVMNotFoundError" "$(call admin.vm.List min)" "gone"
}

test_template_import_tarball_and_failure_cleanup() {
    tree=$(mktemp -d "$QUBES_ROOT/tree.XXXXXX")
    sh "$BIN/../../templates/minimal/build.sh" "$tree" >/dev/null || fail "recipe"
    echo imported >"$tree/etc/marker"
    tar -C "$tree" --numeric-owner -czf "$QUBES_ROOT/min.tar.gz" . || fail "tar"
    qvm-template import tmin "$QUBES_ROOT/min.tar.gz" 2>/dev/null || fail "import tarball"
    qvm-create -t tmin -l red work || fail "create"
    assert_eq "imported" "$(qvm-run -p work 'cat /etc/marker')" "tree content"
    assert_eq "0" "$(qvm-run -p -u root work 'stat -c %u /etc/passwd')" "root-owned"
    # an archive that is not one: the half-made template is removed again
    echo garbage >"$QUBES_ROOT/bad.tar"
    assert_status 1 qvm-template import bad "$QUBES_ROOT/bad.tar"
    assert_contains "QubesVMNotFoundError" "$(call admin.vm.List bad)" "bad removed"
    assert_eq "" "$(ls "$QUBES_ROOT/var/tmp")" "no work directory left"
}

test_start_run_exit_codes() {
    make_work
    qvm-start work || fail "start"
    assert_eq "Running" "$(state work)" "running"
    assert_status 1 qvm-start work
    assert_contains "domain work is already running" \
        "$(qvm-start work 2>&1)" "already running message"
    assert_status 0 qvm-start --skip-if-running work
    assert_eq "hi" "$(qvm-run -p work 'echo hi')" "echo"
    assert_status 7 qvm-run -p work 'exit 7'
    # without --pass-io too: the remote exit code, output dropped
    assert_eq "" "$(qvm-run -q work 'echo dropped; exit 3')" "no output without -p"
    assert_status 3 qvm-run work 'exit 3'
    assert_contains "Running 'true' on work" "$(qvm-run work true 2>&1)" "verbose line"
    assert_eq "0" "$(qvm-run -p -u root work id -u)" "root"
    assert_eq "1000" "$(qvm-run -p work id -u)" "default user"
    assert_status 2 qvm-run -p work
    assert_status 2 qvm-run -p nosuch true
    assert_status 127 qvm-run -p work no-such-command-here
}

test_run_no_shell_and_service() {
    make_work
    # arguments go through qubes.VMExec untouched by any shell
    assert_eq "a b|c'd\"e|\$HOME|-x|" \
        "$(qvm-run -p work -- printf '%s|' 'a b' "c'd\"e" '$HOME' -x)" "argv"
    assert_eq "\$HOME" "$(qvm-run -p --no-shell work echo '$HOME')" "--no-shell"
    assert_eq "one two" "$(qvm-run -p --no-shell work 'echo' 'one two')" "spaces"
    assert_status 127 qvm-run -p --no-shell work 'echo hi'
    # stdin is passed through (the whole of it: a VMExec command reads it all)
    head -c 200000 /dev/urandom >"$QUBES_ROOT/blob"
    qvm-run -p --no-shell work cat <"$QUBES_ROOT/blob" >"$QUBES_ROOT/blob.out" ||
        fail "cat through"
    cmp "$QUBES_ROOT/blob" "$QUBES_ROOT/blob.out" || fail "stdin/stdout differ"
    assert_eq "$(printf 'a\nb')" \
        "$(printf 'echo a\necho b\n' | qvm-run -p --service work qubes.VMShell)" "service"
    assert_status 2 qvm-run -p --service --no-shell work qubes.VMShell
    # escape filtering on request
    assert_eq "_[1mX" "$(qvm-run -p --filter-escape-chars --no-colour-output work \
        'printf "\033[1mX"')" "filtered"
    assert_eq "$(printf '\033[1mX')" "$(qvm-run -p work 'printf "\033[1mX"')" "not filtered"
    # --localcmd: the local program talks to the remote one
    assert_eq "got hello" "$(qvm-run -p --localcmd 'read l; echo "got $l" >&2' work \
        'echo hello; read x' 2>&1)" "localcmd"
}

test_run_autostart_and_no_autostart() {
    make_work
    assert_eq "Halted" "$(state work)" "halted"
    assert_status 1 qvm-run -n work true
    assert_contains "Qube 'work' not started" "$(qvm-run -n work true 2>&1)" "message"
    assert_eq "Halted" "$(state work)" "still halted"
    assert_eq "up" "$(qvm-run -p work 'echo up')" "autostart"
    assert_eq "Running" "$(state work)" "started"
    qvm-pause work || fail "pause"
    assert_status 1 qvm-run -n work true
    assert_eq "thawed" "$(qvm-run -p work 'echo thawed')" "autounpause"
    assert_eq "Running" "$(state work)" "unpaused"
}

test_run_unavailable_features() {
    make_work
    assert_status 1 qvm-run --gui work true
    assert_contains "GUI not available yet" "$(qvm-run --gui work true 2>&1)" "gui"
    # no default_dispvm: the Admin API's error, exit 1 (test_dispvm_calls runs real ones)
    assert_status 1 qvm-run --dispvm true
    assert_status 0 qvm-run --no-gui work true
}

test_shutdown_kill_pause() {
    make_work
    qvm-create -t min -l blue w2 || fail "create w2"
    qvm-start work w2 || fail "start both"
    qvm-pause work || fail "pause"
    assert_eq "Paused" "$(state work)" "paused"
    assert_status 1 qvm-pause work
    assert_contains "Domain not running" "$(qvm-pause work 2>&1)" "pause message"
    qvm-unpause work || fail "unpause"
    assert_eq "Running" "$(state work)" "unpaused"
    assert_status 1 qvm-unpause work
    # both at once, waited for
    qvm-shutdown --wait work w2 || fail "shutdown --wait"
    assert_eq "Halted Halted" "$(state work) $(state w2)" "both halted"
    assert_status 0 qvm-shutdown work
    assert_status 0 qvm-kill work
    qvm-start work || fail "start again"
    assert_status 1 qvm-shutdown --dry-run --timeout 0.2 work
    assert_eq "Running" "$(state work)" "dry run"
    qvm-kill work || fail "kill"
    assert_eq "Halted" "$(state work)" "killed"
    qvm-start work w2 || fail "start both again"
    qvm-shutdown --all --wait --timeout 20 || fail "shutdown --all"
    assert_eq "Halted Halted" "$(state work) $(state w2)" "all halted"
    assert_status 2 qvm-shutdown
    assert_status 2 qvm-kill nosuch
}

test_root_is_reset_home_kept() {
    make_work
    qvm-run -p -u root work 'echo gone > /marker; echo kept > /home/user/marker' ||
        fail "write"
    qvm-shutdown --wait work || fail "shutdown"
    assert_eq "missing" "$(qvm-run -p work 'cat /marker 2>/dev/null || echo missing')" \
        "root reset"
    assert_eq "kept" "$(qvm-run -p work 'cat /home/user/marker')" "home kept"
}

test_help() {
    for t in qvm-start qvm-shutdown qvm-kill qvm-pause qvm-unpause qvm-run qvm-template; do
        assert_contains "usage: $t" "$($t --help)" "$t --help"
    done
    assert_contains "usage: qvm-template build" "$(qvm-template build --help)" "build --help"
}
