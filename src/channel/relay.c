/* The channel relay's poll loop: frames from the wire to local sockets and back, per-stream
 * credit and half-close, and the descriptor that opens each new stream (dom0 -> guest). */
#include "channel/relay.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

/* Room for one whole frame of the largest size behind a partial one. */
#define RX_CAP (2 * (CHANNEL_HDR_SIZE + CHANNEL_MAX_PAYLOAD))
/* Local sockets are not read while this much waits for the wire. */
#define TX_HIGH CHANNEL_WINDOW
/* Descriptors taken from one recvmsg; more are closed (and refused on dom0's stream 0). */
#define FDS_PER_MSG 8
#define MARKS_MAX CHANNEL_MAX_STREAMS
/* qrexec's struct msg_header {uint32_t type, len} (qrexec/qrexec_proto.h), which dom0's stream 0
 * carries; repeated here so that guest programs need nothing of qrexec to link the relay. */
#define QREXEC_HDR_BYTES 8u

/* The peer's bytes of one stream waiting for the local socket: never more than the window. */
struct ring {
    uint8_t *data; /* CHANNEL_WINDOW bytes, allocated at the first byte */
    uint32_t head;
    uint32_t len;
};

/* guest: a descriptor to attach to stream-0 byte number pos (counted since the start). */
struct fd_mark {
    uint64_t pos;
    int fd;
};

struct relay_stream {
    int fd;             /* the local socket; -1 when finished here (or never opened) */
    bool reading;       /* the local socket may still send: no EOF or error, peer not closed */
    bool wr_shut;       /* shutdown(SHUT_WR) done after the peer's EOF */
    struct ring out;    /* the peer's bytes waiting for fd */
    uint64_t out_done;  /* bytes ever written from out */
    uint64_t out_total; /* bytes ever put into out */
    uint32_t ungranted; /* written to fd, not yet granted back */
};

struct relay {
    const struct channel_relay_config *cfg;
    struct qerror *err;
    const char *peer; /* who sends what we parse, for messages */
    bool wire_socket;
    bool control_open;
    bool ended; /* stream 0 ended: linger, then return 0 */
    uint16_t next_id;
    uint32_t rr; /* where the next round of local reads starts, for fairness */
    struct channel_session ses;
    struct relay_stream st[CHANNEL_MAX_STREAMS];
    uint8_t rx[RX_CAP];
    size_t rx_len;
    uint8_t *tx; /* frames waiting for the wire: tx[tx_start..tx_end) */
    size_t tx_start, tx_end, tx_cap;
    struct fd_mark marks[MARKS_MAX]; /* guest, in stream-0 byte order */
    size_t mark_head, n_marks;
    /* dom0: where stream 0 is in qrexec-daemon's current message */
    uint8_t msg_hdr[QREXEC_HDR_BYTES];
    uint32_t msg_hdr_got; /* header bytes read; QREXEC_HDR_BYTES: in the payload */
    uint64_t msg_left;    /* payload bytes still to come */
};

static int set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -1;
    return 0;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void close_fds(const int *fds, size_t n)
{
    for (size_t i = 0; i < n; i++)
        close(fds[i]);
}

/* One recvmsg, with the descriptors that came with it. *odd: more than FDS_PER_MSG, a cut
 * control message, or one that is not SCM_RIGHTS. */
static ssize_t recv_fds(int fd, void *buf, size_t len, int flags, int *fds, size_t *nfds, bool *odd)
{
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int) * FDS_PER_MSG)];
    } ctl;
    struct iovec iov = { .iov_base = buf, .iov_len = len };
    struct msghdr mh = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf)
    };
    *nfds = 0;
    *odd = false;
    ssize_t n = recvmsg(fd, &mh, flags | MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    if (n < 0)
        return n;
    if (mh.msg_flags & MSG_CTRUNC)
        *odd = true;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) {
            *odd = true;
            continue;
        }
        size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < count; i++) {
            int got;
            memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
            if (*nfds < FDS_PER_MSG) {
                fds[(*nfds)++] = got;
            } else {
                close(got);
                *odd = true;
            }
        }
    }
    return n;
}

/* --- frames waiting for the wire --- */

static size_t tx_pending(const struct relay *r)
{
    return r->tx_end - r->tx_start;
}

