/* A qube's console as its dom0 helper copies it into the qube's log (the
 * helper's stdout): at most CONSOLE_LOG_MAX bytes of one run, so a qube
 * cannot fill dom0's disk; past the cap it is drained and dropped, said once. */
#pragma once

#include <stdbool.h>

#define CONSOLE_LOG_MAX (16LL << 20)

/* What was written of one run, shared by every source of that run. */
struct console_log {
    const char *helper; /* "qubes-sandbox", "qubes-vm": who says the cap was reached */
    const char *qube;
    long long written;
    bool capped;
};

struct console_source {
    int fd;         /* non-blocking; -1 once at end of file */
    char last[256]; /* its last complete line, for a failure message */
};

/* Copies what src has now into the log; closes src->fd at end of file. */
void console_copy(struct console_log *log, struct console_source *src);
