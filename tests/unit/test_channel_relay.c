/* Both channel relays over a socketpair "wire", with a fake qrexec-daemon that passes
 * descriptors (through qrexec's own transport) and a fake agent that reads as qrexec-agent does:
 * descriptors on exactly the bytes they were sent with, many concurrent streams with half-close
 * each way and id reuse, 16 MiB on one stream while another stays responsive, the end of stream
 * 0 from either side, POWEROFF, and a hostile guest that the dom0 side refuses by name. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "channel/relay.h"
#include "qrexec/qrexec_proto.h"
#include "qrexec/transport.h"

/* --- the two relays and their ends --- */

struct relay_run {
    struct channel_relay_config cfg;
    struct qerror err;
    int rc;
    pthread_t th;
    bool started;
};

struct tunnel {
    int wire[2];     /* [0] dom0 relay, [1] guest relay (or the test as a hostile guest) */
    int daemon;      /* the fake qrexec-daemon's end of stream 0 */
    int dom0_local;  /* the dom0 relay's end of it */
    int agent;       /* the fake agent's end (qrexec-agent's fd 3) */
    int guest_local; /* the guest relay's end of it */
    int ctl[2];      /* control pipe of the dom0 relay */
    atomic_int poweroffs;
    struct relay_run dom0, guest;
};

static void *relay_main(void *p)
{
    struct relay_run *r = p;
    r->rc = channel_relay_run(&r->cfg, &r->err);
    return NULL;
}

static void count_poweroff(void *opaque)
{
    struct tunnel *t = opaque;
    atomic_fetch_add(&t->poweroffs, 1);
}

static void tunnel_init(struct tunnel *t)
{
    memset(t, 0, sizeof(*t));
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, t->wire), 0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    t->daemon = sv[0];
    t->dom0_local = sv[1];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    t->agent = sv[0];
    t->guest_local = sv[1];
    assert_int_equal(pipe2(t->ctl, O_CLOEXEC), 0);
    t->dom0.cfg = (struct channel_relay_config){ .side = CHANNEL_SIDE_DOM0,
                                                 .wire_fd = t->wire[0],
                                                 .local_fd = t->dom0_local,
                                                 .control_fd = t->ctl[0] };
    t->guest.cfg = (struct channel_relay_config){ .side = CHANNEL_SIDE_GUEST,
                                                  .wire_fd = t->wire[1],
                                                  .local_fd = t->guest_local,
                                                  .control_fd = -1,
                                                  .on_poweroff = count_poweroff,
                                                  .opaque = t };
}

static void start_relay(struct relay_run *r)
{
    assert_int_equal(pthread_create(&r->th, NULL, relay_main, r), 0);
    r->started = true;
}

static void tunnel_start(struct tunnel *t)
{
    start_relay(&t->dom0);
    start_relay(&t->guest);
}

static void join_relay(struct relay_run *r)
{
    if (r->started)
        assert_int_equal(pthread_join(r->th, NULL), 0);
    r->started = false;
}

static void close_if(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

static void tunnel_close(struct tunnel *t)
{
    join_relay(&t->dom0);
    join_relay(&t->guest);
    close_if(&t->wire[0]);
    close_if(&t->wire[1]);
    close_if(&t->daemon);
    close_if(&t->dom0_local);
    close_if(&t->agent);
    close_if(&t->guest_local);
    close_if(&t->ctl[0]);
    close_if(&t->ctl[1]);
}

/* The daemon hangs up: both relays end cleanly. */
static void tunnel_end(struct tunnel *t)
{
    close_if(&t->daemon);
    join_relay(&t->dom0);
    join_relay(&t->guest);
    assert_int_equal(t->dom0.rc, 0);
    assert_int_equal(t->guest.rc, 0);
    tunnel_close(t);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Bytes of a stream: the same for writer and reader, different per stream. */
static uint8_t pattern(uint32_t seed, size_t at)
{
    return (uint8_t)((seed * 2654435761u >> 24) ^ (at * 31u) ^ (at >> 9));
}

static void write_all(int fd, const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n > 0) {
        ssize_t w = write(fd, b, n);
        if (w < 0 && errno == EINTR)
            continue;
        assert_true(w > 0);
        b += w;
        n -= (size_t)w;
    }
}

/* Waits up to ms for fd to be readable; true if it is. */
static bool readable(int fd, int ms)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    return poll(&p, 1, ms) == 1;
}

