/* Firewall benchmarks against a running qubesd ($QUBES_ROOT) whose
 * sys-firewall runs and has CLIENT (running, its netvm) at CLIENT_IP:
 *   - from `qvm-firewall CLIENT add RULE` to the rule in force: until
 *     sys-firewall's agent counts the client handled once more
 *     (/qubes-firewall-handled/<ip>, watched in dom0's copy of its qubesdb),
 *     so it includes the tool, qubesd, both qubesdb hops and the agent;
 *   - start-to-ready of an AppVM with netvm sys-firewall vs without netvm.
 * Usage: bench_firewall BIN_DIR CLIENT CLIENT_IP */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_call.h"
#include "bench_util.h"
#include "common/cleanup.h"
#include "qubesdb/qdb_client.h"

enum { RUNS = 21 };

static void fail(const char *what, const struct qerror *err)
{
    fprintf(stderr, "bench: %s: %s\n", what, err->message);
    exit(1);
}

static double start_ms(const char *name)
{
    double t0 = bench_now_ms();
    bench_call("admin.vm.Start", "", name, NULL);
    double t = bench_now_ms() - t0;
    bench_call("admin.vm.Kill", "", name, NULL);
    return t;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: bench_firewall BIN_DIR CLIENT CLIENT_IP\n");
        return 2;
    }
    const char *bin = argv[1], *client = argv[2], *ip = argv[3];
    struct qerror err = { 0 };
    _cleanup_free_ char *sock = qdb_qube_socket("sys-firewall", &err);
    struct qdb_client *db = sock ? qdb_open(sock, &err) : NULL;
    char handled[QDB_MAX_PATH];
    snprintf(handled, sizeof(handled), "/qubes-firewall-handled/%s", ip);
    if (!db || qdb_watch(db, handled, &err) < 0)
        fail("sys-firewall's qubesdb", &err);

    char tool[512], rule[64];
    snprintf(tool, sizeof(tool), "%s/qvm-firewall", bin);
    double t[RUNS], base[RUNS];
    for (int i = 0; i < RUNS; i++) {
        snprintf(rule, sizeof(rule), "dst4=10.9.%d.0/24", i);
        char *add[] = { tool, (char *)client, "add", "accept", rule, NULL };
        double t0 = bench_now_ms();
        bench_run_ms(add);
        char path[QDB_MAX_PATH];
        do {
            if (qdb_read_watch(db, path, &err) < 0)
                fail("watch", &err);
        } while (strcmp(path, handled) != 0);
        t[i] = bench_now_ms() - t0;
        /* the tool alone, for scale: the same call that changes nothing */
        char *list[] = { tool, (char *)client, "list", NULL };
        t0 = bench_now_ms();
        bench_run_ms(list);
        base[i] = bench_now_ms() - t0;
    }
    qdb_close(db);
    double enforced = bench_median(t, RUNS), listed = bench_median(base, RUNS);
    printf("qvm-firewall add -> rule in force, p50      %8.2f ms  (goal < 50)\n", enforced);
    printf("  qvm-firewall list alone, p50              %8.2f ms  ratio %.2f\n", listed,
           enforced / listed);

    bench_call("admin.vm.Create.AppVM", "min", "dom0", "name=bench-net label=red");
    bench_call("admin.vm.property.Set", "netvm", "bench-net", "sys-firewall");
    for (int i = 0; i < RUNS; i++)
        t[i] = start_ms("bench-net");
    bench_call("admin.vm.property.Set", "netvm", "bench-net", "");
    for (int i = 0; i < RUNS; i++)
        base[i] = start_ms("bench-net");
    double with = bench_median(t, RUNS), without = bench_median(base, RUNS);
    printf("start-to-ready with netvm sys-firewall, p50 %8.2f ms\n", with);
    printf("start-to-ready without netvm, p50           %8.2f ms  ratio %.2f\n", without,
           with / without);
    return 0;
}
