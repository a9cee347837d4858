/* The qubesdb client library (qdb_client.h): blocking requests over a stream socket, every
 * answer checked for its request before it is used. */
#include "qubesdb/qdb_client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/names.h"
#include "common/root.h"
#include "common/unix_socket.h"

struct qdb_client {
    int fd;
    bool broken;                  /* the daemon broke the protocol, or the connection failed */
    char (*events)[QDB_MAX_PATH]; /* queued watch events, oldest first */
    size_t nevents, cap_events;
    char data[QDB_MAX_DATA]; /* the value of the last message read */
};

char *qdb_local_socket(void)
{
    return qroot_path(QDB_LOCAL_SOCKET);
}

char *qdb_qube_socket(const char *qube, struct qerror *err)
{
    if (validate_qube_name(qube, NULL, err) < 0)
        return NULL;
    char rel[128];
    snprintf(rel, sizeof(rel), QDB_DOM0_SOCKET_FMT, qube);
    return qroot_path(rel);
}

struct qdb_client *qdb_open_fd(int fd)
{
    struct qdb_client *c = xcalloc(1, sizeof(*c));
    c->fd = fd;
    return c;
}

struct qdb_client *qdb_open(const char *socket_path, struct qerror *err)
{
    char *local = socket_path ? NULL : qdb_local_socket();
    int fd = unix_connect(socket_path ? socket_path : local, 0, err);
    free(local);
    return fd < 0 ? NULL : qdb_open_fd(fd);
}

void qdb_close(struct qdb_client *c)
{
    if (!c)
        return;
    if (c->fd >= 0)
        close(c->fd);
    free(c->events);
    free(c);
}

static int broken(struct qdb_client *c, struct qerror *err, const char *why)
{
    c->broken = true;
    return qerror_set(err, ERR_PROTOCOL_ERROR, "qubesdb daemon: %s", why);
}

