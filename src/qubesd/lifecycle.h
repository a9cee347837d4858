/* Qubes that run: power states, start (netvm chain first, then storage, the
 * driver, and qrexec-daemon until the agent says HELLO), shutdown with
 * shutdown_timeout, kill, pause and unpause, and the events of each step.
 * Everything waits on the daemon's loop; no call blocks another. */
#pragma once

#include <stdbool.h>

#include "common/buf.h"
#include "common/error.h"
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

/* Told once when an operation that waits is over: err NULL on success
 * (the qube is up, or down). */
typedef void (*lifecycle_done_fn)(struct app *app, void *ctx, const struct qerror *err);

/* Each calls done(app, ctx, err) when the operation is over (done may be
 * NULL); on an immediate refusal they return -1 with err set, and done is
 * not called. A start that fails fires domain-start-failed; a qube that
 * stops fires domain-shutdown once its waiters were told. What follows (an
 * auto_cleanup disposable's removal) is a subscriber's, run after the
 * current event-loop callback: callers may use q until they return. */
int lifecycle_start(struct app *app, struct qube *q, lifecycle_done_fn done, void *ctx,
                    struct qerror *err);
/* Without wait, done is called as soon as the qube was asked to stop. */
int lifecycle_shutdown(struct app *app, struct qube *q, bool force, bool wait,
                       lifecycle_done_fn done, void *ctx, struct qerror *err);
int lifecycle_kill(struct app *app, struct qube *q, lifecycle_done_fn done, void *ctx,
                   struct qerror *err);
int lifecycle_pause(struct app *app, struct qube *q, bool pause, struct qerror *err);
/* qubesd's connection to a running qube's dom0 qubesdb (qubesdb_link.h);
 * NULL with err set when it is not running or the daemon is unreachable. */
struct qdb_client;
struct qdb_client *lifecycle_qubesdb(struct qube *q, struct qerror *err);
/* A descriptor of a running qube's network namespace (for its links). */
int lifecycle_netns_fd(const struct qube *q, struct qerror *err);
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
