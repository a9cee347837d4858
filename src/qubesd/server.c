/* Connection handling: read a request until EOF (at most 64 KiB), execute
 * it, write the answer, half-close. admin.Events connections stay open and
 * receive every event the model fires. */
#include "qubesd/server.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/admin_wire.h"
#include "common/cleanup.h"
#include "common/log.h"
#include "qubesd/api.h"

#define MAX_CONNECTIONS 4096
/* An event subscriber that stops reading is dropped past this backlog. */
#define MAX_STREAM_BACKLOG (8u << 20)

enum conn_state { CONN_READING, CONN_WRITING, CONN_STREAM };

struct conn {
    int fd;
    enum conn_state state;
    struct buf in;
    struct buf out;
    size_t out_off;
    bool subscribe_all;      /* admin.Events to dom0 */
    char subscribe_name[32]; /* admin.Events to one qube */
    time_t started;
    bool dead; /* closed; freed after the current batch of epoll events */
    struct conn *prev, *next;
};

struct server {
    struct app *app;
    struct server_options opts;
    int epfd;
    int listen_fd;
    int signal_fd;
    char *socket_path;
    struct conn *conns;
    struct conn *dead; /* closed connections awaiting free, linked by next */
    size_t n_conns;
};

/* Closes now, frees later: the current epoll batch may still name c. */
static void conn_close(struct server *srv, struct conn *c)
{
    if (c->dead)
        return;
    epoll_ctl(srv->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
    c->dead = true;
    if (c->prev)
        c->prev->next = c->next;
    else
        srv->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    buf_free(&c->in);
    buf_free(&c->out);
    c->prev = NULL;
    c->next = srv->dead;
    srv->dead = c;
    srv->n_conns--;
}

static void free_dead(struct server *srv)
{
    while (srv->dead) {
        struct conn *c = srv->dead;
        srv->dead = c->next;
        free(c);
    }
}

static void watch(struct server *srv, struct conn *c, uint32_t events)
{
    struct epoll_event ev = { .events = events, .data.ptr = c };
    epoll_ctl(srv->epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Writes what is pending. Returns false if the connection was closed. */
static bool conn_flush(struct server *srv, struct conn *c)
{
    while (c->out_off < c->out.len) {
        ssize_t n = send(c->fd, c->out.data + c->out_off, c->out.len - c->out_off,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            watch(srv, c, EPOLLOUT);
            return true;
        }
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
        shutdown(c->fd, SHUT_WR);
        conn_close(srv, c);
        return false;
    }
    /* a subscriber has half-closed already (that is how a request ends), so
     * only a full close (EPOLLHUP, always reported) matters from now on */
    watch(srv, c, c->state == CONN_STREAM ? 0u : EPOLLIN | EPOLLRDHUP);
    return true;
}

static void send_exception(const struct server *srv, struct conn *c, const struct qerror *err,
                           const struct admin_request *req)
{
    _cleanup_free_ char *traceback = NULL;
    if (srv->opts.debug)
        traceback = xasprintf("qubesd: %s+%s (%s -> %s): %s: %s\n", req->method, req->arg,
                              req->src, req->dest, err->kind, err->message);
    admin_response_exception(&c->out, err->kind ? err->kind : "QubesException",
                             traceback ? traceback : "", err->message);
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
    int rc = api_execute(srv->app, &req, &call, &err);
    if (rc < 0) {
        log_msg(strcmp(err.kind, "ProtocolError") == 0 ? LOG_WARNING : LOG_DEBUG,
                "failed call method=%s arg=%s src=%s dest=%s payload_bytes=%zu error=%s: %s",
                req.method, req.arg, req.src, req.dest, req.payload_len, err.kind, err.message);
        send_exception(srv, c, &err, &req);
        c->state = CONN_WRITING;
    } else if (call.stream) {
        c->state = CONN_STREAM;
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

static void conn_readable(struct server *srv, struct conn *c)
{
    for (;;) {
        if (c->state != CONN_READING)
            return;
        buf_reserve(&c->in, 16384);
        ssize_t n = recv(c->fd, c->in.data + c->in.len, c->in.cap - c->in.len - 1, MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n < 0) {
            conn_close(srv, c);
            return;
        }
        if (n == 0) {
            handle_request(srv, c);
            return;
        }
        c->in.len += (size_t)n;
        c->in.data[c->in.len] = '\0';
        if (c->in.len > ADMIN_MAX_REQUEST) {
            log_warning("request too long: dropping connection");
            conn_close(srv, c);
            return;
        }
    }
}

static void accept_clients(struct server *srv)
{
    for (;;) {
        int fd = accept4(srv->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
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
        c->fd = fd;
        c->state = CONN_READING;
        c->started = time(NULL);
        c->next = srv->conns;
        if (srv->conns)
            srv->conns->prev = c;
        srv->conns = c;
        srv->n_conns++;
        struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP, .data.ptr = c };
        if (epoll_ctl(srv->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
            conn_close(srv, c);
    }
}

/* The model's event sink: encode once, queue on every matching stream. */
static void on_event(void *ctx, const struct qube *subject, const char *name, size_t n,
                     const char *const *keys, const char *const *values)
{
    struct server *srv = ctx;
    _cleanup_buf_ struct buf msg = BUF_INIT;
    admin_event_build(&msg, subject ? subject->name : "", name, n, keys, values);
    bool deleted = !subject && strcmp(name, "domain-delete") == 0 && n == 1;
    for (struct conn *c = srv->conns, *next; c; c = next) {
        next = c->next;
        if (c->state != CONN_STREAM)
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

static void drop_silent_clients(struct server *srv)
{
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

int server_open(struct app *app, const char *socket_path, const struct server_options *opts,
                struct server **out, struct qerror *err)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    if (strlen(socket_path) >= sizeof(addr.sun_path))
        return qerror_set(err, "QubesException", "socket path too long: %s", socket_path);
    strcpy(addr.sun_path, socket_path);

    struct server *srv = xcalloc(1, sizeof(*srv));
    srv->app = app;
    srv->opts = *opts;
    srv->listen_fd = srv->signal_fd = srv->epfd = -1;
    srv->socket_path = xstrdup(socket_path);

    srv->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (srv->listen_fd < 0)
        goto fail_errno;
    unlink(socket_path);
    mode_t old_umask = umask(0117);
    int rc = bind(srv->listen_fd, (struct sockaddr *)&addr, sizeof(addr));
    umask(old_umask);
    if (rc < 0 || listen(srv->listen_fd, 512) < 0)
        goto fail_errno;
    struct group *g = getgrnam("qubes");
    if (g && chown(socket_path, (uid_t)-1, g->gr_gid) < 0)
        log_warning("chown %s to group qubes: %s", socket_path, strerror(errno));
    chmod(socket_path, 0660);

    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    signal(SIGPIPE, SIG_IGN);
    srv->signal_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    srv->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (srv->signal_fd < 0 || srv->epfd < 0)
        goto fail_errno;
    struct epoll_event lev = { .events = EPOLLIN, .data.ptr = &srv->listen_fd };
    struct epoll_event sev = { .events = EPOLLIN, .data.ptr = &srv->signal_fd };
    if (epoll_ctl(srv->epfd, EPOLL_CTL_ADD, srv->listen_fd, &lev) < 0 ||
        epoll_ctl(srv->epfd, EPOLL_CTL_ADD, srv->signal_fd, &sev) < 0)
        goto fail_errno;

    app->event_sink = on_event;
    app->event_ctx = srv;
    *out = srv;
    return 0;

fail_errno:
    qerror_errno(err, errno, "listen on %s", socket_path);
    server_close(srv);
    return -1;
}

int server_run(struct server *srv, struct qerror *err)
{
    struct epoll_event events[64];
    for (;;) {
        int n = epoll_wait(srv->epfd, events, 64, 1000);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return qerror_errno(err, errno, "epoll_wait");
        }
        for (int i = 0; i < n; i++) {
            void *p = events[i].data.ptr;
            if (p == &srv->signal_fd) {
                struct signalfd_siginfo si;
                if (read(srv->signal_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
                    log_info("signal %u: shutting down", si.ssi_signo);
                    return 0;
                }
                continue;
            }
            if (p == &srv->listen_fd) {
                accept_clients(srv);
                continue;
            }
            struct conn *c = p;
            if (c->dead)
                continue;
            if (events[i].events & EPOLLOUT) {
                if (!conn_flush(srv, c))
                    continue;
            }
            if (c->state == CONN_STREAM && (events[i].events & (EPOLLHUP | EPOLLERR)))
                conn_close(srv, c);
            else if (events[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
                conn_readable(srv, c);
        }
        drop_silent_clients(srv);
        free_dead(srv);
    }
}

void server_close(struct server *srv)
{
    if (!srv)
        return;
    while (srv->conns)
        conn_close(srv, srv->conns);
    free_dead(srv);
    if (srv->listen_fd >= 0) {
        close(srv->listen_fd);
        unlink(srv->socket_path);
    }
    if (srv->signal_fd >= 0)
        close(srv->signal_fd);
    if (srv->epfd >= 0)
        close(srv->epfd);
    if (srv->app && srv->app->event_ctx == srv)
        srv->app->event_sink = NULL;
    free(srv->socket_path);
    free(srv);
}
