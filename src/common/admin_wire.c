/* Parsing and building of Admin API requests, answers and events. */
#include "common/admin_wire.h"

#include <string.h>

static bool header_char_ok(unsigned char c)
{
    return c >= 0x20 && c < 0x7f;
}

int admin_request_parse(char *untrusted_buf, size_t len, struct admin_request *req)
{
    char *nul = memchr(untrusted_buf, '\0', len);
    if (!nul)
        return -1;
    for (char *p = untrusted_buf; p < nul; p++)
        if (!header_char_ok((unsigned char)*p))
            return -1;

    /* split(b" ", 3): the destination takes the rest, spaces included */
    char *fields[4];
    char *p = untrusted_buf;
    for (int i = 0; i < 3; i++) {
        char *sp = memchr(p, ' ', (size_t)(nul - p));
        if (!sp)
            return -1;
        *sp = '\0';
        fields[i] = p;
        p = sp + 1;
    }
    fields[3] = p;

    const char *dest_type = fields[2];
    const char *dest = fields[3];
    if (strcmp(dest_type, "keyword") == 0 && strcmp(dest, "adminvm") == 0)
        dest = "dom0";
    else if (strcmp(dest_type, "name") != 0)
        return -1;

    char *plus = strchr(fields[0], '+');
    if (plus) {
        *plus = '\0';
        req->arg = plus + 1;
    } else {
        req->arg = "";
    }
    req->method = fields[0];
    req->src = fields[1];
    req->dest = dest;
    req->payload = nul + 1;
    req->payload_len = len - (size_t)(nul + 1 - untrusted_buf);
    return 0;
}

void admin_request_build(struct buf *out, const char *method, const char *arg, const char *dest,
                         const void *payload, size_t payload_len)
{
    buf_printf(out, "%s+%s dom0 name %s", method, arg ? arg : "", dest);
    buf_append(out, "", 1);
    buf_append(out, payload, payload_len);
}

void admin_response_ok(struct buf *out, const char *content, size_t len)
{
    buf_append(out, "0\0", 2);
    buf_append(out, content, len);
}

void admin_response_exception(struct buf *out, const char *kind, const char *traceback,
                              const char *message)
{
    buf_append(out, "2\0", 2);
    buf_append(out, kind, strlen(kind) + 1);
    buf_append(out, traceback, strlen(traceback) + 1);
    buf_append(out, message, strlen(message) + 1);
}

int admin_response_parse(const char *untrusted_buf, size_t len, struct admin_response *resp,
                         struct qerror *err)
{
    memset(resp, 0, sizeof(*resp));
    if (len == 0)
        return qerror_set(err, ERR_QUBES_DAEMON_ACCESS_ERROR,
                          "Got empty response from qubesd. See %s for details.",
                          "var/log/qubes/qubesd.log");
    if (len >= 2 && untrusted_buf[0] == ADMIN_MSG_OK && untrusted_buf[1] == '\0') {
        resp->type = ADMIN_MSG_OK;
        resp->content = untrusted_buf + 2;
        resp->content_len = len - 2;
        return 0;
    }
    if (len >= 2 && untrusted_buf[0] == ADMIN_MSG_EXCEPTION && untrusted_buf[1] == '\0') {
        /* kind \0 traceback \0 message \0 */
        const char *fields[3];
        const char *p = untrusted_buf + 2, *end = untrusted_buf + len;
        for (int i = 0; i < 3; i++) {
            const char *nul = memchr(p, '\0', (size_t)(end - p));
            if (!nul)
                return qerror_set(err, ERR_QUBES_DAEMON_COMMUNICATION_ERROR,
                                  "Invalid response format");
            fields[i] = p;
            p = nul + 1;
        }
        resp->type = ADMIN_MSG_EXCEPTION;
        resp->kind = fields[0];
        resp->message = fields[2];
        return 0;
    }
    return qerror_set(err, ERR_QUBES_DAEMON_COMMUNICATION_ERROR, "Invalid response format");
}

long admin_event_parse(const char *untrusted_buf, size_t len, struct admin_event *ev)
{
    memset(ev, 0, sizeof(*ev));
    if (len < 2)
        return 0;
    if (untrusted_buf[0] != ADMIN_MSG_EVENT || untrusted_buf[1] != '\0')
        return -1;
    const char *p = untrusted_buf + 2, *end = untrusted_buf + len;
    const char *strings[2 + 2 * ADMIN_EVENT_MAX_KWARGS];
    size_t n = 0;
    for (;;) {
        const char *nul = memchr(p, '\0', (size_t)(end - p));
        if (!nul)
            return 0;
        /* an empty key (after subject and name) ends the event */
        if (n >= 2 && n % 2 == 0 && nul == p) {
            p = nul + 1;
            break;
        }
        if (n >= sizeof(strings) / sizeof(strings[0]))
            return -1;
        strings[n++] = p;
        p = nul + 1;
    }
    ev->subject = strings[0];
    ev->name = strings[1];
    ev->n_kwargs = (n - 2) / 2;
    for (size_t i = 0; i < ev->n_kwargs; i++) {
        ev->keys[i] = strings[2 + 2 * i];
        ev->values[i] = strings[3 + 2 * i];
    }
    return (long)(p - untrusted_buf);
}

void admin_event_build(struct buf *out, const char *subject, const char *name, size_t n_kwargs,
                       const char *const *keys, const char *const *values)
{
    buf_append(out, "1\0", 2);
    buf_append(out, subject, strlen(subject) + 1);
    buf_append(out, name, strlen(name) + 1);
    for (size_t i = 0; i < n_kwargs; i++) {
        buf_append(out, keys[i], strlen(keys[i]) + 1);
        buf_append(out, values[i], strlen(values[i]) + 1);
    }
    buf_append(out, "", 1);
}
