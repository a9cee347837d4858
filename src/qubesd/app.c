/* The model's collections: loading from the store, lookups, ordering, the
 * initial contents of a fresh root, and event dispatch. */
#include "qubesd/app.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/host_budget.h"
#include "common/log.h"
#include "common/names.h"
#include "common/root.h"
#include "qubesd/events.h"
#include "qubesd/persist.h"
#include "qubesd/property.h"
#include "qubesd/storage_glue.h"
#include "store/store.h"

static const char *const class_names[QUBE_CLASS_COUNT] = {
    [QUBE_ADMINVM] = "AdminVM",       [QUBE_APPVM] = "AppVM",
    [QUBE_DISPVM] = "DispVM",         [QUBE_STANDALONEVM] = "StandaloneVM",
    [QUBE_TEMPLATEVM] = "TemplateVM",
};

static const struct {
    const char *name;
    const char *color;
} default_labels[] = {
    { "red", "0xcc0000" },  { "orange", "0xf57900" }, { "yellow", "0xedd400" },
    { "green", "0x73d216" }, { "gray", "0x555555" },   { "blue", "0x3465a4" },
    { "purple", "0x75507b" }, { "black", "0x000000" },
};

const char *qube_class_name(enum qube_class cls)
{
    return cls < QUBE_CLASS_COUNT ? class_names[cls] : "?";
}

int qube_class_from_name(const char *name)
{
    for (int i = 0; i < QUBE_CLASS_COUNT; i++)
        if (strcmp(class_names[i], name) == 0)
            return i;
    return -1;
}

void qube_free(struct qube *q)
{
    if (!q)
        return;
    for (size_t i = 0; i < PROP_MAX; i++)
        free(q->props[i]);
    kv_free(&q->features);
    str_set_free(&q->tags);
    kv_free(&q->volume_pools);
    kv_free(&q->volume_config);
    free(q->notes);
    free(q->firewall);
    free(q);
}

static const char *qube_name_at(const void *array, size_t i)
{
    return ((struct qube *const *)array)[i]->name;
}

/* Position of name among qubes[1..n) (dom0 is always at 0). */
static size_t name_lower_bound(const struct app *app, const char *name, bool *found)
{
    return sorted_lower_bound(app->qubes, 1, app->n_qubes, name, qube_name_at, found);
}

struct qube *app_find(const struct app *app, const char *name)
{
    if (app->n_qubes && strcmp(app->qubes[0]->name, name) == 0)
        return app->qubes[0];
    bool found;
    size_t i = name_lower_bound(app, name, &found);
    return found ? app->qubes[i] : NULL;
}

struct qube *app_find_uuid(const struct app *app, const char *uuid)
{
    for (size_t i = 0; i < app->n_qubes; i++)
        if (strcmp(app->qubes[i]->uuid, uuid) == 0)
            return app->qubes[i];
    return NULL;
}

struct qube *app_dom0(const struct app *app)
{
    return app->qubes[0];
}

void app_insert(struct app *app, struct qube *q)
{
    if (app->n_qubes == app->cap_qubes) {
        app->cap_qubes = app->cap_qubes ? app->cap_qubes * 2 : 64;
        app->qubes = xrealloc(app->qubes, app->cap_qubes * sizeof(*app->qubes));
    }
    size_t i = 0;
    if (q->cls != QUBE_ADMINVM) {
        bool found;
        i = name_lower_bound(app, q->name, &found);
    }
    memmove(&app->qubes[i + 1], &app->qubes[i], (app->n_qubes - i) * sizeof(*app->qubes));
    app->qubes[i] = q;
    app->n_qubes++;
}

void app_unlink(struct app *app, struct qube *q)
{
    for (size_t i = 0; i < app->n_qubes; i++) {
        if (app->qubes[i] == q) {
            memmove(&app->qubes[i], &app->qubes[i + 1],
                    (app->n_qubes - i - 1) * sizeof(*app->qubes));
            app->n_qubes--;
            return;
        }
    }
}

