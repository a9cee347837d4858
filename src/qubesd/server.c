/* Connection handling: read a request until EOF (at most 64 KiB), execute
 * it, write the answer, half-close. admin.Events connections stay open and
 * receive every event of the bus; a deferred call (a qube starting) keeps
 * its connection until the operation answers. */
#include "qubesd/server.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "common/admin_wire.h"
#include "common/cleanup.h"
#include "common/log.h"
#include "common/loop.h"
#include "common/unix_socket.h"
#include "qubesd/api.h"
#include "qubesd/events.h"
#include "qubesd/lifecycle.h"
#include "qubesd/property.h"

#define MAX_CONNECTIONS 4096
/* An event subscriber that stops reading is dropped past this backlog. */
#define MAX_STREAM_BACKLOG (8u << 20)

enum conn_state { CONN_READING, CONN_PENDING, CONN_WRITING, CONN_STREAM };

struct conn {
    struct loop_watch watch; /* ctx = the server */
    enum conn_state state;
    struct buf in;
    struct buf out;
    size_t out_off;
    bool subscribe_all;      /* admin.Events to dom0 */
    bool stats;              /* admin.vm.Stats: vm-stats only */
    char subscribe_name[32]; /* admin.Events to one qube */
    struct api_reply *reply; /* CONN_PENDING: the deferred answer */
    bool in_handler;         /* a method is running for this connection */
    bool watched;            /* in the loop (one answered at once never is) */
    time_t started;
    struct conn *prev, *next;
};

struct api_reply {
    struct server *srv;
    struct conn *conn; /* NULL once the client is gone */
    bool debug;
};

struct server {
    struct app *app;
    const struct api_services *services;
    struct server_options opts;
    struct loop *loop; /* main's */
    struct loop_watch listen_watch;
    struct loop_watch stats_timer;   /* armed while a Stats stream is open */
    struct loop_watch silent_timer;  /* drops clients that send nothing */
    struct event_subscriber streams; /* the event streams' end of the bus */
    char *socket_path;
    struct conn *conns;
    size_t n_conns;
};

static void conn_close(struct server *srv, struct conn *c)
{
    if (c->watched)
        loop_del(srv->loop, &c->watch);
    close(c->watch.fd);
    if (c->prev)
        c->prev->next = c->next;
    else
        srv->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    if (c->reply)
        c->reply->conn = NULL; /* the operation goes on; its answer has nowhere to go */
    buf_free(&c->in);
    buf_free(&c->out);
    free(c);
    srv->n_conns--;
}

/* Has the loop report events on c (added the first time). Returns false if
 * the connection was closed. */
static bool conn_watch(struct server *srv, struct conn *c, uint32_t events)
{
    int rc = c->watched ? loop_mod(srv->loop, &c->watch, events)
                        : loop_add(srv->loop, &c->watch, events);
    if (rc < 0) {
        conn_close(srv, c);
        return false;
    }
    c->watched = true;
    return true;
}

