/* The pools of preloaded disposables: a refill pass on the loop that
 * reconciles each template's list with the qubes that exist, retires extras
 * and outdated ones, and starts the next preload; handing a ready one out. */
#include "common/mono_time.h"
#include "common/parse.h"
#include "qubesd/dispvm_preload.h"
#include "qubesd/events.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "common/loop.h"
#include "common/names.h"
#include "qubesd/dispvm.h"
#include "qubesd/lifecycle.h"
#include "qubesd/change.h"
#include "qubesd/property.h"

#define PRELOAD_MAX 32             /* disposables one pool holds, whatever the feature says */
#define LIST_MAX (PRELOAD_MAX * 2) /* names read from a preload-dispvm value */
#define RETRY_MS 10000             /* a pool whose preload failed waits this long */
/* After a disposable was handed out, its caller's next calls (Start, the
 * service call, Kill) come first: a refill start waits this long. */
#define QUIET_MS 300

#define F_LIST "preload-dispvm"
#define F_MAX "preload-dispvm-max"
#define F_IN_PROGRESS "preload-dispvm-in-progress"
#define F_COMPLETED "preload-dispvm-completed"

/* A preload start under way: what its callback needs to find again. */
struct preload_start {
    struct dispvm_pool *pool;
    char template[32];
    char dispvm[32];
    int64_t began_ms; /* mono_ms() */
    struct preload_start *next;
};

struct dispvm_pool {
    struct app *app;
    struct event_subscriber events; /* its end of the bus */
    struct loop_watch timer;        /* the next refill pass */
    long long due_ms;               /* when it runs; 0 = not armed */
    struct str_set stale;           /* shut down since: the volumes preloaded ones use are old */
    struct kv_list retry_after;     /* template -> monotonic ms before its next preload */
    long long quiet_until_ms;       /* no preload starts before (QUIET_MS) */
    struct preload_start *starts;
};

struct names {
    size_t n;
    char v[LIST_MAX][32];
};

static bool preloaded(const struct qube *d)
{
    /* set at creation, removed when handed out: a preloaded, unused one */
    return d->cls == QUBE_DISPVM && kv_has(&d->features, F_IN_PROGRESS);
}

static bool completed(const struct qube *d)
{
    const char *v = kv_get(&d->features, F_COMPLETED);
    return v && *v;
}

/* A qube class that has template_for_dispvms (AppVM, StandaloneVM). */
static bool may_be_template(const struct qube *t)
{
    return prop_find(t->cls, "template_for_dispvms") != NULL;
}

static void read_list(const struct qube *t, struct names *out)
{
    out->n = 0;
    const char *v = kv_get(&t->features, F_LIST);
    while (v && *v && out->n < LIST_MAX) {
        size_t len = strcspn(v, " ");
        if (len > 0 && len < sizeof(out->v[0]))
            snprintf(out->v[out->n++], sizeof(out->v[0]), "%.*s", (int)len, v);
        v += len;
        v += strspn(v, " ");
    }
}

static bool list_has(const struct names *l, const char *name)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i], name) == 0)
            return true;
    return false;
}

static char *list_join(const struct names *l)
{
    struct buf b = BUF_INIT;
    buf_append_str(&b, "");
    for (size_t i = 0; i < l->n; i++)
        buf_printf(&b, "%s%s", i ? " " : "", l->v[i]);
    return buf_steal(&b);
}

/* The list of t becomes l (queued in c). */
static void set_list(struct change_batch *c, struct qube *t, const struct names *l)
{
    _cleanup_free_ char *value = list_join(l);
    const char *cur = kv_get(&t->features, F_LIST);
    if (!cur && l->n == 0)
        return;
    change_feature(c, t, F_LIST, value);
}

static void apply_or_log(struct app *app, struct change_batch *c, const char *what)
{
    struct qerror err = { 0 };
    if (change_apply(app, c, &err) < 0)
        log_error("op=preload-%s result=error: %s", what, err.message);
}

/* Takes name out of the list of t (stored at once). */
static void list_remove(struct app *app, struct qube *t, const char *name)
{
    struct names l, keep = { 0 };
    read_list(t, &l);
    for (size_t i = 0; i < l.n; i++)
        if (strcmp(l.v[i], name) != 0)
            snprintf(keep.v[keep.n++], sizeof(keep.v[0]), "%s", l.v[i]);
    if (keep.n == l.n)
        return;
    struct change_batch c = { 0 };
    set_list(&c, t, &keep);
    apply_or_log(app, &c, "list");
}

