/* Concurrent Admin API calls over sockets and poll(): up to BATCH_MAX_INFLIGHT
 * connections at once, each one request and one answer. A call costs few
 * syscalls (qvm-ls makes one per qube): the request goes out right after
 * connect, the sockets stay blocking (MSG_DONTWAIT where it matters, no
 * fcntl), and an answer whose end poll() reported already is taken in one
 * read. */
#include "tools/batch_call.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/admin_wire.h"
#include "common/cleanup.h"
#include "common/root.h"
#include "common/unix_socket.h"

#define MAX_RESPONSE (64u << 20)

struct slot {
    int fd;
    size_t call;
    struct buf req;
    size_t sent;
    struct buf resp;
};

/* The call's error, cleared (allocated the first time). */
static struct qerror *call_err(struct batch_call *c)
{
    if (!c->err)
        c->err = xcalloc(1, sizeof(*c->err));
    qerror_clear(c->err);
    return c->err;
}

static void fail(struct batch_call *c, enum qerror_kind kind, const char *what)
{
    c->status = -1;
    int e = errno;
    qerror_set(call_err(c), kind, "%s: %s", what, strerror(e));
}

/* As much of the request as the socket takes now; the half-close once it is
 * all out. false on a failed send (the slot is closed). */
static bool send_some(struct slot *s, struct batch_call *c)
{
    ssize_t n =
        send(s->fd, s->req.data + s->sent, s->req.len - s->sent, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && errno != EAGAIN && errno != EINTR) {
        fail(c, ERR_QUBES_DAEMON_ACCESS_ERROR, "Failed to send request to qubesd");
        close(s->fd);
        s->fd = -1;
        return false;
    }
    if (n > 0)
        s->sent += (size_t)n;
    if (s->sent == s->req.len)
        shutdown(s->fd, SHUT_WR);
    return true;
}

static int open_slot(struct slot *s, struct batch_call *c, size_t idx, const char *path)
{
    int fd = unix_connect(path, 0, NULL);
    if (fd < 0) {
        fail(c, ERR_QUBES_DAEMON_ACCESS_ERROR, "Failed to connect to qubesd service");
        return -1;
    }
    s->fd = fd;
    s->call = idx;
    s->sent = 0;
    buf_reset(&s->req);
    buf_reset(&s->resp);
    admin_request_build(&s->req, c->method, c->arg ? c->arg : "", c->dest,
                        c->payload ? c->payload : "", c->payload ? c->payload_len : 0);
    /* a connected Unix socket takes a request this small at once */
    return send_some(s, c) ? 0 : -1;
}

/* where the answers go: c->content, or done */
struct batch_sink {
    batch_done_fn done;
    void *ctx;
};

static void finish(struct slot *s, struct batch_call *c, const struct batch_sink *sink)
{
    close(s->fd);
    s->fd = -1;
    struct admin_response r;
    struct qerror perr = { 0 };
    if (admin_response_parse(s->resp.data ? s->resp.data : "", s->resp.len, &r, &perr) < 0) {
        *call_err(c) = perr;
        c->status = -1;
        return;
    }
    if (r.type == ADMIN_MSG_EXCEPTION) {
        c->status = -1;
        struct qerror *err = call_err(c);
        qerror_set(err, ERR_QUBES_EXCEPTION, "%s", r.message);
        qerror_set_peer_kind(err, r.kind[0] ? r.kind : "QubesException");
        return;
    }
    c->status = 0;
    if (sink->done) {
        sink->done(c, r.content_len ? r.content : "", r.content_len, sink->ctx);
        return;
    }
    buf_reset(&c->content);
    buf_append(&c->content, r.content, r.content_len);
    if (!c->content.data)
        buf_append(&c->content, "", 0);
}

