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

struct dispvm_pool;

/* Sets up the pools on the daemon's loop and subscribes them to the event
 * bus; at start, after the sweep of halted disposables: preloaded ones still
 * running are kept if they were ready, else retired, and the pools are
 * refilled. */
struct dispvm_pool *dispvm_pool_open(struct app *app);
void dispvm_pool_close(struct dispvm_pool *pool);

/* A refill pass soon (admin.vm.CreateDisposable+preload). pool may be NULL. */
void dispvm_pool_kick(struct dispvm_pool *pool);
/* A disposable was just handed out: refill, but let its caller's next calls
 * go first. */
void dispvm_pool_handed_out(struct dispvm_pool *pool);

/* A ready preloaded disposable of dvm for src: taken out of the pool, marked
 * used (internal and preload-dispvm-in-progress removed, created-by tags),
 * unpaused. NULL when none is ready (or pool is NULL). */
struct qube *dispvm_pool_take(struct dispvm_pool *pool, struct qube *dvm, const struct qube *src);
