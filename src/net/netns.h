/* Work inside another network namespace: a forked child enters it (setns)
 * and runs the function, so the caller's own namespace never changes. */
#pragma once

#include "common/error.h"

/* Runs fn(ctx, err) in a child inside the network namespace netns_fd; returns
 * what fn returned, with fn's error message in err. */
int netns_run(int netns_fd, int (*fn)(void *ctx, struct qerror *err), void *ctx,
              struct qerror *err);

/* Writes value to /proc/sys/<path> (of the calling namespace). */
int sysctl_write(const char *path, const char *value, struct qerror *err);
