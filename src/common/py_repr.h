/* Python's repr() of a str, for the messages where Qubes quotes a value with {!r}: the same
 * quote choice and escapes, so our errors read as Qubes' do. */
#pragma once

#include <stddef.h>

#include "common/buf.h"

/* Appends repr(s[0..len)): 'abc', "it's", 'a\'"b', '\x01'. A byte outside printable ASCII is
 * \xNN: exactly Python's repr for the ASCII text Qubes' checks let through. */
void py_repr(struct buf *out, const char *s, size_t len);
/* repr(s) of a NUL-terminated s as a heap string the caller frees. */
char *py_repr_dup(const char *s);