static int send_all(struct qdb_client *c, const void *p, size_t n, struct qerror *err)
{
    const char *s = p;
    while (n > 0) {
        ssize_t w = send(c->fd, s, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            c->broken = true;
            return qerror_errno(err, errno, "send to qubesdb daemon");
        }
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

static int recv_all(struct qdb_client *c, void *p, size_t n, struct qerror *err)
{
    char *s = p;
    while (n > 0) {
        ssize_t r = read(c->fd, s, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            c->broken = true;
            return qerror_errno(err, errno, "read from qubesdb daemon");
        }
        if (r == 0)
            return broken(c, err, "connection closed");
        s += r;
        n -= (size_t)r;
    }
    return 0;
}

/* Reads one whole message into *hdr and c->data, checked for a daemon's role. */
static int next_msg(struct qdb_client *c, struct qdb_hdr *hdr, struct qerror *err)
{
    uint8_t untrusted_raw[QDB_HDR_SIZE];
    struct qdb_hdr untrusted_hdr;
    const char *why = NULL;
    if (recv_all(c, untrusted_raw, sizeof(untrusted_raw), err) < 0)
        return -1;
    if (qdb_hdr_decode(untrusted_raw, &untrusted_hdr, &why) < 0 ||
        qdb_check_msg(QDB_FROM_DAEMON, &untrusted_hdr, &why) < 0)
        return broken(c, err, why);
    if (recv_all(c, c->data, untrusted_hdr.data_len, err) < 0)
        return -1;
    if (!qdb_value_ok(c->data, untrusted_hdr.data_len))
        return broken(c, err, "value with a NUL byte");
    *hdr = untrusted_hdr;
    return 0;
}

static int queue_event(struct qdb_client *c, const char *path, struct qerror *err)
{
    if (c->nevents >= QDB_CLIENT_MAX_EVENTS)
        return broken(c, err, "too many unread watch events");
    if (c->nevents == c->cap_events) {
        c->cap_events = c->cap_events ? c->cap_events * 2 : 8;
        c->events = xrealloc(c->events, c->cap_events * sizeof(*c->events));
    }
    memset(c->events[c->nevents], 0, QDB_MAX_PATH);
    memcpy(c->events[c->nevents], path, strnlen(path, QDB_MAX_PATH - 1));
    c->nevents++;
    return 0;
}

/* The next message that is not a watch event (those are queued), and whether its type is one
 * of the two to four this request may get: wanted is a bit set of types. */
static int response(struct qdb_client *c, struct qdb_hdr *hdr, unsigned wanted, struct qerror *err)
{
    for (;;) {
        if (next_msg(c, hdr, err) < 0)
            return -1;
        if (hdr->type != QDB_RESP_WATCH)
            break;
        if (queue_event(c, hdr->path, err) < 0)
            return -1;
    }
    if (!(wanted & (1u << hdr->type)))
        return broken(c, err, "answer of the wrong type");
    return 0;
}

#define BIT(t) (1u << (t))

static int request(struct qdb_client *c, enum qdb_msg_type type, const char *path, const char *data,
                   size_t len, struct qerror *err)
{
    if (c->broken)
        return qerror_set(err, ERR_PROTOCOL_ERROR, "qubesdb connection unusable after an error");
    struct buf msg = BUF_INIT;
    qdb_msg_encode(&msg, type, path, data, len);
    int rc = send_all(c, msg.data, msg.len, err);
    buf_free(&msg);
    return rc;
}

/* As upstream's client: a path starts with '/' and fits; the daemon checks the rest. */
static int check_path(const char *path, bool (*rule)(const char *), struct qerror *err)
{
    if (!path || path[0] != '/' || strnlen(path, QDB_MAX_PATH) >= QDB_MAX_PATH ||
        (rule && !rule(path)))
        return qerror_set(err, ERR_QUBES_VALUE_ERROR, "invalid qubesdb path");
    return 0;
}

int qdb_read(struct qdb_client *c, const char *path, char **value, uint32_t *len,
             struct qerror *err)
{
    struct qdb_hdr hdr;
    if (check_path(path, qdb_prefix_ok, err) < 0 ||
        request(c, QDB_CMD_READ, path, NULL, 0, err) < 0 ||
        response(c, &hdr, BIT(QDB_RESP_READ) | BIT(QDB_RESP_ERROR_NOENT) | BIT(QDB_RESP_ERROR),
                 err) < 0)
        return -1;
    if (hdr.type == QDB_RESP_ERROR_NOENT)
        return 0;
    if (hdr.type == QDB_RESP_ERROR)
        return qerror_set(err, ERR_QUBES_EXCEPTION, "qubesdb daemon refused to read %s", path);
    *value = xmalloc(hdr.data_len + 1u);
    memcpy(*value, c->data, hdr.data_len);
    (*value)[hdr.data_len] = '\0';
    if (len)
        *len = hdr.data_len;
    return 1;
}

void qdb_items_free(struct qdb_items *items)
{
    for (size_t i = 0; i < items->n; i++)
        free(items->items[i].value);
    free(items->items);
    items->items = NULL;
    items->n = 0;
}

static int read_range(struct qdb_client *c, enum qdb_msg_type cmd, const char *prefix,
                      struct qdb_items *out, struct qerror *err)
{
    bool list = cmd == QDB_CMD_LIST;
    enum qdb_msg_type type = list ? QDB_RESP_LIST : QDB_RESP_MULTIREAD;
    struct qdb_items items = { NULL, 0 };
    size_t cap = 0;
    out->items = NULL;
    out->n = 0;
    if (check_path(prefix, qdb_prefix_ok, err) < 0 || request(c, cmd, prefix, NULL, 0, err) < 0)
        return -1;
    for (;;) {
        struct qdb_hdr hdr;
        if (response(c, &hdr, BIT(type) | BIT(QDB_RESP_ERROR), err) < 0)
            goto fail;
        if (hdr.type == QDB_RESP_ERROR) {
            if (items.n > 0) {
                broken(c, err, "error in the middle of a list");
                goto fail;
            }
            qerror_set(err, ERR_QUBES_EXCEPTION, "qubesdb daemon refused to read %s", prefix);
            goto fail;
        }
        if (hdr.path[0] == '\0')
            break;
        if (items.n >= QDB_CLIENT_MAX_ENTRIES) {
            broken(c, err, "too many entries");
            goto fail;
        }
        if (items.n == cap) {
            cap = cap ? cap * 2 : 16;
            items.items = xrealloc(items.items, cap * sizeof(*items.items));
        }
        struct qdb_item *it = &items.items[items.n++];
        memset(it, 0, sizeof(*it));
        memcpy(it->path, hdr.path, strlen(hdr.path));
        if (!list) {
            it->value = xmalloc(hdr.data_len + 1u);
            memcpy(it->value, c->data, hdr.data_len);
            it->value[hdr.data_len] = '\0';
            it->len = hdr.data_len;
        }
    }
    *out = items;
    return 0;
fail:
    qdb_items_free(&items);
    return -1;
}

int qdb_multiread(struct qdb_client *c, const char *prefix, struct qdb_items *out,
                  struct qerror *err)
{
    return read_range(c, QDB_CMD_MULTIREAD, prefix, out, err);
}

int qdb_list(struct qdb_client *c, const char *prefix, struct qdb_items *out, struct qerror *err)
{
    return read_range(c, QDB_CMD_LIST, prefix, out, err);
}

int qdb_write(struct qdb_client *c, const char *path, const char *value, size_t len,
              struct qerror *err)
{
    struct qdb_hdr hdr;
    if (check_path(path, qdb_key_ok, err) < 0)
        return -1;
    if (!qdb_value_ok(value, len))
        return qerror_set(err, ERR_QUBES_VALUE_ERROR,
                          "invalid qubesdb value: a NUL byte, or 3072 bytes or more");
    if (request(c, QDB_CMD_WRITE, path, value, len, err) < 0 ||
        response(c, &hdr, BIT(QDB_RESP_OK) | BIT(QDB_RESP_ERROR), err) < 0)
        return -1;
    if (hdr.type == QDB_RESP_ERROR)
        return qerror_set(err, ERR_QUBES_EXCEPTION, "qubesdb daemon refused to write %s", path);
    return 0;
}

/* rm, watch and unwatch: a path, OK or (taken as success, as upstream) NOENT. */
static int simple_cmd(struct qdb_client *c, enum qdb_msg_type cmd, const char *path,
                      struct qerror *err)
{
    struct qdb_hdr hdr;
    if (check_path(path, qdb_key_or_dir_ok, err) < 0 || request(c, cmd, path, NULL, 0, err) < 0 ||
        response(c, &hdr, BIT(QDB_RESP_OK) | BIT(QDB_RESP_ERROR_NOENT) | BIT(QDB_RESP_ERROR), err) <
            0)
        return -1;
    if (hdr.type == QDB_RESP_ERROR)
        return qerror_set(err, ERR_QUBES_EXCEPTION, "qubesdb daemon refused %s of %s",
                          qdb_msg_type_name(cmd), path);
    return 0;
}

int qdb_rm(struct qdb_client *c, const char *path, struct qerror *err)
{
    return simple_cmd(c, QDB_CMD_RM, path, err);
}

int qdb_watch(struct qdb_client *c, const char *path, struct qerror *err)
{
    return simple_cmd(c, QDB_CMD_WATCH, path, err);
}

int qdb_unwatch(struct qdb_client *c, const char *path, struct qerror *err)
{
    return simple_cmd(c, QDB_CMD_UNWATCH, path, err);
}

int qdb_read_watch(struct qdb_client *c, char path[QDB_MAX_PATH], struct qerror *err)
{
    if (c->nevents == 0) {
        struct qdb_hdr hdr;
        if (c->broken)
            return qerror_set(err, ERR_PROTOCOL_ERROR,
                              "qubesdb connection unusable after an error");
        if (next_msg(c, &hdr, err) < 0)
            return -1;
        if (hdr.type != QDB_RESP_WATCH)
            return broken(c, err, "an answer when no request was made");
        memcpy(path, hdr.path, QDB_MAX_PATH);
        return 0;
    }
    memcpy(path, c->events[0], QDB_MAX_PATH);
    memmove(c->events[0], c->events[1], (c->nevents - 1) * QDB_MAX_PATH);
    c->nevents--;
    return 0;
}

bool qdb_watch_pending(const struct qdb_client *c)
{
    return c->nevents > 0;
}

int qdb_watch_fd(const struct qdb_client *c)
{
    return c->fd;
}
