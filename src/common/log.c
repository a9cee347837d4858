/* Logging for the daemons: timestamped lines to stderr and to a log file. */
#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

static FILE *log_file;
static enum log_level min_level = LOG_INFO;

void log_open_file(const char *path)
{
    FILE *f = fopen(path, "ae");
    if (!f)
        return;
    setvbuf(f, NULL, _IOLBF, 0);
    log_file = f;
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
    char stamp[32];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);

    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);

    fprintf(stderr, "%s.%03ldZ %s %s\n", stamp, ts.tv_nsec / 1000000, level_name(level), line);
    if (log_file)
        fprintf(log_file, "%s.%03ldZ %s %s\n", stamp, ts.tv_nsec / 1000000, level_name(level),
                line);
}
