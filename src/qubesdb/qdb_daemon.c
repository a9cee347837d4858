/* qubesdb-daemon's message handling for both modes (see qdb_daemon.h): the channel to the
 * peer daemon, fail closed, and the local clients, answered as upstream's db-cmds.c does. */
#include "qubesdb/qdb_daemon.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"

void qdb_daemon_init(struct qdb_daemon *d, enum qdb_mode mode, const char *qube)
{
    memset(d, 0, sizeof(*d));
    d->mode = mode;
    if (qube)
        snprintf(d->log_prefix, sizeof(d->log_prefix), "qube=%s ", qube);
    qdb_store_init(&d->store);
}

static void conn_free(struct qdb_conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    buf_free(&c->in);
    buf_free(&c->out);
    free(c);
}

void qdb_daemon_free(struct qdb_daemon *d)
{
    for (size_t i = 0; i < d->nconns; i++)
        conn_free(d->conns[i]);
    d->nconns = 0;
    qdb_store_free(&d->store);
    buf_free(&d->chan_in);
    buf_free(&d->chan_out);
}

void qdb_daemon_request_sync(struct qdb_daemon *d)
{
    qdb_msg_encode(&d->chan_out, QDB_CMD_MULTIREAD, "", NULL, 0);
    d->sync_requested = true;
}

struct qdb_conn *qdb_daemon_conn_add(struct qdb_daemon *d, int fd, bool control)
{
    if (d->nconns >= QDB_MAX_CLIENTS)
        return NULL;
    struct qdb_conn *c = xcalloc(1, sizeof(*c));
    c->fd = fd;
    c->control = control;
    d->conns[d->nconns++] = c;
    return c;
}

void qdb_daemon_conn_drop(struct qdb_daemon *d, struct qdb_conn *c)
{
    qdb_store_watch_rm_owner(&d->store, c);
    for (size_t i = 0; i < d->nconns; i++) {
        if (d->conns[i] == c) {
            d->conns[i] = d->conns[--d->nconns];
            break;
        }
    }
    conn_free(c);
}

/* A watch event for one client; one that lets them pile up is dropped. */
static void fire_one(const void *owner, const char *path, void *ctx)
{
    (void)ctx;
    struct qdb_conn *c = (struct qdb_conn *)owner;
    if (c->dead)
        return;
    if (c->out.len + QDB_HDR_SIZE > QDB_CONN_OUT_MAX) {
        log_warning("op=watch result=dropped-client reason=\"%zu bytes unread\"", c->out.len);
        c->dead = true;
        return;
    }
    qdb_msg_encode(&c->out, QDB_RESP_WATCH, path, NULL, 0);
}

static void fire_watches(struct qdb_daemon *d, const char *path)
{
    qdb_store_fire(&d->store, path, fire_one, NULL);
}

/* Whose limits a write is held to: the qube's own writes (its clients in qube mode, the
 * channel in dom0 mode) to its share, dom0's to the whole database. */
static const struct qdb_limits *limits_for(const struct qdb_daemon *d, bool from_channel)
{
    bool from_qube = (d->mode == QDB_MODE_QUBE) != from_channel;
    return from_qube ? &qdb_limits_qube : &qdb_limits_full;
}

static bool power_of_ten(unsigned long n)
{
    while (n >= 10 && n % 10 == 0)
        n /= 10;
    return n == 1;
}

static void log_refusal(struct qdb_daemon *d, const char *source, const char *path)
{
    /* one line at the 1st, 10th, 100th, ... refusal, so a qube that keeps trying cannot flood
     * the log */
    if (!power_of_ten(++d->refused))
        return;
    log_warning("%sop=write source=%s path=%s result=refused reason=limits count=%lu "
                "entries=%zu bytes=%zu",
                d->log_prefix, source, path, d->refused, d->store.n, d->store.bytes);
}

static int channel_fail(struct qdb_daemon *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int channel_fail(struct qdb_daemon *d, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->why, sizeof(d->why), fmt, ap);
    va_end(ap);
    return -1;
}

