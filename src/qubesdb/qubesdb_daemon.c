/* qubesdb-daemon: one qube's qubesdb, in dom0 (the copy qubesd writes, one daemon per qube)
 * or inside the qube (the copy its programs read). The I/O around qdb_daemon.c: one poll loop
 * over the channel to the other daemon, the local socket and its clients, and signals.
 *
 *   dom0:  qubesdb-daemon --qube NAME --channel-fd N --control-fd M [--socket PATH | --no-socket]
 *   qube:  qubesdb-daemon --channel-fd N [--socket PATH] [--ready-fd N | --background]
 *
 * Readiness in the qube: the daemon asks dom0 for the database first and opens its socket
 * only once the whole dump is stored; then it writes one byte ('\n') to --ready-fd and closes
 * it, or with --background the starting process exits 0 (1 if the sync failed) while the
 * daemon goes on in the background. A reader started after that finds every key dom0 wrote
 * before the qube started. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "common/names.h"
#include "common/unix_socket.h"
#include "qubesdb/qdb_client.h"
#include "qubesdb/qdb_daemon.h"

/* How much of the channel is read ahead of what is handled. */
#define CHANNEL_IN_MAX (64u * 1024u)
/* How much of a client's requests is read ahead. */
#define CONN_IN_MAX (2u * QDB_MSG_MAX)
#define READ_CHUNK 16384u

struct io {
    struct qdb_daemon d;
    const char *qube; /* dom0 mode */
    int chan_fd;
    int listen_fd;
    int sig_fd;
    char *socket_path; /* ours to unlink once bound */
    unsigned socket_mode;
    int ready_fd;
    bool chan_closed;
};

static void usage(FILE *f)
{
    fprintf(f, "usage: qubesdb-daemon --qube NAME --channel-fd N --control-fd M [--socket PATH]\n"
               "                      [--no-socket] [--socket-mode OCTAL] [--log FILE]\n"
               "       qubesdb-daemon --channel-fd N [--socket PATH] [--socket-mode OCTAL]\n"
               "                      [--ready-fd N | --background]\n"
               "\n"
               "  --qube NAME        dom0 mode: the database of qube NAME\n"
               "  --channel-fd N     the stream to the other daemon (required)\n"
               "  --control-fd M     dom0 mode: qubesd's connected descriptor (required)\n"
               "  --socket PATH      where local clients connect (dom0 default:\n"
               "                     $QUBES_ROOT/run/qubes/qubesdb.NAME.sock; qube default:\n"
               "                     $QUBES_ROOT/run/qubes/qubesdb.sock)\n"
               "  --no-socket        dom0 mode: serve the control descriptor only\n"
               "  --socket-mode M    the socket's mode (dom0 default 0600, qube default 0666)\n"
               "  --log FILE         log to FILE (capped, rotated) instead of stderr\n"
               "  --ready-fd N       qube mode: write one byte to N once synced, then close it\n"
               "  --background       qube mode: return once synced (0) or failed (1) and go on\n"
               "                     in the background\n");
}

static int parse_uint(const char *s, int base, unsigned long max, unsigned long *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, base);
    if (*s == '\0' || *s == '-' || *end || errno || v > max)
        return -1;
    *out = v;
    return 0;
}

/* A socket is read and written with MSG_DONTWAIT, so that its file status flags, which a
 * process sharing the descriptor would see change too, stay as they are; any other stream
 * (a virtio-serial port) is switched to O_NONBLOCK. */
static void set_nonblock(int fd)
{
    int type;
    socklen_t len = sizeof(type);
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0) {
        int fl = fcntl(fd, F_GETFL);
        if (fl >= 0)
            fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    }
    fcntl(fd, F_SETFD, FD_CLOEXEC);
}