/* Handing out marks it used: internal off (unless its template is internal
 * itself) and preload-dispvm-in-progress gone. */
static void mark_used(struct change_batch *c, struct qube *d, const struct qube *t)
{
    if (!kv_has(&t->features, "internal"))
        change_feature(c, d, "internal", NULL);
    change_feature(c, d, F_IN_PROGRESS, NULL);
}

/* ---- the pass ---- */

static void refill_pass(struct loop_watch *w, uint32_t events);

static void arm(struct dispvm_pool *pool, long ms)
{
    long long due = mono_ms() + ms;
    if (pool->due_ms && pool->due_ms <= due)
        return;
    loop_timer_cancel(pool->app->loop, &pool->timer);
    pool->due_ms = 0;
    if (loop_timer_start(pool->app->loop, &pool->timer, ms, refill_pass, pool) == 0)
        pool->due_ms = due;
    else
        log_error("op=preload-timer result=error");
}

void dispvm_pool_kick(struct dispvm_pool *pool)
{
    if (pool)
        arm(pool, 0);
}

void dispvm_pool_handed_out(struct dispvm_pool *pool)
{
    if (!pool)
        return;
    pool->quiet_until_ms = mono_ms() + QUIET_MS;
    arm(pool, 0);
}

/* preload-dispvm-max that applies to t: dom0's for the global default_dispvm
 * when dom0 has it, else t's own (get_feat_preload_max). */
static long long effective_max(const struct app *app, const struct qube *t)
{
    if (!may_be_template(t) || !prop_value_bool(app, t, "template_for_dispvms"))
        return 0;
    const struct qube *dom0 = app_dom0(app);
    const char *v =
        prop_value_qube(app, NULL, "default_dispvm") == t && kv_has(&dom0->features, F_MAX)
            ? kv_get(&dom0->features, F_MAX)
            : kv_get(&t->features, F_MAX);
    long long n;
    if (!v || !*v || parse_ll(v, 0, LLONG_MAX, 0, &n) < 0)
        return 0;
    return n > PRELOAD_MAX ? PRELOAD_MAX : n;
}

/* A preloaded disposable goes: killed (auto_cleanup removes it once down),
 * or removed at once if it is not running. */
static void retire(struct app *app, const char *name, const char *why)
{
    struct qube *d = app_find(app, name);
    if (!d)
        return;
    log_info("qube=%s op=preload-retire reason=%s", name, why);
    struct qerror err = { 0 };
    if (d->runtime) {
        if (lifecycle_kill(app, d, NULL, NULL, &err) < 0)
            log_warning("qube=%s op=preload-retire result=error: %s", name, err.message);
    } else {
        dispvm_cleanup(app, d);
    }
}

static bool starting(const struct dispvm_pool *pool, const char *name)
{
    for (const struct preload_start *s = pool->starts; s; s = s->next)
        if (strcmp(s->dispvm, name) == 0)
            return true;
    return false;
}

/* Retires every preloaded disposable of t. */
static void retire_all(struct app *app, struct qube *t, const char *why)
{
    struct names l, none = { 0 };
    read_list(t, &l);
    if (l.n == 0)
        return;
    struct change_batch c = { 0 };
    set_list(&c, t, &none);
    apply_or_log(app, &c, why);
    /* retire may remove a halted one at once: names only from here */
    for (size_t k = 0; k < l.n; k++)
        retire(app, l.v[k], why);
}

/* Templates whose disposables' volumes come from a qube that shut down
 * since (dvmtemplate refresh_outdated_preload): all of theirs go. */
static void retire_outdated(struct dispvm_pool *pool)
{
    struct app *app = pool->app;
    size_t n = 0;
    char(*names)[32] = xcalloc(app->n_qubes + 1, sizeof(*names));
    for (size_t i = 0; i < app->n_qubes; i++) {
        const struct qube *t = app->qubes[i];
        const struct qube *tt = qube_template(app, t);
        if (may_be_template(t) &&
            (str_set_has(&pool->stale, t->name) || (tt && str_set_has(&pool->stale, tt->name))))
            snprintf(names[n++], sizeof(names[0]), "%s", t->name);
    }
    str_set_free(&pool->stale);
    for (size_t i = 0; i < n; i++) {
        struct qube *t = app_find(app, names[i]);
        if (t)
            retire_all(app, t, "outdated");
    }
    free(names);
}