static void reply(struct buf *out, enum qdb_msg_type type, const char *path)
{
    qdb_msg_encode(out, type, path, NULL, 0);
}

/* dom0: the qube's one request for the whole database. */
static int send_dump(struct qdb_daemon *d)
{
    if (d->synced)
        return channel_fail(d, "second CMD_MULTIREAD: only one per connection");
    for (size_t i = 0; i < d->store.n; i++) {
        const struct qdb_entry *e = &d->store.entries[i];
        qdb_msg_encode(&d->chan_out, QDB_RESP_MULTIREAD, e->path, e->value, e->len);
    }
    reply(&d->chan_out, QDB_RESP_MULTIREAD, "");
    d->synced = true;
    log_info("%sop=sync entries=%zu result=ok", d->log_prefix, d->store.n);
    return 0;
}

/* qube: one entry of dom0's dump, or its end. */
static int load_dump_entry(struct qdb_daemon *d, const struct qdb_hdr *hdr, const char *data)
{
    if (!d->sync_requested)
        return channel_fail(d, "RESP_MULTIREAD not asked for");
    if (hdr->path[0] == '\0') {
        d->sync_requested = false;
        d->synced = true;
        log_info("op=sync entries=%zu result=ok", d->store.n);
        return 0;
    }
    int rc = qdb_store_write(&d->store, hdr->path, data, hdr->data_len, &qdb_limits_full);
    if (rc < 0)
        return channel_fail(d, "dump entry not stored: %s", strerror(-rc));
    fire_watches(d, hdr->path);
    return 0;
}

static int channel_write(struct qdb_daemon *d, const struct qdb_hdr *hdr, const char *data)
{
    int rc = qdb_store_write(&d->store, hdr->path, data, hdr->data_len, limits_for(d, true));
    if (rc == -ENOSPC) {
        log_refusal(d, d->mode == QDB_MODE_DOM0 ? "qube" : "dom0", hdr->path);
        reply(&d->chan_out, QDB_RESP_ERROR, hdr->path);
        return 0;
    }
    if (rc < 0)
        return channel_fail(d, "CMD_WRITE not stored: %s", strerror(-rc));
    reply(&d->chan_out, QDB_RESP_OK, hdr->path);
    fire_watches(d, hdr->path);
    return 0;
}

static int channel_rm(struct qdb_daemon *d, const struct qdb_hdr *hdr)
{
    int n = qdb_store_rm(&d->store, hdr->path);
    if (n < 0)
        return channel_fail(d, "CMD_RM of an invalid path");
    if (n == 0) {
        /* as upstream: the two copies disagree, and that is not repaired */
        reply(&d->chan_out, QDB_RESP_ERROR_NOENT, hdr->path);
        return channel_fail(d, "CMD_RM of %s, which is not there: the copies are out of sync",
                            hdr->path);
    }
    reply(&d->chan_out, QDB_RESP_OK, hdr->path);
    fire_watches(d, hdr->path);
    return 0;
}

static int channel_answer(struct qdb_daemon *d, const struct qdb_hdr *hdr)
{
    if (d->acks_due == 0)
        return channel_fail(d, "%s answers nothing that was sent", qdb_msg_type_name(hdr->type));
    d->acks_due--;
    if (hdr->type == QDB_RESP_ERROR)
        log_warning("%sop=forward result=refused-by-peer", d->log_prefix);
    return 0;
}

