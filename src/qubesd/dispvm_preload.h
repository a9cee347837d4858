/* Preloaded disposables (qubes/vm/dispvm.py, mix/dvmtemplate.py): feature
 * preload-dispvm-max on a disposable template (or on dom0 for the global
 * default_dispvm) keeps that many of its disposables started, paused and
 * hidden (internal=1), refilled in the background, one start at a time per
 * template. The template's feature preload-dispvm lists them, oldest first;
 * each carries preload-dispvm-in-progress until it is handed out and
 * preload-dispvm-completed once it is paused and ready. */
#pragma once

#include <stddef.h>

#include "qubesd/app.h"

/* Sets up app->dispvm_pool on the daemon's loop; at start, after the sweep
 * of halted disposables: preloaded ones still running are kept if they were
 * ready, else retired, and the pools are refilled. */
void dispvm_pool_open(struct app *app);
void dispvm_pool_close(struct app *app);

/* Every event of the model passes here; the pool only schedules a refill
 * pass on the loop, never works inside the event. */
void dispvm_pool_on_event(struct app *app, const struct qube *subject, const char *event);
/* A refill pass soon (admin.vm.CreateDisposable+preload). */
void dispvm_pool_kick(struct app *app);
/* A disposable was just handed out: refill, but let its caller's next calls
 * go first. */
void dispvm_pool_handed_out(struct app *app);

/* A ready preloaded disposable of dvm for src: taken out of the pool, marked
 * used (internal and preload-dispvm-in-progress removed, created-by tags),
 * unpaused. NULL when none is ready. */
struct qube *dispvm_pool_take(struct app *app, struct qube *dvm, const struct qube *src);

/* admin.vm.feature.Set of preload-dispvm-max on q: refused on a qube that
 * can never be a disposable template, and for a value that is not a
 * non-negative integer. */
int dispvm_pool_check_feature(const struct app *app, const struct qube *q, const char *feature,
                              const char *untrusted_value, size_t len, struct qerror *err);
