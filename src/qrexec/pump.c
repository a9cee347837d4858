/* One poll loop moving bytes between local descriptors and MSG_DATA_* messages. Reads are
 * throttled by the buffer they fill, so a peer that stops reading stalls only its call.
 * Between a pipe and the data socket the payload moves with splice(2): the pages go from pipe
 * to socket and from socket to pipe by reference, and only the 8-byte headers pass through
 * this process (a qvm-copy's bulk crosses two pumps without a copy). */
#include "qrexec/pump.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/buf.h"
#include "qrexec/exec.h"
#include "qrexec/qrexec_proto.h"
#include "qrexec/transport.h"

#define WRITER_LIMIT (256u * 1024u)
/* Messages moved in one go while the data flows, before the other descriptors get a look:
 * a chunk then costs its recv (or ioctl and send) and its splice, no poll. */
#define BURST 16

struct local_reader {
    int fd;
    uint32_t type;
    bool splice; /* a pipe: its data goes to the socket by splice */
};

/* Bytes waiting for a descriptor: data[off..len). The consumed prefix is dropped only once
 * it is most of the buffer, so a slow reader costs no quadratic memmove. */
struct queue {
    struct buf b;
    size_t off;
};

static size_t queue_len(const struct queue *q)
{
    return q->b.len - q->off;
}

static void queue_consume(struct queue *q, size_t n)
{
    q->off += n;
    if (q->off == q->b.len) {
        buf_reset(&q->b);
        q->off = 0;
    } else if (q->off > 65536 && q->off > q->b.len / 2) {
        buf_consume(&q->b, q->off);
        q->off = 0;
    }
}

static void queue_reset(struct queue *q)
{
    buf_reset(&q->b);
    q->off = 0;
}

struct local_writer {
    int fd;
    struct queue pending;
    bool eof;    /* remote sent EOF: close once flushed */
    bool own;    /* ours to close (not the client's stderr) */
    bool splice; /* a pipe that gets the payload unfiltered: by splice from the socket */
};

struct pump {
    const struct qrexec_pump_cfg *cfg;
    size_t chunk;
    struct local_reader rd[2];
    size_t nrd;
    struct local_writer wr[2];
    size_t nwr;
    struct queue out; /* queued for the remote */
    struct buf in;    /* received from the remote, not yet parsed */
    bool remote_eof;  /* nothing more will come from the remote */
    bool remote_dead; /* cannot send to the remote any more */
    bool exit_received;
    int exit_code;
    pid_t child;
    int pidfd;
    bool child_done;
    int child_code;
    /* sending: a chunk announced (its header queued or sent) whose payload still goes from
     * out_rd's pipe to the socket; nothing else is sent before it is whole */
    struct local_reader *out_rd;
    size_t out_left;
    /* receiving: some writer splices, so messages are read header first; the payload of the
     * current one goes from the socket to in_wr's pipe (in_wr NULL: it is dropped) */
    bool header_first;
    struct local_writer *in_wr;
    size_t in_left;
    bool in_wait_pipe; /* the last splice stopped on a full pipe, not an empty socket */
};

static void close_fd(int *fd)
{
    if (*fd >= 0) {
        close(*fd);
        *fd = -1;
    }
}

static void writer_close(struct local_writer *w)
{
    if (w->own) {
        /* a socket service shares this socket with its reader: EOF needs a shutdown */
        if (w->fd >= 0)
            shutdown(w->fd, SHUT_WR);
        close_fd(&w->fd);
    } else
        w->fd = -1;
    queue_reset(&w->pending);
}

static void check_child(struct pump *p)
{
    if (p->child <= 0 || p->child_done)
        return;
    int status;
    pid_t r = waitpid(p->child, &status, WNOHANG);
    if (r == p->child) {
        p->child_done = true;
        p->child_code = qrexec_status_to_code(status);
        close_fd(&p->pidfd);
    } else if (r < 0 && errno == ECHILD) {
        p->child_done = true;
        p->child_code = QREXEC_EXIT_PROBLEM;
        close_fd(&p->pidfd);
    }
}