/* --- descriptors arrive with exactly their bytes --- */

/* Messages as qrexec-daemon sends them, some with a descriptor, all queued before the relays
 * start (so that one read could return several): the agent finds each descriptor with the
 * message it was sent with, and nothing with the others. */
static void test_descriptor_boundaries(void **state)
{
    (void)state;
    struct tunnel t;
    tunnel_init(&t);
    struct {
        uint32_t type;
        size_t len;
        bool fd;
    } msg[] = {
        { MSG_SERVICE_REFUSED, 32, false },
        { MSG_EXEC_CMDLINE, 50, true },
        { MSG_HELLO, 4, false },
        { MSG_EXEC_CMDLINE, 100000, false },
        { MSG_SERVICE_CONNECT, 40, true },
        { MSG_SERVICE_REFUSED, 0, false },
        { MSG_JUST_EXEC, 10, true },
        { MSG_SERVICE_CONNECT, 70000, true },
    };
    enum { N = sizeof(msg) / sizeof(msg[0]) };
    static uint8_t payload[100000];
    int dom0_end[N];
    for (size_t i = 0; i < N; i++) {
        memset(payload, (int)('a' + i), msg[i].len);
        struct buf m = BUF_INIT;
        qrexec_msg_encode(&m, msg[i].type, payload, msg[i].len);
        int sv[2] = { -1, -1 };
        if (msg[i].fd)
            assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        assert_int_equal(qrexec_send_all(t.daemon, m.data, m.len, sv[1]), 0);
        buf_free(&m);
        if (sv[1] >= 0)
            close(sv[1]);
        dom0_end[i] = sv[0];
    }
    tunnel_start(&t);

    for (size_t i = 0; i < N; i++) {
        /* as qrexec_recv_msg reads: the header, then exactly the payload, descriptors of both */
        uint8_t h[QREXEC_HDR_SIZE];
        struct qrexec_fds fds = { .n = 0 };
        assert_int_equal(qrexec_recv_all(t.agent, h, sizeof(h), &fds), 0);
        struct msg_header mh = qrexec_hdr_decode(h);
        assert_int_equal(mh.type, msg[i].type);
        assert_int_equal(mh.len, msg[i].len);
        assert_int_equal(qrexec_recv_all(t.agent, payload, mh.len, &fds), 0);
        for (size_t j = 0; j < mh.len; j++)
            assert_int_equal(payload[j], 'a' + i);
        assert_int_equal(fds.n, msg[i].fd ? 1 : 0);
        assert_false(fds.overflow);
        if (!msg[i].fd)
            continue;
        /* the descriptor is a live stream to the daemon's other end, both ways */
        int mine = dom0_end[i], theirs = fds.fd[0];
        char out[16], in[16];
        snprintf(out, sizeof(out), "ping%zu", i);
        write_all(mine, out, 5);
        assert_int_equal(qrexec_recv_all(theirs, in, 5, NULL), 0);
        assert_memory_equal(in, out, 5);
        write_all(theirs, "pong", 4);
        assert_int_equal(qrexec_recv_all(mine, in, 4, NULL), 0);
        assert_memory_equal(in, "pong", 4);
        close(theirs);
        assert_true(readable(mine, 5000));
        assert_int_equal(read(mine, in, 1), 0); /* the guest end's close reaches dom0 */
        close(mine);
    }
    tunnel_end(&t);
}

/* --- many streams, half-close each way, ids used again --- */

enum order { SEND_FIRST, RECV_FIRST, BOTH };

struct endpoint {
    int fd;
    enum order order;
    uint32_t out_seed, in_seed;
    size_t out_len, in_len;
    bool ok;
    char why[96];
    pthread_t th;
};

/* Sends out_len bytes then shuts down its write side, and reads to EOF, in the given order:
 * a half-closed stream must still carry the other direction. */
