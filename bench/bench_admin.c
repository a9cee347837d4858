/* Admin API benchmarks against a running qubesd ($QUBES_ROOT), each printed
 * as a median with the ratio to a baseline measured in the same run:
 *   - property.Get round trip vs a bare connect/send/EOF/answer round trip
 *     on a Unix socket served by a trivial in-process server (the floor of a
 *     one-connection-per-call protocol);
 *   - admin.vm.List over all qubes, vs the same floor;
 *   - property.Set throughput vs raw SQLite: one durable transaction per
 *     upsert with qubesd's pragmas, on the same filesystem;
 *   - qvm-ls (default columns) vs qubesd-query making its one call, both as
 *     whole processes.
 * Usage: bench_admin BIN_DIR QUBE_COUNT */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"
#include "client/qubesd_client.h"
#include "common/cleanup.h"
#include "common/root.h"

static void die(const char *what, const struct qerror *err)
{
    fprintf(stderr, "bench: %s: %s\n", what, err ? err->message : strerror(errno));
    exit(1);
}

/* ---- the floor: a server that answers "0\0" after EOF ---- */

static char floor_path[108];

static void *floor_server(void *arg)
{
    int lfd = *(int *)arg;
    for (;;) {
        int fd = accept(lfd, NULL, NULL);
        if (fd < 0)
            continue;
        char buf[4096];
        while (read(fd, buf, sizeof(buf)) > 0)
            ;
        if (write(fd, "0\0", 2) != 2)
            perror("floor write");
        shutdown(fd, SHUT_WR);
        close(fd);
    }
    return NULL;
}

static double floor_round_trip(void)
{
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    strcpy(addr.sun_path, floor_path);
    double t0 = (bench_now_ms() * 1e3);
    if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
        die("connect floor", NULL);
    static const char req[] = "admin.vm.property.Get+memory dom0 name q0000";
    if (write(fd, req, sizeof(req)) != (ssize_t)sizeof(req))
        die("write floor", NULL);
    shutdown(fd, SHUT_WR);
    char buf[64];
    while (read(fd, buf, sizeof(buf)) > 0)
        ;
    double t = (bench_now_ms() * 1e3) - t0;
    close(fd);
    return t;
}

static void start_floor(void)
{
    snprintf(floor_path, sizeof(floor_path), "/tmp/qubicle-bench-floor.%d", (int)getpid());
    unlink(floor_path);
    static int lfd;
    lfd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    strcpy(addr.sun_path, floor_path);
    if (bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(lfd, 64) < 0)
        die("bind floor", NULL);
    pthread_t t;
    pthread_create(&t, NULL, floor_server, &lfd);
    pthread_detach(t);
}

/* ---- measurements ---- */

static double time_call(const char *method, const char *arg, const char *dest, const char *payload)
{
    struct qerror err = { 0 };
    struct buf out = BUF_INIT;
    double t0 = (bench_now_ms() * 1e3);
    if (qubesd_call_str(method, arg, dest, payload, &out, &err) < 0)
        die(method, &err);
    double t = (bench_now_ms() * 1e3) - t0;
    buf_free(&out);
    return t;
}

static double sqlite_baseline_per_s(int n)
{
    _cleanup_free_ char *path = qroot_path("var/lib/qubes/bench-baseline.db");
    unlink(path);
    sqlite3 *db;
    if (sqlite3_open(path, &db) != SQLITE_OK)
        die("sqlite open", NULL);
    sqlite3_exec(db,
                 "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                 "CREATE TABLE p (qid INTEGER, name TEXT, value TEXT, PRIMARY KEY (qid, name));",
                 NULL, NULL, NULL);
    double t0 = (bench_now_ms() * 1e3);
    for (int i = 0; i < n; i++) {
        char sql[160];
        snprintf(sql, sizeof(sql),
                 "BEGIN IMMEDIATE; INSERT OR REPLACE INTO p VALUES (1, 'memory', '%d'); COMMIT;",
                 400 + i % 2);
        sqlite3_exec(db, sql, NULL, NULL, NULL);
    }
    double per_s = n / (((bench_now_ms() * 1e3) - t0) / 1e6);
    sqlite3_close(db);
    unlink(path);
    return per_s;
}