/* Returns true when the slot's call is over. */
static bool step(struct slot *s, struct batch_call *c, short revents, const struct batch_sink *sink)
{
    if (s->sent < s->req.len && (revents & (POLLOUT | POLLERR | POLLHUP)))
        return !send_some(s, c);
    if (revents & (POLLIN | POLLRDHUP | POLLHUP | POLLERR)) {
        /* qubesd had half-closed when poll() looked: everything it sent is
         * queued, so a read that leaves room in the buffer has all of it */
        bool ended = revents & (POLLRDHUP | POLLHUP);
        for (;;) {
            buf_reserve(&s->resp, 65536);
            size_t room = s->resp.cap - s->resp.len - 1;
            ssize_t n = recv(s->fd, s->resp.data + s->resp.len, room, MSG_DONTWAIT);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0 && errno == EAGAIN)
                return false;
            if (n < 0) {
                fail(c, ERR_QUBES_DAEMON_ACCESS_ERROR, "Failed to read from qubesd");
                close(s->fd);
                s->fd = -1;
                return true;
            }
            if (n == 0) {
                finish(s, c, sink);
                return true;
            }
            s->resp.len += (size_t)n;
            s->resp.data[s->resp.len] = '\0';
            if (s->resp.len > MAX_RESPONSE) {
                c->status = -1;
                qerror_set(call_err(c), ERR_QUBES_DAEMON_COMMUNICATION_ERROR, "Response too long");
                close(s->fd);
                s->fd = -1;
                return true;
            }
            if (ended && (size_t)n < room) {
                finish(s, c, sink);
                return true;
            }
        }
    }
    return false;
}

void batch_run(struct batch_call *calls, size_t n)
{
    batch_run_each(calls, n, NULL, NULL);
}

void batch_run_each(struct batch_call *calls, size_t n, batch_done_fn done, void *ctx)
{
    const struct batch_sink sink = { done, ctx };
    _cleanup_free_ char *path = qroot_path("run/qubesd.sock");
    struct slot slots[BATCH_MAX_INFLIGHT];
    struct pollfd pfd[BATCH_MAX_INFLIGHT];
    size_t nslots = 0, next = 0;
    memset(slots, 0, sizeof(slots));
    for (size_t i = 0; i < n; i++) {
        calls[i].status = -1;
        calls[i].content = (struct buf)BUF_INIT;
        calls[i].err = NULL;
    }

    while (next < n || nslots) {
        while (nslots < BATCH_MAX_INFLIGHT && next < n) {
            if (open_slot(&slots[nslots], &calls[next], next, path) == 0)
                nslots++;
            next++;
        }
        if (!nslots)
            break;
        for (size_t i = 0; i < nslots; i++) {
            pfd[i].fd = slots[i].fd;
            pfd[i].events = slots[i].sent < slots[i].req.len ? POLLOUT : POLLIN | POLLRDHUP;
            pfd[i].revents = 0;
        }
        if (poll(pfd, nslots, -1) < 0) {
            if (errno == EINTR)
                continue;
            for (size_t i = 0; i < nslots; i++) {
                fail(&calls[slots[i].call], ERR_QUBES_DAEMON_ACCESS_ERROR, "poll");
                close(slots[i].fd);
            }
            break;
        }
        for (size_t i = 0; i < nslots;) {
            if (pfd[i].revents && step(&slots[i], &calls[slots[i].call], pfd[i].revents, &sink)) {
                /* compact: move the last slot here, keeping its buffers */
                struct slot ended = slots[i];
                slots[i] = slots[nslots - 1];
                slots[nslots - 1] = ended;
                pfd[i] = pfd[nslots - 1];
                nslots--;
                continue;
            }
            i++;
        }
    }
    for (size_t i = 0; i < BATCH_MAX_INFLIGHT; i++) {
        buf_free(&slots[i].req);
        buf_free(&slots[i].resp);
    }
    /* the calls a failed poll() left unstarted */
    for (size_t i = 0; i < n; i++)
        if (calls[i].status < 0 && !calls[i].err)
            qerror_set(call_err(&calls[i]), ERR_QUBES_DAEMON_ACCESS_ERROR,
                       "Failed to connect to qubesd service");
}

void batch_free(struct batch_call *calls, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        buf_free(&calls[i].content);
        free(calls[i].err);
        calls[i].err = NULL;
    }
}