/* One checked message from the peer daemon. */
static int channel_message(struct qdb_daemon *d, const struct qdb_hdr *hdr, const char *data)
{
    if (d->mode == QDB_MODE_QUBE && !d->synced && hdr->type != QDB_RESP_MULTIREAD)
        return channel_fail(d, "%s before the dump was complete", qdb_msg_type_name(hdr->type));
    switch ((enum qdb_msg_type)hdr->type) {
    case QDB_CMD_MULTIREAD: return send_dump(d);
    case QDB_RESP_MULTIREAD: return load_dump_entry(d, hdr, data);
    case QDB_CMD_WRITE: return channel_write(d, hdr, data);
    case QDB_CMD_RM: return channel_rm(d, hdr);
    case QDB_RESP_OK:
    case QDB_RESP_ERROR: return channel_answer(d, hdr);
    case QDB_CMD_READ:
    case QDB_CMD_LIST:
    case QDB_CMD_WATCH:
    case QDB_CMD_UNWATCH:
    case QDB_RESP_ERROR_NOENT:
    case QDB_RESP_READ:
    case QDB_RESP_LIST:
    case QDB_RESP_WATCH: break;
    }
    /* qdb_check_msg let none of these through */
    return channel_fail(d, "%s not handled on the channel", qdb_msg_type_name(hdr->type));
}

int qdb_daemon_channel_input(struct qdb_daemon *d)
{
    enum qdb_role role = d->mode == QDB_MODE_DOM0 ? QDB_FROM_QUBE : QDB_FROM_DOM0;
    size_t pos = 0;
    int rc = 0;
    while (d->chan_in.len - pos >= QDB_HDR_SIZE) {
        const uint8_t *untrusted_msg = (const uint8_t *)d->chan_in.data + pos;
        struct qdb_hdr untrusted_hdr;
        const char *why = NULL;
        if (qdb_hdr_decode(untrusted_msg, &untrusted_hdr, &why) < 0) {
            rc = channel_fail(d, "%s (type %u)", why, untrusted_msg[0]);
            break;
        }
        if (qdb_check_msg(role, &untrusted_hdr, &why) < 0) {
            rc = channel_fail(d, "%s: %s", qdb_msg_type_name(untrusted_hdr.type), why);
            break;
        }
        if (d->chan_in.len - pos - QDB_HDR_SIZE < untrusted_hdr.data_len)
            break; /* the value is still on its way */
        const char *untrusted_data = (const char *)untrusted_msg + QDB_HDR_SIZE;
        if (untrusted_hdr.data_len && !qdb_value_ok(untrusted_data, untrusted_hdr.data_len)) {
            rc = channel_fail(d, "%s value with a NUL byte", qdb_msg_type_name(untrusted_hdr.type));
            break;
        }
        const struct qdb_hdr hdr = untrusted_hdr;
        const char *data = untrusted_data;
        pos += QDB_HDR_SIZE + hdr.data_len;
        if (channel_message(d, &hdr, data) < 0) {
            rc = -1;
            break;
        }
    }
    buf_consume(&d->chan_in, pos);
    return rc;
}

/* A change by a local client reaches the peer once it has its copy. */
static void forward(struct qdb_daemon *d, enum qdb_msg_type type, const char *path,
                    const char *data, size_t len)
{
    if (!d->synced)
        return; /* dom0: it will be in the dump */
    qdb_msg_encode(&d->chan_out, type, path, data, len);
    d->acks_due++;
}

static void client_write(struct qdb_daemon *d, struct qdb_conn *c, const struct qdb_hdr *hdr,
                         const char *data)
{
    int rc = qdb_store_write(&d->store, hdr->path, data, hdr->data_len, limits_for(d, false));
    if (rc < 0) {
        if (rc == -ENOSPC)
            log_refusal(d, "client", hdr->path);
        reply(&c->out, QDB_RESP_ERROR, hdr->path);
        return;
    }
    forward(d, QDB_CMD_WRITE, hdr->path, data, hdr->data_len);
    reply(&c->out, QDB_RESP_OK, hdr->path);
    fire_watches(d, hdr->path);
}

static void client_rm(struct qdb_daemon *d, struct qdb_conn *c, const struct qdb_hdr *hdr)
{
    int n = qdb_store_rm(&d->store, hdr->path);
    if (n <= 0) {
        reply(&c->out, n == 0 ? QDB_RESP_ERROR_NOENT : QDB_RESP_ERROR, hdr->path);
        return;
    }
    forward(d, QDB_CMD_RM, hdr->path, NULL, 0);
    reply(&c->out, QDB_RESP_OK, hdr->path);
    fire_watches(d, hdr->path);
}