static void report(const char *what, double value, const char *unit, const char *baseline_what,
                   double baseline)
{
    printf("%-44s %10.3f %-6s baseline %-34s %10.3f %-6s ratio %.2f\n", what, value, unit,
           baseline_what, baseline, unit, value / baseline);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: bench_admin BIN_DIR QUBE_COUNT\n");
        return 2;
    }
    const char *bin = argv[1];
    int count = atoi(argv[2]);
    struct qerror err = { 0 };

    printf("creating %d qubes...\n", count);
    double t0 = (bench_now_ms() * 1e3);
    if (qubesd_call_str("admin.vm.Create.TemplateVM", "", "dom0", "name=tpl label=black", NULL,
                        &err) < 0)
        die("create template", &err);
    for (int i = 1; i < count; i++) {
        char payload[64];
        snprintf(payload, sizeof(payload), "name=q%04d label=red", i - 1);
        if (qubesd_call_str("admin.vm.Create.AppVM", "tpl", "dom0", payload, NULL, &err) < 0)
            die("create", &err);
    }
    double create_s = ((bench_now_ms() * 1e3) - t0) / 1e6;
    printf("  %d creates in %.2f s (%.0f per second, each one durable transaction)\n\n", count,
           create_s, count / create_s);

    start_floor();
    enum { GETS = 2001, LISTS = 21, LS = 21, SETS = 500 };
    static double a[GETS], b[GETS];
    for (int i = 0; i < GETS; i++) {
        a[i] = time_call("admin.vm.property.Get", "memory", "q0000", NULL);
        b[i] = floor_round_trip();
    }
    double floor_us = bench_median(b, GETS);
    report("admin.vm.property.Get round trip p50", bench_median(a, GETS) / 1e3, "ms",
           "(bare socket round trip)", floor_us / 1e3);

    for (int i = 0; i < LISTS; i++)
        a[i] = time_call("admin.vm.List", "", "dom0", NULL);
    char what[80];
    snprintf(what, sizeof(what), "admin.vm.List, %d qubes, p50", count);
    report(what, bench_median(a, LISTS) / 1e3, "ms", "(bare socket round trip)", floor_us / 1e3);

    t0 = (bench_now_ms() * 1e3);
    for (int i = 0; i < SETS; i++)
        if (qubesd_call_str("admin.vm.property.Set", "memory", "q0000", i % 2 ? "401" : "400", NULL,
                            &err) < 0)
            die("set", &err);
    double sets_per_s = SETS / (((bench_now_ms() * 1e3) - t0) / 1e6);
    double sql_per_s = sqlite_baseline_per_s(SETS);
    report("admin.vm.property.Set throughput", sets_per_s, "/s", "(raw SQLite durable upserts)",
           sql_per_s);

    char qvm_ls[512], query[512];
    snprintf(qvm_ls, sizeof(qvm_ls), "%s/qvm-ls", bin);
    snprintf(query, sizeof(query), "%s/qubesd-query", bin);
    char *ls_argv[] = { qvm_ls, NULL };
    char *query_argv[] = { query, "dom0", "admin.vm.List", "dom0", NULL };
    for (int i = 0; i < LS; i++) {
        a[i] = bench_run_ms(ls_argv) * 1e3;
        b[i] = bench_run_ms(query_argv) * 1e3;
    }
    snprintf(what, sizeof(what), "qvm-ls (default columns), %d qubes, p50", count);
    report(what, bench_median(a, LS) / 1e3, "ms", "(qubesd-query admin.vm.List)",
           bench_median(b, LS) / 1e3);
    unlink(floor_path);
    return 0;
}