static int flush_remote(struct pump *p)
{
    while (queue_len(&p->out) > 0 && !p->remote_dead) {
        ssize_t n = send(p->cfg->remote_fd, p->out.b.data + p->out.off, queue_len(&p->out),
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 0;
            p->remote_dead = true;
            queue_reset(&p->out);
            return -1;
        }
        queue_consume(&p->out, (size_t)n);
    }
    return 0;
}

static void flush_writer(struct local_writer *w)
{
    while (w->fd >= 0 && queue_len(&w->pending) > 0) {
        ssize_t n = write(w->fd, w->pending.b.data + w->pending.off, queue_len(&w->pending));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            writer_close(w); /* the reader went away; drop what it would not take */
            return;
        }
        queue_consume(&w->pending, (size_t)n);
    }
    if (w->fd >= 0 && w->eof && queue_len(&w->pending) == 0)
        writer_close(w);
}

/* As much of data as the descriptor takes now (it is non-blocking). */
static size_t write_now(struct local_writer *w, const uint8_t *data, size_t len)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = write(w->fd, data + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break; /* EAGAIN: the rest is queued; an error shows at the next flush */
        done += (size_t)n;
    }
    return done;
}

static struct local_writer *writer_for(struct pump *p, uint32_t type)
{
    if (p->cfg->is_service)
        return &p->wr[0];
    return type == MSG_DATA_STDERR ? &p->wr[1] : &p->wr[0];
}

/* Upstream do_replace_chars: only printable ASCII and \t \n \r \b \a reach a terminal. */
static void replace_unsafe_chars(unsigned char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((b[i] < 0x20 || b[i] > 0x7e) && b[i] != '\t' && b[i] != '\n' && b[i] != '\r' &&
            b[i] != '\b' && b[i] != '\a')
            b[i] = '_';
}

/* Parses complete messages out of p->in. -1 on a protocol violation. */
static int handle_remote_input(struct pump *p, const char **why)
{
    enum qrexec_role role = p->cfg->is_service ? QREXEC_DATA_TO_SERVICE : QREXEC_DATA_TO_CLIENT;
    size_t off = 0;
    while (p->in.len - off >= QREXEC_HDR_SIZE && !p->exit_received) {
        struct msg_header untrusted_hdr = qrexec_hdr_decode((const uint8_t *)p->in.data + off);
        if (qrexec_check_header(role, &untrusted_hdr, p->cfg->version, why) < 0)
            return -1;
        struct msg_header hdr = untrusted_hdr; /* type and length now known good */
        if (p->header_first && hdr.type != MSG_DATA_EXIT_CODE && hdr.len > 0 &&
            p->in.len - off == QREXEC_HDR_SIZE) {
            /* a header alone: its payload goes by splice to a pipe writer with nothing
             * queued, or is dropped for a writer that is gone (as below) */
            struct local_writer *w = writer_for(p, hdr.type);
            bool gone = w->fd < 0 || w->eof;
            if (gone || (w->splice && queue_len(&w->pending) == 0)) {
                p->in_wr = gone ? NULL : w;
                p->in_left = hdr.len;
                p->in_wait_pipe = false;
                off += QREXEC_HDR_SIZE;
                break;
            }
        }
        if (p->in.len - off - QREXEC_HDR_SIZE < hdr.len)
            break;
        const uint8_t *untrusted_payload = (const uint8_t *)p->in.data + off + QREXEC_HDR_SIZE;
        off += QREXEC_HDR_SIZE + hdr.len;
        if (hdr.type == MSG_DATA_EXIT_CODE) {
            p->exit_received = true;
            p->exit_code = qrexec_exit_code_decode(untrusted_payload, hdr.len);
            break;
        }
        struct local_writer *w = writer_for(p, hdr.type);
        if (hdr.len == 0) {
            w->eof = true;
            continue;
        }
        if (w->fd >= 0 && !w->eof) {
            bool filter =
                hdr.type == MSG_DATA_STDERR ? p->cfg->filter_stderr : p->cfg->filter_stdout;
            size_t done = 0;
            if (!filter && queue_len(&w->pending) == 0)
                done = write_now(w, untrusted_payload, hdr.len); /* most data: no queue */
            size_t at = w->pending.b.len;
            buf_append(&w->pending.b, untrusted_payload + done, hdr.len - done);
            if (filter)
                replace_unsafe_chars((unsigned char *)w->pending.b.data + at, hdr.len);
        }
    }
    buf_consume(&p->in, off);
    if (p->exit_received)
        buf_reset(&p->in);
    return 0;
}

