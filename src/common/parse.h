/* Integer and boolean literals from text, parsed strictly and in one way: what a caller
 * accepts beyond the plain form is a flag it names, with its reason at the call. */
#pragma once

#include <stdbool.h>

/* parse_ll: a leading '+' ("+640"), as Python's int() takes it. */
#define PARSE_PLUS (1u << 0)
/* parse_ll: whitespace before and after the number (" 512\n"), as Python's int() strips it. */
#define PARSE_SPACE (1u << 1)
/* parse_ll: no leading zeros ("007"), as the Admin API's sizes (validate_size). */
#define PARSE_NO_LEADING_ZEROS (1u << 2)
/* What Python's int() of a str takes, less its '_' separators: argparse's type=int. */
#define PARSE_PYTHON_INT (PARSE_PLUS | PARSE_SPACE)

/* A decimal integer in [min, max] that is the whole of untrusted_s: ASCII digits, after a '-'
 * only where min < 0; no whitespace (unless PARSE_SPACE), no '+' (unless PARSE_PLUS), no other
 * base. Leading zeros are accepted ("007" is 7) unless PARSE_NO_LEADING_ZEROS. Returns 0 with
 * *out set, or -1 with errno EINVAL (not such a literal) or ERANGE (outside [min, max]) and
 * *out untouched. */
int parse_ll(const char *untrusted_s, long long min, long long max, unsigned flags, long long *out);

/* parse_bool: "" is false too; the storage code always took it (pool options, volume
 * config and the volume/pool Set.* bool calls), where Qubes' property.bool refuses it. */
#define PARSE_BOOL_EMPTY_FALSE (1u << 0)
/* parse_bool: only "yes" and "no", as written: the qrexec policy format's notify= and
 * autostart=, and the policy daemon's request flags (upstream takes no other spelling). */
#define PARSE_BOOL_YES_NO (1u << 1)

/* A boolean literal as Qubes' qubes.property.bool() reads it: "1", "yes", "true", "on" and
 * "0", "no", "false", "off", in any case; nothing around them. Returns 0 with *out set, or
 * -1 with errno EINVAL and *out untouched. */
int parse_bool(const char *untrusted_s, unsigned flags, bool *out);
