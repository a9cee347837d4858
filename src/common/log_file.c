/* Capped, rotating log files with repeat collapsing (see log_file.h). */
#include "common/log_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "common/mono_time.h"
#include "common/parse.h"

/* How often a writer re-checks a file that other writers keep filling before it writes
 * anyway (the overshoot is then one line). */
#define ROTATE_ATTEMPTS 3

void log_time_now(struct log_time *t)
{
    clock_gettime(CLOCK_REALTIME, &t->real);
    t->mono_ms = mono_ms();
}

char *log_cut_n(const char *untrusted, size_t len, size_t max)
{
    if (len <= max)
        return xstrndup(untrusted, len);
    return xasprintf("%.*s" LOG_CUT_MARK "%zu bytes)", (int)max, untrusted, len);
}

char *log_cut(const char *untrusted, size_t max)
{
    return log_cut_n(untrusted, strlen(untrusted), max);
}

static void write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return; /* a log that cannot be written loses the line, nothing else */
        p += w;
        n -= (size_t)w;
    }
}

static int reopen(struct log_file *lf)
{
    if (lf->fd >= 0)
        close(lf->fd);
    lf->fd = open(lf->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (lf->fd < 0)
        return -1;
    if (lf->stdio_follows && lf->fd > 2) {
        dup2(lf->fd, 1);
        dup2(lf->fd, 2);
    }
    return 0;
}

/* True while path still names the file fd is open on (no writer rotated it away). */
static bool still_current(const struct log_file *lf, const struct stat *open_st)
{
    struct stat st;
    return stat(lf->path, &st) == 0 && st.st_ino == open_st->st_ino && st.st_dev == open_st->st_dev;
}

/* Appends data to the current file, rotating it first if data would take it past the cap. */
static void emit(struct log_file *lf, const char *data, size_t len)
{
    if (lf->mirror_fd >= 0)
        write_all(lf->mirror_fd, data, len);
    if (lf->fd < 0 && reopen(lf) < 0)
        return;
    for (int attempt = 0; attempt < ROTATE_ATTEMPTS; attempt++) {
        struct stat st;
        if (fstat(lf->fd, &st) < 0)
            return;
        if (!still_current(lf, &st)) {
            if (reopen(lf) < 0)
                return;
            continue;
        }
        if (st.st_size == 0 || (size_t)st.st_size + len <= lf->max_bytes)
            break;
        /* writers of this file serialize on a description of their own (a forked child
         * shares lf->fd, and flock does not exclude sharers); whoever comes second finds
         * the file rotated already */
        int lock_fd = open(lf->path, O_RDONLY | O_CLOEXEC);
        if (lock_fd >= 0) {
            flock(lock_fd, LOCK_EX);
            if (still_current(lf, &st))
                rename(lf->path, lf->rotated);
            close(lock_fd);
        }
        if (reopen(lf) < 0)
            return;
    }
    write_all(lf->fd, data, len);
}

static void emit_line(struct log_file *lf, const struct log_time *now, const char *body, size_t len)
{
    char stamp[32];
    struct tm tm;
    gmtime_r(&now->real.tv_sec, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
    _cleanup_buf_ struct buf line = BUF_INIT;
    buf_printf(&line, "%s.%03ldZ ", stamp, now->real.tv_nsec / 1000000);
    buf_append(&line, body, len);
    buf_append_char(&line, '\n');
    emit(lf, line.data, line.len);
}

/* As rsyslog: the summary names its line, since other writers of the file may have written
 * between the two. */
static void emit_summary(struct log_file *lf, const struct log_time *now)
{
    _cleanup_buf_ struct buf body = BUF_INIT;
    buf_printf(&body, "message repeated %lu times: [%s]", lf->repeats, lf->last);
    emit_line(lf, now, body.data, body.len);
    lf->repeats = 0;
    lf->run_start_ms = now->mono_ms;
}

/* LOG_FILE_MAX_BYTES, or a smaller cap from the environment (tests rotate without writing
 * megabytes); never a larger one. */
static size_t default_max_bytes(void)
{
    const char *env = getenv(LOG_FILE_MAX_BYTES_ENV);
    if (!env)
        return LOG_FILE_MAX_BYTES;
    long long v;
    if (parse_ll(env, LOG_FILE_MIN_BYTES, LOG_FILE_MAX_BYTES, 0, &v) < 0)
        return LOG_FILE_MAX_BYTES;
    return (size_t)v;
}

int log_file_open(struct log_file *lf, const char *path, const struct log_file_opts *opts,
                  struct qerror *err)
{
    memset(lf, 0, sizeof(*lf));
    lf->path = xstrdup(path);
    lf->rotated = xasprintf("%s.1", path);
    lf->fd = -1;
    lf->max_bytes = opts && opts->max_bytes ? opts->max_bytes : default_max_bytes();
    lf->mirror_fd = opts ? opts->mirror_fd : -1;
    lf->stdio_follows = opts && opts->stdio_follows;
    if (reopen(lf) < 0)
        return qerror_errno(err, errno, "open %s", path);
    return 0;
}

void log_file_close(struct log_file *lf)
{
    if (!lf->path)
        return;
    if (lf->repeats) {
        struct log_time now;
        log_time_now(&now);
        emit_summary(lf, &now);
    }
    if (lf->fd >= 0)
        close(lf->fd);
    free(lf->path);
    free(lf->rotated);
    free(lf->last);
    memset(lf, 0, sizeof(*lf));
    lf->fd = -1;
    lf->mirror_fd = -1;
}

void log_file_line_at(struct log_file *lf, const char *body, size_t len, const struct log_time *now)
{
    _cleanup_free_ char *cut = NULL;
    if (len > LOG_LINE_MAX) {
        cut = log_cut_n(body, len, LOG_LINE_MAX);
        body = cut;
        len = strlen(cut);
    }
    long window_ms = LOG_REPEAT_WINDOW_S * 1000L;
    bool window_over = now->mono_ms - lf->run_start_ms >= window_ms;
    if (lf->last && strlen(lf->last) == len && memcmp(lf->last, body, len) == 0 &&
        (lf->repeats > 0 || !window_over)) {
        lf->repeats++;
        if (window_over)
            emit_summary(lf, now);
        return;
    }
    if (lf->repeats)
        emit_summary(lf, now);
    emit_line(lf, now, body, len);
    free(lf->last);
    lf->last = xstrndup(body, len);
    lf->run_start_ms = now->mono_ms;
}

void log_file_line(struct log_file *lf, const char *body, size_t len)
{
    struct log_time now;
    log_time_now(&now);
    log_file_line_at(lf, body, len, &now);
}

long log_file_tick_at(struct log_file *lf, const struct log_time *now)
{
    if (!lf->repeats)
        return -1;
    long left = LOG_REPEAT_WINDOW_S * 1000L - (long)(now->mono_ms - lf->run_start_ms);
    if (left > 0)
        return left;
    emit_summary(lf, now);
    return -1;
}

long log_file_tick(struct log_file *lf)
{
    struct log_time now;
    log_time_now(&now);
    return log_file_tick_at(lf, &now);
}

void log_file_after_fork(struct log_file *lf)
{
    free(lf->last);
    lf->last = NULL;
    lf->repeats = 0;
    lf->fd = -1; /* not closed: it may not be ours any more */
}
