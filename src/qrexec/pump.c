/* One poll loop moving bytes between local descriptors and MSG_DATA_* messages. Reads are
 * throttled by the buffer they fill, so a peer that stops reading stalls only its call. */
#include "qrexec/pump.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/buf.h"
#include "qrexec/exec.h"
#include "qrexec/qrexec_proto.h"
#include "qrexec/transport.h"

#define WRITER_LIMIT (256u * 1024u)

struct local_reader {
    int fd;
    uint32_t type;
};

struct local_writer {
    int fd;
    struct buf pending;
    bool eof;       /* remote sent EOF: close once flushed */
    bool own;       /* ours to close (not the client's stderr) */
};

struct pump {
    const struct qrexec_pump_cfg *cfg;
    size_t chunk;
    struct local_reader rd[2];
    size_t nrd;
    struct local_writer wr[2];
    size_t nwr;
    struct buf out;     /* queued for the remote */
    struct buf in;      /* received from the remote, not yet parsed */
    bool remote_eof;    /* nothing more will come from the remote */
    bool remote_dead;   /* cannot send to the remote any more */
    bool exit_received;
    int exit_code;
    pid_t child;
    int pidfd;
    bool child_done;
    int child_code;
    uint8_t *chunk_buf;
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
    }
    else
        w->fd = -1;
    buf_reset(&w->pending);
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
    while (p->out.len > 0 && !p->remote_dead) {
        ssize_t n = send(p->cfg->remote_fd, p->out.data, p->out.len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 0;
            p->remote_dead = true;
            buf_reset(&p->out);
            return -1;
        }
        buf_consume(&p->out, (size_t)n);
    }
    return 0;
}

static void flush_writer(struct local_writer *w)
{
    while (w->fd >= 0 && w->pending.len > 0) {
        ssize_t n = write(w->fd, w->pending.data, w->pending.len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            writer_close(w); /* the reader went away; drop what it would not take */
            return;
        }
        buf_consume(&w->pending, (size_t)n);
    }
    if (w->fd >= 0 && w->eof && w->pending.len == 0)
        writer_close(w);
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
            size_t at = w->pending.len;
            buf_append(&w->pending, untrusted_payload, hdr.len);
            if (hdr.type == MSG_DATA_STDERR ? p->cfg->filter_stderr : p->cfg->filter_stdout)
                replace_unsafe_chars((unsigned char *)w->pending.data + at, hdr.len);
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
        if (p->wr[i].pending.len >= WRITER_LIMIT)
            return false;
    return true;
}

static void read_remote(struct pump *p)
{
    uint8_t tmp[65536];
    ssize_t n = recv(p->cfg->remote_fd, tmp, sizeof(tmp), MSG_DONTWAIT);
    if (n < 0) {
        if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
            return;
        p->remote_eof = true;
        return;
    }
    if (n == 0) {
        p->remote_eof = true;
        return;
    }
    buf_append(&p->in, tmp, (size_t)n);
}

static void read_local(struct pump *p, struct local_reader *r)
{
    ssize_t n = read(r->fd, p->chunk_buf, p->chunk);
    if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
        return;
    if (n <= 0) {
        /* EOF (or an error, which ends this stream the same way): a zero-length message */
        close_fd(&r->fd);
        if (!p->remote_dead)
            qrexec_msg_encode(&p->out, r->type, NULL, 0);
        return;
    }
    if (!p->remote_dead)
        qrexec_msg_encode(&p->out, r->type, p->chunk_buf, (size_t)n);
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
    qrexec_set_nonblock(p->cfg->remote_fd, false);
    if (!p->remote_dead && p->out.len > 0) {
        if (qrexec_send_all(p->cfg->remote_fd, p->out.data, p->out.len, -1) < 0)
            p->remote_dead = true;
        buf_reset(&p->out);
    }
    for (size_t i = 0; i < p->nwr; i++) {
        struct local_writer *w = &p->wr[i];
        if (w->fd >= 0 && w->pending.len > 0) {
            qrexec_set_nonblock(w->fd, false);
            flush_writer(w);
        }
    }
}

