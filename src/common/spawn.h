/* Starting qubesd's helper processes (qubes-sandbox, qrexec-daemon) the one
 * way: a session of their own, no signal blocked, stdin /dev/null, stdout
 * and stderr to a log, one channel as fd 3, a status pipe as fd 4, nothing
 * else inherited. */
#pragma once

#include <sys/types.h>

/* Returns the child's pid, or -1 with errno set. channel_fd < 0: no fd 3;
 * status_fd < 0: no fd 4. */
pid_t spawn_helper(const char *path, char *const argv[], int log_fd, int channel_fd,
                   int status_fd);