static void start_one(struct dispvm_pool *pool, struct qube *t);

/* Reconciles the list of t with what exists, then retires extras and
 * starts the next preload if the pool is short. */
static void refill_template(struct dispvm_pool *pool, struct qube *t)
{
    struct app *app = pool->app;
    struct names l, keep = { 0 }, drop = { 0 };
    read_list(t, &l);
    struct change_batch c = { 0 };
    bool busy = false;
    for (size_t i = 0; i < l.n; i++) {
        struct qube *d = app_find(app, l.v[i]);
        if (!d || !preloaded(d) || qube_template(app, d) != t || list_has(&keep, l.v[i]))
            continue; /* gone, or not a preloaded one of t */
        if (completed(d) && qube_power(d) == POWER_RUNNING) {
            /* unpaused by someone: it is theirs now (use_preload) */
            log_info("qube=%s op=preload-use reason=unpaused-without-request", d->name);
            mark_used(&c, d, t);
            continue;
        }
        if (qube_power(d) == POWER_HALTED && !starting(pool, d->name)) {
            snprintf(drop.v[drop.n++], sizeof(drop.v[0]), "%s", d->name);
            continue;
        }
        busy = busy || !completed(d);
        snprintf(keep.v[keep.n++], sizeof(keep.v[0]), "%s", d->name);
    }
    long long max = effective_max(app, t);
    while ((long long)keep.n > max)
        snprintf(drop.v[drop.n++], sizeof(drop.v[0]), "%s", keep.v[--keep.n]);
    if (keep.n != l.n)
        set_list(&c, t, &keep);
    apply_or_log(app, &c, "list");
    for (size_t i = 0; i < drop.n; i++)
        retire(app, drop.v[i], "excess");

    if ((long long)keep.n >= max || busy)
        return;
    const char *retry = kv_get(&pool->retry_after, t->name);
    long long wait = retry ? atoll(retry) - mono_ms() : 0;
    if (pool->quiet_until_ms - mono_ms() > wait)
        wait = pool->quiet_until_ms - mono_ms();
    if (wait > 0) {
        arm(pool, (long)wait);
        return;
    }
    start_one(pool, t);
}

/* A preloaded disposable of t is not ready after all: its name leaves the
 * list and the pool waits before trying again. */
static void preload_failed(struct dispvm_pool *pool, struct qube *t, const char *name,
                           const char *why)
{
    log_warning("qube=%s op=preload template=%s result=error: %s", name, t->name, why);
    list_remove(pool->app, t, name);
    char due[32];
    snprintf(due, sizeof(due), "%lld", (long long)(mono_ms() + RETRY_MS));
    kv_set(&pool->retry_after, t->name, due);
}

static void preload_started(struct app *app, void *ctx, const struct qerror *err)
{
    struct preload_start *s = ctx;
    struct dispvm_pool *pool = s->pool;
    for (struct preload_start **p = &pool->starts; *p; p = &(*p)->next)
        if (*p == s) {
            *p = s->next;
            break;
        }
    struct qube *t = app_find(app, s->template);
    struct qube *d = app_find(app, s->dispvm);
    struct names l = { 0 };
    if (t)
        read_list(t, &l);
    if (!t || !d || !list_has(&l, s->dispvm)) {
        /* retired while it started: it is being killed */
    } else if (err) {
        /* the qube goes by itself (auto_cleanup) */
        preload_failed(pool, t, s->dispvm, err->message);
    } else {
        struct qerror perr = { 0 };
        if (lifecycle_pause(app, d, true, &perr) < 0) {
            preload_failed(pool, t, s->dispvm, perr.message);
            retire(app, s->dispvm, "pause-failed");
        } else {
            struct change_batch c = { 0 };
            change_feature(&c, d, F_COMPLETED, "1");
            change_feature(&c, d, F_IN_PROGRESS, ""); /* upstream's False */
            apply_or_log(app, &c, "completed");
            kv_del(&pool->retry_after, t->name);
            log_info("qube=%s op=preload template=%s result=ready ms=%lld", s->dispvm, t->name,
                     (long long)(mono_ms() - s->began_ms));
        }
    }
    free(s);
    arm(pool, 0);
}

