/* qfile-agent: the sending end of qubes.Filecopy. qvm-copy starts it through
 * qrexec-client-vm: it streams FILEs to stdout and reads the receiver's result on stdin. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/mono_time.h"
#include "common/parse.h"
#include "filecopy/filecopy.h"
#include "filecopy/pack.h"

#define PROGRESS_INTERVAL_NS (100 * 1000 * 1000) /* at most ~10 updates a second */
#define PIPE_SIZE (1024 * 1024)

struct progress {
    bool have_total;
    uint64_t total;
    bool shown;
    int64_t last_ns; /* mono_ns() */
};

/* KiB rounded up: a small file is 1 KiB sent, not 0 */
static unsigned long long kib(uint64_t bytes)
{
    return (unsigned long long)((bytes + 1023) / 1024);
}

static void print_progress(struct progress *pr, uint64_t sent, const char *end)
{
    if (pr->have_total)
        fprintf(stderr, "sent %llu/%llu KiB%s", kib(sent), kib(pr->total), end);
    else
        fprintf(stderr, "sent %llu KiB%s", kib(sent), end);
    fflush(stderr);
    pr->shown = true;
}

static void on_progress(void *ctx, uint64_t sent)
{
    struct progress *pr = ctx;
    int64_t now = mono_ns();
    if (pr->shown && now - pr->last_ns < PROGRESS_INTERVAL_NS)
        return;
    pr->last_ns = now;
    print_progress(pr, sent, "\r");
}

static int usage(void)
{
    fputs("usage: qfile-agent [--ignore-symlinks] [--progress] [--] FILE...\n", stderr);
    return 2;
}

int main(int argc, char **argv)
{
    bool ignore_symlinks = false;
    const char *type = getenv("PROGRESS_TYPE");
    bool progress = type && strcmp(type, "console") == 0;
    int i;
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        } else if (strcmp(argv[i], "--ignore-symlinks") == 0) {
            ignore_symlinks = true;
        } else if (strcmp(argv[i], "--progress") == 0) {
            progress = true;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            return usage();
        } else {
            break;
        }
    }
    if (i >= argc)
        return usage();
    /* "sent N/M KiB" lines rewritten in place are for a terminal: in a log they pile up */
    progress = progress && isatty(STDERR_FILENO);

    /* a dead receiver shows as EPIPE, and then its result says why */
    signal(SIGPIPE, SIG_IGN);
    /* fewer, larger pipe transfers (best effort: stdout may not be a pipe) */
    fcntl(1, F_SETPIPE_SZ, PIPE_SIZE);

    struct progress pr = { 0 };
    const char *total = getenv("FILECOPY_TOTAL_SIZE");
    if (total && *total) {
        long long t;
        if (parse_ll(total, 0, LLONG_MAX, 0, &t) == 0) {
            pr.have_total = true;
            pr.total = t;
        }
    }

    struct filecopy_pack *p = filecopy_pack_new(1, 0);
    if (!p) {
        fputs("qfile-agent: Fatal error: out of memory\n", stderr);
        return 1;
    }
    p->ignore_symlinks = ignore_symlinks;
    if (progress) {
        p->progress = on_progress;
        p->progress_ctx = &pr;
    }

    struct qerror err = { 0 };
    int rc = 0;
    for (; i < argc && rc == 0; i++)
        rc = filecopy_pack_arg(p, AT_FDCWD, argv[i], &err);
    if (rc == 0)
        rc = filecopy_pack_end(p, &err);
    if (rc == 0)
        rc = filecopy_pack_wait_result(p, &err);

    if (rc == 0) {
        if (progress)
            print_progress(&pr, p->bytes_sent, "\n");
        filecopy_pack_free(p);
        return 0;
    }
    if (pr.shown)
        fputc('\n', stderr);
    if (p->remote_error && p->remote_error != LEGAL_EOF)
        fprintf(stderr, "qfile-agent: Fatal error: %s (error type: %s)\n", err.message,
                strerror((int)p->remote_error));
    else
        fprintf(stderr, "qfile-agent: Fatal error: %s\n", err.message);
    filecopy_pack_free(p);
    return 1;
}
