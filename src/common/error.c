/* Error objects carrying a Qubes exception class and a message that gains
 * context on its way up. */
#include "common/error.h"

#include <stdio.h>
#include <string.h>

int qerror_set(struct qerror *err, enum qerror_kind kind, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    err->kind = kind;
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    return -1;
}

int qerror_errno(struct qerror *err, int errnum, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    err->kind = ERR_QUBES_EXCEPTION;
    int n = vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < sizeof(err->message))
        snprintf(err->message + n, sizeof(err->message) - (size_t)n, ": %s", strerror(errnum));
    return -1;
}

void qerror_prefix(struct qerror *err, const char *fmt, ...)
{
    char prefix[256];
    char old[QERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    memcpy(old, err->message, sizeof(old));
    /* the message may be cut at QERROR_MAX: context first, detail last */
    size_t n = strnlen(prefix, sizeof(prefix));
    if (n >= sizeof(err->message))
        n = sizeof(err->message) - 1;
    memcpy(err->message, prefix, n);
    size_t rest = sizeof(err->message) - n - 1;
    size_t m = strnlen(old, rest);
    memcpy(err->message + n, old, m);
    err->message[n + m] = '\0';
}

void qerror_clear(struct qerror *err)
{
    err->kind = ERR_NONE;
    err->peer_kind[0] = '\0';
    err->message[0] = '\0';
}

static const char *const kind_names[] = {
    [ERR_NONE] = "",
/* clang-format would read the expansion as an expression continued below */
/* clang-format off */
#define QERROR_NAME(id, name) [ERR_##id] = name,
    QERROR_KINDS(QERROR_NAME)
#undef QERROR_NAME
    [ERR_PEER] = "",
    /* clang-format on */
};

void qerror_set_peer_kind(struct qerror *err, const char *name)
{
    for (int k = ERR_NONE + 1; k < ERR_PEER; k++)
        if (strcmp(kind_names[k], name) == 0) {
            err->kind = (enum qerror_kind)k;
            return;
        }
    err->kind = ERR_PEER;
    snprintf(err->peer_kind, sizeof(err->peer_kind), "%s", name);
}

const char *qerror_kind_name(const struct qerror *err)
{
    if (err->kind == ERR_PEER)
        return err->peer_kind;
    return err->kind <= ERR_PEER ? kind_names[err->kind] : "QubesException";
}
