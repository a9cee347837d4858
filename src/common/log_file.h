/* A log file in dom0 that a qube cannot grow without bound: each line is cut to a maximum,
 * a line equal to the one before is counted instead of written (rsyslog's "message repeated
 * N times: [line]"), and the file is rotated once (PATH -> PATH.1) before it passes a cap.
 * Several processes may write one file: each checks, under a lock, whether another one
 * rotated it first. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common/error.h"

/* One file; with its PATH.1 a log takes at most twice this (plus a line per writer). */
#define LOG_FILE_MAX_BYTES (8u * 1024u * 1024u)
/* A smaller cap for tests, LOG_FILE_MIN_BYTES..LOG_FILE_MAX_BYTES (anything else is
 * ignored), inherited by the daemons qubesd starts. */
#define LOG_FILE_MAX_BYTES_ENV "QUBICLE_LOG_MAX_BYTES"
#define LOG_FILE_MIN_BYTES 4096u
/* A run of repeated lines is summed up when it ends, and at least this often while it lasts
 * (sysklogd's interval). */
#define LOG_REPEAT_WINDOW_S 30
/* A longer line body (after the timestamp) is cut and marked. */
#define LOG_LINE_MAX 4096u
/* What marks a cut; the full length in bytes follows it. */
#define LOG_CUT_MARK "\xe2\x80\xa6(cut, "

struct log_time {
    struct timespec real; /* CLOCK_REALTIME: the stamp on the line */
    int64_t mono_ms;      /* mono_ms(): the repeat window */
};

struct log_file {
    char *path;
    char *rotated; /* PATH.1 */
    int fd;        /* -1 while it cannot be opened (retried at each line) */
    size_t max_bytes;
    int mirror_fd;         /* every line also goes here, uncapped (-1: nowhere) */
    bool stdio_follows;    /* fds 1 and 2 are kept pointing at the current file */
    char *last;            /* the body of the last line written; NULL before the first */
    unsigned long repeats; /* lines equal to last since it (or its last summary) */
    int64_t run_start_ms;  /* mono_ms() of last, or of its last summary */
};

struct log_file_opts {
    size_t max_bytes;   /* 0: LOG_FILE_MAX_BYTES, or the smaller one of the environment */
    int mirror_fd;      /* -1: none */
    bool stdio_follows; /* dup the file onto fds 1 and 2 whenever it is (re)opened */
};

/* Opens (creates) path for appending. -1 with err set if it cannot be opened now; the
 * log_file is usable anyway and retries at each line. */
int log_file_open(struct log_file *lf, const char *path, const struct log_file_opts *opts,
                  struct qerror *err);
/* Writes a pending summary and closes. */
void log_file_close(struct log_file *lf);

/* Appends "STAMP BODY\n" (body without newline, cut to LOG_LINE_MAX), or counts it when it
 * equals the previous body. */
void log_file_line(struct log_file *lf, const char *body, size_t len);
void log_file_line_at(struct log_file *lf, const char *body, size_t len,
                      const struct log_time *now);

/* Writes the summary of a run of repeats whose window is over. Returns the milliseconds
 * until the next summary is due, or -1 when no repeats are pending. */
long log_file_tick(struct log_file *lf);
long log_file_tick_at(struct log_file *lf, const struct log_time *now);

/* In a forked child that shares lf with its parent: forget the parent's pending repeats
 * (they are the parent's to sum up) without writing anything, and the parent's descriptor,
 * which the child may have closed (close_range) and whose number may be another file's by
 * now: the file is opened anew at the next line. */
void log_file_after_fork(struct log_file *lf);

void log_time_now(struct log_time *t);

/* A string from a qube, as a log line shows it: itself if it has at most max bytes, else
 * its first max bytes followed by LOG_CUT_MARK "N bytes)" with N its whole length. Heap. */
char *log_cut(const char *untrusted, size_t max);
char *log_cut_n(const char *untrusted, size_t len, size_t max);
