/* Qubes that run: power states, start (netvm chain first, then storage, the
 * driver, and qrexec-daemon until the agent says HELLO), shutdown with
 * shutdown_timeout, kill, pause and unpause, and the events of each step.
 * Everything waits on the daemon's loop; no call blocks another. */
#pragma once

#include <stdbool.h>

#include "qubesd/api.h"
#include "qubesd/app.h"

enum power_state {
    POWER_HALTED,
    POWER_TRANSIENT, /* started, agent not connected yet */
    POWER_RUNNING,
    POWER_PAUSED,
    POWER_HALTING,
    POWER_DYING,
};

enum power_state qube_power(const struct qube *q);
const char *power_state_name(enum power_state s);

/* Each takes the reply of the calling API request (or NULL) and answers it
 * when the operation is over; on an immediate refusal they return -1 with
 * err set and the reply untouched. An auto_cleanup disposable that stops, or
 * fails to start, is removed before its waiters are told (so after a Kill
 * answered nothing of it remains); q must not be used after a failed start. */
int lifecycle_start(struct app *app, struct qube *q, struct api_reply *reply,
                    struct qerror *err);
/* The same for qubesd's own starts: then(app, ctx, err) is told the outcome
 * (err NULL: running), unless this returns -1. */
int lifecycle_start_then(struct app *app, struct qube *q,
                         void (*then)(struct app *app, void *ctx, const struct qerror *err),
                         void *ctx, struct qerror *err);
int lifecycle_shutdown(struct app *app, struct qube *q, bool force, bool wait,
                       struct api_reply *reply, struct qerror *err);
int lifecycle_kill(struct app *app, struct qube *q, struct api_reply *reply,
                   struct qerror *err);
int lifecycle_pause(struct app *app, struct qube *q, bool pause, struct qerror *err);
/* "mem=... mem_static_max=... cputime=... power_state=..." */
void lifecycle_current_state(const struct app *app, const struct qube *q, struct buf *out);

/* One vm-stats sample of a running qube: memory in KiB, CPU time in ms, and
 * CPU usage in percent since the previous sample. False if not running. */
struct qube_sample {
    long long memory_kb;
    long long cpu_time_ms;
    int cpu_usage;
    int online_vcpus;
};
bool lifecycle_sample(const struct app *app, struct qube *q, struct qube_sample *out);

/* At qubesd start: qubes left running by an earlier qubesd are found again
 * (their helpers survive a restart). */
void lifecycle_reattach_all(struct app *app);

/* At qubesd exit: the qubes go on (as VMs outlive Qubes' qubesd); what
 * qubesd holds of them is freed. */
void lifecycle_release_all(struct app *app);
