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

pid_t spawn_helper(const char *path, char *const argv[], int log_fd, int channel_fd,
                   int status_fd)
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
    int null = open("/dev/null", O_RDONLY);
    if (null < 0 || dup2(null, 0) < 0 || dup2(log_fd, 1) < 0 || dup2(log_fd, 2) < 0 ||
        (channel_fd >= 0 && dup2(channel_fd, 3) < 0) || (status_fd >= 0 && dup2(status_fd, 4) < 0))
        _exit(125);
    syscall(SYS_close_range, status_fd >= 0 ? 5u : channel_fd >= 0 ? 4u : 3u, ~0u, 0);
    execv(path, argv);
    fprintf(stderr, "qubesd: exec %s: %s\n", path, strerror(errno));
    _exit(127);
}