int app_new_qid(const struct app *app)
{
    /* qids are few (< 10000): a bitmap makes this linear, not quadratic */
    static const int max_qid = 10000;
    unsigned char used[10000 / 8 + 1] = { 0 };
    for (size_t i = 0; i < app->n_qubes; i++) {
        int qid = app->qubes[i]->qid;
        if (qid >= 0 && qid < max_qid)
            used[qid / 8] |= (unsigned char)(1u << (qid % 8));
    }
    for (int qid = 1; qid < max_qid; qid++)
        if (!(used[qid / 8] & (1u << (qid % 8))))
            return qid;
    return -1;
}

int app_new_dispid(const struct app *app)
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

void app_new_uuid(char out[37])
{
    unsigned char b[16];
    if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
        abort(); /* no entropy: nothing sane to do */
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
             b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
             b[15]);
}

bool app_find_reference(const struct app *app, const struct qube *q, const char **holder,
                        const char **prop)
{
    for (size_t i = 0; i <= app->n_qubes; i++) {
        const struct qube *h = i < app->n_qubes ? app->qubes[i] : NULL;
        if (h == q)
            continue;
        size_t n;
        const struct prop_def *const *defs = prop_list(h, &n);
        for (size_t d = 0; d < n; d++) {
            if (defs[d]->type != PROP_VM)
                continue;
            if (prop_value_qube(app, h, defs[d]->name) == q) {
                *holder = h ? h->name : "the global properties";
                *prop = defs[d]->name;
                return true;
            }
        }
    }
    return false;
}

struct qube_txn {
    struct app *app;
    const struct qube *q;
};

static int insert_step(void *ctx, struct qerror *err)
{
    struct qube_txn *t = ctx;
    if (persist_qube_insert(t->app, t->q, err) < 0)
        return -1;
    return storage_persist_qube(t->app, t->q, err); /* the volume config rows */
}

int app_add_qube(struct app *app, struct qube *q, struct qerror *err)
{
    /* the images before the store row, removed again if either fails: a crash in between
     * leaves files (the next start removes a disposable's), never a qube without */
    if (storage_create_qube(app, q, err) < 0) {
        qube_free(q);
        return -1;
    }
    struct qube_txn txn = { app, q };
    if (persist_transaction(app, insert_step, &txn, err) < 0) {
        struct qerror ignored;
        storage_remove_qube(app, q, &ignored);
        qube_free(q);
        return -1;
    }
    app_insert(app, q);
    return 0;
}

static int remove_step(void *ctx, struct qerror *err)
{
    struct qube_txn *t = ctx;
    return persist_qube_delete(t->app, t->q, err);
}

int app_remove_qube(struct app *app, struct qube *q, struct qerror *err)
{
    if (q->cls == QUBE_ADMINVM)
        return qerror_set(err, "QubesVMInUseError", "'dom0' cannot be removed");
    if (q->runtime)
        return qerror_set(err, "QubesVMNotHaltedError", "Domain is not powered off: '%s'",
                          q->name);
    const char *holder, *prop;
    if (app_find_reference(app, q, &holder, &prop)) {
        log_info("qube=%s op=remove result=in-use by=%s property=%s", q->name, holder, prop);
        return qerror_set(err, "QubesVMInUseError", "Domain is in use: '%s' (%s of %s)", q->name,
                          prop, holder);
    }
    struct qube_txn txn = { app, q };
    if (persist_transaction(app, remove_step, &txn, err) < 0)
        return -1;

    char name[sizeof(q->name)];
    snprintf(name, sizeof(name), "%s", q->name);
    const char *vm_key[] = { "vm" }, *vm_val[] = { name };
    app_fire(app, NULL, "domain-pre-delete", 1, vm_key, vm_val);
    /* the images go once the qube is gone from the store: a crash in
     * between leaves files without a qube, which the next start removes */
    struct qerror storage_err = { 0 };
    if (storage_remove_qube(app, q, &storage_err) < 0)
        log_warning("qube=%s op=remove-storage result=error: %s", name, storage_err.message);
    app_unlink(app, q);
    qube_free(q);
    app_fire(app, NULL, "domain-delete", 1, vm_key, vm_val);
    log_info("qube=%s op=remove result=ok", name);
    return 0;
}

