/* The volumes of each qube class (reference §4.1), their configuration in
 * the model and the store, and the disk work at create/remove/start/stop. */
#include "qubesd/storage_glue.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "common/mono_time.h"
#include "common/parse.h"
#include "qubesd/property.h"
#include "store/store.h"

#define GIB (1024ull * 1024 * 1024)

/* How each volume of a class starts (upstream qubes/vm/<class>.py volume_config). */
struct volume_spec {
    const char *name;
    bool snap_on_start, save_on_stop, rw;
    uint64_t size;
    bool format;     /* an empty ext4 at create */
    unsigned fs_uid; /* owner of its root directory */
};

static const struct volume_spec template_specs[] = {
    { "root", false, true, true, 10 * GIB, true, 0 },
    { "private", false, true, true, 2 * GIB, true, 1000 },
    { "volatile", false, false, true, 10 * GIB, false, 0 },
    { "kernel", false, false, false, 0, false, 0 },
};
static const struct volume_spec appvm_specs[] = {
    { "root", true, false, true, 0, false, 0 },
    { "private", false, true, true, 2 * GIB, true, 1000 },
    { "volatile", false, false, true, 10 * GIB, false, 0 },
    { "kernel", false, false, false, 0, false, 0 },
};
static const struct volume_spec dispvm_specs[] = {
    { "root", true, false, true, 0, false, 0 },
    { "private", true, false, true, 0, false, 0 },
    { "volatile", false, false, true, 12 * GIB, false, 0 },
    { "kernel", false, false, false, 0, false, 0 },
};

static const struct volume_spec *class_specs(enum qube_class cls, size_t *n)
{
    *n = 4;
    switch (cls) {
    case QUBE_TEMPLATEVM:
    case QUBE_STANDALONEVM: return template_specs;
    case QUBE_APPVM: return appvm_specs;
    case QUBE_DISPVM: return dispvm_specs;
    case QUBE_ADMINVM:
    case QUBE_CLASS_COUNT: break;
    }
    *n = 0;
    return NULL;
}

static const char *config_get(const struct qube *q, const char *volume, const char *key)
{
    char k[64];
    snprintf(k, sizeof(k), "%s.%s", volume, key);
    return kv_get(&q->volume_config, k);
}

static char *global_prop(const struct app *app, const char *name)
{
    const struct prop_def *def = prop_find_global(name);
    _cleanup_buf_ struct buf b = BUF_INIT;
    if (!def || prop_value(app, NULL, def, &b) != 0)
        return NULL;
    return buf_steal(&b);
}

/* The pool a non-snapshot volume of a new qube goes to. */
static char *default_pool_for(const struct app *app, const struct qube *q, const char *volume)
{
    const char *chosen = kv_get(&q->volume_pools, volume);
    if (chosen)
        return xstrdup(chosen);
    char prop[48];
    snprintf(prop, sizeof(prop), "default_pool_%s", volume);
    return global_prop(app, prop);
}

int storage_pool_open_model(const struct app *app, const struct pool *p, struct storage_pool *out,
                            struct qerror *err)
{
    (void)app;
    size_t n = p->config.n;
    _cleanup_free_ const char **keys = xcalloc(n + 1, sizeof(*keys));
    _cleanup_free_ const char **values = xcalloc(n + 1, sizeof(*values));
    for (size_t i = 0; i < n; i++) {
        keys[i] = p->config.items[i].key;
        values[i] = p->config.items[i].value;
    }
    if (storage_pool_open(p->name, p->driver, n, keys, values, out, err) < 0) {
        qerror_prefix(err, "pool %s: ", p->name);
        return -1;
    }
    return 0;
}

static int open_pool_named(const struct app *app, const char *name, struct storage_pool *out,
                           struct qerror *err)
{
    const struct pool *p = name ? app_pool_find(app, name) : NULL;
    if (!p)
        return qerror_set(err, ERR_QUBES_EXCEPTION, "Unknown storage pool %s", name ? name : "");
    return storage_pool_open_model(app, p, out, err);
}