/* Room for n more bytes at r->tx + r->tx_end, or NULL (out of memory, err set). */
static uint8_t *tx_reserve(struct relay *r, size_t n)
{
    if (r->tx_end + n > r->tx_cap && r->tx_start > 0) {
        memmove(r->tx, r->tx + r->tx_start, tx_pending(r));
        r->tx_end -= r->tx_start;
        r->tx_start = 0;
    }
    if (r->tx_end + n > r->tx_cap) {
        size_t cap = r->tx_cap ? r->tx_cap : 4 * (CHANNEL_HDR_SIZE + CHANNEL_MAX_PAYLOAD);
        while (cap < r->tx_end + n)
            cap *= 2;
        uint8_t *p = realloc(r->tx, cap);
        if (!p) {
            qerror_errno(r->err, ENOMEM, "channel: wire buffer");
            return NULL;
        }
        r->tx = p;
        r->tx_cap = cap;
    }
    return r->tx + r->tx_end;
}

static int queue_frame(struct relay *r, uint16_t id, enum channel_frame_type type,
                       const void *payload, uint32_t len)
{
    uint8_t *p = tx_reserve(r, CHANNEL_HDR_SIZE + len);
    if (!p)
        return -1;
    channel_hdr_encode(p, id, (uint8_t)type, len);
    if (len)
        memcpy(p + CHANNEL_HDR_SIZE, payload, len);
    r->tx_end += CHANNEL_HDR_SIZE + len;
    return 0;
}

/* Writes what the wire takes now. */
static int tx_flush(struct relay *r)
{
    while (tx_pending(r) > 0) {
        const uint8_t *p = r->tx + r->tx_start;
        ssize_t n = r->wire_socket ? send(r->cfg->wire_fd, p, tx_pending(r), MSG_NOSIGNAL)
                                   : write(r->cfg->wire_fd, p, tx_pending(r));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 0;
            if (errno == EPIPE || errno == ECONNRESET)
                return qerror_set(r->err, ERR_QUBES_EXCEPTION, "channel: wire closed by %s",
                                  r->peer);
            return qerror_errno(r->err, errno, "channel: write to the wire");
        }
        r->tx_start += (size_t)n;
    }
    r->tx_start = r->tx_end = 0;
    return 0;
}

/* --- one stream's local socket --- */

static int ring_put(struct relay *r, struct relay_stream *s, const uint8_t *p, uint32_t n)
{
    if (!s->out.data) {
        s->out.data = malloc(CHANNEL_WINDOW);
        if (!s->out.data)
            return qerror_errno(r->err, ENOMEM, "channel: stream buffer");
    }
    /* the session's credit check keeps out.len + n within the window */
    uint32_t tail = (s->out.head + s->out.len) % CHANNEL_WINDOW;
    uint32_t first = n < CHANNEL_WINDOW - tail ? n : CHANNEL_WINDOW - tail;
    memcpy(s->out.data + tail, p, first);
    memcpy(s->out.data, p + first, n - first);
    s->out.len += n;
    s->out_total += n;
    return 0;
}

/* The local side of a stream is done both ways (or broken, or the peer closed it): close it
 * and tell the peer. Stream 0's socket is the caller's: only forgotten. */
static int finish(struct relay *r, uint16_t id)
{
    struct relay_stream *s = &r->st[id];
    if (id != 0 && s->fd >= 0)
        close(s->fd);
    free(s->out.data);
    *s = (struct relay_stream){ .fd = -1 };
    if (id == 0 || r->ses.stream[id].sent_closed)
        return 0;
    channel_session_sent_close(&r->ses, id);
    return queue_frame(r, id, CHANNEL_CLOSE, NULL, 0);
}

/* Stream 0's local socket hung up (or failed): the channel ends, the peer is told. */
static int end_local0(struct relay *r)
{
    r->ended = true;
    r->st[0].fd = -1;
    channel_session_sent_close(&r->ses, 0);
    return queue_frame(r, 0, CHANNEL_CLOSE, NULL, 0);
}

/* A local socket failed (EPIPE, ECONNRESET, ...): its stream is over. */
static int local_failed(struct relay *r, uint16_t id)
{
    return id == 0 ? end_local0(r) : finish(r, id);
}

