/* The one error convention: functions return 0 or -1 and fill a qerror whose
 * kind is the Qubes exception class name the Admin API reports. */
#pragma once

#include <stdarg.h>

#define QERROR_MAX 1024

struct qerror {
    const char *kind; /* "QubesValueError", "ProtocolError", ...; NULL = no error */
    char message[QERROR_MAX];
    char kind_copy[64]; /* holds a kind that came from a peer (qerror_set_peer_kind) */
};

/* Sets the error and returns -1, so `return qerror_set(err, ...)` reads well. */
int qerror_set(struct qerror *err, const char *kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Like qerror_set, with ": <strerror(errnum)>" appended. */
int qerror_errno(struct qerror *err, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Prepends context ("load store: ") to a message already set. */
void qerror_prefix(struct qerror *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void qerror_clear(struct qerror *err);
/* Sets kind to a copy of a class name received from qubesd. */
void qerror_set_peer_kind(struct qerror *err, const char *kind);
