/* Concurrent Admin API calls over non-blocking sockets and poll(): up to
 * BATCH_MAX_INFLIGHT connections at once, each one request and one answer. */
#include "tools/batch_call.h"

#include <errno.h>
#include <fcntl.h>
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

static void fail(struct batch_call *c, enum qerror_kind kind, const char *what)
{
    c->status = -1;
    qerror_set(&c->err, kind, "%s: %s", what, strerror(errno));
}

static int open_slot(struct slot *s, struct batch_call *c, size_t idx, const char *path)
{
    int fd = unix_connect(path, UNIX_NONBLOCK, NULL);
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
    return 0;
}

static void finish(struct slot *s, struct batch_call *c)
{
    close(s->fd);
    s->fd = -1;
    struct admin_response r;
    if (admin_response_parse(s->resp.data ? s->resp.data : "", s->resp.len, &r, &c->err) < 0) {
        c->status = -1;
        return;
    }
    if (r.type == ADMIN_MSG_EXCEPTION) {
        c->status = -1;
        qerror_set(&c->err, ERR_QUBES_EXCEPTION, "%s", r.message);
        qerror_set_peer_kind(&c->err, r.kind[0] ? r.kind : "QubesException");
        return;
    }
    c->status = 0;
    buf_reset(&c->content);
    buf_append(&c->content, r.content, r.content_len);
    if (!c->content.data)
        buf_append(&c->content, "", 0);
}

/* Returns true when the slot's call is over. */
static bool step(struct slot *s, struct batch_call *c, short revents)
{
    if (s->sent < s->req.len && (revents & (POLLOUT | POLLERR | POLLHUP))) {
        ssize_t n = send(s->fd, s->req.data + s->sent, s->req.len - s->sent, MSG_NOSIGNAL);
        if (n < 0 && errno != EAGAIN && errno != EINTR) {
            fail(c, ERR_QUBES_DAEMON_ACCESS_ERROR, "Failed to send request to qubesd");
            close(s->fd);
            s->fd = -1;
            return true;
        }
        if (n > 0)
            s->sent += (size_t)n;
        if (s->sent == s->req.len)
            shutdown(s->fd, SHUT_WR);
        return false;
    }
    if (revents & (POLLIN | POLLHUP | POLLERR)) {
        for (;;) {
            buf_reserve(&s->resp, 65536);
            ssize_t n = read(s->fd, s->resp.data + s->resp.len, s->resp.cap - s->resp.len - 1);
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
                finish(s, c);
                return true;
            }
            s->resp.len += (size_t)n;
            s->resp.data[s->resp.len] = '\0';
            if (s->resp.len > MAX_RESPONSE) {
                c->status = -1;
                qerror_set(&c->err, ERR_QUBES_DAEMON_COMMUNICATION_ERROR, "Response too long");
                close(s->fd);
                s->fd = -1;
                return true;
            }
        }
    }
    return false;
}

void batch_run(struct batch_call *calls, size_t n)
{
    _cleanup_free_ char *path = qroot_path("run/qubesd.sock");
    struct slot slots[BATCH_MAX_INFLIGHT];
    struct pollfd pfd[BATCH_MAX_INFLIGHT];
    size_t nslots = 0, next = 0;
    memset(slots, 0, sizeof(slots));
    for (size_t i = 0; i < n; i++) {
        calls[i].status = -1;
        calls[i].content = (struct buf)BUF_INIT;
        qerror_clear(&calls[i].err);
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
            pfd[i].events = slots[i].sent < slots[i].req.len ? POLLOUT : POLLIN;
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
            if (pfd[i].revents && step(&slots[i], &calls[slots[i].call], pfd[i].revents)) {
                /* compact: move the last slot here, keeping its buffers */
                struct slot done = slots[i];
                slots[i] = slots[nslots - 1];
                slots[nslots - 1] = done;
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
}

void batch_free(struct batch_call *calls, size_t n)
{
    for (size_t i = 0; i < n; i++)
        buf_free(&calls[i].content);
}