static void *endpoint_main(void *p)
{
    struct endpoint *e = p;
    int fl = fcntl(e->fd, F_GETFL);
    fcntl(e->fd, F_SETFL, fl | O_NONBLOCK);
    size_t sent = 0, got = 0;
    bool shut = false, eof = false;
    uint8_t buf[16384];
    e->ok = false;
    while (!(shut && eof)) {
        bool may_send = !shut && (e->order != RECV_FIRST || eof);
        bool may_recv = !eof && (e->order != SEND_FIRST || shut);
        if (may_send && sent == e->out_len) {
            shutdown(e->fd, SHUT_WR);
            shut = true;
            continue;
        }
        struct pollfd pfd = { .fd = e->fd,
                              .events =
                                  (short)((may_send ? POLLOUT : 0) | (may_recv ? POLLIN : 0)) };
        int n = poll(&pfd, 1, 30000);
        if (n <= 0) {
            snprintf(e->why, sizeof(e->why), "timeout sent=%zu got=%zu", sent, got);
            goto out;
        }
        if (may_recv && (pfd.revents & (POLLIN | POLLHUP | POLLERR))) {
            ssize_t r = read(e->fd, buf, sizeof(buf));
            if (r == 0) {
                eof = true;
                if (got != e->in_len) {
                    snprintf(e->why, sizeof(e->why), "EOF after %zu of %zu", got, e->in_len);
                    goto out;
                }
            } else if (r > 0) {
                for (ssize_t i = 0; i < r; i++)
                    if (got + (size_t)i >= e->in_len ||
                        buf[i] != pattern(e->in_seed, got + (size_t)i)) {
                        snprintf(e->why, sizeof(e->why), "wrong byte at %zu", got + (size_t)i);
                        goto out;
                    }
                got += (size_t)r;
            } else if (errno != EAGAIN && errno != EINTR) {
                snprintf(e->why, sizeof(e->why), "read: %s", strerror(errno));
                goto out;
            }
        }
        if (may_send && (pfd.revents & POLLOUT)) {
            size_t n_out = e->out_len - sent < sizeof(buf) ? e->out_len - sent : sizeof(buf);
            for (size_t i = 0; i < n_out; i++)
                buf[i] = pattern(e->out_seed, sent + i);
            ssize_t w = send(e->fd, buf, n_out, MSG_NOSIGNAL);
            if (w > 0)
                sent += (size_t)w;
            else if (w < 0 && errno != EAGAIN && errno != EINTR) {
                snprintf(e->why, sizeof(e->why), "write: %s", strerror(errno));
                goto out;
            }
        }
    }
    e->ok = true;
out:
    close(e->fd);
    return NULL;
}

#define ROUND_STREAMS 200

/* One round: the daemon starts ROUND_STREAMS calls (MSG_EXEC_CMDLINE with a data socket each,
 * as qrexec-daemon does), the agent reads them as qrexec-agent does, and both ends of every
 * data socket exchange their bytes at once. */