static void start_one(struct dispvm_pool *pool, struct qube *t)
{
    struct app *app = pool->app;
    static const struct kv features[] = { { "internal", "1" }, { F_IN_PROGRESS, "1" } };
    struct qube *d = NULL;
    struct qerror err = { 0 };
    if (dispvm_create(app, t, NULL, features, ARRAY_SIZE(features), &d, &err) < 0) {
        preload_failed(pool, t, "-", err.message);
        return;
    }
    struct preload_start *s = xcalloc(1, sizeof(*s));
    s->pool = pool;
    snprintf(s->template, sizeof(s->template), "%s", t->name);
    snprintf(s->dispvm, sizeof(s->dispvm), "%s", d->name);
    s->began_ms = mono_ms();
    struct names l;
    read_list(t, &l);
    if (l.n < LIST_MAX)
        snprintf(l.v[l.n++], sizeof(l.v[0]), "%s", d->name);
    struct change_batch c = { 0 };
    set_list(&c, t, &l);
    apply_or_log(app, &c, "list");
    log_info("qube=%s op=preload template=%s result=starting", d->name, t->name);

    s->next = pool->starts;
    pool->starts = s;
    if (lifecycle_start(app, d, preload_started, s, &err) < 0) {
        /* refused at once: the disposable goes after this pass (its subscriber) */
        pool->starts = s->next;
        preload_failed(pool, t, s->dispvm, err.message);
        free(s);
    }
}

/* Preloaded ones no list names (a list removed by hand, an interrupted
 * pass): nobody can be given them, so they go. */
static void retire_orphans(struct dispvm_pool *pool)
{
    struct app *app = pool->app;
    struct names orphans = { 0 };
    for (size_t i = 0; i < app->n_qubes && orphans.n < LIST_MAX; i++) {
        const struct qube *d = app->qubes[i];
        if (!preloaded(d) || starting(pool, d->name))
            continue;
        const struct qube *t = qube_template(app, d);
        struct names l = { 0 };
        if (t)
            read_list(t, &l);
        if (!list_has(&l, d->name) && qube_power(d) != POWER_DYING)
            snprintf(orphans.v[orphans.n++], sizeof(orphans.v[0]), "%s", d->name);
    }
    for (size_t i = 0; i < orphans.n; i++)
        retire(app, orphans.v[i], "not-listed");
}

static void refill_pass(struct loop_watch *w, uint32_t events)
{
    (void)events;
    struct dispvm_pool *pool = w->ctx;
    struct app *app = pool->app;
    loop_timer_cancel(app->loop, &pool->timer);
    pool->due_ms = 0;
    retire_outdated(pool);
    /* names first: passes may remove qubes, which reorders the collection */
    size_t n = 0;
    char(*names)[32] = xcalloc(app->n_qubes + 1, sizeof(*names));
    for (size_t i = 0; i < app->n_qubes; i++)
        if (may_be_template(app->qubes[i]))
            snprintf(names[n++], sizeof(names[0]), "%s", app->qubes[i]->name);
    for (size_t i = 0; i < n; i++) {
        struct qube *t = app_find(app, names[i]);
        if (t)
            refill_template(pool, t);
    }
    free(names);
    retire_orphans(pool);
}

/* ---- events, start, handing out ---- */

static bool starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* The pool only schedules a refill pass on the loop, never works inside the event. */
static void on_event(void *ctx, struct app *app, const struct qube_event *ev)
{
    (void)app;
    struct dispvm_pool *pool = ctx;
    const struct qube *subject = ev->subject;
    const char *event = ev->name;
    bool source = subject && (subject->cls == QUBE_TEMPLATEVM || may_be_template(subject));
    if (strcmp(event, "domain-shutdown") == 0) {
        /* a template's or disposable template's volumes were committed */
        if (!source)
            return;
        str_set_add(&pool->stale, subject->name);
    } else if (starts_with(event, "property-set:") || starts_with(event, "property-reset:")) {
        /* what preloaded ones copied of their template changed; any other property change
         * (most of them) costs no pass over the qubes */
        if (!subject || !may_be_template(subject) || !kv_get(&subject->features, F_LIST) ||
            !*kv_get(&subject->features, F_LIST))
            return;
        str_set_add(&pool->stale, subject->name);
    } else if (strcmp(event, "domain-delete") != 0 && strcmp(event, "domain-unpaused") != 0 &&
               !starts_with(event, "domain-feature-set:preload-dispvm") &&
               !starts_with(event, "domain-feature-delete:preload-dispvm")) {
        return;
    }
    arm(pool, 0);
}

