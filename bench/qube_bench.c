/* qube-bench: runs inside a qube (static) and times what a user there sees.
 *   qube-bench calls N TARGET SERVICE SERVICE_PROGRAM
 *       N calls of `qrexec-client-vm TARGET SERVICE` (p50, p99), and in the same run the
 *       floor: an AF_UNIX round trip plus fork/exec of SERVICE_PROGRAM (a copy of the
 *       service in this qube), with the ratio of the medians.
 *   qube-bench time RUNS CMD [ARGS...]
 *       the median wall time of RUNS runs of CMD (exit status must be 0).
 * QUBE_BENCH_PAUSE_MS: an untimed pause before each timed run (a preload pool refills).
 * calls settles for SETTLE_MS (untimed) before each call and each floor run, so that neither
 * pays for what the one before left running (a call's process exiting, one forked ahead). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"

static double pct(double *v, size_t n, double p)
{
    qsort(v, n, sizeof(*v), bench_cmp_double);
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return v[i];
}

static void pause_between_runs(void)
{
    const char *ms = getenv("QUBE_BENCH_PAUSE_MS");
    long v = ms ? atol(ms) : 0;
    if (v > 0)
        usleep((useconds_t)(v * 1000));
}

#define SETTLE_MS 10

static void settle(void)
{
    usleep(SETTLE_MS * 1000);
}

static int calls(long n, char *target, char *service, char *program)
{
    double *call = calloc((size_t)n, sizeof(double)), *floor = calloc((size_t)n, sizeof(double));
    char *cargv[] = { "/run/qubes-guest/bin/qrexec-client-vm", target, service, NULL };
    char *pargv[] = { program, NULL };
    int sv[2];
    if (!call || !floor || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return 1;
    pid_t echo = fork();
    if (echo == 0) { /* the other end of the round trip */
        close(sv[0]);
        char b;
        while (read(sv[1], &b, 1) == 1 && write(sv[1], &b, 1) == 1)
            ;
        _exit(0);
    }
    close(sv[1]);
    bench_run_ms(cargv); /* warm up: the target's first call */
    for (long i = 0; i < n; i++) {
        pause_between_runs();
        settle();
        call[i] = bench_run_ms(cargv);
        settle();
        double t0 = bench_now_ms();
        char b = 'x';
        if (write(sv[0], &b, 1) != 1 || read(sv[0], &b, 1) != 1)
            return 1;
        bench_run_ms(pargv);
        floor[i] = bench_now_ms() - t0;
    }
    close(sv[0]);
    waitpid(echo, NULL, 0);
    double c50 = pct(call, (size_t)n, 0.5), c99 = pct(call, (size_t)n, 0.99);
    double f50 = pct(floor, (size_t)n, 0.5), f99 = pct(floor, (size_t)n, 0.99);
    printf("qube -> qube call of %s, %ld calls:   p50 %7.2f ms  p99 %7.2f ms\n", service, n, c50,
           c99);
    printf("floor (AF_UNIX round trip + fork/exec):  p50 %7.2f ms  p99 %7.2f ms\n", f50, f99);
    printf("ratio call/floor (p50)                   %7.2f\n", c50 / f50);
    return 0;
}

static int timed(long runs, char **argv)
{
    double *t = calloc((size_t)runs, sizeof(double));
    if (!t)
        return 1;
    for (long i = 0; i < runs; i++) {
        pause_between_runs();
        t[i] = bench_run_ms(argv);
    }
    printf("%.2f\n", pct(t, (size_t)runs, 0.5));
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 6 && strcmp(argv[1], "calls") == 0 && atol(argv[2]) > 0)
        return calls(atol(argv[2]), argv[3], argv[4], argv[5]);
    if (argc >= 4 && strcmp(argv[1], "time") == 0 && atol(argv[2]) > 0)
        return timed(atol(argv[2]), argv + 3);
    fprintf(stderr, "usage: qube-bench calls N TARGET SERVICE SERVICE_PROGRAM\n"
                    "       qube-bench time RUNS CMD [ARGS...]\n");
    return 2;
}
