/* net-bench: TCP throughput and round trips, run inside a qube (static, as
 * qube-bench) and in the bench's own namespaces, so the same code measures
 * the path through sys-firewall and sys-net and the direct veth baseline.
 *   net-bench sink ADDR PORT      reads and discards each connection (forever)
 *   net-bench echo ADDR PORT      echoes each connection (forever)
 *   net-bench send HOST PORT MIB  sends MIB MiB, waits for the sink's close;
 *                                 prints MiB/s
 *   net-bench rtt HOST PORT N     N one-byte round trips; prints the p50 in µs */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_util.h"

#define CHUNK (256 * 1024)

static struct sockaddr_in address(const char *host, const char *port)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(port)) };
    if (inet_pton(AF_INET, host, &a.sin_addr) != 1) {
        fprintf(stderr, "net-bench: not an IPv4 address: %s\n", host);
        exit(2);
    }
    return a;
}

static int serve(const char *host, const char *port, bool echo)
{
    struct sockaddr_in a = address(host, port);
    int one = 1, s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(s, 16) < 0) {
        perror("net-bench: listen");
        return 1;
    }
    signal(SIGCHLD, SIG_IGN);
    static char buf[CHUNK];
    for (;;) {
        int c = accept(s, NULL, NULL);
        if (c < 0)
            continue;
        if (fork() == 0) {
            setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
            ssize_t n;
            while ((n = read(c, buf, echo ? 1 : sizeof(buf))) > 0)
                if (echo && write(c, buf, (size_t)n) != n)
                    break;
            _exit(0);
        }
        close(c);
    }
}

static int connect_to(const char *host, const char *port)
{
    struct sockaddr_in a = address(host, port);
    int one = 1, s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof(a)) < 0) {
        perror("net-bench: connect");
        exit(1);
    }
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return s;
}

static int send_mib(const char *host, const char *port, long mib)
{
    static char buf[CHUNK];
    int s = connect_to(host, port);
    double t0 = bench_now_ms();
    for (long sent = 0; sent < mib * 1024 * 1024;) {
        ssize_t n = write(s, buf, sizeof(buf));
        if (n <= 0) {
            perror("net-bench: send");
            return 1;
        }
        sent += n;
    }
    /* the sink has it all when it closes after our end of file */
    shutdown(s, SHUT_WR);
    while (read(s, buf, sizeof(buf)) > 0)
        ;
    printf("%.1f\n", (double)mib / ((bench_now_ms() - t0) / 1000.0));
    return 0;
}

static int rtt(const char *host, const char *port, long n)
{
    int s = connect_to(host, port);
    double *t = calloc((size_t)n, sizeof(double));
    for (long i = 0; i < n; i++) {
        char b = 'x';
        double t0 = bench_now_ms();
        if (write(s, &b, 1) != 1 || read(s, &b, 1) != 1) {
            perror("net-bench: rtt");
            return 1;
        }
        t[i] = bench_now_ms() - t0;
    }
    printf("%.1f\n", bench_median(t, (size_t)n) * 1000.0);
    free(t);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "sink") == 0)
        return serve(argv[2], argv[3], false);
    if (argc == 4 && strcmp(argv[1], "echo") == 0)
        return serve(argv[2], argv[3], true);
    if (argc == 5 && strcmp(argv[1], "send") == 0 && atol(argv[4]) > 0)
        return send_mib(argv[2], argv[3], atol(argv[4]));
    if (argc == 5 && strcmp(argv[1], "rtt") == 0 && atol(argv[4]) > 0)
        return rtt(argv[2], argv[3], atol(argv[4]));
    fprintf(stderr, "usage: net-bench sink|echo ADDR PORT\n"
                    "       net-bench send HOST PORT MIB\n"
                    "       net-bench rtt HOST PORT N\n");
    return 2;
}