static bool writers_have_room(const struct pump *p)
{
    for (size_t i = 0; i < p->nwr; i++)
        if (queue_len(&p->wr[i].pending) >= WRITER_LIMIT)
            return false;
    return true;
}

static bool read_remote(struct pump *p);

/* Reads and parses while data comes, at most BURST messages' worth, and not past a full
 * writer. -1 on a protocol violation. */
static int remote_burst(struct pump *p, const char **why)
{
    for (int k = 0; k < 2 * BURST; k++) {
        bool moved = read_remote(p);
        if (handle_remote_input(p, why) < 0)
            return -1;
        if (!moved || p->remote_eof || p->exit_received || !writers_have_room(p) ||
            (p->in_left > 0 && p->in_wait_pipe))
            break;
    }
    return 0;
}

/* The payload of the current message, from the socket to in_wr's pipe (or dropped). True
 * when something moved or ended. */
static bool splice_in(struct pump *p)
{
    struct local_writer *w = p->in_wr;
    if (w && (w->fd < 0 || w->eof))
        p->in_wr = w = NULL; /* the writer went away meanwhile: drop the rest */
    ssize_t n;
    if (w) {
        n = splice(p->cfg->remote_fd, NULL, w->fd, NULL, p->in_left,
                   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    } else {
        uint8_t scratch[4096];
        n = recv(p->cfg->remote_fd, scratch,
                 p->in_left < sizeof(scratch) ? p->in_left : sizeof(scratch), MSG_DONTWAIT);
    }
    if (n > 0) {
        p->in_left -= (size_t)n;
        p->in_wait_pipe = false;
        return true;
    }
    if (n < 0 && errno == EINTR)
        return false;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        /* a full pipe, or an empty socket: wait for the one that blocks */
        int queued = 0;
        p->in_wait_pipe = w && ioctl(p->cfg->remote_fd, FIONREAD, &queued) == 0 && queued > 0;
        return false;
    }
    if (n < 0 && errno == EPIPE && w) {
        writer_close(w); /* the reader went away; drop what it would not take */
        p->in_wr = NULL;
        return true;
    }
    /* EOF inside a message, or a broken socket */
    p->remote_eof = true;
    p->in_left = 0;
    p->in_wr = NULL;
    return true;
}

/* Straight into p->in's spare room: one copy less than through a bounce buffer. Read header
 * first, at most the rest of the message that starts p->in. True when something moved or
 * ended. */
static bool read_remote(struct pump *p)
{
    if (p->in_left > 0)
        return splice_in(p);
    size_t room = 2 * (QREXEC_MAX_DATA_CHUNK_V3 + QREXEC_HDR_SIZE);
    if (p->header_first) {
        if (p->in.len < QREXEC_HDR_SIZE) {
            room = QREXEC_HDR_SIZE - p->in.len;
        } else {
            /* checked by handle_remote_input, which left it there incomplete */
            struct msg_header hdr = qrexec_hdr_decode((const uint8_t *)p->in.data);
            room = QREXEC_HDR_SIZE + hdr.len - p->in.len;
        }
    }
    buf_reserve(&p->in, room);
    ssize_t n = recv(p->cfg->remote_fd, p->in.data + p->in.len, room, MSG_DONTWAIT);
    if (n < 0) {
        if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
            return false;
        p->remote_eof = true;
        return true;
    }
    if (n == 0) {
        p->remote_eof = true;
        return true;
    }
    p->in.len += (size_t)n;
    p->in.data[p->in.len] = '\0';
    return true;
}

/* Into p->out's spare room behind a header written once the length is known. */
static void read_local(struct pump *p, struct local_reader *r)
{
    struct buf *o = &p->out.b;
    buf_reserve(o, QREXEC_HDR_SIZE + p->chunk);
    ssize_t n = read(r->fd, o->data + o->len + QREXEC_HDR_SIZE, p->chunk);
    if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
        return;
    if (n <= 0) {
        /* EOF (or an error, which ends this stream the same way): a zero-length message */
        close_fd(&r->fd);
        if (!p->remote_dead)
            qrexec_msg_encode(&p->out.b, r->type, NULL, 0);
        return;
    }
    if (p->remote_dead)
        return;
    qrexec_hdr_encode((uint8_t *)o->data + o->len, r->type, (uint32_t)n);
    o->len += QREXEC_HDR_SIZE + (size_t)n;
    o->data[o->len] = '\0';
}