int qrexec_pump_run(const struct qrexec_pump_cfg *cfg, const char **why)
{
    struct pump p = { .cfg = cfg, .pidfd = -1, .child = cfg->child };
    p.chunk = qrexec_max_chunk(cfg->version);
    p.chunk_buf = xmalloc(p.chunk);
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
                qrexec_msg_encode(&p.out, p.rd[i].type, NULL, 0);
        if (cfg->in_fd >= 0)
            qrexec_set_nonblock(cfg->in_fd, true);
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
        if (cfg->in_fd < 0)
            qrexec_msg_encode(&p.out, MSG_DATA_STDIN, NULL, 0);
    }
    if (p.child > 0)
        p.pidfd = (int)syscall(SYS_pidfd_open, p.child, 0);

    for (;;) {
        check_child(&p);
        if (cfg->is_service) {
            bool stdin_done = p.wr[0].fd < 0 || p.remote_eof;
            if (cfg->exit_on_stdin_eof && stdin_done)
                for (size_t i = 0; i < p.nrd; i++)
                    if (p.rd[i].fd >= 0) {
                        close_fd(&p.rd[i].fd);
                        if (!p.remote_dead)
                            qrexec_msg_encode(&p.out, p.rd[i].type, NULL, 0);
                    }
            if (p.child_done && !readers_open(&p) && (!cfg->wait_stdin_eof || stdin_done)) {
                if (!p.remote_dead)
                    qrexec_exit_code_encode(&p.out, p.child_code);
                break;
            }
            if (p.remote_eof) {
                /* the caller is gone: nobody will write stdin again */
                if (p.wr[0].fd >= 0 && p.wr[0].pending.len == 0)
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
        if (!p.remote_eof && writers_have_room(&p))
            rev |= POLLIN;
        if (p.out.len > 0 && !p.remote_dead)
            rev |= POLLOUT;
        if (rev) {
            idx_remote = (int)n;
            fds[n++] = (struct pollfd){ .fd = cfg->remote_fd, .events = rev };
        }
        bool room = p.out.len < 2 * (p.chunk + QREXEC_HDR_SIZE);
        for (size_t i = 0; i < p.nrd; i++)
            if (p.rd[i].fd >= 0 && (room || p.remote_dead)) {
                idx_rd[i] = (int)n;
                fds[n++] = (struct pollfd){ .fd = p.rd[i].fd, .events = POLLIN };
            }
        for (size_t i = 0; i < p.nwr; i++)
            if (p.wr[i].fd >= 0 && p.wr[i].pending.len > 0) {
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
            flush_remote(&p);
        if (idx_remote >= 0 && (fds[idx_remote].revents & (POLLIN | POLLHUP | POLLERR))) {
            if (fds[idx_remote].revents & POLLIN || !(rev & POLLOUT))
                read_remote(&p);
            else
                flush_remote(&p);
            if (handle_remote_input(&p, why) < 0) {
                result = -1;
                break;
            }
        }
        for (size_t i = 0; i < p.nwr; i++)
            if (idx_wr[i] >= 0 && fds[idx_wr[i]].revents)
                flush_writer(&p.wr[i]);
            else if (p.wr[i].fd >= 0 && p.wr[i].eof && p.wr[i].pending.len == 0)
                writer_close(&p.wr[i]);
        for (size_t i = 0; i < p.nrd; i++)
            if (idx_rd[i] >= 0 && fds[idx_rd[i]].revents)
                read_local(&p, &p.rd[i]);
        if (idx_pid >= 0 && fds[idx_pid].revents)
            check_child(&p);
        if (p.out.len > 0 && !p.remote_dead)
            flush_remote(&p);
        for (size_t i = 0; i < p.nwr; i++)
            if (p.wr[i].pending.len > 0)
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
        buf_free(&p.wr[i].pending);
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
    buf_free(&p.out);
    buf_free(&p.in);
    free(p.chunk_buf);
    return result;
}
