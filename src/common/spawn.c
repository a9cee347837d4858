/* fork + exec of helper processes with a clean descriptor table. */
#include "common/spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int set_oom_score_adj(int value)
{
    /* formatted by hand from the end: no stdio after fork */
    char text[16];
    size_t at = sizeof(text);
    text[--at] = '\n';
    unsigned v = value < 0 ? 0u - (unsigned)value : (unsigned)value;
    do {
        text[--at] = (char)('0' + v % 10);
        v /= 10;
    } while (v && at > 1);
    if (value < 0)
        text[--at] = '-';
    size_t n = sizeof(text) - at;
    int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t w = write(fd, text + at, n);
    int e = errno;
    close(fd);
    if (w != (ssize_t)n) {
        errno = w < 0 ? e : EIO;
        return -1;
    }
    return 0;
}

pid_t spawn_helper(const char *path, char *const argv[], int log_fd, const int *fds, size_t n_fds)
{
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    setsid();
    /* qubesd's own low value is not inherited by a qube (through qubes-sandbox) */
    if (set_oom_score_adj(OOM_SCORE_ADJ_DEFAULT) < 0)
        dprintf(log_fd, "qubesd: oom_score_adj of %s: %s\n", path, strerror(errno));
    /* out of the way of 3.. first, so that no fd is overwritten before it is moved */
    int high[SPAWN_MAX_FDS];
    for (size_t i = 0; i < n_fds && i < SPAWN_MAX_FDS; i++)
        if ((high[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 3 + SPAWN_MAX_FDS)) < 0)
            _exit(125);
    int null = open("/dev/null", O_RDONLY);
    if (n_fds > SPAWN_MAX_FDS || null < 0 || dup2(null, 0) < 0 || dup2(log_fd, 1) < 0 ||
        dup2(log_fd, 2) < 0)
        _exit(125);
    for (size_t i = 0; i < n_fds; i++)
        if (dup2(high[i], 3 + (int)i) < 0)
            _exit(125);
    syscall(SYS_close_range, 3u + (unsigned)n_fds, ~0u, 0);
    execv(path, argv);
    fprintf(stderr, "qubesd: exec %s: %s\n", path, strerror(errno));
    _exit(127);
}
