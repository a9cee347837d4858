/* qubesd: the management daemon. Loads the store of a root, runs the event
 * loop that every part of it works on, serves the Admin API in the
 * foreground, exits cleanly on SIGTERM. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "common/loop.h"
#include "common/root.h"
#include "common/spawn.h"
#include "config.h"
#include "qubesd/admin_services.h"
#include "qubesd/api.h"
#include "qubesd/app.h"
#include "qubesd/persist.h"
#include "qubesd/dispvm.h"
#include "qubesd/dispvm_preload.h"
#include "qubesd/lifecycle.h"
#include "qubesd/network.h"
#include "qubesd/policy_service.h"
#include "qubesd/server.h"

static const char *const root_dirs[] = {
    "run/qubes", "var/lib/qubes", "var/log/qubes", "etc/qubes/policy.d", "etc/qubes-rpc",
};

static void usage(FILE *f)
{
    fputs("usage: qubesd [--root DIR] [--debug] [--help] [--version]\n"
          "\n"
          "Serves the Qubes Admin API on $QUBES_ROOT/run/qubesd.sock.\n"
          "\n"
          "  --root DIR  the instance root (default: $QUBES_ROOT, else /)\n"
          "  --debug     send tracebacks to clients and log every failed call\n",
          f);
}

static void on_signal(struct loop_watch *w, uint32_t events)
{
    (void)events;
    struct loop *loop = w->ctx;
    struct signalfd_siginfo si;
    if (read(w->fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        log_info("signal %u: shutting down", si.ssi_signo);
        loop->stop = true;
    }
}

/* One qubesd per root: an exclusive lock on run/qubesd.lock, held for life. */
static int take_root_lock(void)
{
    _cleanup_free_ char *path = qroot_path("run/qubesd.lock");
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        fprintf(stderr, "qubesd: cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        char pid[32] = "";
        ssize_t n = pread(fd, pid, sizeof(pid) - 1, 0);
        pid[n > 0 ? n : 0] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        fprintf(stderr, "qubesd: another qubesd%s%s%s is already serving root %s (lock %s held)\n",
                *pid ? " (pid " : "", pid, *pid ? ")" : "", qroot_get(), path);
        close(fd);
        return -1;
    }
    char text[32];
    int len = snprintf(text, sizeof(text), "%d\n", (int)getpid());
    if (ftruncate(fd, 0) < 0 || pwrite(fd, text, (size_t)len, 0) != len)
        fprintf(stderr, "qubesd: warning: cannot write pid to %s\n", path);
    return fd; /* kept open: the lock lives as long as the process */
}

int main(int argc, char **argv)
{
    static const struct option options[] = {
        { "root", required_argument, NULL, 'r' },
        { "debug", no_argument, NULL, 'd' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    struct server_options opts = { .debug = false, .request_timeout_s = 60 };
    int c;
    while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (c) {
        case 'r': qroot_set(optarg); break;
        case 'd': opts.debug = true; break;
        case 'h': usage(stdout); return 0;
        case 'V': puts("qubesd " QUBICLE_VERSION); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }

    for (size_t i = 0; i < ARRAY_SIZE(root_dirs); i++) {
        if (qroot_mkdirs(root_dirs[i], 0755) < 0) {
            fprintf(stderr, "qubesd: cannot create %s under %s: %s\n", root_dirs[i], qroot_get(),
                    strerror(errno));
            return 1;
        }
    }
    int lock_fd = take_root_lock();
    if (lock_fd < 0)
        return 1;

    _cleanup_free_ char *log_path = qroot_path("var/log/qubes/qubesd.log");
    log_open_file(log_path, LOG_FILE_AND_STDERR);
    if (opts.debug)
        log_set_level(LOG_DEBUG);
    /* lowering needs CAP_SYS_RESOURCE (root, outside a container that drops it) */
    if (set_oom_score_adj(OOM_SCORE_ADJ_QUBESD) < 0)
        log_warning("op=oom-score-adj value=%d result=error reason=\"%s\"", OOM_SCORE_ADJ_QUBESD,
                    strerror(errno));

    /* SIGTERM and SIGINT end the loop, between two events */
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    signal(SIGPIPE, SIG_IGN);
    struct loop loop;
    struct loop_watch signals = { .fd = -1, .fn = on_signal, .ctx = &loop };
    if (loop_init(&loop) < 0 ||
        (signals.fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC)) < 0 ||
        loop_add(&loop, &signals, EPOLLIN) < 0) {
        log_error("event loop: %s", strerror(errno));
        return 1;
    }

    struct app app = { .loop = &loop };
    struct qerror err = { 0 };
    _cleanup_free_ char *db_path = qroot_path("var/lib/qubes/qubes.db");
    _cleanup_free_ char *sock_path = qroot_path("run/qubesd.sock");
    struct server *srv = NULL;
    struct policy_service *policy = NULL;
    struct api_services services = { 0 };
    struct dispvm_events *disposables = NULL;
    struct network *net = NULL;
    int status = 1;
    if (persist_load(&app, db_path, &err) < 0) {
        log_error("cannot load the store: %s", err.message);
        goto out;
    }
    if (policy_service_open(&app, &policy, &err) < 0) {
        log_error("policy service: %s", err.message);
        goto out;
    }
    services.policy = policy;
    if (server_open(&app, &services, &loop, sock_path, &opts, &srv, &err) < 0) {
        log_error("%s", err.message);
        goto out;
    }
    admin_services_install(sock_path);
    lifecycle_reattach_all(&app);
    /* what a killed qubesd left of disposables, then the preload pools */
    dispvm_startup_sweep(&app);
    services.dispvm_pool = dispvm_pool_open(&app);
    net = network_open(&app);
    /* last: a disposable's removal comes after everyone else heard of its end */
    disposables = dispvm_events_open(&app);
    log_info("qubesd %s root=%s qubes=%zu listening on %s", QUBICLE_VERSION, qroot_get(),
             app.n_qubes, sock_path);
    while (!loop.stop)
        if (loop_run_once(&loop, -1) < 0) {
            log_error("epoll_wait: %s", strerror(errno));
            goto out;
        }
    status = 0;
out:
    dispvm_events_close(disposables);
    network_close(net);
    dispvm_pool_close(services.dispvm_pool);
    lifecycle_release_all(&app);
    server_close(srv);
    policy_service_close(policy);
    app_free(&app);
    close(signals.fd);
    loop_close(&loop);
    close(lock_fd);
    log_close();
    return status;
}
