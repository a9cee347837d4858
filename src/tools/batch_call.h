/* Many Admin API calls in flight at once: qubesd answers each connection
 * independently, so N independent calls cost about one round trip, not N. */
#pragma once

#include <stddef.h>

#include "common/buf.h"
#include "common/error.h"

/* Calls in flight at the same time. */
#define BATCH_MAX_INFLIGHT 32

struct batch_call {
    /* in */
    const char *method;
    const char *arg; /* NULL or "" for none */
    const char *dest;
    const char *payload; /* NULL for none */
    size_t payload_len;
    /* out */
    int status; /* 0 ok (content holds the value), -1 failed (err) */
    struct buf content;
    /* set exactly when status is -1 (freed by batch_free): out of line, as a
     * qerror is over 1 KiB and a call is 80 bytes (qvm-ls makes 1000) */
    struct qerror *err;
};

/* Runs all calls; each one's outcome is in its status/content/err. */
void batch_run(struct batch_call *calls, size_t n);
/* The same, but each answer goes to done as its call ends with status 0
 * (content NUL-terminated, valid during the call only) instead of into
 * c->content: a caller that parses as the answers come keeps no copies. */
typedef void (*batch_done_fn)(struct batch_call *c, const char *content, size_t len, void *ctx);
void batch_run_each(struct batch_call *calls, size_t n, batch_done_fn done, void *ctx);
void batch_free(struct batch_call *calls, size_t n);
