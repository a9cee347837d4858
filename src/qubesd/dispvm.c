/* Disposables: creation from a disposable template (what they copy of it),
 * auto_cleanup when they stop, and the sweep of what a killed qubesd left. */
#include "qubesd/dispvm.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "common/loop.h"
#include "qubesd/change.h"
#include "qubesd/events.h"
#include "qubesd/property.h"
#include "qubesd/storage_glue.h"

/* Attempts at a disp<N> name no other qube holds (a named qube may be
 * called disp12 too). */
#define NAME_ATTEMPTS 64
/* Entries looked at in one leftover image directory. */
#define LEFTOVER_FILES_MAX 256

int dispvm_check_template(const struct app *app, const struct qube *dvm, struct qerror *err)
{
    if (!dvm || !prop_find(dvm->cls, "template_for_dispvms") ||
        !prop_value_bool(app, dvm, "template_for_dispvms"))
        return qerror_set(err, ERR_QUBES_EXCEPTION,
                          "Refusing to create disposable out of this AppVM, because "
                          "template_for_dispvms=False");
    return 0;
}

int dispvm_check_start(const struct app *app, const struct qube *q, struct qerror *err)
{
    if (q->cls != QUBE_DISPVM || q->runtime)
        return 0;
    const struct qube *t = qube_template(app, q);
    if (!t || !prop_value_bool(app, t, "template_for_dispvms"))
        return qerror_set(err, ERR_QUBES_EXCEPTION,
                          "template for disposable (%s) needs to have template_for_dispvms=True",
                          t ? t->name : "none");
    return 0;
}

/* Properties a disposable never takes from its template: its own identity
 * and template, and ip, which Qubes derives from the dispid (a copied
 * address would be shared by every disposable of the template). */
static bool clonable(const struct prop_def *def)
{
    static const char *const never[] = { "template", "dispid", "auto_cleanup", "ip" };
    if (def->flags & (PROP_IDENTITY | PROP_READONLY | PROP_WRITE_ONCE))
        return false;
    for (size_t i = 0; i < ARRAY_SIZE(never); i++)
        if (strcmp(def->name, never[i]) == 0)
            return false;
    return true;
}

void dispvm_clone_template(const struct app *app, struct qube *q, const struct qube *dvm)
{
    (void)app;
    if (!dvm)
        return;
    size_t n;
    const struct prop_def *const *defs = prop_list(dvm, &n);
    for (size_t i = 0; i < n; i++) {
        const char *v = dvm->props[defs[i]->index];
        const struct prop_def *mine = prop_find(q->cls, defs[i]->name);
        if (!v || !mine || !clonable(mine) || q->props[mine->index])
            continue;
        q->props[mine->index] = xstrdup(v);
    }
    if (dvm->firewall && !q->firewall)
        q->firewall = xstrdup(dvm->firewall);
    for (size_t i = 0; i < dvm->features.n; i++) {
        const struct kv *f = &dvm->features.items[i];
        if (strncmp(f->key, "preload-dispvm", 14) != 0 && !kv_has(&q->features, f->key))
            kv_set(&q->features, f->key, f->value);
    }
    for (size_t i = 0; i < dvm->tags.n; i++)
        if (strncmp(dvm->tags.items[i], "created-by-", 11) != 0)
            str_set_add(&q->tags, dvm->tags.items[i]);
}

static void set_prop(struct qube *q, const char *name, const char *value)
{
    const struct prop_def *def = prop_find(q->cls, name);
    free(q->props[def->index]);
    q->props[def->index] = xstrdup(value);
}

int dispvm_new_dispid(const struct app *app)
{
    static const int max_dispid = 10000;
    unsigned char used[10000 / 8 + 1] = { 0 };
    int n_used = 0;
    for (size_t i = 0; i < app->n_qubes; i++) {
        if (app->qubes[i]->cls != QUBE_DISPVM)
            continue;
        long long id = prop_value_int(app, app->qubes[i], "dispid", -1);
        if (id >= 0 && id < max_dispid && !(used[id / 8] & (1u << (id % 8)))) {
            used[id / 8] |= (unsigned char)(1u << (id % 8));
            n_used++;
        }
    }
    if (n_used >= max_dispid)
        return -1;
    /* a few random draws; should all hit used ids (a crowded space), the
     * next free one after the last draw: bounded either way */
    int id = 0;
    for (int attempt = 0; attempt < 16; attempt++) {
        unsigned int r;
        if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
            abort(); /* no entropy: nothing sane to do */
        id = (int)(r % (unsigned)max_dispid);
        if (!(used[id / 8] & (1u << (id % 8))))
            return id;
    }
    while (used[id / 8] & (1u << (id % 8)))
        id = (id + 1) % max_dispid;
    return id;
}

