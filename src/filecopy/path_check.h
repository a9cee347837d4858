/* Which names and symlink targets a file copy may create (upstream's
 * qubes_pure_validate_file_name_v2 / _symbolic_link_v2 rules), and which qube
 * names may name a QubesIncoming directory. Pure functions, no I/O. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

enum path_check_flags {
    /* no character checks at all (structure checks remain): --allow-all-names */
    PATH_ALLOW_UNSAFE_CHARACTERS = 1 << 0,
    /* symlink targets may have "//", "." components and be empty of real components */
    PATH_ALLOW_NON_CANONICAL_SYMLINKS = 1 << 1,
    /* no check of symlink targets */
    PATH_ALLOW_UNSAFE_SYMLINKS = 1 << 2,
    /* any path may be non-canonical (used for symlink targets) */
    PATH_ALLOW_NON_CANONICAL_PATHS = 1 << 3,
    PATH_ALLOW_TRAILING_SLASH = 1 << 4,
};

/* A Unicode scalar value on the "safe for display" allowlist: printable ASCII,
 * Latin, Greek, Cyrillic, CJK, Hangul, Kana and common punctuation and symbols;
 * never a control, combining mark, right-to-left or complex script, format
 * character, private-use code point, surrogate or noncharacter. */
bool path_check_code_point_safe(uint32_t code_point);

/* Length (1..4) of the strictly decoded (RFC 3629) UTF-8 character at s whose
 * code point is safe for display; 0 if invalid or unsafe. s is NUL-terminated. */
int path_check_utf8_char(const uint8_t *s);

/* A relative path of >= 1 components, none empty, "." or "..", no trailing
 * '/', every character safe for display (unless PATH_ALLOW_UNSAFE_CHARACTERS).
 * 0 or -EILSEQ. */
int path_check_file_name(const char *untrusted_name, unsigned flags);

/* A symlink called untrusted_name (>= 2 components: a top-level entry is never
 * a symlink) pointing to untrusted_target: relative, with at most
 * depth(name) - 2 leading ".." and no other "..", so ~/QubesIncoming/VM/a/...
 * can never point outside .../VM/a. 0, -EILSEQ (bad name or characters) or
 * -ENOLINK (a target that might escape). */
int path_check_symlink(const char *untrusted_name, const char *untrusted_target, unsigned flags);

/* A name a QubesIncoming/<name> directory may have: 1..31 bytes of
 * [A-Za-z0-9_.-] starting with a letter (Qubes' qube names; never "." or ".."). */
bool path_check_qube_name(const char *untrusted_name);
