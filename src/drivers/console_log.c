/* Copying a qube's console into its log, bounded (see console_log.h). */
#include "drivers/console_log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

static void remember_last_line(struct console_source *src, const char *buf, size_t n)
{
    size_t end = n;
    while (end > 0 && (buf[end - 1] == '\n' || buf[end - 1] == '\r'))
        end--;
    size_t start = end;
    while (start > 0 && buf[start - 1] != '\n')
        start--;
    if (end == start)
        return;
    size_t len = end - start < sizeof(src->last) - 1 ? end - start : sizeof(src->last) - 1;
    memcpy(src->last, buf + start, len);
    src->last[len] = '\0';
}

void console_copy(struct console_log *log, struct console_source *src)
{
    char buf[16384];
    for (;;) {
        ssize_t n = read(src->fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return; /* all read for now */
        if (n <= 0) {
            close(src->fd);
            src->fd = -1;
            return;
        }
        remember_last_line(src, buf, (size_t)n);
        if (log->written >= CONSOLE_LOG_MAX) {
            if (!log->capped)
                fprintf(stderr,
                        "%s: qube=%s console log reached %lld bytes: "
                        "further output dropped\n",
                        log->helper, log->qube, (long long)CONSOLE_LOG_MAX);
            log->capped = true;
            continue;
        }
        size_t keep = (size_t)n;
        if (log->written + n > CONSOLE_LOG_MAX)
            keep = (size_t)(CONSOLE_LOG_MAX - log->written);
        if (write(STDOUT_FILENO, buf, keep) < 0)
            return;
        log->written += (long long)keep;
    }
}