struct dispvm_pool *dispvm_pool_open(struct app *app)
{
    struct dispvm_pool *pool = xcalloc(1, sizeof(*pool));
    pool->app = app;
    pool->timer.fd = -1;
    pool->events = (struct event_subscriber){ .on_event = on_event, .ctx = pool };
    events_subscribe(app, &pool->events);
    /* after a restart: a ready one is still paused (frozen again to be
     * sure), anything caught half-way goes */
    size_t n = 0;
    char(*names)[32] = xcalloc(app->n_qubes + 1, sizeof(*names));
    for (size_t i = 0; i < app->n_qubes; i++)
        if (preloaded(app->qubes[i]))
            snprintf(names[n++], sizeof(names[0]), "%s", app->qubes[i]->name);
    for (size_t i = 0; i < n; i++) {
        struct qube *d = app_find(app, names[i]);
        struct qube *t = d ? qube_template(app, d) : NULL;
        struct names l = { 0 };
        if (t)
            read_list(t, &l);
        struct qerror err = { 0 };
        if (d && t && list_has(&l, d->name) && completed(d) && qube_power(d) == POWER_RUNNING &&
            lifecycle_pause(app, d, true, &err) == 0) {
            log_info("qube=%s op=preload result=kept", d->name);
            continue;
        }
        if (t)
            list_remove(app, t, names[i]);
        retire(app, names[i], "interrupted");
    }
    free(names);
    arm(pool, 0);
    return pool;
}

void dispvm_pool_close(struct dispvm_pool *pool)
{
    if (!pool)
        return;
    events_unsubscribe(pool->app, &pool->events);
    loop_timer_cancel(pool->app->loop, &pool->timer);
    while (pool->starts) {
        struct preload_start *s = pool->starts;
        pool->starts = s->next;
        free(s);
    }
    str_set_free(&pool->stale);
    kv_free(&pool->retry_after);
    free(pool);
}

struct qube *dispvm_pool_take(struct dispvm_pool *pool, struct qube *dvm, const struct qube *src)
{
    if (!pool)
        return NULL;
    struct app *app = pool->app;
    struct names l, rest = { 0 };
    read_list(dvm, &l);
    struct qube *d = NULL;
    for (size_t i = 0; i < l.n; i++) {
        struct qube *c = app_find(app, l.v[i]);
        if (!d && c && preloaded(c) && qube_template(app, c) == dvm && completed(c) &&
            qube_power(c) == POWER_PAUSED)
            d = c;
        else
            snprintf(rest.v[rest.n++], sizeof(rest.v[0]), "%s", l.v[i]);
    }
    if (!d)
        return NULL;
    /* used before it runs again: a crash in between leaves a used one
     * paused, never a used one handed out twice */
    struct change_batch c = { 0 };
    set_list(&c, dvm, &rest);
    mark_used(&c, d, dvm);
    _cleanup_free_ char *created_by = xasprintf("created-by-%s", src->name);
    _cleanup_free_ char *disp_created_by = xasprintf("disp-created-by-%s", src->name);
    change_tag(&c, d, created_by, true);
    change_tag(&c, d, disp_created_by, true);
    struct qerror err = { 0 };
    if (change_apply(app, &c, &err) < 0) {
        log_error("qube=%s op=preload-use result=error: %s", d->name, err.message);
        return NULL;
    }
    if (lifecycle_pause(app, d, false, &err) < 0) {
        log_error("qube=%s op=preload-use result=error: %s", d->name, err.message);
        retire(app, d->name, "unpause-failed");
        return NULL;
    }
    log_info("qube=%s op=preload-use template=%s for=%s", d->name, dvm->name, src->name);
    return d;
}
