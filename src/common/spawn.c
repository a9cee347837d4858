/* fork + exec of helper processes with a clean descriptor table. */
#include "common/spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

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
    int null = open("/dev/null", O_RDONLY);
    if (null < 0 || dup2(null, 0) < 0 || dup2(log_fd, 1) < 0 || dup2(log_fd, 2) < 0 ||
        (channel_fd >= 0 && dup2(channel_fd, 3) < 0) || (status_fd >= 0 && dup2(status_fd, 4) < 0))
        _exit(125);
    syscall(SYS_close_range, status_fd >= 0 ? 5u : channel_fd >= 0 ? 4u : 3u, ~0u, 0);
    execv(path, argv);
    fprintf(stderr, "qubesd: exec %s: %s\n", path, strerror(errno));
    _exit(127);
}