static int parse_u64(const char *s, uint64_t *out)
{
    long long v;
    if (!s || parse_ll(s, 0, LLONG_MAX, 0, &v) < 0)
        return -1;
    *out = (uint64_t)v;
    return 0;
}

static int open_depth(const struct app *app, const struct qube *q, struct qube_storage *out,
                      int depth, struct qerror *err);

/* A snapshot volume's source: the same-named volume of the template, or,
 * when that is a snapshot itself, its source (upstream
 * _update_volume_config_source). */
static const struct storage_volume *resolve_source(struct qube_storage *tmpl, const char *name)
{
    struct storage_volume *v = tmpl ? qube_storage_find(tmpl, name) : NULL;
    while (v && v->snap_on_start)
        v = (struct storage_volume *)v->source;
    return v;
}

static int open_depth(const struct app *app, const struct qube *q, struct qube_storage *out,
                      int depth, struct qerror *err)
{
    memset(out, 0, sizeof(*out));
    size_t nspecs;
    const struct volume_spec *specs = class_specs(q->cls, &nspecs);
    if (nspecs == 0)
        return 0;
    const struct prop_def *kdef = prop_find(q->cls, "kernel");
    _cleanup_buf_ struct buf kernel = BUF_INIT;
    if (kdef && prop_value(app, q, kdef, &kernel) != 0)
        buf_reset(&kernel);
    out->kernel = xstrdup(kernel.data ? kernel.data : "");

    bool needs_template = false;
    for (size_t i = 0; i < nspecs; i++)
        needs_template = needs_template || specs[i].snap_on_start;
    if (needs_template) {
        struct qube *t = qube_template(app, q);
        if (!t || depth > 3) {
            qube_storage_close(out);
            return qerror_set(err, ERR_STORAGE_POOL_EXCEPTION,
                              "qube %s has no template to "
                              "take its volumes from",
                              q->name);
        }
        out->tmpl = xcalloc(1, sizeof(*out->tmpl));
        if (open_depth(app, t, out->tmpl, depth + 1, err) < 0) {
            free(out->tmpl);
            out->tmpl = NULL;
            qube_storage_close(out);
            return -1;
        }
    }

    for (size_t i = 0; i < nspecs; i++) {
        const struct volume_spec *s = &specs[i];
        struct storage_volume *v = &out->vol[i];
        v->name = s->name;
        v->qube = q->name;
        v->dir_prefix = q->cls == QUBE_TEMPLATEVM ? "vm-templates" : "appvms";
        v->kernel = out->kernel;
        v->snap_on_start = s->snap_on_start;
        v->save_on_stop = s->save_on_stop;
        v->rw = s->rw;
        v->size = s->size;
        v->format = s->format;
        v->fs_uid = s->fs_uid;
        _cleanup_free_ char *pool_name = NULL;
        const struct storage_volume *src = NULL;
        if (s->snap_on_start) {
            /* DispVM private: the DVM template's own private; roots: the
             * template chain's root */
            src = strcmp(s->name, "private") == 0 && out->tmpl
                      ? qube_storage_find(out->tmpl, s->name)
                      : resolve_source(out->tmpl, s->name);
            if (!src) {
                qube_storage_close(out);
                return qerror_set(err, ERR_STORAGE_POOL_EXCEPTION,
                                  "volume %s of %s has no source volume", s->name, q->name);
            }
            v->source = src;
            pool_name = xstrdup(src->pool->name);
        } else {
            const char *stored = config_get(q, s->name, "pool");
            pool_name = stored ? xstrdup(stored) : default_pool_for(app, q, s->name);
        }
        if (open_pool_named(app, pool_name, &out->pool[i], err) < 0) {
            qube_storage_close(out);
            return -1;
        }
        out->n = i + 1;
        v->pool = &out->pool[i];
        v->revisions_to_keep = out->pool[i].revisions_to_keep;
        if (src) {
            uint64_t usage;
            src->pool->driver->usage(src->pool, src, &v->size, &usage);
        }
        const char *val;
        uint64_t size;
        if ((val = config_get(q, s->name, "size")) && parse_u64(val, &size) == 0)
            v->size = size;
        long long keep;
        if ((val = config_get(q, s->name, "revisions_to_keep")) &&
            parse_ll(val, LLONG_MIN, LLONG_MAX, 0, &keep) == 0)
            v->revisions_to_keep = keep;
        bool b;
        if ((val = config_get(q, s->name, "rw")) &&
            parse_bool(val, PARSE_BOOL_EMPTY_FALSE, &b) == 0)
            v->rw = b;
        if ((val = config_get(q, s->name, "ephemeral")) &&
            parse_bool(val, PARSE_BOOL_EMPTY_FALSE, &b) == 0)
            v->ephemeral = b;
        storage_volume_init(v);
    }
    return 0;
}

