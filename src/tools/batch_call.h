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
    struct qerror err;
};

/* Runs all calls; each one's outcome is in its status/content/err. */
void batch_run(struct batch_call *calls, size_t n);
void batch_free(struct batch_call *calls, size_t n);
