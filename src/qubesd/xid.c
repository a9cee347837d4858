/* Domain ids and start times of running qubes. A qube on the sandbox driver has
 * no Xen domain; it gets an id of the same kind: its own while it runs, unique
 * among the running qubes of this qubesd, handed out in increasing order and
 * reused only after the counter wraps, so a stale id rarely names another qube. */
#include "qubesd/xid.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "common/root.h"
#include "qubesd/events.h"

static bool xid_in_use(const struct app *app, int xid)
{
    for (size_t i = 0; i < app->n_qubes; i++)
        if (app->qubes[i]->xid == xid)
            return true;
    return false;
}

void qube_run_begin(struct app *app, struct qube *q)
{
    int xid = app->last_xid;
    /* fewer qubes than ids (qids stop at 9999): one is always free */
    for (int tries = 0; tries < XID_MAX; tries++) {
        xid = xid >= XID_MAX || xid < 1 ? 1 : xid + 1;
        if (!xid_in_use(app, xid))
            break;
    }
    app->last_xid = xid;
    q->xid = xid;
    clock_gettime(CLOCK_REALTIME, &q->started);
}

void qube_run_end(struct qube *q)
{
    q->xid = 0;
    q->started = (struct timespec){ 0 };
}

static char *xid_file(const struct qube *q)
{
    _cleanup_free_ char *rel = xasprintf("run/qubes/xid.%s", q->name);
    return qroot_path(rel);
}

void qube_run_save(const struct qube *q)
{
    _cleanup_free_ char *path = xid_file(q);
    if (q->xid <= 0) {
        unlink(path);
        return;
    }
    FILE *f = fopen(path, "we");
    bool ok = f && fprintf(f, "%d %lld %ld\n", q->xid, (long long)q->started.tv_sec,
                           q->started.tv_nsec) > 0;
    if (f && fclose(f) != 0)
        ok = false;
    if (!ok)
        log_warning("qube=%s op=xid file=%s result=error: %s", q->name, path, strerror(errno));
}

void qube_run_resume(struct app *app, struct qube *q)
{
    _cleanup_free_ char *path = xid_file(q);
    _cleanup_fclose_ FILE *f = fopen(path, "re");
    int xid;
    long long sec;
    long nsec;
    if (!f || fscanf(f, "%d %lld %ld", &xid, &sec, &nsec) != 3 || xid < 1 || xid > XID_MAX ||
        sec < 0 || nsec < 0 || nsec > 999999999 || xid_in_use(app, xid)) {
        qube_run_begin(app, q);
        qube_run_save(q);
        return;
    }
    q->xid = xid;
    q->started = (struct timespec){ .tv_sec = (time_t)sec, .tv_nsec = nsec };
    if (xid > app->last_xid)
        app->last_xid = xid;
}

void qube_run_announce(struct app *app, const struct qube *q)
{
    static const char *const key[] = { "name" };
    static const char *const xid[] = { "xid" }, *const start_time[] = { "start_time" };
    app_fire(app, q, "property-reset:xid", 1, key, xid);
    app_fire(app, q, "property-reset:start_time", 1, key, start_time);
}

void qube_start_time_text(const struct qube *q, struct buf *out)
{
    if (q->xid <= 0)
        return;
    /* libxl writes centiseconds; Python prints the float without trailing zeros */
    int cs = (int)(q->started.tv_nsec / 10000000);
    long long s = (long long)q->started.tv_sec;
    if (cs % 10 == 0)
        buf_printf(out, "%lld.%d", s, cs / 10);
    else
        buf_printf(out, "%lld.%02d", s, cs);
}
