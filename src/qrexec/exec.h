/* Starting the process of a qrexec call: pipes or /dev/null for its stdio, the switch to the
 * requested user (from the qube's own /etc/passwd), a clean signal state, and a report of
 * whether execve succeeded. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "common/error.h"

struct qrexec_child {
    pid_t pid;
    int stdin_fd;  /* we write; -1 with null_stdio */
    int stdout_fd; /* we read */
    int stderr_fd; /* we read; -1 when stderr_inherit */
};

struct qrexec_spawn_opts {
    const char *user; /* NULL: stay who we are */
    const char *path; /* program to execve */
    char *const *argv;
    char *const *envp;   /* NULL: the current environment */
    bool null_stdio;     /* stdio on /dev/null and the process detached (MSG_JUST_EXEC) */
    bool stderr_inherit; /* keep our stderr (qrexec-client -l) */
    bool search_path;    /* path without '/' is looked up in PATH (execvpe) */
};

/* Forks and execs. Returns 0 and fills child when execve succeeded; returns the exit code the
 * call should report (125 problem, 127 not found) when the child could not get that far
 * (it has then been reaped). -1 on a local failure (err set). */
int qrexec_spawn(const struct qrexec_spawn_opts *opts, struct qrexec_child *child,
                 struct qerror *err);

/* WEXITSTATUS, or 128 + signal, as upstream reports a status. */
int qrexec_status_to_code(int status);