static int check_done(struct relay *r, uint16_t id)
{
    struct relay_stream *s = &r->st[id];
    const struct channel_stream_state *ss = &r->ses.stream[id];
    if (id == 0 || s->fd < 0)
        return 0;
    if ((ss->sent_eof && s->wr_shut) || (ss->peer_closed && s->out.len == 0))
        return finish(r, id);
    return 0;
}

static int shut_wr(struct relay *r, uint16_t id)
{
    struct relay_stream *s = &r->st[id];
    /* ENOTCONN: the local peer is gone already; its read side sees the same */
    shutdown(s->fd, SHUT_WR);
    s->wr_shut = true;
    return check_done(r, id);
}

/* n of the peer's bytes reached the local socket: grant them back in large pieces. */
static int consumed(struct relay *r, uint16_t id, uint32_t n)
{
    struct relay_stream *s = &r->st[id];
    const struct channel_stream_state *ss = &r->ses.stream[id];
    s->ungranted += n;
    if (s->ungranted < CHANNEL_GRANT_MIN || ss->peer_eof || ss->peer_closed || ss->sent_closed)
        return 0;
    uint8_t f[CHANNEL_CREDIT_FRAME_SIZE];
    channel_credit_encode(f, id, s->ungranted);
    uint8_t *p = tx_reserve(r, sizeof(f));
    if (!p)
        return -1;
    memcpy(p, f, sizeof(f));
    r->tx_end += sizeof(f);
    channel_session_sent_credit(&r->ses, id, s->ungranted);
    s->ungranted = 0;
    return 0;
}

/* Writes a stream's buffered bytes to its local socket; on guest stream 0, each new stream's
 * descriptor goes with the byte dom0's side had it attached to. */
static int pump_out(struct relay *r, uint16_t id)
{
    struct relay_stream *s = &r->st[id];
    while (s->fd >= 0 && s->out.len > 0) {
        uint32_t limit = s->out.len;
        int pass_fd = -1;
        if (id == 0 && r->n_marks > 0) {
            const struct fd_mark *m = &r->marks[r->mark_head];
            if (m->pos == s->out_done) {
                pass_fd = m->fd;
                if (r->n_marks > 1) {
                    uint64_t next = r->marks[(r->mark_head + 1) % MARKS_MAX].pos;
                    if (next - s->out_done < limit)
                        limit = (uint32_t)(next - s->out_done);
                }
            } else if (m->pos - s->out_done < limit) {
                limit = (uint32_t)(m->pos - s->out_done);
            }
        }
        uint32_t first = CHANNEL_WINDOW - s->out.head;
        if (first > limit)
            first = limit;
        struct iovec iov[2] = {
            { .iov_base = s->out.data + s->out.head, .iov_len = first },
            { .iov_base = s->out.data, .iov_len = limit - first },
        };
        union {
            struct cmsghdr align;
            char buf[CMSG_SPACE(sizeof(int))];
        } ctl;
        struct msghdr mh = { .msg_iov = iov, .msg_iovlen = limit > first ? 2 : 1 };
        if (pass_fd >= 0) {
            memset(&ctl, 0, sizeof(ctl));
            mh.msg_control = ctl.buf;
            mh.msg_controllen = sizeof(ctl.buf);
            struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
            c->cmsg_level = SOL_SOCKET;
            c->cmsg_type = SCM_RIGHTS;
            c->cmsg_len = CMSG_LEN(sizeof(int));
            memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
        }
        ssize_t n = sendmsg(s->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 0;
            return local_failed(r, id);
        }
        if (pass_fd >= 0) {
            close(pass_fd);
            r->mark_head = (r->mark_head + 1) % MARKS_MAX;
            r->n_marks--;
        }
        s->out.head = (s->out.head + (uint32_t)n) % CHANNEL_WINDOW;
        s->out.len -= (uint32_t)n;
        s->out_done += (uint64_t)n;
        if (consumed(r, id, (uint32_t)n) < 0)
            return -1;
    }
    if (s->fd < 0 || id == 0)
        return 0;
    if (r->ses.stream[id].peer_eof && !s->wr_shut)
        return shut_wr(r, id);
    return check_done(r, id);
}

/* --- frames from the peer --- */

