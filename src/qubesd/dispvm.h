/* Disposables (qubes/vm/dispvm.py): disp<N> made from a disposable template,
 * removed with everything they had when they stop (auto_cleanup), and what a
 * killed qubesd left of them removed at the next start. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "qubesd/app.h"

/* The disposable template a request names must have template_for_dispvms
 * (upstream from_appvm: QubesException otherwise). */
int dispvm_check_template(const struct app *app, const struct qube *dvm, struct qerror *err);

/* Before a disposable starts: its template must still be a disposable
 * template (dispvm.py start). 0 for any other qube. */
int dispvm_check_start(const struct app *app, const struct qube *q, struct qerror *err);

/* A random unused dispid in [0, 10000), as get_new_unused_dispid draws it, or -1. */
int dispvm_new_dispid(const struct app *app);

/* What a new disposable takes over from its template, in memory, before it
 * is stored: every clonable property the template has set and q still has at
 * default, the firewall rules, the features but preload-dispvm*, the tags but
 * created-by-*. */
void dispvm_clone_template(const struct app *app, struct qube *q, const struct qube *dvm);

/* Creates, stores and announces (domain-add) disp<N> of dvm with
 * auto_cleanup=True. src, when not NULL, is the qube that asked for it
 * (tags created-by-<src>, disp-created-by-<src>); the extra features are set
 * on it from the start (a preloaded one's internal=1). */
int dispvm_create(struct app *app, struct qube *dvm, const struct qube *src,
                  const struct kv *features, size_t n_features, struct qube **out,
                  struct qerror *err);

/* Removes q if it is a halted auto_cleanup disposable; true if it did (q is
 * freed then). Called when a qube stopped or failed to start. */
bool dispvm_cleanup(struct app *app, struct qube *q);

/* The disposables' handlers on the event bus: a start of a disposable whose
 * template is no disposable template any more is refused, and an
 * auto_cleanup disposable that stopped or could not start is removed
 * (dispvm_cleanup) right after the event-loop callback that announced it. */
struct dispvm_events;
struct dispvm_events *dispvm_events_open(struct app *app);
void dispvm_events_close(struct dispvm_events *d);

/* At qubesd start, once running qubes are reattached: removes every halted
 * auto_cleanup disposable, then image directories of disposables the store
 * no longer has (a kill -9 between the images and the store row). */
void dispvm_startup_sweep(struct app *app);