const struct label *app_label_lookup(const struct app *app, const char *untrusted_spec)
{
    /* Qubes' get_label: index first, then name, then int(name) */
    long long index = -1;
    const char *spec = untrusted_spec;
    if (strncmp(spec, "label-", 6) == 0 && parse_int(spec + 6, &index)) {
        /* "label-<n>" names the index */
    } else if (!parse_int(spec, &index)) {
        index = -1;
    }
    for (size_t i = 0; i < app->n_labels; i++)
        if (strcmp(app->labels[i].name, spec) == 0)
            return &app->labels[i];
    if (index >= 0)
        for (size_t i = 0; i < app->n_labels; i++)
            if (app->labels[i].index == index)
                return &app->labels[i];
    return NULL;
}

const struct pool *app_pool_find(const struct app *app, const char *name)
{
    for (size_t i = 0; i < app->n_pools; i++)
        if (strcmp(app->pools[i].name, name) == 0)
            return &app->pools[i];
    return NULL;
}

/* ---- loading ---- */

/* While loading, rows of the other tables name their qube by qid. */
#define QID_LIMIT 10001

struct loader {
    struct app *app;
    struct qube *by_qid[QID_LIMIT];
};

static struct qube *qube_by_qid(void *ctx, const char *qid_text)
{
    struct loader *ld = ctx;
    long long qid;
    if (!qid_text || !parse_int(qid_text, &qid) || qid < 0 || qid >= QID_LIMIT)
        return NULL;
    return ld->by_qid[qid];
}

static int load_qube_row(void *ctx, size_t n, const char *const *c)
{
    struct loader *ld = ctx;
    struct app *app = ld->app;
    long long qid;
    int cls;
    if (n != 4 || !c[0] || !c[1] || !c[2] || !c[3] || !parse_int(c[0], &qid) || qid < 0 ||
        qid >= QID_LIMIT || ld->by_qid[qid] ||
        (cls = qube_class_from_name(c[2])) < 0 || strlen(c[1]) > QUBE_NAME_MAX ||
        strlen(c[3]) != 36) {
        log_error("store: skipping malformed qube row qid=%s", c[0] ? c[0] : "?");
        return 0;
    }
    struct qube *q = xcalloc(1, sizeof(*q));
    q->qid = (int)qid;
    q->cls = (enum qube_class)cls;
    strcpy(q->name, c[1]);
    strcpy(q->uuid, c[3]);
    app_insert(app, q);
    ld->by_qid[qid] = q;
    return 0;
}

static int load_property_row(void *ctx, size_t n, const char *const *c)
{
    struct qube *q = qube_by_qid(ctx, c[0]);
    if (n != 3 || !q || !c[1] || !c[2])
        return 0;
    const struct prop_def *def = prop_find(q->cls, c[1]);
    if (!def) {
        log_warning("store: qube=%s ignoring unknown property %s", q->name, c[1]);
        return 0;
    }
    free(q->props[def->index]);
    q->props[def->index] = xstrdup(c[2]);
    return 0;
}

static int load_global_row(void *ctx, size_t n, const char *const *c)
{
    struct app *app = ((struct loader *)ctx)->app;
    const struct prop_def *def = n == 2 && c[0] && c[1] ? prop_find_global(c[0]) : NULL;
    if (!def)
        return 0;
    free(app->props[def->index]);
    app->props[def->index] = xstrdup(c[1]);
    return 0;
}

static int load_feature_row(void *ctx, size_t n, const char *const *c)
{
    struct qube *q = qube_by_qid(ctx, c[0]);
    if (n == 3 && q && c[1] && c[2])
        kv_set(&q->features, c[1], c[2]);
    return 0;
}

static int load_tag_row(void *ctx, size_t n, const char *const *c)
{
    struct qube *q = qube_by_qid(ctx, c[0]);
    if (n == 2 && q && c[1])
        str_set_add(&q->tags, c[1]);
    return 0;
}