static int on_data(struct relay *r, uint16_t id, const uint8_t *p, uint32_t n)
{
    struct relay_stream *s = &r->st[id];
    if (s->fd < 0)
        return 0; /* finished here; the peer sent these before it saw our CLOSE */
    if (s->out.len == 0 && !(id == 0 && r->n_marks > 0)) {
        ssize_t w;
        do
            w = send(s->fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        while (w < 0 && errno == EINTR);
        if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
            return local_failed(r, id);
        if (w > 0) {
            s->out_total += (uint64_t)w;
            s->out_done += (uint64_t)w;
            p += w;
            n -= (uint32_t)w;
            if (consumed(r, id, (uint32_t)w) < 0)
                return -1;
        }
    }
    return n > 0 ? ring_put(r, s, p, n) : 0;
}

/* guest: dom0 opened stream id; its descriptor goes with the next stream-0 byte. */
static int on_open(struct relay *r, uint16_t id)
{
    if (r->n_marks == MARKS_MAX)
        return qerror_set(r->err, ERR_QUBES_EXCEPTION,
                          "channel: %u new streams wait for their stream-0 bytes", MARKS_MAX);
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return qerror_errno(r->err, errno, "channel: socketpair for stream %u", id);
    if (set_nonblock(sv[0]) < 0) {
        int e = errno;
        close(sv[0]);
        close(sv[1]);
        return qerror_errno(r->err, e, "channel: stream %u", id);
    }
    r->st[id] = (struct relay_stream){ .fd = sv[0], .reading = true };
    r->marks[(r->mark_head + r->n_marks) % MARKS_MAX] =
        (struct fd_mark){ .pos = r->st[0].out_total, .fd = sv[1] };
    r->n_marks++;
    return 0;
}

static int on_eof(struct relay *r, uint16_t id)
{
    struct relay_stream *s = &r->st[id];
    if (s->fd < 0 || s->out.len > 0)
        return 0; /* pump_out shuts down once the buffer is written */
    return shut_wr(r, id);
}

static int on_close(struct relay *r, uint16_t id)
{
    struct relay_stream *s = &r->st[id];
    if (id == 0) {
        r->ended = true;
        return 0;
    }
    if (s->fd < 0)
        return 0;
    s->reading = false;
    return s->out.len == 0 ? finish(r, id) : 0;
}

static int handle_frame(struct relay *r, const struct channel_frame *f)
{
    uint16_t id = f->hdr.stream;
    switch ((enum channel_frame_type)f->hdr.type) {
    case CHANNEL_HELLO: return 0;
    case CHANNEL_DATA: return on_data(r, id, f->payload, f->hdr.len);
    case CHANNEL_OPEN: return on_open(r, id);
    case CHANNEL_EOF: return on_eof(r, id);
    case CHANNEL_CLOSE: return on_close(r, id);
    case CHANNEL_CREDIT: return 0; /* the session raised our credit: reading resumes */
    case CHANNEL_POWEROFF:
        if (r->cfg->on_poweroff)
            r->cfg->on_poweroff(r->cfg->opaque);
        return 0;
    default: break;
    }
    return qerror_set(r->err, ERR_QUBES_EXCEPTION, "channel: frame type %u passed the parser",
                      f->hdr.type);
}

static int protocol_error(struct relay *r, const uint8_t *untrusted_hdr, enum channel_error why)
{
    struct channel_hdr h = channel_hdr_decode(untrusted_hdr);
    return qerror_set(r->err, ERR_PROTOCOL_ERROR,
                      "protocol error from %s: %s (stream %u, type %u, length %u)", r->peer,
                      channel_error_name(why), h.stream, h.type, h.len);
}

static int wire_read(struct relay *r)
{
    ssize_t n = read(r->cfg->wire_fd, r->rx + r->rx_len, RX_CAP - r->rx_len);
    if (n < 0) {
        if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
            return 0;
        if (errno != ECONNRESET)
            return qerror_errno(r->err, errno, "channel: read from the wire");
    }
    if (n <= 0)
        return qerror_set(r->err, ERR_QUBES_EXCEPTION, "channel: wire closed by %s", r->peer);
    r->rx_len += (size_t)n;
    size_t off = 0;
    while (!r->ended) {
        struct channel_frame f;
        size_t used;
        enum channel_error why = CHANNEL_OK;
        int rc = channel_parse(&r->ses, r->rx + off, r->rx_len - off, &f, &used, &why);
        if (rc < 0)
            return protocol_error(r, r->rx + off, why);
        if (rc == 0)
            break;
        if (handle_frame(r, &f) < 0)
            return -1;
        off += used;
    }
    memmove(r->rx, r->rx + off, r->rx_len - off);
    r->rx_len -= off;
    return 0;
}

/* --- local reads --- */

static bool wants_read(const struct relay *r, uint16_t id)
{
    const struct relay_stream *s = &r->st[id];
    const struct channel_stream_state *ss = &r->ses.stream[id];
    if (s->fd < 0 || !s->reading || ss->tx_credit == 0 || ss->peer_closed ||
        tx_pending(r) >= TX_HIGH)
        return false;
    /* a descriptor comes with a message's first bytes and needs a free id; the rest of a
     * message started is read whatever the ids */
    return !(id == 0 && r->cfg->side == CHANNEL_SIDE_DOM0 && r->msg_hdr_got == 0 &&
             r->ses.n_live >= CHANNEL_MAX_STREAMS);
}

static uint32_t read_chunk(const struct relay *r, uint16_t id)
{
    uint32_t c = r->ses.stream[id].tx_credit;
    return c < CHANNEL_MAX_PAYLOAD ? c : CHANNEL_MAX_PAYLOAD;
}

/* How much of dom0's stream 0 the next read may take: never past the end of the current qrexec
 * message's header or payload. */
static uint32_t dom0_read0_size(const struct relay *r, uint32_t chunk)
{
    if (r->msg_hdr_got < QREXEC_HDR_BYTES)
        return QREXEC_HDR_BYTES - r->msg_hdr_got;
    return r->msg_left < chunk ? (uint32_t)r->msg_left : chunk;
}

/* Follows the qrexec messages of dom0's stream 0 over the n bytes just read. */
static void dom0_read0_advance(struct relay *r, const uint8_t *p, uint32_t n)
{
    if (r->msg_hdr_got < QREXEC_HDR_BYTES) {
        memcpy(r->msg_hdr + r->msg_hdr_got, p, n);
        r->msg_hdr_got += n;
        if (r->msg_hdr_got == QREXEC_HDR_BYTES) {
            uint32_t len; /* struct msg_header.len: native-endian, as qrexec has it */
            memcpy(&len, r->msg_hdr + 4, sizeof(len));
            r->msg_left = len;
        }
    } else {
        r->msg_left -= n;
    }
    if (r->msg_hdr_got == QREXEC_HDR_BYTES && r->msg_left == 0)
        r->msg_hdr_got = 0;
}

/* dom0's stream 0: qrexec-daemon's messages, and the descriptor it attaches to some of them.
 * One read returns a descriptor with whatever plain bytes were queued before the sendmsg that
 * carried it (and MSG_PEEK reports the first descriptor anywhere in the queue), so the bytes
 * it belongs to are found by reading one qrexec message part (header, or payload up to a frame)
 * at a time: a descriptor that comes with a read came with that message. It goes out as OPEN,
 * then that part as stream-0 DATA; the guest relay attaches it to the part's first byte, and
 * qrexec-agent, which collects descriptors per message, finds it with the same message. */
static int dom0_read0(struct relay *r)
{
    struct relay_stream *s = &r->st[0];
    uint32_t want = dom0_read0_size(r, read_chunk(r, 0));
    uint8_t *p = tx_reserve(r, 2 * CHANNEL_HDR_SIZE + want);
    if (!p)
        return -1;
    uint8_t *data = p + 2 * CHANNEL_HDR_SIZE;
    int fds[FDS_PER_MSG];
    size_t nfds;
    bool odd;
    ssize_t n = recv_fds(s->fd, data, want, 0, fds, &nfds, &odd);
    if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
        return 0;
    if (n <= 0)
        return end_local0(r);
    if (nfds > 1 || odd) {
        close_fds(fds, nfds);
        return qerror_set(r->err, ERR_QUBES_EXCEPTION,
                          "channel: stream 0: more than one descriptor in one message");
    }
    dom0_read0_advance(r, data, (uint32_t)n);
    if (nfds == 1) {
        uint16_t id = channel_session_free_id(&r->ses, r->next_id);
        if (id == 0 || set_nonblock(fds[0]) < 0 || !channel_session_open(&r->ses, id)) {
            close(fds[0]);
            return qerror_set(r->err, ERR_QUBES_EXCEPTION, "channel: no stream for a descriptor");
        }
        r->next_id = (uint16_t)((uint32_t)id + 1 < CHANNEL_MAX_STREAMS ? id + 1 : 1);
        r->st[id] = (struct relay_stream){ .fd = fds[0], .reading = true };
        channel_hdr_encode(p, id, CHANNEL_OPEN, 0);
        p += CHANNEL_HDR_SIZE;
        r->tx_end += CHANNEL_HDR_SIZE;
    } else {
        memmove(p + CHANNEL_HDR_SIZE, data, (size_t)n);
    }
    channel_hdr_encode(p, 0, CHANNEL_DATA, (uint32_t)n);
    r->tx_end += CHANNEL_HDR_SIZE + (size_t)n;
    channel_session_sent_data(&r->ses, 0, (uint32_t)n);
    return 0;
}

/* Any other local read: descriptors that come with the bytes are closed (only dom0's stream 0
 * carries them). */
static int local_read(struct relay *r, uint16_t id)
{
    if (id == 0 && r->cfg->side == CHANNEL_SIDE_DOM0)
        return dom0_read0(r);
    struct relay_stream *s = &r->st[id];
    uint32_t chunk = read_chunk(r, id);
    uint8_t *p = tx_reserve(r, CHANNEL_HDR_SIZE + chunk);
    if (!p)
        return -1;
    int fds[FDS_PER_MSG];
    size_t nfds;
    bool odd;
    ssize_t n = recv_fds(s->fd, p + CHANNEL_HDR_SIZE, chunk, 0, fds, &nfds, &odd);
    close_fds(fds, nfds);
    if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
        return 0;
    if (n < 0)
        return local_failed(r, id);
    if (n == 0) {
        if (id == 0)
            return end_local0(r);
        s->reading = false;
        channel_session_sent_eof(&r->ses, id);
        if (queue_frame(r, id, CHANNEL_EOF, NULL, 0) < 0)
            return -1;
        return check_done(r, id);
    }
    channel_hdr_encode(p, id, CHANNEL_DATA, (uint32_t)n);
    r->tx_end += CHANNEL_HDR_SIZE + (size_t)n;
    channel_session_sent_data(&r->ses, id, (uint32_t)n);
    return 0;
}

static int control_read(struct relay *r)
{
    uint8_t b[64];
    ssize_t n = read(r->cfg->control_fd, b, sizeof(b));
    if (n < 0) {
        if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
            return 0;
        return qerror_errno(r->err, errno, "channel: read the control pipe");
    }
    if (n == 0) {
        r->control_open = false;
        return 0;
    }
    for (ssize_t i = 0; i < n; i++) {
        if (b[i] != 'P')
            return qerror_set(r->err, ERR_QUBES_EXCEPTION,
                              "channel: unknown control command 0x%02x", b[i]);
        if (queue_frame(r, 0, CHANNEL_POWEROFF, NULL, 0) < 0)
            return -1;
    }
    return 0;
}

/* --- the loop --- */

/* Stream 0 ended: the last frames and the last stream-0 bytes get CHANNEL_LINGER_MS to leave. */
static int linger(struct relay *r)
{
    int64_t deadline = now_ms() + CHANNEL_LINGER_MS;
    for (;;) {
        if (tx_flush(r) < 0 || pump_out(r, 0) < 0)
            return 0; /* stream 0 is over either way */
        struct pollfd pfd[2];
        nfds_t n = 0;
        if (tx_pending(r) > 0)
            pfd[n++] = (struct pollfd){ .fd = r->cfg->wire_fd, .events = POLLOUT };
        if (r->st[0].fd >= 0 && r->st[0].out.len > 0)
            pfd[n++] = (struct pollfd){ .fd = r->st[0].fd, .events = POLLOUT };
        int64_t left = deadline - now_ms();
        if (n == 0 || left <= 0)
            return 0;
        if (poll(pfd, n, (int)left) < 0 && errno != EINTR)
            return 0;
    }
}

static int relay_loop(struct relay *r)
{
    struct pollfd pfd[CHANNEL_MAX_STREAMS + 2];
    uint16_t who[CHANNEL_MAX_STREAMS + 2];
    for (;;) {
        if (tx_flush(r) < 0)
            return -1;
        if (r->ended)
            return linger(r);
        nfds_t n = 0;
        pfd[n++] = (struct pollfd){ .fd = r->cfg->wire_fd,
                                    .events = POLLIN | (tx_pending(r) > 0 ? POLLOUT : 0) };
        nfds_t first_stream = 1;
        if (r->control_open) {
            pfd[n++] = (struct pollfd){ .fd = r->cfg->control_fd, .events = POLLIN };
            first_stream = 2;
        }
        for (uint32_t k = 0; k < CHANNEL_MAX_STREAMS; k++) {
            uint16_t id = (uint16_t)((r->rr + k) % CHANNEL_MAX_STREAMS);
            const struct relay_stream *s = &r->st[id];
            if (s->fd < 0)
                continue;
            short ev = (short)((wants_read(r, id) ? POLLIN : 0) | (s->out.len > 0 ? POLLOUT : 0));
            if (!ev)
                continue;
            who[n] = id;
            pfd[n++] = (struct pollfd){ .fd = s->fd, .events = ev };
        }
        r->rr++;
        if (poll(pfd, n, -1) < 0) {
            if (errno == EINTR)
                continue;
            return qerror_errno(r->err, errno, "channel: poll");
        }
        if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            if (wire_read(r) < 0)
                return -1;
            if (r->ended)
                continue;
        }
        if (first_stream == 2 && pfd[1].revents && control_read(r) < 0)
            return -1;
        for (nfds_t i = first_stream; i < n && !r->ended; i++) {
            uint16_t id = who[i];
            struct relay_stream *s = &r->st[id];
            /* a frame may have finished this stream, and its number gone to a new one */
            if (!pfd[i].revents || s->fd != pfd[i].fd)
                continue;
            if (s->out.len > 0 && pump_out(r, id) < 0)
                return -1;
            if (s->fd == pfd[i].fd && (pfd[i].revents & (POLLIN | POLLHUP | POLLERR)) &&
                wants_read(r, id) && local_read(r, id) < 0)
                return -1;
        }
    }
}

