/* qubes-firewall: the firewall agent of a qube that provides network
 * (upstream qubesagent/firewall.py). qubes-init starts it when the
 * qubes-firewall service is on. It watches /qubes-firewall/ and
 * /connected-ips in the qube's qubesdb and keeps table ip qubes-firewall
 * in step (firewall_worker.c); on SIGTERM it deletes the table and exits
 * (when qubesdb fails it exits leaving the table: fail closed).
 * With --ready-fd it writes one byte there once its table and the rules
 * of the clients already known are in place.
 * Linked against libnftables, which Debian ships shared only: the build
 * copies it and its libraries, libc and the loader with them, into the
 * guest directory, and the program names that loader and that directory
 * itself, so it runs in any template. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <dirent.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "common/parse.h"
#include "guest/firewall_worker.h"
#include "qubesdb/qdb_client.h"

#define USER_SCRIPT "/rw/config/qubes-firewall-user-script"

static bool executable(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

/* Runs path and waits for it, as upstream's subprocess.call. */
static void run_script(const char *path)
{
    log_info("op=script path=%s", path);
    pid_t pid = fork();
    if (pid == 0) {
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        int null = open("/dev/null", O_RDONLY);
        if (null >= 0)
            dup2(null, 0);
        execl(path, path, (char *)NULL);
        _exit(127);
    }
    if (pid > 0)
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

/* upstream's run_firewall_dir, then run_user_script: the user's own rules
 * go in once the table is there */
static void run_user_scripts(void)
{
    static const char *const dirs[] = { "/etc/qubes/qubes-firewall.d",
                                        "/rw/config/qubes-firewall.d" };
    for (size_t d = 0; d < ARRAY_SIZE(dirs); d++) {
        struct dirent **list = NULL;
        int n = scandir(dirs[d], &list, NULL, by_name);
        for (int i = 0; i < n; i++) {
            _cleanup_free_ char *path = xasprintf("%s/%s", dirs[d], list[i]->d_name);
            if (executable(path))
                run_script(path);
            free(list[i]);
        }
        free(list);
    }
    if (executable(USER_SCRIPT))
        run_script(USER_SCRIPT);
}

/* One watch event: the trigger of a client (exactly /qubes-firewall/<ip>:
 * the rules are written before it), or the connected clients. */
static void on_event(struct fw_worker *w, const char *path)
{
    static const char fw[] = "/qubes-firewall/";
    if (strcmp(path, "/connected-ips") == 0)
        fw_worker_connected_ips(w);
    else if (strncmp(path, fw, strlen(fw)) == 0 && path[strlen(fw)] &&
             !strchr(path + strlen(fw), '/'))
        fw_worker_handle(w, path + strlen(fw));
}

/* Events until SIGTERM or SIGINT: 0, or -1 when qubesdb failed. */
static int watch_loop(struct fw_worker *w, int sig_fd)
{
    struct qerror err = { 0 };
    for (;;) {
        while (qdb_watch_pending(w->qdb)) {
            char path[QDB_MAX_PATH];
            if (qdb_read_watch(w->qdb, path, &err) < 0)
                goto fail;
            on_event(w, path);
        }
        struct pollfd p[2] = { { .fd = sig_fd, .events = POLLIN },
                               { .fd = qdb_watch_fd(w->qdb), .events = POLLIN } };
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            log_error("op=poll result=error reason=\"%s\"", strerror(errno));
            return -1;
        }
        if (p[0].revents)
            return 0;
        if (p[1].revents) {
            char path[QDB_MAX_PATH];
            if (qdb_read_watch(w->qdb, path, &err) < 0)
                goto fail;
            on_event(w, path);
        }
    }
fail:
    log_error("op=watch result=error reason=\"%s\"", err.message);
    return -1;
}

/* Says "ready" once: one byte on the descriptor qubes-init gave, closed. */
static void say_ready(int *ready_fd)
{
    if (*ready_fd < 0)
        return;
    if (write(*ready_fd, "1", 1) != 1)
        log_warning("op=ready result=error reason=\"%s\"", strerror(errno));
    close(*ready_fd);
    *ready_fd = -1;
}

int main(int argc, char **argv)
{
    int ready_fd = -1;
    long long fd = 0;
    if (argc == 3 && strcmp(argv[1], "--ready-fd") == 0 && parse_ll(argv[2], 3, 1023, 0, &fd) == 0)
        ready_fd = (int)fd;
    else if (argc != 1) {
        fputs("usage: qubes-firewall [--ready-fd FD]\n", stderr);
        return 2;
    }
    if (ready_fd >= 0)
        fcntl(ready_fd, F_SETFD, FD_CLOEXEC);
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    _cleanup_close_ int sig_fd = signalfd(-1, &mask, SFD_CLOEXEC);
    struct qerror err = { 0 };
    struct qdb_client *qdb = sig_fd < 0 ? NULL : qdb_open(NULL, &err);
    if (!qdb) {
        log_error("op=start result=error reason=\"%s\"",
                  sig_fd < 0 ? strerror(errno) : err.message);
        return 1;
    }
    struct fw_worker w = { 0 };
    if (fw_worker_init(&w, qdb, &err) < 0) {
        log_error("op=start result=error reason=\"%s\"", err.message);
        fw_worker_free(&w);
        qdb_close(qdb);
        return 1;
    }
    run_user_scripts();
    /* watching first, then reading: no change falls between the two */
    int rc = 0;
    if (qdb_watch(qdb, "/qubes-firewall/", &err) < 0 ||
        qdb_watch(qdb, "/connected-ips", &err) < 0) {
        log_error("op=watch result=error reason=\"%s\"", err.message);
        rc = 1;
    } else {
        fw_worker_handle_all(&w);
        fw_worker_connected_ips(&w);
        log_info("op=start result=ok clients=%zu", w.clients.n);
        say_ready(&ready_fd);
        rc = watch_loop(&w, sig_fd) < 0;
    }
    /* qubesdb gone: the table stays, blocking what it blocked (fail
     * closed, as upstream's agent dies on a qubesdb error); only a stop
     * asked for deletes it */
    if (rc != 0) {
        fw_worker_free(&w);
        qdb_close(qdb);
        return rc;
    }
    if (fw_worker_cleanup(&w, &err) < 0) {
        log_error("op=stop result=error reason=\"%s\"", err.message);
        rc = 1;
    } else {
        log_info("op=stop result=ok");
    }
    fw_worker_free(&w);
    qdb_close(qdb);
    return rc;
}