static void client_range(struct qdb_daemon *d, struct qdb_conn *c, const struct qdb_hdr *hdr)
{
    bool list = hdr->type == QDB_CMD_LIST;
    enum qdb_msg_type type = list ? QDB_RESP_LIST : QDB_RESP_MULTIREAD;
    size_t first, end;
    qdb_store_prefix_range(&d->store, hdr->path, &first, &end);
    for (size_t i = first; i < end; i++) {
        const struct qdb_entry *e = &d->store.entries[i];
        qdb_msg_encode(&c->out, type, e->path, list ? NULL : e->value, list ? 0 : e->len);
    }
    reply(&c->out, type, "");
}

static void client_request(struct qdb_daemon *d, struct qdb_conn *c, const struct qdb_hdr *hdr,
                           const char *data)
{
    switch ((enum qdb_msg_type)hdr->type) {
    case QDB_CMD_READ: {
        const struct qdb_entry *e = qdb_store_get(&d->store, hdr->path);
        if (e)
            qdb_msg_encode(&c->out, QDB_RESP_READ, hdr->path, e->value, e->len);
        else
            reply(&c->out, QDB_RESP_ERROR_NOENT, hdr->path);
        return;
    }
    case QDB_CMD_WRITE: client_write(d, c, hdr, data); return;
    case QDB_CMD_MULTIREAD:
    case QDB_CMD_LIST: client_range(d, c, hdr); return;
    case QDB_CMD_RM: client_rm(d, c, hdr); return;
    case QDB_CMD_WATCH:
        reply(&c->out,
              qdb_store_watch_add(&d->store, hdr->path, c) == 0 ? QDB_RESP_OK : QDB_RESP_ERROR,
              hdr->path);
        return;
    case QDB_CMD_UNWATCH:
        reply(&c->out,
              qdb_store_watch_rm(&d->store, hdr->path, c) ? QDB_RESP_OK : QDB_RESP_ERROR_NOENT,
              hdr->path);
        return;
    case QDB_RESP_OK:
    case QDB_RESP_ERROR_NOENT:
    case QDB_RESP_ERROR:
    case QDB_RESP_READ:
    case QDB_RESP_MULTIREAD:
    case QDB_RESP_LIST:
    case QDB_RESP_WATCH: break;
    }
    reply(&c->out, QDB_RESP_ERROR, hdr->path); /* qdb_check_msg let none of these through */
}

void qdb_daemon_conn_input(struct qdb_daemon *d, struct qdb_conn *c)
{
    size_t pos = 0;
    while (!c->dead && c->out.len < QDB_CONN_OUT_PAUSE && c->in.len - pos >= QDB_HDR_SIZE) {
        const uint8_t *untrusted_msg = (const uint8_t *)c->in.data + pos;
        struct qdb_hdr untrusted_hdr;
        const char *why = NULL;
        if (qdb_hdr_decode(untrusted_msg, &untrusted_hdr, &why) < 0) {
            /* the frame cannot be trusted: where the next message starts is unknown */
            log_warning("%sop=client result=dropped reason=\"%s\"", d->log_prefix, why);
            reply(&c->out, QDB_RESP_ERROR, "");
            c->dead = true;
            break;
        }
        if (c->in.len - pos - QDB_HDR_SIZE < untrusted_hdr.data_len)
            break;
        const char *untrusted_data = (const char *)untrusted_msg + QDB_HDR_SIZE;
        pos += QDB_HDR_SIZE + untrusted_hdr.data_len;
        /* a well-framed request with a bad path, type or value is refused, as upstream */
        if (qdb_check_msg(QDB_FROM_CLIENT, &untrusted_hdr, &why) < 0 ||
            !qdb_value_ok(untrusted_data, untrusted_hdr.data_len)) {
            reply(&c->out, QDB_RESP_ERROR, untrusted_hdr.path);
            continue;
        }
        const struct qdb_hdr hdr = untrusted_hdr;
        client_request(d, c, &hdr, untrusted_data);
    }
    buf_consume(&c->in, pos);
}
