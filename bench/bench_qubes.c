/* Sandbox qube benchmarks against a running qubesd ($QUBES_ROOT) with a
 * minimal template "min" already imported. Each figure is a median with the
 * ratio to a baseline measured in the same run:
 *   - start-to-ready (admin.vm.Start returns once the agent said HELLO) of
 *     an AppVM, vs bubblewrap (--unshare-all, the template's tree bound
 *     read-only, /proc, /dev, a tmpfs) running `true`;
 *   - `qvm-run -p VM true` on a running qube, vs spawning `true` locally
 *     through the same fork/exec path (the floor of any tool run);
 *   - 100 qubes started at once: total time, and the dom0 memory (PSS) of
 *     the per-qube helpers, vs the PSS of one idle qubesd.
 * Usage: bench_qubes BIN_DIR TEMPLATE_TREE */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_call.h"
#include "bench_util.h"
#include "common/cleanup.h"

static void report(const char *what, double value, const char *unit, const char *base_what,
                   double base)
{
    printf("%-46s %9.2f %-4s baseline %-30s %9.2f %-4s ratio %.2f\n", what, value, unit, base_what,
           base, unit, value / base);
}

/* Proportional set size of a process, KiB. */
static long pss_kib(int pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", pid);
    _cleanup_fclose_ FILE *f = fopen(path, "re");
    char line[256];
    while (f && fgets(line, sizeof(line), f))
        if (strncmp(line, "Pss:", 4) == 0)
            return atol(line + 4);
    return 0;
}

/* Sum of PSS of processes whose command line contains needle. */
static long pss_of(const char *needle, int *count)
{
    FILE *p = popen("pgrep -f qubes-sandbox; pgrep -f qrexec-daemon", "r");
    long total = 0;
    *count = 0;
    int pid;
    while (p && fscanf(p, "%d", &pid) == 1) {
        char path[64], cmd[4096];
        snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
        _cleanup_fclose_ FILE *c = fopen(path, "re");
        size_t n = c ? fread(cmd, 1, sizeof(cmd) - 1, c) : 0;
        for (size_t i = 0; i < n; i++)
            if (!cmd[i])
                cmd[i] = ' ';
        cmd[n] = '\0';
        if (strstr(cmd, needle)) {
            total += pss_kib(pid);
            (*count)++;
        }
    }
    if (p)
        pclose(p);
    return total;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: bench_qubes BIN_DIR TEMPLATE_TREE\n");
        return 2;
    }
    const char *bin = argv[1], *tree = argv[2];
    enum { RUNS = 21, MANY = 100 };
    double a[RUNS], b[RUNS];

    bench_call("admin.vm.Create.AppVM", "min", "dom0", "name=bench label=red");
    for (int i = 0; i < RUNS; i++) {
        double t0 = bench_now_ms();
        bench_call("admin.vm.Start", "", "bench", NULL);
        a[i] = bench_now_ms() - t0;
        bench_call("admin.vm.Shutdown", "wait", "bench", NULL);
    }
    char *bwrap[] = { "/usr/bin/bwrap", "--unshare-all", "--ro-bind", (char *)tree, "/",
                      "--proc",         "/proc",         "--dev",     "/dev",       "--tmpfs",
                      "/tmp",           "--tmpfs",       "/run",      "/bin/true",  NULL };
    for (int i = 0; i < RUNS; i++)
        b[i] = bench_run_ms(bwrap);
    report("start-to-ready of an AppVM, p50", bench_median(a, RUNS), "ms",
           "(bwrap --unshare-all true)", bench_median(b, RUNS));

    bench_call("admin.vm.Start", "", "bench", NULL);
    char qvm_run[512];
    snprintf(qvm_run, sizeof(qvm_run), "%s/qvm-run", bin);
    char *run_argv[] = { qvm_run, "-p", "bench", "true", NULL };
    char *true_argv[] = { "/bin/true", NULL };
    for (int i = 0; i < RUNS; i++) {
        a[i] = bench_run_ms(run_argv);
        b[i] = bench_run_ms(true_argv);
    }
    report("qvm-run -p VM true on a running qube, p50", bench_median(a, RUNS), "ms",
           "(fork+exec of /bin/true)", bench_median(b, RUNS));
    bench_call("admin.vm.Shutdown", "wait", "bench", NULL);

    char name[32], payload[64];
    for (int i = 0; i < MANY; i++) {
        snprintf(payload, sizeof(payload), "name=many%03d label=blue", i);
        bench_call("admin.vm.Create.AppVM", "min", "dom0", payload);
        /* admission: 100 qubes of the default 400 MiB pass the memory qubes
         * may have on a small host; a busybox qube needs far less */
        snprintf(name, sizeof(name), "many%03d", i);
        bench_call("admin.vm.property.Set", "memory", name, "150");
    }
    int idle_count;
    long idle = pss_of("qubesd", &idle_count);
    (void)idle;
    double t0 = bench_now_ms();
    for (int i = 0; i < MANY; i++) {
        snprintf(name, sizeof(name), "many%03d", i);
        bench_call("admin.vm.Start", "", name, NULL);
    }
    double total = bench_now_ms() - t0;
    int helpers;
    long helper_pss = pss_of("many", &helpers);
    FILE *q = popen("pgrep -x qubesd", "r");
    int qubesd_pid = 0;
    if (q && fscanf(q, "%d", &qubesd_pid) != 1)
        qubesd_pid = 0;
    if (q)
        pclose(q);
    printf("%d qubes started one after another in %.0f ms (%.1f ms each)\n", MANY, total,
           total / MANY);
    report("dom0 memory per running qube (helpers' PSS)", (double)helper_pss / MANY / 1024.0, "MiB",
           "(qubesd's own PSS)", (double)pss_kib(qubesd_pid) / 1024.0);
    printf("  (%d helper processes for %d qubes; memory inside qubes is charged to their "
           "cgroups)\n",
           helpers, MANY);
    for (int i = 0; i < MANY; i++) {
        snprintf(name, sizeof(name), "many%03d", i);
        bench_call("admin.vm.Kill", "", name, NULL);
    }
    return 0;
}