int qube_storage_open(const struct app *app, const struct qube *q, struct qube_storage *out,
                      struct qerror *err)
{
    return open_depth(app, q, out, 0, err);
}

void qube_storage_close(struct qube_storage *s)
{
    for (size_t i = 0; i < s->n; i++) {
        storage_volume_clear(&s->vol[i]);
        storage_pool_close(&s->pool[i]);
    }
    if (s->tmpl) {
        qube_storage_close(s->tmpl);
        free(s->tmpl);
    }
    free(s->kernel);
    memset(s, 0, sizeof(*s));
}

struct storage_volume *qube_storage_find(struct qube_storage *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->vol[i].name, name) == 0)
            return &s->vol[i];
    return NULL;
}

bool qube_storage_started(const struct qube_storage *s)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->vol[i].pool->driver->is_dirty(s->vol[i].pool, &s->vol[i]))
            return true;
    return false;
}

/* ---- create / remove ---- */

static void config_set(struct qube *q, const char *volume, const char *key, const char *value)
{
    char k[64];
    snprintf(k, sizeof(k), "%s.%s", volume, key);
    kv_set(&q->volume_config, k, value);
}

/* Records the configuration a new qube's volumes start with, so a later
 * change of a default (pool, its revisions_to_keep) does not move them. */
static int configure(struct app *app, struct qube *q, struct qerror *err)
{
    struct qube_storage s;
    if (qube_storage_open(app, q, &s, err) < 0)
        return -1;
    for (size_t i = 0; i < s.n; i++) {
        const struct storage_volume *v = &s.vol[i];
        char num[32];
        config_set(q, v->name, "pool", v->pool->name);
        if (!v->snap_on_start && strcmp(v->name, "kernel") != 0) {
            snprintf(num, sizeof(num), "%llu", (unsigned long long)v->size);
            config_set(q, v->name, "size", num);
        }
        snprintf(num, sizeof(num), "%lld", v->revisions_to_keep);
        config_set(q, v->name, "revisions_to_keep", num);
        config_set(q, v->name, "rw", storage_bool_str(v->rw));
        config_set(q, v->name, "ephemeral", storage_bool_str(v->ephemeral));
    }
    qube_storage_close(&s);
    return 0;
}

static int remove_volumes(struct qube_storage *s, struct qerror *err)
{
    int rc = 0;
    for (size_t i = 0; i < s->n; i++) {
        struct qerror e = { 0 };
        const struct storage_volume *v = &s->vol[i];
        if (v->pool->driver->remove(v->pool, v, &e) < 0) {
            log_warning("qube=%s op=remove-volume volume=%s result=error: %s", v->qube, v->name,
                        e.message);
            if (rc == 0) {
                *err = e;
                rc = -1;
            }
        }
    }
    return rc;
}

int storage_create_qube(struct app *app, struct qube *q, struct qerror *err)
{
    if (configure(app, q, err) < 0)
        return -1;
    struct qube_storage s;
    if (qube_storage_open(app, q, &s, err) < 0)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < s.n && rc == 0; i++) {
        const struct storage_volume *v = &s.vol[i];
        if (v->pool->driver->create(v->pool, v, err) < 0) {
            qerror_prefix(err, "create volume %s: ", v->name);
            struct qerror ignored;
            remove_volumes(&s, &ignored);
            rc = -1;
        }
    }
    qube_storage_close(&s);
    return rc;
}

