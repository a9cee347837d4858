/* The qubesd Admin API wire format (reference admin-api.md §1.2-1.5): one
 * request per connection, processed at EOF, answered with a typed message. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"
#include "common/error.h"

/* Header plus payload; a longer request is dropped unanswered, as qubesd does. */
#define ADMIN_MAX_REQUEST 65536

#define ADMIN_MSG_OK '0'
#define ADMIN_MSG_EVENT '1'
#define ADMIN_MSG_EXCEPTION '2'

/* A parsed request. The strings point into the caller's buffer, which the
 * parser NUL-terminates in place; nothing here is validated beyond framing. */
struct admin_request {
    const char *method;
    const char *arg;  /* "" when absent */
    const char *src;  /* "dom0" for local callers */
    const char *dest; /* a name or "uuid:..." (keyword adminvm becomes "dom0") */
    const char *payload;
    size_t payload_len;
};

/* Splits "<method>[+<arg>] <src> <dest-type> <dest>\0<payload>". The header
 * must be printable ASCII. Returns -1 on a framing error (the connection is
 * then dropped without an answer). */
int admin_request_parse(char *untrusted_buf, size_t len, struct admin_request *req);

/* Builds the request bytes a client sends. */
void admin_request_build(struct buf *out, const char *method, const char *arg, const char *dest,
                         const void *payload, size_t payload_len);

/* Encoders of the three answers. */
void admin_response_ok(struct buf *out, const char *content, size_t len);
void admin_response_exception(struct buf *out, const char *kind, const char *traceback,
                              const char *message);

/* A parsed answer. For OK, content/len is the value; for EXCEPTION, kind and
 * message are set (pointing into the response buffer). */
struct admin_response {
    char type; /* ADMIN_MSG_OK or ADMIN_MSG_EXCEPTION */
    const char *content;
    size_t content_len;
    const char *kind;
    const char *message;
};

/* Parses a whole (non-event) answer; the buffer must be NUL-terminated past
 * len (struct buf is). Sets err on an empty or malformed answer. */
int admin_response_parse(const char *untrusted_buf, size_t len, struct admin_response *resp,
                         struct qerror *err);

/* One event of an admin.Events stream. */
#define ADMIN_EVENT_MAX_KWARGS 16
struct admin_event {
    const char *subject; /* "" for the app */
    const char *name;
    size_t n_kwargs;
    const char *keys[ADMIN_EVENT_MAX_KWARGS];
    const char *values[ADMIN_EVENT_MAX_KWARGS];
};

/* Tries to take one event from the front of buf. Returns the number of bytes
 * it used, 0 if more input is needed, -1 if the stream is malformed. The
 * strings point into buf. */
long admin_event_parse(const char *untrusted_buf, size_t len, struct admin_event *ev);
/* Appends the encoding of one event. */
void admin_event_build(struct buf *out, const char *subject, const char *name, size_t n_kwargs,
                       const char *const *keys, const char *const *values);