static void one_round(struct tunnel *t, int round)
{
    static struct endpoint ep[2 * ROUND_STREAMS];
    int dom0_end[ROUND_STREAMS];
    for (uint32_t i = 0; i < ROUND_STREAMS; i++) {
        int sv[2];
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        struct buf m = BUF_INIT;
        qrexec_exec_encode(&m, MSG_EXEC_CMDLINE, 0, QREXEC_BASE_DATA_PORT + i, "user:true");
        assert_int_equal(qrexec_send_all(t->daemon, m.data, m.len, sv[1]), 0);
        buf_free(&m);
        close(sv[1]);
        dom0_end[i] = sv[0];
        if (i % 16 == 0) { /* a message without a descriptor in between */
            char ident[QREXEC_SERVICE_PARAMS_SIZE] = "SOCKET1";
            qrexec_msg_encode(&m, MSG_SERVICE_REFUSED, ident, sizeof(ident));
            assert_int_equal(qrexec_send_all(t->daemon, m.data, m.len, -1), 0);
            buf_free(&m);
        }
    }
    for (uint32_t i = 0; i < ROUND_STREAMS; i++) {
        struct msg_header hdr;
        uint8_t *payload = NULL;
        struct qrexec_fds fds = { .n = 0 };
        const char *why = NULL;
        assert_int_equal(
            qrexec_recv_msg(t->agent, QREXEC_FROM_DAEMON, 3, &hdr, &payload, &fds, &why), 0);
        struct qrexec_exec_req req;
        assert_int_equal(hdr.type, MSG_EXEC_CMDLINE);
        assert_int_equal(qrexec_exec_decode(payload, hdr.len, &req, &why), 0);
        assert_int_equal(req.connect_port, QREXEC_BASE_DATA_PORT + i);
        assert_int_equal(fds.n, 1);
        free(payload);
        if (i % 16 == 0) {
            struct qrexec_fds none = { .n = 0 };
            assert_int_equal(
                qrexec_recv_msg(t->agent, QREXEC_FROM_DAEMON, 3, &hdr, &payload, &none, &why), 0);
            assert_int_equal(hdr.type, MSG_SERVICE_REFUSED);
            assert_int_equal(none.n, 0);
            free(payload);
        }
        /* sizes: nothing, one byte, a few frames, more than a window */
        static const size_t sizes[] = { 0, 1, 70000, 300000, 4096 };
        uint32_t seed = (uint32_t)(round * 1000 + i) * 2;
        struct endpoint *d = &ep[2 * i], *g = &ep[2 * i + 1];
        *d = (struct endpoint){ .fd = dom0_end[i],
                                .out_seed = seed,
                                .in_seed = seed + 1,
                                .out_len = sizes[i % 5],
                                .in_len = sizes[(i / 5) % 5] };
        *g = (struct endpoint){ .fd = fds.fd[0],
                                .out_seed = seed + 1,
                                .in_seed = seed,
                                .out_len = d->in_len,
                                .in_len = d->out_len };
        /* dom0 half-closes first, the guest first, or both at once */
        d->order = i % 3 == 0 ? SEND_FIRST : i % 3 == 1 ? RECV_FIRST : BOTH;
        g->order = i % 3 == 0 ? RECV_FIRST : i % 3 == 1 ? SEND_FIRST : BOTH;
    }
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    for (size_t i = 0; i < 2 * ROUND_STREAMS; i++)
        assert_int_equal(pthread_create(&ep[i].th, &attr, endpoint_main, &ep[i]), 0);
    pthread_attr_destroy(&attr);
    for (size_t i = 0; i < 2 * ROUND_STREAMS; i++) {
        pthread_join(ep[i].th, NULL);
        if (!ep[i].ok)
            fail_msg("round %d stream %zu %s: %s", round, i / 2, i % 2 ? "guest" : "dom0",
                     ep[i].why);
    }
}

static void test_many_streams(void **state)
{
    (void)state;
    struct tunnel t;
    tunnel_init(&t);
    tunnel_start(&t);
    /* 600 calls over 511 ids: the later rounds need the ids the earlier ones freed */
    for (int round = 0; round < 3; round++)
        one_round(&t, round);
    tunnel_end(&t);
}

/* --- all stream ids live: dom0 stops reading stream 0 until one is free --- */

#define OVER_IDS 4

struct sender {
    int daemon;
    int dom0_end[CHANNEL_MAX_STREAMS + OVER_IDS];
    size_t n;
    pthread_t th;
};

/* As qrexec-daemon would, if that many calls ran at once: a message and a data socket each. */
static void *sender_main(void *p)
{
    struct sender *s = p;
    for (size_t i = 0; i < s->n; i++) {
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
            abort();
        struct buf m = BUF_INIT;
        qrexec_exec_encode(&m, MSG_EXEC_CMDLINE, 0, QREXEC_BASE_DATA_PORT, "user:true");
        if (qrexec_send_all(s->daemon, m.data, m.len, sv[1]) < 0)
            abort();
        buf_free(&m);
        close(sv[1]);
        s->dom0_end[i] = sv[0];
    }
    return NULL;
}

/* The next call's message at the agent, with its descriptor. */
static int agent_next_call(struct tunnel *t)
{
    struct msg_header hdr;
    uint8_t *payload = NULL;
    struct qrexec_fds fds = { .n = 0 };
    const char *why = NULL;
    assert_int_equal(qrexec_recv_msg(t->agent, QREXEC_FROM_DAEMON, 3, &hdr, &payload, &fds, &why),
                     0);
    free(payload);
    assert_int_equal(hdr.type, MSG_EXEC_CMDLINE);
    assert_int_equal(fds.n, 1);
    return fds.fd[0];
}

