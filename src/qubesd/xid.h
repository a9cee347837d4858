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
/* property-reset:xid and property-reset:start_time, as qubesvm.py fires them
 * when the domain is created and when it stopped. */
void qube_run_announce(struct app *app, const struct qube *q);
/* The start_time property: libxl's "<seconds>.<centiseconds>" as Python's
 * str(float(...)) prints it ("1700000000.5"); nothing while halted. */
void qube_start_time_text(const struct qube *q, struct buf *out);
