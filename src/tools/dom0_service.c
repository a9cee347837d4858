/* Running a dom0 qrexec service the way qubesadmin's QubesLocal does for a payload stream
 * (dom0_service.h). A feeder process writes the input into the service's stdin while this
 * one reads its answer, so neither waits on the other. */
#include "tools/dom0_service.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client/qubesd_client.h"
#include "common/cleanup.h"
#include "common/fd_io.h"
#include "common/paths.h"
#include "common/root.h"
#include "tools/cli.h"

static char *find_service(const char *method)
{
    _cleanup_free_ char *rel = xasprintf("etc/qubes-rpc/%s", method);
    char *path = qroot_path(rel);
    if (access(path, X_OK) == 0)
        return path;
    free(path);
    _cleanup_free_ char *dir = qubicle_dom0_rpc_dir();
    path = xasprintf("%s/%s", dir, method);
    if (access(path, X_OK) == 0)
        return path;
    free(path);
    return NULL;
}

/* The feeder: prefix, then input until its end or until the service stops reading. */
static _Noreturn void feed(int to, const char *prefix, int input_fd)
{
    if (prefix && fd_write_all(to, prefix, strlen(prefix)) < 0)
        _exit(1);
    static char chunk[64 * 1024];
    for (;;) {
        ssize_t n = read(input_fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            _exit(n < 0);
        if (fd_write_all(to, chunk, (size_t)n) < 0)
            _exit(0); /* the service has its answer already */
    }
}

/* Where qubesd-query is for the service: beside this program in a build tree or bindir. */
static void put_tools_on_path(void)
{
    _cleanup_free_ char *query = qubicle_program("qubesd-query");
    char *slash = strrchr(query, '/');
    if (access(query, X_OK) != 0 || !slash)
        return;
    *slash = '\0';
    const char *path = getenv("PATH");
    _cleanup_free_ char *value = xasprintf("%s%s%s", query, path ? ":" : "", path ? path : "");
    setenv("PATH", value, 1);
}

static pid_t spawn_service(const char *service, const char *arg, const char *dest, int in, int out)
{
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    dup2(in, 0);
    dup2(out, 1);
    put_tools_on_path();
    setenv("QREXEC_REMOTE_DOMAIN", "dom0", 1);
    setenv("QREXEC_REQUESTED_TARGET", dest, 1);
    execl(service, service, arg, (char *)NULL);
    _exit(127);
}

static int wait_child(pid_t pid)
{
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    return status;
}

int dom0_service_call(const char *method, const char *arg, const char *dest, const char *prefix,
                      int input_fd, struct buf *content, struct qerror *err)
{
    _cleanup_free_ char *service = find_service(method);
    if (!service) {
        _cleanup_free_ char *rel = xasprintf("etc/qubes-rpc/%s", method);
        _cleanup_free_ char *where = qroot_path(rel);
        return qerror_set(err, ERR_QUBES_DAEMON_COMMUNICATION_ERROR, "%s not found", where);
    }
    int in[2], out[2];
    if (pipe2(in, O_CLOEXEC) < 0)
        return qerror_errno(err, errno, "pipe");
    if (pipe2(out, O_CLOEXEC) < 0) {
        close(in[0]);
        close(in[1]);
        return qerror_errno(err, errno, "pipe");
    }
    fflush(NULL);
    pid_t svc = spawn_service(service, arg, dest, in[0], out[1]);
    close(in[0]);
    close(out[1]);
    pid_t feeder = svc < 0 ? -1 : fork();
    if (feeder == 0) {
        close(out[0]);
        signal(SIGPIPE, SIG_IGN);
        feed(in[1], prefix, input_fd);
    }
    close(in[1]);
    _cleanup_buf_ struct buf answer = BUF_INIT;
    int rc = svc < 0 || feeder < 0 ? qerror_errno(err, errno, "fork") : 0;
    if (read_all_fd(out[0], &answer) < 0 && rc == 0)
        rc = qerror_errno(err, errno, "read the answer of %s", method);
    close(out[0]);
    if (feeder > 0)
        wait_child(feeder);
    if (svc > 0)
        wait_child(svc);
    if (rc < 0)
        return rc;
    return qubesd_answer(&answer, content, err);
}