/* A new disposable of dvm in memory: qid, uuid, a free disp<N>, what it
 * copies of dvm. */
static struct qube *new_disposable(const struct app *app, const struct qube *dvm,
                                   struct qerror *err)
{
    int qid = app_new_qid(app);
    if (qid < 0) {
        qerror_set(err, ERR_QUBES_EXCEPTION, "No unused qube id left");
        return NULL;
    }
    int dispid = -1;
    char name[32];
    for (int i = 0; i < NAME_ATTEMPTS && dispid < 0; i++) {
        dispid = dispvm_new_dispid(app);
        if (dispid < 0)
            break;
        snprintf(name, sizeof(name), "disp%d", dispid);
        if (app_find(app, name))
            dispid = -1;
    }
    if (dispid < 0) {
        qerror_set(err, ERR_QUBES_EXCEPTION, "No unused dispid left");
        return NULL;
    }
    struct qube *q = xcalloc(1, sizeof(*q));
    q->qid = qid;
    q->cls = QUBE_DISPVM;
    snprintf(q->name, sizeof(q->name), "%s", name);
    app_new_uuid(q->uuid);
    char text[16];
    snprintf(text, sizeof(text), "%d", dispid);
    set_prop(q, "dispid", text);
    set_prop(q, "template", dvm->name);
    set_prop(q, "auto_cleanup", "True");
    _cleanup_buf_ struct buf label = BUF_INIT;
    if (prop_value(app, dvm, prop_find(dvm->cls, "label"), &label) == 0 && label.len)
        set_prop(q, "label", label.data);
    dispvm_clone_template(app, q, dvm);
    return q;
}

int dispvm_create(struct app *app, struct qube *dvm, const struct qube *src,
                  const struct kv *features, size_t n_features, struct qube **out,
                  struct qerror *err)
{
    if (dispvm_check_template(app, dvm, err) < 0)
        return -1;
    struct qube *q = new_disposable(app, dvm, err);
    if (!q)
        return -1;
    for (size_t i = 0; i < n_features; i++)
        kv_set(&q->features, features[i].key, features[i].value);
    _cleanup_free_ char *created_by = src ? xasprintf("created-by-%s", src->name) : NULL;
    _cleanup_free_ char *disp_created_by = src ? xasprintf("disp-created-by-%s", src->name) : NULL;
    const char *tags[] = { created_by, disp_created_by };
    if (change_add_qube(app, q, tags, src ? ARRAY_SIZE(tags) : 0, err) < 0)
        return -1;
    log_info("qube=%s op=create class=DispVM template=%s qid=%d", q->name, dvm->name, q->qid);
    *out = q;
    return 0;
}

static bool is_auto_cleanup(const struct app *app, const struct qube *q)
{
    return q->cls == QUBE_DISPVM && prop_value_bool(app, q, "auto_cleanup");
}

bool dispvm_cleanup(struct app *app, struct qube *q)
{
    if (!q || q->runtime || !is_auto_cleanup(app, q))
        return false;
    char name[sizeof(q->name)];
    snprintf(name, sizeof(name), "%s", q->name);
    struct qerror err = { 0 };
    if (change_remove_qube(app, q, &err) < 0) {
        log_warning("qube=%s op=auto-cleanup result=error: %s", name, err.message);
        return false;
    }
    log_info("qube=%s op=auto-cleanup result=ok", name);
    return true;
}

/* ---- the disposables' subscription to the event bus ---- */

struct dispvm_events {
    struct event_subscriber sub;
    struct app *app;
};

/* Qubes' DispVM.start: its template must still be a disposable template. */
static int check(void *ctx, const struct app *app, const struct qube_event *ev, struct qerror *err)
{
    (void)ctx;
    if (!ev->subject || strcmp(ev->name, "domain-pre-start") != 0)
        return 0;
    return dispvm_check_start(app, ev->subject, err);
}

