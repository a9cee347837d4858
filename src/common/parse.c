/* Strict integer and boolean literals (parse.h). */
#include "common/parse.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <strings.h>

#include "common/cleanup.h"

int parse_ll(const char *untrusted_s, long long min, long long max, unsigned flags, long long *out)
{
    const char *p = untrusted_s;
    const char *end = p + strlen(p);
    if (flags & PARSE_SPACE) {
        while (isspace((unsigned char)*p))
            p++;
        while (end > p && isspace((unsigned char)end[-1]))
            end--;
    }
    bool negative = false;
    if (*p == '-' && min < 0) {
        negative = true;
        p++;
    } else if (*p == '+' && (flags & PARSE_PLUS)) {
        p++;
    }
    if (p == end || *p < '0' || *p > '9' ||
        ((flags & PARSE_NO_LEADING_ZEROS) && p[0] == '0' && p + 1 < end)) {
        errno = EINVAL;
        return -1;
    }
    /* accumulate towards the negative side, which holds LLONG_MIN */
    long long v = 0;
    bool overflow = false;
    for (; p < end; p++) {
        if (*p < '0' || *p > '9') {
            errno = EINVAL;
            return -1;
        }
        int d = *p - '0';
        if (v < (LLONG_MIN + d) / 10)
            overflow = true;
        else
            v = v * 10 - d;
    }
    if (!negative && !overflow) {
        if (v == LLONG_MIN)
            overflow = true;
        else
            v = -v;
    }
    if (overflow || v < min || v > max) {
        errno = ERANGE;
        return -1;
    }
    *out = v;
    return 0;
}

int parse_bool(const char *untrusted_s, unsigned flags, bool *out)
{
    static const char *const yes[] = { "1", "yes", "true", "on" };
    static const char *const no[] = { "0", "no", "false", "off" };
    if (flags & PARSE_BOOL_YES_NO) {
        if (strcmp(untrusted_s, "yes") == 0 || strcmp(untrusted_s, "no") == 0) {
            *out = untrusted_s[0] == 'y';
            return 0;
        }
        errno = EINVAL;
        return -1;
    }
    if ((flags & PARSE_BOOL_EMPTY_FALSE) && !*untrusted_s) {
        *out = false;
        return 0;
    }
    for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
        if (strcasecmp(untrusted_s, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(untrusted_s, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    errno = EINVAL;
    return -1;
}