static void test_ids_exhausted(void **state)
{
    (void)state;
    struct tunnel t;
    tunnel_init(&t);
    tunnel_start(&t);
    static struct sender s;
    s.daemon = t.daemon;
    s.n = CHANNEL_MAX_STREAMS - 1 + OVER_IDS;
    assert_int_equal(pthread_create(&s.th, NULL, sender_main, &s), 0);
    static int guest_end[CHANNEL_MAX_STREAMS + OVER_IDS];
    for (size_t i = 0; i < CHANNEL_MAX_STREAMS - 1; i++)
        guest_end[i] = agent_next_call(&t);
    /* every id is live: the next call waits in the daemon's socket, not in dom0's memory */
    assert_false(readable(t.agent, 300));
    pthread_join(s.th, NULL); /* the last messages fit in the daemon's socket buffer */
    for (size_t i = 0; i < OVER_IDS; i++) {
        /* one call ends on both sides: its id is free once both relays closed it */
        close(guest_end[i]);
        close(s.dom0_end[i]);
        assert_true(readable(t.agent, 5000));
        guest_end[CHANNEL_MAX_STREAMS - 1 + i] = agent_next_call(&t);
        assert_false(readable(t.agent, 100));
    }
    /* and the streams opened late work */
    for (size_t i = CHANNEL_MAX_STREAMS - 1; i < s.n; i++) {
        write_all(s.dom0_end[i], "late", 4);
        char in[4];
        assert_int_equal(qrexec_recv_all(guest_end[i], in, 4, NULL), 0);
        assert_memory_equal(in, "late", 4);
    }
    for (size_t i = OVER_IDS; i < s.n; i++) {
        close(guest_end[i]);
        close(s.dom0_end[i]);
    }
    tunnel_end(&t);
}

/* --- one stream's backlog does not stop another --- */

struct bulk {
    int fd;
    size_t len;
    atomic_size_t written;
    pthread_t th;
};

static void *bulk_writer(void *p)
{
    struct bulk *b = p;
    static uint8_t buf[65536];
    while (atomic_load(&b->written) < b->len) {
        size_t at = atomic_load(&b->written);
        size_t n = b->len - at < sizeof(buf) ? b->len - at : sizeof(buf);
        for (size_t i = 0; i < n; i++)
            buf[i] = pattern(77, at + i);
        write_all(b->fd, buf, n);
        atomic_fetch_add(&b->written, n);
    }
    shutdown(b->fd, SHUT_WR);
    return NULL;
}

static void *echo_main(void *p)
{
    int fd = *(int *)p;
    char buf[4096];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n <= 0)
            break;
        write_all(fd, buf, (size_t)n);
    }
    close(fd);
    return NULL;
}

/* Opens one stream through the tunnel: the daemon's end and the agent's end. */
static void open_stream(struct tunnel *t, int *dom0_end, int *guest_end)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    assert_int_equal(qrexec_send_all(t->daemon, "open", 4, sv[1]), 0);
    close(sv[1]);
    char buf[4];
    struct qrexec_fds fds = { .n = 0 };
    assert_int_equal(qrexec_recv_all(t->agent, buf, 4, &fds), 0);
    assert_int_equal(fds.n, 1);
    *dom0_end = sv[0];
    *guest_end = fds.fd[0];
}