/* What is queued for the remote, then the payload of the chunk being spliced. */
static void send_step(struct pump *p)
{
    flush_remote(p);
    if (p->out_left == 0 || p->remote_dead || queue_len(&p->out) > 0)
        return;
    ssize_t n = splice(p->out_rd->fd, NULL, p->cfg->remote_fd, NULL, p->out_left,
                       SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (n > 0) {
        p->out_left -= (size_t)n;
        if (p->out_left == 0)
            p->out_rd = NULL;
        return;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    /* the socket broke (or the pipe lost bytes it had): the stream cannot go on */
    p->remote_dead = true;
    queue_reset(&p->out);
    p->out_left = 0;
    p->out_rd = NULL;
}

/* A pipe reader: the header of a chunk of what the pipe holds now, then its payload by
 * splice. An empty pipe that poll() found readable is at EOF (or failed): read_local says
 * so; one not polled (polled false) is just empty. True when a chunk was announced. */
static bool splice_local(struct pump *p, struct local_reader *r, bool polled)
{
    int avail = 0;
    if (ioctl(r->fd, FIONREAD, &avail) < 0 || avail <= 0) {
        if (polled)
            read_local(p, r);
        return false;
    }
    size_t len = (size_t)avail < p->chunk ? (size_t)avail : p->chunk;
    struct buf *o = &p->out.b;
    buf_reserve(o, QREXEC_HDR_SIZE);
    qrexec_hdr_encode((uint8_t *)o->data + o->len, r->type, (uint32_t)len);
    o->len += QREXEC_HDR_SIZE;
    o->data[o->len] = '\0';
    p->out_rd = r;
    p->out_left = len;
    send_step(p);
    return true;
}

/* Chunks of a readable pipe while each one goes out whole at once. */
static void splice_local_burst(struct pump *p, struct local_reader *r)
{
    for (int k = 0; k < BURST && splice_local(p, r, k == 0); k++)
        if (p->out_left > 0 || queue_len(&p->out) > 0 || p->remote_dead || r->fd < 0)
            break;
}

static bool is_pipe(int fd)
{
    struct stat st;
    return fd >= 0 && fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode);
}

static bool readers_open(const struct pump *p)
{
    for (size_t i = 0; i < p->nrd; i++)
        if (p->rd[i].fd >= 0)
            return true;
    return false;
}

static void block_and_flush_all(struct pump *p)
{
    if (p->out_left > 0)
        p->remote_dead = true; /* a chunk's header without all its payload: send nothing more */
    qrexec_set_nonblock(p->cfg->remote_fd, false);
    if (!p->remote_dead && queue_len(&p->out) > 0) {
        if (qrexec_send_all(p->cfg->remote_fd, p->out.b.data + p->out.off, queue_len(&p->out), -1) <
            0)
            p->remote_dead = true;
        queue_reset(&p->out);
    }
    for (size_t i = 0; i < p->nwr; i++) {
        struct local_writer *w = &p->wr[i];
        if (w->fd >= 0 && queue_len(&w->pending) > 0) {
            qrexec_set_nonblock(w->fd, false);
            flush_writer(w);
        }
    }
}

int qrexec_pump_run(const struct qrexec_pump_cfg *cfg, const char **why)
{
    struct pump p = { .cfg = cfg, .pidfd = -1, .child = cfg->child };
    p.chunk = qrexec_max_chunk(cfg->version);
    int result = 0;
    *why = NULL;

    qrexec_set_nonblock(cfg->remote_fd, true);
    if (cfg->is_service) {
        p.rd[p.nrd++] = (struct local_reader){ cfg->out_fd, MSG_DATA_STDOUT };
        p.rd[p.nrd++] = (struct local_reader){ cfg->err_fd, MSG_DATA_STDERR };
        p.wr[p.nwr++] = (struct local_writer){ .fd = cfg->in_fd, .own = true };
        for (size_t i = 0; i < p.nrd; i++)
            if (p.rd[i].fd >= 0)
                qrexec_set_nonblock(p.rd[i].fd, true);
            else /* no such stream: say so at once, as upstream does for stderr */
                qrexec_msg_encode(&p.out.b, p.rd[i].type, NULL, 0);
        if (cfg->in_fd >= 0)
            qrexec_set_nonblock(cfg->in_fd, true);
        p.wr[0].splice = is_pipe(cfg->in_fd);
        if (cfg->child <= 0) {
            p.child_done = true;
            p.child_code = cfg->preset_code;
        }
    } else {
        p.rd[p.nrd++] = (struct local_reader){ cfg->in_fd, MSG_DATA_STDIN };
        p.wr[p.nwr++] = (struct local_writer){ .fd = cfg->out_fd, .own = true };
        p.wr[p.nwr++] = (struct local_writer){ .fd = cfg->err_fd, .own = false };
        if (cfg->child > 0) { /* -l program: its pipes are ours to make non-blocking */
            qrexec_set_nonblock(cfg->out_fd, true);
            qrexec_set_nonblock(cfg->in_fd, true);
        }
        /* a pipe not ours to make non-blocking (the caller's stdout) splices all the same:
         * SPLICE_F_NONBLOCK makes the pipe side non-blocking */
        p.wr[0].splice = !cfg->filter_stdout && is_pipe(cfg->out_fd);
        p.wr[1].splice = !cfg->filter_stderr && is_pipe(cfg->err_fd);
        if (cfg->in_fd < 0)
            qrexec_msg_encode(&p.out.b, MSG_DATA_STDIN, NULL, 0);
    }
    if (p.child > 0)
        p.pidfd = (int)syscall(SYS_pidfd_open, p.child, 0);
    for (size_t i = 0; i < p.nrd; i++)
        p.rd[i].splice = is_pipe(p.rd[i].fd);
    for (size_t i = 0; i < p.nwr; i++)
        p.header_first = p.header_first || p.wr[i].splice;

    check_child(&p);
    for (;;) {
        if (p.pidfd < 0) /* else its pidfd says when */
            check_child(&p);
        if (cfg->is_service) {
            bool stdin_done = p.wr[0].fd < 0 || p.remote_eof;
            if (cfg->exit_on_stdin_eof && stdin_done)
                for (size_t i = 0; i < p.nrd; i++)
                    if (p.rd[i].fd >= 0 && p.out_rd != &p.rd[i]) {
                        close_fd(&p.rd[i].fd);
                        if (!p.remote_dead)
                            qrexec_msg_encode(&p.out.b, p.rd[i].type, NULL, 0);
                    }
            if (p.child_done && !readers_open(&p) && (!cfg->wait_stdin_eof || stdin_done)) {
                if (!p.remote_dead)
                    qrexec_exit_code_encode(&p.out.b, p.child_code);
                break;
            }
            if (p.remote_eof) {
                /* the caller is gone: nobody will write stdin again */
                if (p.wr[0].fd >= 0 && queue_len(&p.wr[0].pending) == 0)
                    writer_close(&p.wr[0]);
            }
        } else {
            if (p.exit_received)
                break;
            if (p.remote_eof) { /* complete messages are parsed already */
                *why = "connection closed without an exit code";
                result = -1;
                break;
            }
        }

        struct pollfd fds[8];
        int idx_remote = -1, idx_rd[2] = { -1, -1 }, idx_wr[2] = { -1, -1 }, idx_pid = -1;
        nfds_t n = 0;
        short rev = 0;
        /* a splice stopped on a full pipe waits for that pipe, not for the socket */
        bool wait_pipe = p.in_left > 0 && p.in_wr && p.in_wait_pipe;
        if (!p.remote_eof && writers_have_room(&p) && !wait_pipe)
            rev |= POLLIN;
        if ((queue_len(&p.out) > 0 || p.out_left > 0) && !p.remote_dead)
            rev |= POLLOUT;
        if (rev) {
            idx_remote = (int)n;
            fds[n++] = (struct pollfd){ .fd = cfg->remote_fd, .events = rev };
        }
        /* nothing is queued behind a chunk whose payload is still to splice */
        bool room = queue_len(&p.out) < 2 * (p.chunk + QREXEC_HDR_SIZE) && p.out_left == 0;
        for (size_t i = 0; i < p.nrd; i++)
            if (p.rd[i].fd >= 0 && (room || p.remote_dead)) {
                idx_rd[i] = (int)n;
                fds[n++] = (struct pollfd){ .fd = p.rd[i].fd, .events = POLLIN };
            }
        for (size_t i = 0; i < p.nwr; i++)
            if (p.wr[i].fd >= 0 &&
                (queue_len(&p.wr[i].pending) > 0 || (wait_pipe && p.in_wr == &p.wr[i]))) {
                idx_wr[i] = (int)n;
                fds[n++] = (struct pollfd){ .fd = p.wr[i].fd, .events = POLLOUT };
            }
        if (p.pidfd >= 0 && !p.child_done) {
            idx_pid = (int)n;
            fds[n++] = (struct pollfd){ .fd = p.pidfd, .events = POLLIN };
        }
        int timeout = (p.child > 0 && !p.child_done && p.pidfd < 0) ? 100 : -1;
        if (n == 0 && timeout < 0) {
            /* nothing can happen any more: for a client the remote is gone */
            if (!cfg->is_service) {
                *why = "connection closed without an exit code";
                result = -1;
            }
            break;
        }
        int r = poll(fds, n, timeout);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            *why = "poll failed";
            result = -1;
            break;
        }
        if (idx_remote >= 0 && (fds[idx_remote].revents & POLLOUT))
            send_step(&p);
        if (idx_remote >= 0 && (fds[idx_remote].revents & (POLLIN | POLLHUP | POLLERR))) {
            int rc = 0;
            if (fds[idx_remote].revents & POLLIN || !(rev & POLLOUT))
                rc = remote_burst(&p, why);
            else
                send_step(&p);
            if (rc < 0 || handle_remote_input(&p, why) < 0) {
                result = -1;
                break;
            }
        }
        for (size_t i = 0; i < p.nwr; i++)
            if (idx_wr[i] >= 0 && fds[idx_wr[i]].revents && wait_pipe && p.in_wr == &p.wr[i])
                splice_in(&p); /* room in the pipe, or its reader gone (EPIPE) */
            else if (idx_wr[i] >= 0 && fds[idx_wr[i]].revents)
                flush_writer(&p.wr[i]);
            else if (p.wr[i].fd >= 0 && p.wr[i].eof && queue_len(&p.wr[i].pending) == 0)
                writer_close(&p.wr[i]);
        for (size_t i = 0; i < p.nrd; i++)
            if (idx_rd[i] >= 0 && fds[idx_rd[i]].revents && p.out_left == 0) {
                if (p.rd[i].splice && !p.remote_dead && queue_len(&p.out) == 0)
                    splice_local_burst(&p, &p.rd[i]);
                else
                    read_local(&p, &p.rd[i]);
            }
        if (idx_pid >= 0 && fds[idx_pid].revents)
            check_child(&p);
        if ((queue_len(&p.out) > 0 || p.out_left > 0) && !p.remote_dead)
            send_step(&p);
        for (size_t i = 0; i < p.nwr; i++)
            if (queue_len(&p.wr[i].pending) > 0)
                flush_writer(&p.wr[i]);
    }

    if (!cfg->is_service && p.exit_received) {
        /* the remote is done: nothing more to send, hand over what it said */
        for (size_t i = 0; i < p.nrd; i++)
            close_fd(&p.rd[i].fd);
        result = p.exit_code;
    }
    block_and_flush_all(&p);
    for (size_t i = 0; i < p.nrd; i++)
        close_fd(&p.rd[i].fd);
    for (size_t i = 0; i < p.nwr; i++) {
        writer_close(&p.wr[i]);
        buf_free(&p.wr[i].pending.b);
    }
    if (!cfg->is_service && p.child > 0) {
        if (!p.child_done) {
            int status;
            pid_t r;
            while ((r = waitpid(p.child, &status, 0)) < 0 && errno == EINTR)
                ;
            p.child_code = r == p.child ? qrexec_status_to_code(status) : -1;
        }
        if (cfg->local_code)
            *cfg->local_code = p.child_code;
    }
    close_fd(&p.pidfd);
    buf_free(&p.out.b);
    buf_free(&p.in);
    return result;
}
