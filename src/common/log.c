/* Logging for the daemons: timestamped lines to stderr, or to a capped log file. */
#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/log_file.h"

/* One message, its level included; longer ones are cut and marked. */
#define LOG_MSG_MAX 2048

static struct log_file log_file = { .fd = -1, .mirror_fd = -1 };
static bool log_file_on;
static enum log_level min_level = LOG_INFO;

void log_open_file(const char *path, enum log_file_mode mode)
{
    log_close();
    struct log_file_opts opts = {
        .mirror_fd = mode == LOG_FILE_AND_STDERR ? STDERR_FILENO : -1,
        .stdio_follows = mode == LOG_FILE_IS_STDERR,
    };
    struct qerror err = { 0 };
    if (log_file_open(&log_file, path, &opts, &err) < 0)
        fprintf(stderr, "log: %s (retried at each line)\n", err.message);
    log_file_on = true;
}

void log_close(void)
{
    if (log_file_on)
        log_file_close(&log_file);
    log_file_on = false;
}

long log_tick(void)
{
    return log_file_on ? log_file_tick(&log_file) : -1;
}

void log_after_fork(void)
{
    if (log_file_on)
        log_file_after_fork(&log_file);
}

void log_set_level(enum log_level level)
{
    min_level = level;
}

static const char *level_name(enum log_level level)
{
    switch (level) {
    case LOG_DEBUG: return "debug";
    case LOG_INFO: return "info";
    case LOG_WARNING: return "warning";
    case LOG_ERROR: return "error";
    }
    return "?";
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    if (level < min_level)
        return;
    char line[LOG_MSG_MAX];
    int n = snprintf(line, sizeof(line), "%s ", level_name(level));
    va_list ap;
    va_start(ap, fmt);
    int full = vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    va_end(ap);
    /* a message that did not fit says so, as log_cut does */
    char mark[48];
    int m = snprintf(mark, sizeof(mark), LOG_CUT_MARK "%d bytes)", full);
    if (full >= 0 && (size_t)full >= sizeof(line) - (size_t)n)
        memcpy(line + sizeof(line) - 1 - m, mark, (size_t)m + 1);

    if (log_file_on) {
        log_file_line(&log_file, line, strlen(line));
        return;
    }
    char stamp[32];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
    fprintf(stderr, "%s.%03ldZ %s\n", stamp, ts.tv_nsec / 1000000, line);
}