static void test_bulk_and_responsive(void **state)
{
    (void)state;
    struct tunnel t;
    tunnel_init(&t);
    tunnel_start(&t);
    int bulk_dom0, bulk_guest, ping_dom0, ping_guest;
    open_stream(&t, &bulk_dom0, &bulk_guest);
    open_stream(&t, &ping_dom0, &ping_guest);

    static struct bulk b;
    b.fd = bulk_dom0;
    b.len = 16u << 20;
    atomic_store(&b.written, 0);
    assert_int_equal(pthread_create(&b.th, NULL, bulk_writer, &b), 0);
    pthread_t echo;
    assert_int_equal(pthread_create(&echo, NULL, echo_main, &ping_guest), 0);

    /* nobody reads the bulk stream yet: the ping stream answers all the same */
    double worst = 0;
    for (int i = 0; i < 200; i++) {
        char out[100], in[100];
        memset(out, 'A' + i % 26, sizeof(out));
        double t0 = now_s();
        write_all(ping_dom0, out, sizeof(out));
        assert_int_equal(qrexec_recv_all(ping_dom0, in, sizeof(in), NULL), 0);
        assert_memory_equal(in, out, sizeof(in));
        double dt = now_s() - t0;
        if (dt > worst)
            worst = dt;
    }
    /* and the stalled stream is held back by credit, not buffered without end: its writer
     * filled two socket buffers and one window, far from 16 MiB */
    size_t stalled = atomic_load(&b.written);
    print_message("bulk stream stalled at %zu KiB; ping worst round trip %.2f ms\n", stalled >> 10,
                  worst * 1e3);
    assert_true(stalled < (2u << 20));
    assert_true(worst < 2.0);

    /* now the reader comes: all 16 MiB, in order */
    double t0 = now_s();
    size_t got = 0;
    static uint8_t buf[65536];
    for (;;) {
        ssize_t n = read(bulk_guest, buf, sizeof(buf));
        assert_true(n >= 0);
        if (n == 0)
            break;
        for (ssize_t i = 0; i < n; i++)
            if (buf[i] != pattern(77, got + (size_t)i))
                fail_msg("bulk byte %zu wrong", got + (size_t)i);
        got += (size_t)n;
    }
    double dt = now_s() - t0;
    assert_int_equal(got, 16u << 20);
    print_message("16 MiB through the tunnel in %.3f s (%.0f MiB/s)\n", dt, 16 / dt);
    pthread_join(b.th, NULL);
    close(bulk_guest);
    close(bulk_dom0);
    close(ping_dom0);
    pthread_join(echo, NULL);
    tunnel_end(&t);
}

/* --- the end of stream 0, from either side --- */

static void test_daemon_hangs_up(void **state)
{
    (void)state;
    struct tunnel t;
    tunnel_init(&t);
    tunnel_start(&t);
    write_all(t.daemon, "last words", 10);
    close_if(&t.daemon);
    char buf[16];
    assert_int_equal(qrexec_recv_all(t.agent, buf, 10, NULL), 0);
    assert_memory_equal(buf, "last words", 10);
    assert_true(readable(t.agent, 5000));
    assert_int_equal(read(t.agent, buf, sizeof(buf)), 0);
    join_relay(&t.dom0);
    join_relay(&t.guest);
    assert_int_equal(t.dom0.rc, 0);
    assert_int_equal(t.guest.rc, 0);
    tunnel_close(&t);
}

static void test_agent_hangs_up(void **state)
{
    (void)state;
    struct tunnel t;
    tunnel_init(&t);
    tunnel_start(&t);
    write_all(t.agent, "bye", 3);
    close_if(&t.agent);
    char buf[8];
    assert_int_equal(qrexec_recv_all(t.daemon, buf, 3, NULL), 0);
    assert_memory_equal(buf, "bye", 3);
    assert_true(readable(t.daemon, 5000));
    assert_int_equal(read(t.daemon, buf, sizeof(buf)), 0);
    join_relay(&t.dom0);
    join_relay(&t.guest);
    assert_int_equal(t.dom0.rc, 0);
    assert_int_equal(t.guest.rc, 0);
    tunnel_close(&t);
}

/* A descriptor sent by the guest's side is closed, its bytes go through without it. */
static void test_guest_descriptor_dropped(void **state)
{
    (void)state;
    struct tunnel t;
    tunnel_init(&t);
    tunnel_start(&t);
    int pp[2];
    assert_int_equal(pipe2(pp, O_CLOEXEC), 0);
    assert_int_equal(qrexec_send_all(t.agent, "abc", 3, pp[1]), 0);
    close(pp[1]);
    char buf[3];
    struct qrexec_fds fds = { .n = 0 };
    assert_int_equal(qrexec_recv_all(t.daemon, buf, 3, &fds), 0);
    assert_memory_equal(buf, "abc", 3);
    assert_false(qrexec_fds_any(&fds));
    assert_true(readable(pp[0], 5000)); /* the relay closed the only other copy */
    assert_int_equal(read(pp[0], buf, 1), 0);
    close(pp[0]);
    tunnel_end(&t);
}