/* Writes what is pending. Returns false if the connection was closed. */
static bool conn_flush(struct server *srv, struct conn *c)
{
    while (c->out_off < c->out.len) {
        ssize_t n = send(c->watch.fd, c->out.data + c->out_off, c->out.len - c->out_off,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return conn_watch(srv, c, EPOLLOUT);
        if (n <= 0) {
            conn_close(srv, c);
            return false;
        }
        c->out_off += (size_t)n;
    }
    buf_reset(&c->out);
    c->out_off = 0;
    if (c->state == CONN_WRITING) {
        /* the answer is complete: half-close, as qubesd's write_eof() */
        shutdown(c->watch.fd, SHUT_WR);
        conn_close(srv, c);
        return false;
    }
    /* a subscriber or a waiting caller has half-closed already (that is how
     * a request ends), so only a full close (EPOLLHUP, always reported)
     * matters from now on */
    return conn_watch(srv, c, c->state == CONN_READING ? EPOLLIN | EPOLLRDHUP : 0u);
}

static void put_exception(bool debug, struct buf *out, const struct qerror *err,
                          const char *context)
{
    _cleanup_free_ char *traceback = NULL;
    if (debug)
        traceback = xasprintf("qubesd: %s: %s: %s\n", context, qerror_kind_name(err), err->message);
    admin_response_exception(out, err->kind ? qerror_kind_name(err) : "QubesException",
                             traceback ? traceback : "", err->message);
}

struct api_reply *api_call_defer(struct api_call *call)
{
    struct conn *c = call->origin;
    struct api_reply *r = xcalloc(1, sizeof(*r));
    /* no connection (an in-process caller): the operation goes on, its answer goes nowhere */
    r->srv = c ? c->watch.ctx : NULL;
    r->conn = c;
    call->deferred = r;
    return r;
}

void api_reply_done(struct api_reply *r, const struct qerror *err)
{
    struct conn *c = r->conn;
    if (c) {
        struct server *srv = r->srv;
        c->reply = NULL;
        if (err)
            put_exception(srv->opts.debug, &c->out, err, "deferred call");
        else
            admin_response_ok(&c->out, "", 0);
        c->state = CONN_WRITING;
        /* answered within its own handler: handle_request sends it */
        if (!c->in_handler)
            conn_flush(srv, c);
    }
    free(r);
}

void api_reply_forget(struct api_reply *r)
{
    free(r);
}

static void on_stats_timer(struct loop_watch *w, uint32_t events);

static void arm_stats(struct server *srv)
{
    long long seconds = prop_value_int(srv->app, NULL, "stats_interval", 3);
    loop_timer_start(srv->loop, &srv->stats_timer, (long)(seconds > 0 ? seconds : 3) * 1000,
                     on_stats_timer, srv);
}

/* Sends one stream's share of the samples; false if it was dropped. */
static bool send_stats(struct server *srv, struct conn *c, const struct buf *msg)
{
    if (c->out.len - c->out_off + msg->len > MAX_STREAM_BACKLOG) {
        log_warning("stats subscriber too slow: dropping it");
        conn_close(srv, c);
        return false;
    }
    bool idle = c->out.len == c->out_off;
    buf_append(&c->out, msg->data, msg->len);
    return idle ? conn_flush(srv, c) : true;
}

/* vm-stats of every running qube to every Stats stream that wants it. */
static void on_stats_timer(struct loop_watch *w, uint32_t events)
{
    (void)events;
    struct server *srv = w->ctx;
    loop_timer_cancel(srv->loop, &srv->stats_timer);
    bool any = false;
    for (struct conn *c = srv->conns; c; c = c->next)
        any = any || (c->state == CONN_STREAM && c->stats);
    if (!any)
        return;
    struct app *app = srv->app;
    for (size_t i = 0; i < app->n_qubes; i++) {
        struct qube *q = app->qubes[i];
        struct qube_sample s;
        if (!lifecycle_sample(app, q, &s))
            continue;
        char mem[24], cpu[24], usage[16], vcpus[16];
        snprintf(mem, sizeof(mem), "%lld", s.memory_kb);
        snprintf(cpu, sizeof(cpu), "%lld", s.cpu_time_ms);
        snprintf(usage, sizeof(usage), "%d", s.cpu_usage);
        snprintf(vcpus, sizeof(vcpus), "%d", s.online_vcpus);
        const char *keys[] = { "memory_kb", "cpu_time", "cpu_usage", "online_vcpus" };
        const char *values[] = { mem, cpu, usage, vcpus };
        _cleanup_buf_ struct buf msg = BUF_INIT;
        admin_event_build(&msg, q->name, "vm-stats", 4, keys, values);
        for (struct conn *c = srv->conns, *next; c; c = next) {
            next = c->next;
            if (c->state == CONN_STREAM && c->stats &&
                (c->subscribe_all || strcmp(c->subscribe_name, q->name) == 0))
                send_stats(srv, c, &msg);
        }
    }
    arm_stats(srv);
}

static void handle_request(struct server *srv, struct conn *c)
{
    struct admin_request req;
    if (admin_request_parse(c->in.data, c->in.len, &req) < 0) {
        log_warning("framing error: dropping connection");
        conn_close(srv, c);
        return;
    }
    struct api_call call;
    struct qerror err = { 0 };
    c->in_handler = true;
    int rc = api_execute(srv->app, srv->services, &req, &call, c, &err);
    c->in_handler = false;
    if (rc < 0) {
        log_msg(err.kind == ERR_PROTOCOL_ERROR ? LOG_WARNING : LOG_DEBUG,
                "failed call method=%s arg=%s src=%s dest=%s payload_bytes=%zu error=%s: %s",
                req.method, req.arg, req.src, req.dest, req.payload_len, qerror_kind_name(&err),
                err.message);
        _cleanup_free_ char *context =
            xasprintf("%s+%s (%s -> %s)", req.method, req.arg, req.src, req.dest);
        put_exception(srv->opts.debug, &c->out, &err, context);
        c->state = CONN_WRITING;
    } else if (call.deferred) {
        if (c->state != CONN_WRITING) { /* not answered yet */
            c->state = CONN_PENDING;
            c->reply = call.deferred;
        }
    } else if (call.stream) {
        c->state = CONN_STREAM;
        c->stats = call.stats;
        if (c->stats && srv->stats_timer.fd < 0)
            arm_stats(srv);
        c->subscribe_all = call.dest->cls == QUBE_ADMINVM;
        snprintf(c->subscribe_name, sizeof(c->subscribe_name), "%s", call.dest->name);
        admin_event_build(&c->out, "", "connection-established", 0, NULL, NULL);
    } else {
        admin_response_ok(&c->out, call.out.data ? call.out.data : "", call.out.len);
        c->state = CONN_WRITING;
    }
    api_call_free(&call);
    buf_free(&c->in);
    conn_flush(srv, c);
}

/* Reads the request; handles it once it is complete. Returns true when the
 * connection waits for more of it (nothing to read now). */
/* Reads the request; handles it once it is complete. Returns true when the
 * connection waits for more of it (nothing to read now). Two reads per
 * recvmmsg: a whole small request and the EOF behind it cost one syscall. */
static bool conn_readable(struct server *srv, struct conn *c)
{
    enum { PART = 16384 };
    for (;;) {
        buf_reserve(&c->in, 2 * PART);
        char *at = c->in.data + c->in.len;
        struct iovec iov[2] = { { at, PART }, { at + PART, PART } };
        struct mmsghdr m[2] = { { .msg_hdr = { .msg_iov = &iov[0], .msg_iovlen = 1 } },
                                { .msg_hdr = { .msg_iov = &iov[1], .msg_iovlen = 1 } } };
        int got = recvmmsg(c->watch.fd, m, 2, MSG_DONTWAIT, NULL);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return true;
        if (got < 0) {
            conn_close(srv, c);
            return false;
        }
        /* a read of 0 bytes is the EOF that ends the request */
        bool eof = m[0].msg_len == 0 || (got == 2 && m[1].msg_len == 0);
        size_t n = m[0].msg_len;
        if (got == 2 && m[1].msg_len > 0) {
            /* the first read did not fill its part only if data came in between */
            memmove(at + n, at + PART, m[1].msg_len);
            n += m[1].msg_len;
        }
        c->in.len += n;
        c->in.data[c->in.len] = '\0';
        if (c->in.len > ADMIN_MAX_REQUEST) {
            log_warning("request too long: dropping connection");
            conn_close(srv, c);
            return false;
        }
        if (eof) {
            handle_request(srv, c);
            return false;
        }
    }
}

static void on_conn(struct loop_watch *w, uint32_t events)
{
    struct conn *c = (struct conn *)w;
    struct server *srv = w->ctx;
    if ((events & EPOLLOUT) && !conn_flush(srv, c))
        return;
    if (c->state != CONN_READING) {
        if (events & (EPOLLHUP | EPOLLERR))
            conn_close(srv, c);
        return;
    }
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        (void)conn_readable(srv, c);
}

/* Connections taken per wakeup: the listening socket stays ready while more
 * wait, and the loop's other descriptors get their turn in between. */
#define ACCEPT_BATCH 64

/* A client has mostly sent its whole request by the time it is accepted (a
 * batch of calls connects, sends and half-closes before it polls): such a
 * request is read and answered at once, and its connection never enters the
 * loop, which saves two epoll_ctl and a wakeup per call. The others wait in
 * the loop for the rest. */
static void on_listen(struct loop_watch *w, uint32_t events)
{
    (void)events;
    struct server *srv = w->ctx;
    for (int taken = 0; taken < ACCEPT_BATCH; taken++) {
        int fd = accept4(w->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                log_warning("accept: %s", strerror(errno));
            return;
        }
        if (srv->n_conns >= MAX_CONNECTIONS) {
            log_warning("too many connections (%d): refusing one", MAX_CONNECTIONS);
            close(fd);
            continue;
        }
        struct conn *c = xcalloc(1, sizeof(*c));
        c->watch = (struct loop_watch){ .fd = fd, .fn = on_conn, .ctx = srv };
        c->state = CONN_READING;
        c->started = time(NULL);
        c->next = srv->conns;
        if (srv->conns)
            srv->conns->prev = c;
        srv->conns = c;
        srv->n_conns++;
        if (conn_readable(srv, c))
            conn_watch(srv, c, EPOLLIN | EPOLLRDHUP);
        /* what the call deferred runs before the next client is served */
        loop_run_deferred(srv->loop);
    }
}

/* The streams' subscription to the bus: encode once, queue on every
 * matching stream. */
static void on_event(void *ctx, struct app *app, const struct qube_event *ev)
{
    (void)app;
    struct server *srv = ctx;
    const struct qube *subject = ev->subject;
    const char *name = ev->name;
    size_t n = ev->n;
    const char *const *keys = ev->keys, *const *values = ev->values;
    _cleanup_buf_ struct buf msg = BUF_INIT;
    admin_event_build(&msg, subject ? subject->name : "", name, n, keys, values);
    bool deleted = !subject && strcmp(name, "domain-delete") == 0 && n == 1;
    for (struct conn *c = srv->conns, *next; c; c = next) {
        next = c->next;
        if (c->state != CONN_STREAM || c->stats)
            continue;
        if (!c->subscribe_all) {
            /* a stream on one qube ends with that qube */
            if (deleted && strcmp(values[0], c->subscribe_name) == 0) {
                conn_close(srv, c);
                continue;
            }
            if (!subject || strcmp(subject->name, c->subscribe_name) != 0)
                continue;
        }
        if (c->out.len - c->out_off + msg.len > MAX_STREAM_BACKLOG) {
            log_warning("event subscriber too slow: dropping it");
            conn_close(srv, c);
            continue;
        }
        bool idle = c->out.len == c->out_off;
        buf_append(&c->out, msg.data, msg.len);
        if (idle)
            conn_flush(srv, c);
    }
}

/* Once a second: clients that sent no complete request in time go. */
#define SILENT_CHECK_MS 1000

static void drop_silent_clients(struct loop_watch *w, uint32_t events)
{
    (void)events;
    struct server *srv = w->ctx;
    loop_timer_cancel(srv->loop, &srv->silent_timer);
    loop_timer_start(srv->loop, &srv->silent_timer, SILENT_CHECK_MS, drop_silent_clients, srv);
    time_t now = time(NULL);
    for (struct conn *c = srv->conns, *next; c; c = next) {
        next = c->next;
        if (c->state == CONN_READING && now - c->started > srv->opts.request_timeout_s) {
            log_warning("client sent no complete request in %d s: dropping it",
                        srv->opts.request_timeout_s);
            conn_close(srv, c);
        }
    }
}

int server_open(struct app *app, const struct api_services *services, struct loop *loop,
                const char *socket_path, const struct server_options *opts, struct server **out,
                struct qerror *err)
{
    int fd = unix_listen(socket_path, 0660, 512, err);
    if (fd < 0)
        return -1;

    struct server *srv = xcalloc(1, sizeof(*srv));
    srv->app = app;
    srv->services = services;
    srv->loop = loop;
    srv->opts = *opts;
    srv->listen_watch = (struct loop_watch){ .fd = fd, .fn = on_listen, .ctx = srv };
    srv->stats_timer.fd = -1;
    srv->silent_timer.fd = -1;
    srv->socket_path = xstrdup(socket_path);

    struct group *g = getgrnam("qubes");
    if (g && chown(socket_path, (uid_t)-1, g->gr_gid) < 0)
        log_warning("chown %s to group qubes: %s", socket_path, strerror(errno));
    if (loop_add(srv->loop, &srv->listen_watch, EPOLLIN) < 0 ||
        loop_timer_start(srv->loop, &srv->silent_timer, SILENT_CHECK_MS, drop_silent_clients, srv) <
            0)
        goto fail_errno;

    srv->streams = (struct event_subscriber){ .on_event = on_event, .ctx = srv };
    events_subscribe(app, &srv->streams);
    *out = srv;
    return 0;

fail_errno:
    qerror_errno(err, errno, "listen on %s", socket_path);
    server_close(srv);
    return -1;
}

void server_close(struct server *srv)
{
    if (!srv)
        return;
    events_unsubscribe(srv->app, &srv->streams);
    while (srv->conns)
        conn_close(srv, srv->conns);
    if (srv->listen_watch.fd >= 0) {
        loop_del(srv->loop, &srv->listen_watch);
        close(srv->listen_watch.fd);
        unlink(srv->socket_path);
    }
    loop_timer_cancel(srv->loop, &srv->stats_timer);
    loop_timer_cancel(srv->loop, &srv->silent_timer);
    free(srv->socket_path);
    free(srv);
}
