/* bench-channel: one stream through both channel relays (src/channel) over a socketpair "wire",
 * against a direct socketpair, in the same run: throughput each way and the round trip of one
 * byte, medians of 3. Built static from its sources, as guest programs link the relay.
 *   bench-channel [MiB]   (default 256 per run) */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench_util.h"
#include "channel/relay.h"

#define RUNS 3
#define PINGS 2000

static void die(const char *what)
{
    fprintf(stderr, "bench-channel: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void write_all(int fd, const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n > 0) {
        ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            die("write");
        b += w;
        n -= (size_t)w;
    }
}

static void read_all(int fd, void *p, size_t n)
{
    uint8_t *b = p;
    while (n > 0) {
        ssize_t r = read(fd, b, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            die("read");
        b += r;
        n -= (size_t)r;
    }
}

struct writer {
    int fd;
    size_t bytes;
};

static void *writer_main(void *p)
{
    struct writer *w = p;
    static _Thread_local uint8_t buf[65536];
    memset(buf, 0x5a, sizeof(buf));
    for (size_t done = 0; done < w->bytes; done += sizeof(buf))
        write_all(w->fd, buf, sizeof(buf));
    return NULL;
}

/* MiB/s of bytes from one end of a stream to the other. */
static double throughput(int from, int to, size_t bytes)
{
    struct writer w = { .fd = from, .bytes = bytes };
    pthread_t th;
    double t0 = bench_now_ms();
    if (pthread_create(&th, NULL, writer_main, &w) != 0)
        die("pthread_create");
    static uint8_t buf[65536];
    for (size_t got = 0; got < bytes;) {
        ssize_t r = read(to, buf, sizeof(buf));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            die("read");
        got += (size_t)r;
    }
    pthread_join(th, NULL);
    return (double)(bytes >> 20) / ((bench_now_ms() - t0) / 1000);
}

/* Median round trip of one byte, in microseconds. */
static double round_trip_us(int a, int b)
{
    static double v[PINGS];
    for (int i = 0; i < PINGS; i++) {
        char c = 'x';
        double t0 = bench_now_ms();
        write_all(a, &c, 1);
        read_all(b, &c, 1);
        write_all(b, &c, 1);
        read_all(a, &c, 1);
        v[i] = (bench_now_ms() - t0) * 1000;
    }
    return bench_median(v, PINGS);
}

struct relay_run {
    struct channel_relay_config cfg;
    struct qerror err;
    int rc;
    pthread_t th;
};

static void *relay_main(void *p)
{
    struct relay_run *r = p;
    r->rc = channel_relay_run(&r->cfg, &r->err);
    return NULL;
}

int main(int argc, char **argv)
{
    size_t mib = argc > 1 ? (size_t)atol(argv[1]) : 256;
    if (mib == 0)
        mib = 256;
    size_t bytes = mib << 20;

    int wire[2], dom0[2], guest[2], data[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, wire) < 0 ||
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, dom0) < 0 ||
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, guest) < 0 ||
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, data) < 0)
        die("socketpair");
    struct relay_run d = { .cfg = { .side = CHANNEL_SIDE_DOM0,
                                    .wire_fd = wire[0],
                                    .local_fd = dom0[1],
                                    .control_fd = -1 } };
    struct relay_run g = { .cfg = { .side = CHANNEL_SIDE_GUEST,
                                    .wire_fd = wire[1],
                                    .local_fd = guest[1],
                                    .control_fd = -1 } };
    if (pthread_create(&d.th, NULL, relay_main, &d) != 0 ||
        pthread_create(&g.th, NULL, relay_main, &g) != 0)
        die("pthread_create");

    /* a call's data socket through the tunnel: a qrexec message with the descriptor, as
     * qrexec-daemon sends it (struct msg_header, native-endian, then the payload) */
    uint32_t msg[3] = { 0x200, 4, 0 };
    struct iovec iov = { .iov_base = msg, .iov_len = sizeof(msg) };
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int))];
    } ctl;
    memset(&ctl, 0, sizeof(ctl));
    struct msghdr mh = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf)
    };
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &data[1], sizeof(int));
    if (sendmsg(dom0[0], &mh, MSG_NOSIGNAL) != (ssize_t)sizeof(msg))
        die("sendmsg");
    close(data[1]);
    /* the descriptor comes with the header; a read ends after it, as qrexec-agent's do */
    int tunnel_dom0 = data[0], tunnel_guest = -1;
    for (size_t got = 0; got < sizeof(msg);) {
        iov = (struct iovec){ .iov_base = (char *)msg + got, .iov_len = sizeof(msg) - got };
        memset(&ctl, 0, sizeof(ctl));
        mh.msg_controllen = sizeof(ctl.buf);
        ssize_t n = recvmsg(guest[0], &mh, MSG_CMSG_CLOEXEC);
        if (n <= 0)
            die("recvmsg");
        c = CMSG_FIRSTHDR(&mh);
        if (c && c->cmsg_type == SCM_RIGHTS)
            memcpy(&tunnel_guest, CMSG_DATA(c), sizeof(int));
        got += (size_t)n;
    }
    if (tunnel_guest < 0)
        die("the descriptor did not come through");

    int direct[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, direct) < 0)
        die("socketpair");

    double down[RUNS], up[RUNS], base[RUNS], rt_tunnel[RUNS], rt_direct[RUNS];
    for (int i = 0; i < RUNS; i++) {
        base[i] = throughput(direct[0], direct[1], bytes);
        down[i] = throughput(tunnel_dom0, tunnel_guest, bytes);
        up[i] = throughput(tunnel_guest, tunnel_dom0, bytes);
        rt_direct[i] = round_trip_us(direct[0], direct[1]);
        rt_tunnel[i] = round_trip_us(tunnel_dom0, tunnel_guest);
    }
    double b = bench_median(base, RUNS), dn = bench_median(down, RUNS), u = bench_median(up, RUNS),
           rd = bench_median(rt_direct, RUNS), rtun = bench_median(rt_tunnel, RUNS);
    printf("one stream, %zu MiB per run, medians of %d\n", mib, RUNS);
    printf("direct socketpair                    %8.0f MiB/s\n", b);
    printf("channel dom0 -> guest (two relays)   %8.0f MiB/s  ratio %.2f\n", dn, dn / b);
    printf("channel guest -> dom0 (two relays)   %8.0f MiB/s  ratio %.2f\n", u, u / b);
    printf("round trip of 1 byte, direct         %8.1f us\n", rd);
    printf("round trip of 1 byte, channel        %8.1f us  ratio %.2f\n", rtun, rtun / rd);

    close(tunnel_dom0);
    close(tunnel_guest);
    close(dom0[0]); /* the daemon hangs up: both relays end */
    pthread_join(d.th, NULL);
    pthread_join(g.th, NULL);
    if (d.rc != 0 || g.rc != 0) {
        fprintf(stderr, "bench-channel: relay: %s / %s\n", d.err.message, g.err.message);
        return 1;
    }
    return 0;
}
