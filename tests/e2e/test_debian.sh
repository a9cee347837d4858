# The debian-12 template, the real-world path: its root tree comes from
# templates/debian-12/build.sh (debootstrap from the host's Debian mirror,
# about a minute), kept in .cache/ under the recipe's hash so both builds'
# runs of this file bootstrap once. Passwordless root as in Qubes: sudo and
# su make the qube's root, which is the qube's only.
source "$(dirname "${BASH_SOURCE[0]}")/helpers.sh"

TOP=$(cd "$BIN/../.." && pwd)
RECIPE="$TOP/templates/debian-12/build.sh"

# The template's tree as a tar, bootstrapped once per version of the recipe.
debian_tree_tar() {
    local hash tar tree
    hash=$(cat "$RECIPE" "$TOP/templates/guest-links.sh" | sha256sum | cut -c1-16)
    tar="$TOP/.cache/templates/debian-12-$hash.tar"
    if [ ! -s "$tar" ]; then
        mkdir -p "$TOP/.cache/templates" || return 1
        tree=$(mktemp -d "$TOP/.cache/templates/tree.XXXXXX") || return 1
        if ! sh "$RECIPE" "$tree" >"$tree.log" 2>&1; then
            cat "$tree.log" >&2
            rm -rf "$tree" "$tree.log"
            return 1
        fi
        tar -C "$tree" --numeric-owner -cf "$tar.new" . && mv "$tar.new" "$tar"
        rm -rf "$tree" "$tree.log"
    fi
    echo "$tar"
}

make_debian_template() {
    local tar tree path
    tar=$(debian_tree_tar) || fail "debootstrap (see above)"
    tree=$(mktemp -d "$QUBES_ROOT/tree.XXXXXX")
    tar -C "$tree" --numeric-owner -xpf "$tar" || fail "unpack"
    call admin.vm.Create.TemplateVM dom0 "" "name=$1 label=black" >/dev/null
    path=$(printf '' | qubesd-query dom0 internal.vm.volume.ImportBegin "$1" root |
        tr '\0' ' ' | awk '{print $3}')
    mkfs.ext4 -q -F -d "$tree" "$path" || fail "mkfs"
    rm -rf "$tree"
    assert_eq "0|" "$(call internal.vm.volume.ImportEnd "$1" root ok)" "import end"
}

test_sudo_and_su_make_the_qubes_root() {
    make_debian_template debian-12
    mk_appvm work debian-12 blue
    assert_eq "1000" "$(qvm-run -p work 'id -u' </dev/null)" "the user"
    assert_eq "0" "$(qvm-run -p work 'sudo -n id -u' </dev/null 2>&1)" "sudo"
    assert_eq "0" "$(qvm-run -p work 'su -c "id -u"' </dev/null 2>&1)" "su"
    # root through sudo is the qube's: the filter holds
    assert_eq "mount: /mnt: permission denied." \
        "$(qvm-run -p work 'sudo -n mount -t tmpfs none /mnt' </dev/null 2>&1 | sed 's/ *dmesg.*//')" \
        "no mount for the qube's root"
    # and it is the template's doing: a qube's own volume does not grant it
    qvm-run -p work 'cp /usr/bin/sudo ~/sudo' </dev/null || fail "copy"
    assert_contains "must be owned by uid 0 and have the setuid bit set" \
        "$(qvm-run -p work '~/sudo -n id -u' </dev/null 2>&1)" "sudo from /home"
}
