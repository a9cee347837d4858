/* One line per event, "key=value" style, to stderr or to a capped, rotating log file. */
#pragma once

#include <stdbool.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERROR };

enum log_file_mode {
    LOG_FILE_AND_STDERR, /* lines go to the file and, as before, to stderr (qubesd) */
    LOG_FILE_IS_STDERR,  /* lines go to the file only; fds 1 and 2 follow it across rotations,
                            so what other code writes there lands in it too (qrexec-daemon) */
};

/* From now on lines go to path, capped and rotated (common/log_file.h), repeats collapsed.
 * A file that cannot be opened is retried at each line. */
void log_open_file(const char *path, enum log_file_mode mode);
/* Sums up pending repeats and closes the file. */
void log_close(void);
/* Writes a due "repeated" summary; the milliseconds until the next is due, or -1. */
long log_tick(void);
/* In a forked child of a process with a log file, once it closed what it does not keep:
 * the parent's pending repeats stay the parent's, and the child opens the file anew (the
 * descriptor it inherited may be closed, its number reused). */
void log_after_fork(void);

void log_set_level(enum log_level level);
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warning(...) log_msg(LOG_WARNING, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
