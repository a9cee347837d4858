/* Name and value syntax checks, worded as Qubes words them. */
#include "common/names.h"

#include <ctype.h>
#include <string.h>

static bool in_set(const char *s, const char *extra)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) || !isascii((unsigned char)*s))
            if (!strchr(extra, *s))
                return false;
    return true;
}

int validate_qube_name(const char *untrusted_name, const char *prop, struct qerror *err)
{
    const char *what = prop ? prop : "VM name";
    const char *verb = prop ? " value" : "";
    size_t len = strlen(untrusted_name);
    if (len > QUBE_NAME_MAX)
        return qerror_set(err, ERR_QUBES_VALUE_ERROR, "%s%s must be shorter than 32 characters",
                          what, verb);
    if (strchr("0123456789_.-", untrusted_name[0]) && untrusted_name[0])
        return qerror_set(err, ERR_QUBES_VALUE_ERROR,
                          "%s cannot start with hyphen, underscore, dot or numbers", what);
    bool ok = len > 0 && isascii((unsigned char)untrusted_name[0]) &&
              isalpha((unsigned char)untrusted_name[0]) && in_set(untrusted_name, "_.-");
    if (!ok)
        return qerror_set(err, ERR_QUBES_VALUE_ERROR, "%s%s contains illegal characters", what,
                          verb);
    if (strcmp(untrusted_name, "Domain-0") == 0)
        return qerror_set(err, ERR_QUBES_VALUE_ERROR, "VM name cannot be 'Domain-0'");
    if (strcmp(untrusted_name, "none") == 0 || strcmp(untrusted_name, "default") == 0)
        return qerror_set(err, ERR_QUBES_VALUE_ERROR, "VM name cannot be 'none' nor 'default'");
    if (len >= 3 && strcmp(untrusted_name + len - 3, "-dm") == 0)
        return qerror_set(err, ERR_QUBES_VALUE_ERROR, "VM name cannot end with -dm");
    return 0;
}

bool tag_name_ok(const char *untrusted_tag)
{
    return in_set(untrusted_tag, "_-");
}

bool feature_name_ok(const char *untrusted_name)
{
    return in_set(untrusted_name, "_.-");
}

bool label_name_ok(const char *untrusted_name, bool creation)
{
    if (!in_set(untrusted_name, "_.-"))
        return false;
    if (creation && strspn(untrusted_name, "0123456789") == strlen(untrusted_name))
        return false;
    return true;
}

bool label_color_ok(const char *untrusted_color)
{
    if (strlen(untrusted_color) != 8 || strncmp(untrusted_color, "0x", 2) != 0)
        return false;
    for (int i = 2; i < 8; i++)
        if (!isxdigit((unsigned char)untrusted_color[i]))
            return false;
    return true;
}

bool all_printable(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!((c >= 0x20 && c < 0x7f) || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
              c == '\f'))
            return false;
    }
    return true;
}

bool all_printable_ascii(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
            return false;
    return true;
}
