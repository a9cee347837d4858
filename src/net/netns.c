/* netns_run: fork, setns, run, report. The child's error message comes back
 * through a pipe, whole or not at all. */
#include "net/netns.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fd_io.h"

int netns_run(int netns_fd, int (*fn)(void *ctx, struct qerror *err), void *ctx, struct qerror *err)
{
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) < 0)
        return qerror_errno(err, errno, "pipe");
    pid_t pid = fork();
    if (pid < 0) {
        close(pipefd[0]);
        close(pipefd[1]);
        return qerror_errno(err, errno, "fork");
    }
    if (pid == 0) {
        close(pipefd[0]);
        struct qerror child_err = { 0 };
        int rc = setns(netns_fd, CLONE_NEWNET) < 0
                     ? qerror_errno(&child_err, errno, "enter the network namespace")
                     : fn(ctx, &child_err);
        if (rc < 0 && write(pipefd[1], &child_err, sizeof(child_err)) < 0)
            _exit(2);
        _exit(rc < 0 ? 1 : 0);
    }
    close(pipefd[1]);
    struct qerror child_err = { 0 };
    ssize_t n = read(pipefd[0], &child_err, sizeof(child_err));
    close(pipefd[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    if (n == (ssize_t)sizeof(child_err)) {
        child_err.message[sizeof(child_err.message) - 1] = '\0';
        *err = child_err;
        return -1;
    }
    return qerror_set(err, ERR_QUBES_EXCEPTION, "network namespace helper failed (status %d)",
                      status);
}

int sysctl_write(const char *path, const char *value, struct qerror *err)
{
    char full[256];
    snprintf(full, sizeof(full), "/proc/sys/%s", path);
    _cleanup_close_ int fd = open(full, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || fd_write_all(fd, value, strlen(value)) < 0)
        return qerror_errno(err, errno, "sysctl %s", path);
    return 0;
}