static int make_parent_dirs(const char *path)
{
    _cleanup_free_ char *dir = xstrdup(path);
    for (char *p = dir + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(dir, 0755) < 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return 0;
}

/* Listens on the local socket; an old socket file is replaced unless a daemon still answers
 * on it. */
static int open_socket(struct io *io, const char *path)
{
    if (make_parent_dirs(path) < 0) {
        log_error("%sop=socket path=%s result=error reason=\"mkdir: %s\"", io->d.log_prefix, path,
                  strerror(errno));
        return -1;
    }
    int probe = unix_connect(path, 0, NULL);
    if (probe >= 0) {
        close(probe);
        log_error("%sop=socket path=%s result=error reason=\"another daemon serves it\"",
                  io->d.log_prefix, path);
        return -1;
    }
    struct qerror err = { 0 };
    int fd = unix_listen(path, io->socket_mode, 64, &err);
    if (fd < 0) {
        log_error("%sop=socket path=%s result=error reason=\"%s\"", io->d.log_prefix, path,
                  err.message);
        return -1;
    }
    io->listen_fd = fd;
    io->socket_path = xstrdup(path);
    return 0;
}

static void accept_clients(struct io *io)
{
    for (;;) {
        int fd = accept4(io->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        if (!qdb_daemon_conn_add(&io->d, fd, false)) {
            log_warning("%sop=accept result=refused reason=\"%u clients connected\"",
                        io->d.log_prefix, QDB_MAX_CLIENTS);
            close(fd);
        }
    }
}

/* Reads what fd has, up to max bytes held in b. 1: got some; 0: nothing now; -1: closed. */
static int read_into(int fd, struct buf *b, size_t max)
{
    if (b->len >= max)
        return 0;
    size_t want = max - b->len < READ_CHUNK ? max - b->len : READ_CHUNK;
    buf_reserve(b, want);
    ssize_t r = recv(fd, b->data + b->len, want, MSG_DONTWAIT);
    if (r < 0 && errno == ENOTSOCK)
        r = read(fd, b->data + b->len, want);
    if (r < 0 && (errno == EAGAIN || errno == EINTR))
        return 0;
    if (r <= 0)
        return -1;
    b->len += (size_t)r;
    return 1;
}

/* Writes what b holds; -1 when the peer is gone. */
static int flush(int fd, struct buf *b)
{
    while (b->len > 0) {
        ssize_t w = send(fd, b->data, b->len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0 && errno == ENOTSOCK)
            w = write(fd, b->data, b->len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno == EAGAIN)
            return 0;
        if (w <= 0)
            return -1;
        buf_consume(b, (size_t)w);
    }
    return 0;
}

/* Whether local clients' requests may be handled now: in a qube their changes go to dom0,
 * so they wait while dom0 is behind reading. */
static bool clients_may_run(const struct io *io)
{
    return io->d.mode == QDB_MODE_DOM0 || io->d.chan_out.len < QDB_CHANNEL_OUT_PAUSE;
}

static void serve_conn(struct io *io, struct qdb_conn *c, short revents)
{
    if (revents & POLLOUT && flush(c->fd, &c->out) < 0)
        c->dead = true;
    if (!c->dead && revents & (POLLIN | POLLHUP | POLLERR) &&
        read_into(c->fd, &c->in, CONN_IN_MAX) < 0) {
        if (c->control)
            log_info("%sop=control result=closed", io->d.log_prefix);
        c->dead = true;
    }
}

/* Handles what is buffered, writes what can be written, drops dead clients. */
static void run_clients(struct io *io)
{
    for (size_t i = 0; i < io->d.nconns; i++) {
        struct qdb_conn *c = io->d.conns[i];
        if (!c->dead && c->in.len >= QDB_HDR_SIZE && clients_may_run(io))
            qdb_daemon_conn_input(&io->d, c);
    }
    for (size_t i = 0; i < io->d.nconns; i++) {
        struct qdb_conn *c = io->d.conns[i];
        if (!c->dead && c->out.len && flush(c->fd, &c->out) < 0)
            c->dead = true;
    }
    for (size_t i = io->d.nconns; i-- > 0;)
        if (io->d.conns[i]->dead)
            qdb_daemon_conn_drop(&io->d, io->d.conns[i]);
}

/* One round of the loop; 1 to go on, 0 to stop cleanly, -1 on failure. */
static int loop_once(struct io *io)
{
    struct pollfd fds[3 + QDB_MAX_CLIENTS];
    struct qdb_conn *polled[QDB_MAX_CLIENTS];
    struct qdb_daemon *d = &io->d;
    short chan_ev = 0;
    if (d->chan_out.len < QDB_CHANNEL_OUT_PAUSE && d->chan_in.len < CHANNEL_IN_MAX)
        chan_ev |= POLLIN;
    if (d->chan_out.len)
        chan_ev |= POLLOUT;
    fds[0] = (struct pollfd){ .fd = io->sig_fd, .events = POLLIN };
    fds[1] = (struct pollfd){ .fd = io->chan_fd, .events = chan_ev };
    fds[2] =
        (struct pollfd){ .fd = d->nconns < QDB_MAX_CLIENTS ? io->listen_fd : -1, .events = POLLIN };
    size_t n = d->nconns;
    for (size_t i = 0; i < n; i++) {
        struct qdb_conn *c = d->conns[i];
        short ev = 0;
        if (c->in.len < CONN_IN_MAX && c->out.len < QDB_CONN_OUT_PAUSE && clients_may_run(io))
            ev |= POLLIN;
        if (c->out.len)
            ev |= POLLOUT;
        polled[i] = c;
        fds[3 + i] = (struct pollfd){ .fd = c->fd, .events = ev };
    }
    if (poll(fds, 3 + n, -1) < 0)
        return errno == EINTR ? 1 : -1;

    if (fds[0].revents) {
        struct signalfd_siginfo si;
        if (read(io->sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
            log_info("%sop=exit reason=signal signal=%u", d->log_prefix, si.ssi_signo);
            return 0;
        }
    }
    if (fds[1].revents & POLLOUT && flush(io->chan_fd, &d->chan_out) < 0)
        io->chan_closed = true;
    if (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) {
        int r = read_into(io->chan_fd, &d->chan_in, CHANNEL_IN_MAX);
        if (r < 0)
            io->chan_closed = true;
    }
    if (d->chan_in.len && qdb_daemon_channel_input(d) < 0) {
        log_error("%sop=channel result=protocol-violation reason=\"%s\"", d->log_prefix, d->why);
        flush(io->chan_fd, &d->chan_out); /* the answer upstream sends before it disconnects */
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        if (fds[3 + i].revents)
            serve_conn(io, polled[i], fds[3 + i].revents);
    if (fds[2].revents)
        accept_clients(io);
    run_clients(io);
    if (d->chan_out.len && !io->chan_closed && flush(io->chan_fd, &d->chan_out) < 0)
        io->chan_closed = true;
    if (d->chan_out.len > QDB_CHANNEL_OUT_MAX) {
        log_error("%sop=channel result=error reason=\"the peer does not read: %zu bytes unsent\"",
                  d->log_prefix, d->chan_out.len);
        return -1;
    }
    if (io->chan_closed) {
        if (d->mode == QDB_MODE_QUBE && !d->synced) {
            log_error("op=sync result=error reason=\"channel closed before the dump ended\"");
            return -1;
        }
        log_info("%sop=exit reason=channel-closed", d->log_prefix);
        return 0;
    }
    return 1;
}

static void signal_ready(struct io *io)
{
    if (io->ready_fd < 0)
        return;
    if (write(io->ready_fd, "\n", 1) < 0) {
        /* whoever waited is gone; keep serving */
    }
    close(io->ready_fd);
    io->ready_fd = -1;
}

/* --background: the starting process waits for the byte of --ready-fd and exits with it. */
static int background(struct io *io)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) {
        perror("qubesdb-daemon: pipe");
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        perror("qubesdb-daemon: fork");
        return -1;
    }
    if (pid > 0) {
        close(p[1]);
        char b;
        ssize_t r;
        do
            r = read(p[0], &b, 1);
        while (r < 0 && errno == EINTR);
        _exit(r == 1 ? 0 : 1);
    }
    close(p[0]);
    setsid();
    int nul = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (nul >= 0) {
        dup2(nul, 0);
        close(nul);
    }
    io->ready_fd = p[1];
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "qube", required_argument, NULL, 'q' },
        { "channel-fd", required_argument, NULL, 'c' },
        { "control-fd", required_argument, NULL, 'C' },
        { "socket", required_argument, NULL, 's' },
        { "no-socket", no_argument, NULL, 'S' },
        { "socket-mode", required_argument, NULL, 'm' },
        { "log", required_argument, NULL, 'l' },
        { "ready-fd", required_argument, NULL, 'r' },
        { "background", no_argument, NULL, 'b' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct io io = { .chan_fd = -1, .listen_fd = -1, .sig_fd = -1, .ready_fd = -1 };
    long control_fd = -1;
    const char *socket_path = NULL, *log_path = NULL;
    bool no_socket = false, in_background = false, mode_set = false;
    unsigned long v;
    int opt;
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'q': io.qube = optarg; break;
        case 'c':
        case 'C':
        case 'r':
            if (parse_uint(optarg, 10, 65535, &v) < 0 || fcntl((int)v, F_GETFD) < 0) {
                fprintf(stderr, "qubesdb-daemon: invalid descriptor '%s'\n", optarg);
                return 2;
            }
            if (opt == 'c')
                io.chan_fd = (int)v;
            else if (opt == 'C')
                control_fd = (long)v;
            else
                io.ready_fd = (int)v;
            break;
        case 's': socket_path = optarg; break;
        case 'S': no_socket = true; break;
        case 'm':
            if (parse_uint(optarg, 8, 0777, &v) < 0) {
                fprintf(stderr, "qubesdb-daemon: invalid --socket-mode '%s'\n", optarg);
                return 2;
            }
            io.socket_mode = (unsigned)v;
            mode_set = true;
            break;
        case 'l': log_path = optarg; break;
        case 'b': in_background = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    bool dom0 = io.qube != NULL;
    if (io.chan_fd < 0 || optind != argc || dom0 != (control_fd >= 0) ||
        (dom0 && (io.ready_fd >= 0 || in_background)) || (!dom0 && no_socket) ||
        (in_background && io.ready_fd >= 0)) {
        usage(stderr);
        return 2;
    }
    struct qerror err = { 0 };
    if (dom0 && validate_qube_name(io.qube, NULL, &err) < 0) {
        fprintf(stderr, "qubesdb-daemon: %s\n", err.message);
        return 2;
    }
    if (!mode_set)
        io.socket_mode = dom0 ? 0600 : 0666;
    _cleanup_free_ char *default_socket =
        dom0 ? qdb_qube_socket(io.qube, &err) : qdb_local_socket();
    if (!socket_path)
        socket_path = default_socket;

    signal(SIGPIPE, SIG_IGN);
    if (in_background && background(&io) < 0)
        return 1;
    if (log_path)
        log_open_file(log_path, LOG_FILE_IS_STDERR);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigprocmask(SIG_BLOCK, &set, NULL);
    io.sig_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    if (io.sig_fd < 0) {
        log_error("op=start result=error reason=\"signalfd: %s\"", strerror(errno));
        return 1;
    }
    set_nonblock(io.chan_fd);

    qdb_daemon_init(&io.d, dom0 ? QDB_MODE_DOM0 : QDB_MODE_QUBE, io.qube);
    int rc = 1;
    if (dom0) {
        set_nonblock((int)control_fd);
        qdb_daemon_conn_add(&io.d, (int)control_fd, true);
        if (!no_socket && open_socket(&io, socket_path) < 0)
            goto out;
        log_info("qube=%s op=start mode=dom0 socket=%s result=ok", io.qube,
                 no_socket ? "none" : socket_path);
    } else {
        qdb_daemon_request_sync(&io.d);
        log_info("op=start mode=qube result=ok");
    }

    int r;
    while ((r = loop_once(&io)) > 0) {
        if (!dom0 && io.d.synced && io.listen_fd < 0) {
            if (open_socket(&io, socket_path) < 0) {
                r = -1;
                break;
            }
            log_info("op=ready socket=%s entries=%zu", socket_path, io.d.store.n);
            signal_ready(&io);
        }
    }
    rc = r < 0 ? 1 : 0;
    /* what clients were told before the end (answers, watch events) still reaches them */
    for (size_t i = 0; i < io.d.nconns; i++)
        if (!io.d.conns[i]->dead)
            flush(io.d.conns[i]->fd, &io.d.conns[i]->out);
out:
    if (io.socket_path)
        unlink(io.socket_path);
    free(io.socket_path);
    if (io.listen_fd >= 0)
        close(io.listen_fd);
    if (io.ready_fd >= 0)
        close(io.ready_fd);
    close(io.sig_fd);
    qdb_daemon_free(&io.d);
    log_close();
    return rc;
}
