/* The domain id (Qubes' xid) and start time of a running qube: what Xen gives
 * a domain and libxl records, kept in the model while the qube runs. */
#pragma once

#include "common/buf.h"
#include "qubesd/app.h"

/* Xen's highest ordinary domid (DOMID_FIRST_RESERVED - 1). */
#define XID_MAX 32751

/* q starts to run: it gets the next xid no running qube of app holds (never
 * 0, which is dom0's), counting on from the last one handed out as Xen does,
 * and now as its start time. */
void qube_run_begin(struct app *app, struct qube *q);
/* q stopped: xid and start time are gone (xid -1, start_time None again). */
void qube_run_end(struct qube *q);
/* A running qube's xid and start time outlive qubesd in run/qubes/xid.<name>, as
 * a Xen domain keeps its domid when qubesd restarts (the network names a qube's
 * vif after its xid). Save writes them (removes the file once q stopped);
 * resume, for a qube a new qubesd finds running, takes them up again, or gives
 * the qube a new xid when the file is missing, malformed or its xid taken. */
void qube_run_save(const struct qube *q);
void qube_run_resume(struct app *app, struct qube *q);
/* property-reset:xid and property-reset:start_time, as qubesvm.py fires them
 * when the domain is created and when it stopped. */
void qube_run_announce(struct app *app, const struct qube *q);
/* The start_time property: libxl's "<seconds>.<centiseconds>" as Python's
 * str(float(...)) prints it ("1700000000.5"); nothing while halted. */
void qube_start_time_text(const struct qube *q, struct buf *out);