static int load_note_row(void *ctx, size_t n, const char *const *c)
{
    struct qube *q = qube_by_qid(ctx, c[0]);
    if (n == 2 && q && c[1]) {
        free(q->notes);
        q->notes = xstrdup(c[1]);
    }
    return 0;
}

static int load_firewall_row(void *ctx, size_t n, const char *const *c)
{
    struct qube *q = qube_by_qid(ctx, c[0]);
    if (n == 2 && q && c[1]) {
        free(q->firewall);
        q->firewall = xstrdup(c[1]);
    }
    return 0;
}

static int load_volume_pool_row(void *ctx, size_t n, const char *const *c)
{
    struct qube *q = qube_by_qid(ctx, c[0]);
    if (n == 3 && q && c[1] && c[2])
        kv_set(&q->volume_pools, c[1], c[2]);
    return 0;
}

static int load_volume_config_row(void *ctx, size_t n, const char *const *c)
{
    struct qube *q = qube_by_qid(ctx, c[0]);
    if (n == 4 && q && c[1] && c[2] && c[3]) {
        _cleanup_free_ char *key = xasprintf("%s.%s", c[1], c[2]);
        kv_set(&q->volume_config, key, c[3]);
    }
    return 0;
}

static int load_label_row(void *ctx, size_t n, const char *const *c)
{
    struct app *app = ((struct loader *)ctx)->app;
    long long index;
    if (n != 3 || !c[0] || !c[1] || !c[2] || !parse_int(c[0], &index))
        return 0;
    app->labels = xrealloc(app->labels, (app->n_labels + 1) * sizeof(*app->labels));
    app->labels[app->n_labels++] =
        (struct label){ .index = (int)index, .name = xstrdup(c[1]), .color = xstrdup(c[2]) };
    return 0;
}

static int load_pool_row(void *ctx, size_t n, const char *const *c)
{
    struct app *app = ((struct loader *)ctx)->app;
    if (n != 2 || !c[0] || !c[1])
        return 0;
    app->pools = xrealloc(app->pools, (app->n_pools + 1) * sizeof(*app->pools));
    app->pools[app->n_pools++] =
        (struct pool){ .name = xstrdup(c[0]), .driver = xstrdup(c[1]) };
    return 0;
}

static int load_pool_config_row(void *ctx, size_t n, const char *const *c)
{
    struct app *app = ((struct loader *)ctx)->app;
    if (n != 3 || !c[0] || !c[1] || !c[2])
        return 0;
    for (size_t i = 0; i < app->n_pools; i++)
        if (strcmp(app->pools[i].name, c[0]) == 0)
            kv_set(&app->pools[i].config, c[1], c[2]);
    return 0;
}

/* What a fresh root starts with: dom0, the eight labels, the two pools of
 * Qubes' load_initial_values. No other qube is created implicitly. */
static int create_initial(struct app *app, struct qerror *err)
{
    struct store *s = app->store;
    _cleanup_free_ char *varlib = qroot_path("var/lib/qubes");
    _cleanup_free_ char *kernels = qroot_path("var/lib/qubes/vm-kernels");
    if (store_begin(s, err) < 0)
        return -1;
    static const char *const dom0[] = { "0", "dom0", "AdminVM",
                                        "00000000-0000-0000-0000-000000000000" };
    if (store_run(s, "INSERT INTO qube (qid, name, class, uuid) VALUES (?, ?, ?, ?)", 4, dom0,
                  err) < 0)
        goto fail;
    static const char *const dom0_label[] = { "0", "label", "black" };
    if (store_run(s, "INSERT INTO qube_property (qid, name, value) VALUES (?, ?, ?)", 3,
                  dom0_label, err) < 0)
        goto fail;
    for (size_t i = 0; i < ARRAY_SIZE(default_labels); i++) {
        char idx[8];
        snprintf(idx, sizeof(idx), "%zu", i + 1);
        const char *p[] = { idx, default_labels[i].name, default_labels[i].color };
        if (store_run(s, "INSERT INTO label (idx, name, color) VALUES (?, ?, ?)", 3, p, err) < 0)
            goto fail;
    }
    const char *pools[][4] = {
        { "varlibqubes", "file-reflink", "dir_path", varlib },
        { "linux-kernel", "linux-kernel", "dir_path", kernels },
    };
    for (size_t i = 0; i < ARRAY_SIZE(pools); i++) {
        if (store_run(s, "INSERT INTO pool (name, driver) VALUES (?, ?)", 2, pools[i], err) < 0)
            goto fail;
        const char *p[] = { pools[i][0], pools[i][2], pools[i][3] };
        if (store_run(s, "INSERT INTO pool_config (pool, key, value) VALUES (?, ?, ?)", 3, p,
                      err) < 0)
            goto fail;
    }
    static const char *const kernel_pool[] = { "default_pool_kernel", "linux-kernel" };
    if (store_run(s, "INSERT INTO global_property (name, value) VALUES (?, ?)", 2, kernel_pool,
                  err) < 0)
        goto fail;
    return store_commit(s, err);
fail:
    store_rollback(s);
    return -1;
}