struct cleanup_later {
    struct app *app;
    char name[32];
};

static void cleanup_later(void *ctx)
{
    struct cleanup_later *c = ctx;
    dispvm_cleanup(c->app, app_find(c->app, c->name));
    free(c);
}

/* auto_cleanup: a disposable that stopped, or could not start, goes, once
 * the code that announced it is done with it. */
static void on_event(void *ctx, struct app *app, const struct qube_event *ev)
{
    (void)ctx;
    const struct qube *q = ev->subject;
    if (!q || !app->loop || !is_auto_cleanup(app, q) ||
        (strcmp(ev->name, "domain-shutdown") != 0 && strcmp(ev->name, "domain-start-failed") != 0))
        return;
    struct cleanup_later *c = xcalloc(1, sizeof(*c));
    c->app = app;
    snprintf(c->name, sizeof(c->name), "%s", q->name);
    loop_defer(app->loop, cleanup_later, c);
}

struct dispvm_events *dispvm_events_open(struct app *app)
{
    struct dispvm_events *d = xcalloc(1, sizeof(*d));
    d->app = app;
    d->sub = (struct event_subscriber){ .on_event = on_event, .check = check, .ctx = d };
    events_subscribe(app, &d->sub);
    return d;
}

void dispvm_events_close(struct dispvm_events *d)
{
    if (!d)
        return;
    events_unsubscribe(d->app, &d->sub);
    free(d);
}

/* ---- after a kill -9 of qubesd ---- */

static bool disposable_name(const char *s)
{
    if (strncmp(s, "disp", 4) != 0)
        return false;
    size_t digits = strspn(s + 4, "0123456789");
    return digits >= 1 && digits <= 4 && s[4 + digits] == '\0';
}

/* Whether the open directory holds nothing but (few) regular files. */
static bool only_image_files(DIR *d)
{
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        struct stat st;
        if (++n > LEFTOVER_FILES_MAX ||
            fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
            return false;
    }
    return true;
}

/* Removes path/name when it holds regular files only (what a pool keeps of
 * a qube); anything else there is left alone, and said so. */
static void remove_leftover_dir(int parent, const char *path, const char *name)
{
    int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0)
            close(fd);
        return;
    }
    bool ok = only_image_files(d);
    if (ok) {
        rewinddir(d);
        struct dirent *e;
        while ((e = readdir(d)))
            if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0 &&
                unlinkat(dirfd(d), e->d_name, 0) < 0 && errno != ENOENT)
                ok = false;
    }
    closedir(d);
    if (!ok || unlinkat(parent, name, AT_REMOVEDIR) < 0) {
        log_warning("op=sweep dir=%s/%s result=kept: not only image files", path, name);
        return;
    }
    log_info("op=sweep dir=%s/%s result=removed: images of a disposable no longer stored", path,
             name);
}

/* appvms/disp<N>/ of each pool with a directory, for no qube of that name. */
static void sweep_leftover_images(const struct app *app)
{
    for (size_t p = 0; p < app->n_pools; p++) {
        const char *dir_path = kv_get(&app->pools[p].config, "dir_path");
        if (!dir_path || strcmp(app->pools[p].driver, "linux-kernel") == 0)
            continue;
        _cleanup_free_ char *appvms = xasprintf("%s/appvms", dir_path);
        DIR *d = opendir(appvms);
        if (!d)
            continue;
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!disposable_name(e->d_name) || app_find(app, e->d_name))
                continue;
            remove_leftover_dir(dirfd(d), appvms, e->d_name);
        }
        closedir(d);
    }
}

void dispvm_startup_sweep(struct app *app)
{
    /* names first: each removal reorders the collection */
    size_t n = 0;
    char(*names)[32] = xcalloc(app->n_qubes + 1, sizeof(*names));
    for (size_t i = 0; i < app->n_qubes; i++) {
        const struct qube *q = app->qubes[i];
        if (!q->runtime && is_auto_cleanup(app, q))
            snprintf(names[n++], sizeof(names[0]), "%s", q->name);
    }
    for (size_t i = 0; i < n; i++) {
        struct qube *q = app_find(app, names[i]);
        if (q && dispvm_cleanup(app, q))
            log_info("qube=%s op=sweep result=removed: a disposable that is not running", names[i]);
    }
    free(names);
    sweep_leftover_images(app);
}