static void test_poweroff(void **state)
{
    (void)state;
    struct tunnel t;
    tunnel_init(&t);
    tunnel_start(&t);
    write_all(t.ctl[1], "PP", 2);
    for (int i = 0; i < 500 && atomic_load(&t.poweroffs) < 2; i++)
        usleep(10000);
    assert_int_equal(atomic_load(&t.poweroffs), 2);
    /* a byte that means nothing is the caller's bug: the dom0 relay stops */
    write_all(t.ctl[1], "Q", 1);
    join_relay(&t.dom0);
    assert_int_equal(t.dom0.rc, -1);
    assert_string_equal(t.dom0.err.message, "channel: unknown control command 0x51");
    close_if(&t.wire[0]);
    join_relay(&t.guest);
    assert_int_equal(t.guest.rc, -1);
    assert_string_equal(t.guest.err.message, "channel: wire closed by dom0");
    tunnel_close(&t);
}

/* --- a hostile guest: raw frames on the wire, the dom0 side names what it refused --- */

static size_t frame(uint8_t *out, uint16_t stream, uint8_t type, uint8_t flags, uint32_t len)
{
    channel_hdr_encode(out, stream, type, len);
    out[3] = flags;
    memset(out + CHANNEL_HDR_SIZE, 'z', len);
    return CHANNEL_HDR_SIZE + len;
}

/* Runs the dom0 relay against bytes from a fake guest; returns once it ended. */
static void hostile(struct tunnel *t, const uint8_t *bytes, size_t len, bool hello)
{
    tunnel_init(t);
    start_relay(&t->dom0);
    if (hello) {
        uint8_t h[CHANNEL_HELLO_FRAME_SIZE];
        channel_hello_encode(h);
        write_all(t->wire[1], h, sizeof(h));
    }
    write_all(t->wire[1], bytes, len);
    join_relay(&t->dom0);
}

static void expect_refusal(const uint8_t *bytes, size_t len, bool hello, const char *message)
{
    struct tunnel t;
    hostile(&t, bytes, len, hello);
    assert_int_equal(t.dom0.rc, -1);
    assert_int_equal(t.dom0.err.kind, ERR_PROTOCOL_ERROR);
    assert_string_equal(t.dom0.err.message, message);
    tunnel_close(&t);
}

static void test_hostile_guest(void **state)
{
    (void)state;
    static uint8_t b[8 * (CHANNEL_HDR_SIZE + CHANNEL_MAX_PAYLOAD)];
    size_t n;

    n = frame(b, 0, CHANNEL_DATA, 0, 3);
    expect_refusal(b, n, false,
                   "protocol error from guest: first frame is not hello (stream 0, type 2, "
                   "length 3)");
    n = frame(b, 0, 9, 0, 0);
    expect_refusal(b, n, true,
                   "protocol error from guest: unknown frame type (stream 0, type 9, length 0)");
    n = frame(b, 0, CHANNEL_DATA, 0x80, 1);
    expect_refusal(b, n, true,
                   "protocol error from guest: flags not zero (stream 0, type 2, length 1)");
    n = frame(b, 3, CHANNEL_OPEN, 0, 0);
    expect_refusal(b, n, true,
                   "protocol error from guest: frame type the guest may not send (stream 3, "
                   "type 3, length 0)");
    n = frame(b, 0, CHANNEL_POWEROFF, 0, 0);
    expect_refusal(b, n, true,
                   "protocol error from guest: frame type the guest may not send (stream 0, "
                   "type 7, length 0)");
    n = frame(b, 5, CHANNEL_DATA, 0, 1);
    expect_refusal(b, n, true,
                   "protocol error from guest: frame for a stream not open (stream 5, type 2, "
                   "length 1)");
    n = frame(b, 0, CHANNEL_EOF, 0, 0);
    expect_refusal(b, n, true,
                   "protocol error from guest: eof on stream 0 (stream 0, type 4, length 0)");
    n = frame(b, 0, CHANNEL_CREDIT, 0, 4); /* 'zzzz': more than dom0 ever sent */
    expect_refusal(b, n, true,
                   "protocol error from guest: credit beyond the window (stream 0, type 6, "
                   "length 4)");
    /* refused from the header alone: the relay does not wait for 65537 bytes */
    channel_hdr_encode(b, 0, CHANNEL_DATA, CHANNEL_MAX_PAYLOAD + 1);
    expect_refusal(b, CHANNEL_HDR_SIZE, true,
                   "protocol error from guest: frame longer than the maximum payload (stream 0, "
                   "type 2, length 65537)");
}