static int has_dom0_row(void *ctx, size_t n, const char *const *c)
{
    (void)n;
    (void)c;
    *(bool *)ctx = true;
    return 0;
}

int app_load(struct app *app, const char *db_path, struct qerror *err)
{
    if (prop_table_check(err) < 0)
        return -1;
    if (store_open(db_path, &app->store, err) < 0)
        return -1;
    bool has_dom0 = false;
    if (store_query(app->store, "SELECT qid FROM qube WHERE qid = 0", 0, NULL, has_dom0_row,
                    &has_dom0, err) < 0)
        return -1;
    if (!has_dom0 && create_initial(app, err) < 0)
        return -1;

    struct {
        const char *sql;
        store_row_fn fn;
    } loaders[] = {
        { "SELECT qid, name, class, uuid FROM qube", load_qube_row },
        { "SELECT qid, name, value FROM qube_property", load_property_row },
        { "SELECT name, value FROM global_property", load_global_row },
        { "SELECT qid, name, value FROM feature", load_feature_row },
        { "SELECT qid, name FROM tag", load_tag_row },
        { "SELECT qid, text FROM note", load_note_row },
        { "SELECT qid, rules FROM firewall", load_firewall_row },
        { "SELECT qid, volume, pool FROM volume_pool", load_volume_pool_row },
        { "SELECT qid, volume, key, value FROM volume_config", load_volume_config_row },
        { "SELECT idx, name, color FROM label ORDER BY idx", load_label_row },
        { "SELECT name, driver FROM pool ORDER BY name", load_pool_row },
        { "SELECT pool, key, value FROM pool_config", load_pool_config_row },
    };
    struct loader *ld = xcalloc(1, sizeof(*ld));
    ld->app = app;
    int rc = 0;
    for (size_t i = 0; i < ARRAY_SIZE(loaders) && rc == 0; i++)
        rc = store_query(app->store, loaders[i].sql, 0, NULL, loaders[i].fn, ld, err);
    free(ld);
    if (rc < 0)
        return -1;
    if (app->n_qubes == 0 || app->qubes[0]->cls != QUBE_ADMINVM)
        return qerror_set(err, "QubesException", "store %s has no dom0", db_path);

    long long host_mib = host_memory_mib();
    app->host_memory_mib = host_mib > 0 ? (long)host_mib : 4096;
    app->host_cpus = (int)sysconf(_SC_NPROCESSORS_ONLN);
    return 0;
}

void app_free(struct app *app)
{
    for (size_t i = 0; i < app->n_qubes; i++)
        qube_free(app->qubes[i]);
    free(app->qubes);
    for (size_t i = 0; i < PROP_MAX; i++)
        free(app->props[i]);
    for (size_t i = 0; i < app->n_labels; i++) {
        free(app->labels[i].name);
        free(app->labels[i].color);
    }
    free(app->labels);
    for (size_t i = 0; i < app->n_pools; i++) {
        free(app->pools[i].name);
        free(app->pools[i].driver);
        kv_free(&app->pools[i].config);
    }
    free(app->pools);
    kv_free(&app->clone_tokens);
    store_close(app->store);
    memset(app, 0, sizeof(*app));
}
