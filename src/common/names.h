/* Syntax checks of the names Qubes users type: qubes, tags, features and
 * labels. Shared by qubesd (authoritative) and the tools (early messages). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"

#define QUBE_NAME_MAX 31

/* validate_name of qubes/vm/__init__.py; kind QubesValueError. prop, when not
 * NULL, words the message for a property value ("netvm value ..."). */
int validate_qube_name(const char *untrusted_name, const char *prop, struct qerror *err);
/* [A-Za-z0-9_-]+ */
bool tag_name_ok(const char *untrusted_tag);
/* [A-Za-z0-9_.-]+ */
bool feature_name_ok(const char *untrusted_name);
/* [A-Za-z0-9_.-]+, and for a new label not all digits */
bool label_name_ok(const char *untrusted_name, bool creation);
/* "0x" and six hex digits */
bool label_color_ok(const char *untrusted_color);
/* Every byte in Python's string.printable. */
bool all_printable(const char *s, size_t len);
/* Every byte in 0x20..0x7e. */
bool all_printable_ascii(const char *s, size_t len);
