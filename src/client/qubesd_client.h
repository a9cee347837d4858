/* The client side of the Admin API: one call per connection to
 * $QUBES_ROOT/run/qubesd.sock, and event streams. */
#pragma once

#include <stddef.h>

#include "common/buf.h"
#include "common/error.h"

/* Sends "<method>+<arg> dom0 name <dest>\0<payload>", waits for the answer.
 * On OK, the value goes to *content (NUL-terminated; may be NULL to ignore)
 * and 0 is returned. On an exception, err->kind is the Qubes exception class
 * and err->message its text; on a transport failure, kind is
 * "QubesDaemonAccessError". Returns -1 in both cases. */
int qubesd_call(const char *method, const char *arg, const char *dest, const void *payload,
                size_t payload_len, struct buf *content, struct qerror *err);

/* A whole answer (as read from qubesd, or a dom0 service that forwards one) taken apart as
 * qubesd_call() does. */
int qubesd_answer(const struct buf *resp, struct buf *content, struct qerror *err);

/* The same, for a NUL-terminated string payload (or NULL for none). */
int qubesd_call_str(const char *method, const char *arg, const char *dest, const char *payload,
                    struct buf *content, struct qerror *err);

/* Opens an event stream ("admin.Events" to dest). Returns a connected fd
 * whose request has been sent, or -1. Read with admin_event_parse(). */
int qubesd_open_events(const char *method, const char *dest, struct qerror *err);