int storage_remove_qube(const struct app *app, const struct qube *q, struct qerror *err)
{
    struct qube_storage s;
    if (qube_storage_open(app, q, &s, err) < 0)
        return -1;
    int rc = remove_volumes(&s, err);
    qube_storage_close(&s);
    return rc;
}

/* ---- start / stop ---- */

static double elapsed_ms(int64_t since_ns)
{
    return (double)(mono_ns() - since_ns) / 1e6;
}

static void stop_volumes(struct qube_storage *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct qerror e = { 0 };
        const struct storage_volume *v = &s->vol[i];
        if (v->pool->driver->stop(v->pool, v, &e) < 0)
            log_warning("qube=%s op=stop-volume volume=%s result=error: %s", v->qube, v->name,
                        e.message);
    }
}

int storage_start(const struct app *app, const struct qube *q, bool snapshot_read_only,
                  struct storage_attachments *out, struct qerror *err)
{
    memset(out, 0, sizeof(*out));
    int64_t t0 = mono_ns();
    struct qube_storage s;
    if (qube_storage_open(app, q, &s, err) < 0)
        return -1;
    int rc = 0;
    int n_read_only = 0;
    for (size_t i = 0; i < s.n; i++) {
        s.vol[i].snapshot_read_only = snapshot_read_only;
        const struct storage_volume *v = &s.vol[i];
        snprintf(out->v[i].name, sizeof(out->v[i].name), "%s", v->name);
        if (v->pool->driver->start(v->pool, v, &out->v[i].a, err) < 0) {
            qerror_prefix(err, "start volume %s: ", v->name);
            stop_volumes(&s, i);
            storage_attachments_free(out);
            rc = -1;
            break;
        }
        out->n = i + 1;
        n_read_only += out->v[i].a.source_path != NULL;
    }
    qube_storage_close(&s);
    log_info("qube=%s op=storage-start result=%s read_only_snapshots=%d ms=%.2f", q->name,
             rc == 0 ? "ok" : "error", n_read_only, elapsed_ms(t0));
    return rc;
}

void storage_attachments_free(struct storage_attachments *a)
{
    for (size_t i = 0; i < a->n; i++)
        storage_attach_clear(&a->v[i].a);
    memset(a, 0, sizeof(*a));
}

int storage_stop(const struct app *app, const struct qube *q, struct qerror *err)
{
    int64_t t0 = mono_ns();
    struct qube_storage s;
    if (qube_storage_open(app, q, &s, err) < 0)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < s.n; i++) {
        struct qerror e = { 0 };
        const struct storage_volume *v = &s.vol[i];
        if (v->pool->driver->stop(v->pool, v, &e) < 0 && rc == 0) {
            *err = e;
            qerror_prefix(err, "stop volume %s: ", v->name);
            rc = -1;
        }
    }
    qube_storage_close(&s);
    log_info("qube=%s op=storage-stop result=%s ms=%.2f", q->name, rc == 0 ? "ok" : "error",
             elapsed_ms(t0));
    return rc;
}

int storage_import_dir(const struct app *app, const struct qube *q, const char *volume,
                       const char *dir, struct qerror *err)
{
    struct qube_storage s;
    if (qube_storage_open(app, q, &s, err) < 0)
        return -1;
    int rc = -1;
    struct storage_volume *v = qube_storage_find(&s, volume);
    _cleanup_free_ char *path = NULL;
    if (!v) {
        qerror_set(err, ERR_STORAGE_POOL_EXCEPTION, "qube %s has no volume %s", q->name, volume);
    } else {
        uint64_t size, usage;
        v->pool->driver->usage(v->pool, v, &size, &usage);
        if (v->pool->driver->import_begin(v->pool, v, size, &path, err) == 0) {
            bool ok = storage_mkfs_ext4(path, v->name, v->fs_uid, v->fs_uid, dir, err) == 0;
            struct qerror end_err = { 0 };
            int end = v->pool->driver->import_end(v->pool, v, ok, &end_err);
            if (ok && end < 0)
                *err = end_err;
            rc = ok && end == 0 ? 0 : -1;
        }
    }
    qube_storage_close(&s);
    return rc;
}