int channel_relay_run(const struct channel_relay_config *cfg, struct qerror *err)
{
    if ((cfg->side != CHANNEL_SIDE_DOM0 && cfg->side != CHANNEL_SIDE_GUEST) || cfg->wire_fd < 0 ||
        cfg->local_fd < 0 || (cfg->side == CHANNEL_SIDE_GUEST && cfg->control_fd >= 0))
        return qerror_set(err, ERR_QUBES_EXCEPTION, "channel: bad relay configuration");
    if (set_nonblock(cfg->wire_fd) < 0 || set_nonblock(cfg->local_fd) < 0 ||
        (cfg->control_fd >= 0 && set_nonblock(cfg->control_fd) < 0))
        return qerror_errno(err, errno, "channel: O_NONBLOCK");
    struct relay *r = calloc(1, sizeof(*r));
    if (!r)
        return qerror_errno(err, ENOMEM, "channel: relay");
    r->cfg = cfg;
    r->err = err;
    r->peer = cfg->side == CHANNEL_SIDE_DOM0 ? "guest" : "dom0";
    int type;
    socklen_t tlen = sizeof(type);
    r->wire_socket = getsockopt(cfg->wire_fd, SOL_SOCKET, SO_TYPE, &type, &tlen) == 0;
    r->control_open = cfg->control_fd >= 0;
    r->next_id = 1;
    channel_session_init(&r->ses, cfg->side);
    for (uint32_t i = 0; i < CHANNEL_MAX_STREAMS; i++)
        r->st[i].fd = -1;
    r->st[0] = (struct relay_stream){ .fd = cfg->local_fd, .reading = true };

    uint8_t hello[CHANNEL_HELLO_FRAME_SIZE];
    channel_hello_encode(hello);
    uint8_t *p = tx_reserve(r, sizeof(hello));
    int rc = -1;
    if (p) {
        memcpy(p, hello, sizeof(hello));
        r->tx_end += sizeof(hello);
        rc = relay_loop(r);
    }

    /* stream 0 is over: its local peer sees EOF even while the caller keeps local_fd */
    shutdown(cfg->local_fd, SHUT_RDWR);
    for (uint32_t i = 0; i < CHANNEL_MAX_STREAMS; i++) {
        if (i != 0 && r->st[i].fd >= 0)
            close(r->st[i].fd);
        free(r->st[i].out.data);
    }
    for (size_t i = 0; i < r->n_marks; i++)
        close(r->marks[(r->mark_head + i) % MARKS_MAX].fd);
    free(r->tx);
    free(r);
    return rc;
}
