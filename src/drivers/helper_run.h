/* A running qube as both drivers hold it: one dom0 helper process per qube
 * (qubes-sandbox, qubes-vm), watched through a pidfd, steered with signals
 * (SIGTERM: shut down, SIGUSR1: kill) and the qube's cgroups, found again
 * after a qubesd restart through the helper's state file. Both helpers get
 * the same descriptors: the qrexec channel on 3, a status pipe on 4 (why a
 * start failed), the qubesdb channel on 5. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "common/error.h"
#include "drivers/driver.h"

struct qube_run {
    pid_t launcher;
    int pidfd;
    int status_fd; /* why the helper could not start the qube; -1 after a reattach */
    bool child;    /* started by this qubesd (else found again after a restart) */
    char *name;
    char *tag;
};

/* A helper's command line. */
struct helper_cmd {
    const char *argv[40];
    size_t n;
    const char *driver;
    char *state_dir;
    char num[5][24]; /* the numbers argv points into */
};

/* run/qubes/<driver>/<name>, the helper's state directory (heap). */
char *helper_state_dir(const char *driver, const char *name);

/* The options both helpers take, from the launch: name, qid, tag, state
 * directory, images, volatile size, memory, vcpus. */
void helper_cmd_init(struct helper_cmd *cmd, const char *driver, const char *program_path,
                     const struct qube_launch *l);
void helper_cmd_add(struct helper_cmd *cmd, const char *arg);
void helper_cmd_free(struct helper_cmd *cmd);

/* Starts the helper of cmd for the launch. */
int helper_start(const struct helper_cmd *cmd, const struct qube_launch *l, struct qube_run **out,
                 struct qerror *err);

/* A helper left running by an earlier qubesd: trusted only if the state
 * file's launcher pid really is `program`, for this qube on this root. */
struct qube_run *helper_reattach(const char *driver, const char *program, const char *name,
                                 const char *tag);
/* The pid after key= in the helper's state file ("launcher", "init"...),
 * if the file is this run's; else 0. */
pid_t helper_state_pid(const char *driver, const struct qube_run *run, const char *key);

int helper_signal(struct qube_run *run, int sig, struct qerror *err);
int helper_freeze(struct qube_run *run, bool frozen, struct qerror *err);
int helper_stats(struct qube_run *run, struct driver_stats *out, struct qerror *err);
int helper_exit_fd(struct qube_run *run);
/* After exit: the outcome, the leftover cgroups removed, the handle freed. */
int helper_reap(struct qube_run *run, struct qerror *err);
void helper_release(struct qube_run *run);