/* Data beyond credit: the daemon reads nothing and its socket takes little, so dom0 grants
 * nothing back, and the byte after a whole window is refused. */
static void test_hostile_over_credit(void **state)
{
    (void)state;
    static uint8_t b[8 * (CHANNEL_HDR_SIZE + CHANNEL_MAX_PAYLOAD)];
    size_t n = 0;
    for (uint32_t i = 0; i < CHANNEL_WINDOW / CHANNEL_MAX_PAYLOAD; i++)
        n += frame(b + n, 0, CHANNEL_DATA, 0, CHANNEL_MAX_PAYLOAD);
    n += frame(b + n, 0, CHANNEL_DATA, 0, 1);
    struct tunnel t;
    tunnel_init(&t);
    int small = 4096;
    assert_int_equal(setsockopt(t.dom0_local, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
    start_relay(&t.dom0);
    uint8_t h[CHANNEL_HELLO_FRAME_SIZE];
    channel_hello_encode(h);
    write_all(t.wire[1], h, sizeof(h));
    write_all(t.wire[1], b, n);
    join_relay(&t.dom0);
    assert_int_equal(t.dom0.rc, -1);
    assert_int_equal(t.dom0.err.kind, ERR_PROTOCOL_ERROR);
    assert_string_equal(t.dom0.err.message,
                        "protocol error from guest: data beyond credit (stream 0, type 2, "
                        "length 1)");
    /* what dom0 sent first is its hello */
    uint8_t got[CHANNEL_HELLO_FRAME_SIZE];
    assert_int_equal(qrexec_recv_all(t.wire[1], got, sizeof(got), NULL), 0);
    assert_memory_equal(got, h, sizeof(h));
    tunnel_close(&t);
}

static void test_guest_goes_away(void **state)
{
    (void)state;
    struct tunnel t;
    tunnel_init(&t);
    start_relay(&t.dom0);
    uint8_t h[CHANNEL_HELLO_FRAME_SIZE];
    channel_hello_encode(h);
    write_all(t.wire[1], h, sizeof(h));
    close_if(&t.wire[1]);
    join_relay(&t.dom0);
    assert_int_equal(t.dom0.rc, -1);
    assert_int_equal(t.dom0.err.kind, ERR_QUBES_EXCEPTION);
    assert_string_equal(t.dom0.err.message, "channel: wire closed by guest");
    tunnel_close(&t);
}

/* The guest side holds dom0 to the same rules. */
static void test_guest_refuses_dom0(void **state)
{
    (void)state;
    struct tunnel t;
    tunnel_init(&t);
    start_relay(&t.guest);
    uint8_t b[64];
    channel_hello_encode(b);
    size_t n = CHANNEL_HELLO_FRAME_SIZE;
    n += frame(b + n, 4, CHANNEL_OPEN, 0, 0);
    n += frame(b + n, 4, CHANNEL_EOF, 0, 0);
    write_all(t.wire[0], b, n);
    join_relay(&t.guest);
    assert_int_equal(t.guest.rc, -1);
    assert_string_equal(t.guest.err.message,
                        "protocol error from dom0: open not followed by data on stream 0 "
                        "(stream 4, type 4, length 0)");
    tunnel_close(&t);
}

int main(void)
{
    alarm(300); /* a hang is a failure */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_descriptor_boundaries),
        cmocka_unit_test(test_many_streams),
        cmocka_unit_test(test_ids_exhausted),
        cmocka_unit_test(test_bulk_and_responsive),
        cmocka_unit_test(test_daemon_hangs_up),
        cmocka_unit_test(test_agent_hangs_up),
        cmocka_unit_test(test_guest_descriptor_dropped),
        cmocka_unit_test(test_poweroff),
        cmocka_unit_test(test_hostile_guest),
        cmocka_unit_test(test_hostile_over_credit),
        cmocka_unit_test(test_guest_goes_away),
        cmocka_unit_test(test_guest_refuses_dom0),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
