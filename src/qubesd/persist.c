/* All of qubesd's SQL: loading the model from the store, what a fresh root
 * starts with, and the rows of every change. */
#include "qubesd/persist.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "common/names.h"
#include "common/parse.h"
#include "common/root.h"
#include "store/store.h"

static void qid_text(const struct qube *q, char out[16])
{
    snprintf(out, 16, "%d", q->qid);
}

int persist_property(struct app *app, const struct qube *q, const struct prop_def *def,
                     const char *value, struct qerror *err)
{
    if (!q) {
        const char *p[] = { def->name, value };
        return value
                   ? store_run(app->store,
                               "INSERT OR REPLACE INTO global_property (name, value) "
                               "VALUES (?, ?)",
                               2, p, err)
                   : store_run(app->store, "DELETE FROM global_property WHERE name = ?", 1, p, err);
    }
    char qid[16];
    qid_text(q, qid);
    const char *p[] = { qid, def->name, value };
    return value ? store_run(app->store,
                             "INSERT OR REPLACE INTO qube_property (qid, name, value) "
                             "VALUES (?, ?, ?)",
                             3, p, err)
                 : store_run(app->store, "DELETE FROM qube_property WHERE qid = ? AND name = ?", 2,
                             p, err);
}

static int persist_volume_config(struct app *app, const struct qube *q, struct qerror *err);

int persist_qube_insert(struct app *app, const struct qube *q, struct qerror *err)
{
    char qid[16];
    qid_text(q, qid);
    const char *row[] = { qid, q->name, qube_class_name(q->cls), q->uuid };
    if (store_run(app->store, "INSERT INTO qube (qid, name, class, uuid) VALUES (?, ?, ?, ?)", 4,
                  row, err) < 0)
        return -1;
    size_t n;
    const struct prop_def *const *defs = prop_list(q, &n);
    for (size_t i = 0; i < n; i++) {
        const char *v = q->props[defs[i]->index];
        if (v && persist_property(app, q, defs[i], v, err) < 0)
            return -1;
    }
    for (size_t i = 0; i < q->tags.n; i++)
        if (persist_tag(app, q, q->tags.items[i], true, err) < 0)
            return -1;
    for (size_t i = 0; i < q->features.n; i++)
        if (persist_feature(app, q, q->features.items[i].key, q->features.items[i].value, err) < 0)
            return -1;
    for (size_t i = 0; i < q->volume_pools.n; i++) {
        const char *p[] = { qid, q->volume_pools.items[i].key, q->volume_pools.items[i].value };
        if (store_run(app->store, "INSERT INTO volume_pool (qid, volume, pool) VALUES (?, ?, ?)", 3,
                      p, err) < 0)
            return -1;
    }
    if (q->notes && persist_notes(app, q, q->notes, err) < 0)
        return -1;
    if (q->firewall && persist_firewall(app, q, q->firewall, err) < 0)
        return -1;
    return persist_volume_config(app, q, err);
}

int persist_qube_delete(struct app *app, const struct qube *q, struct qerror *err)
{
    char qid[16];
    qid_text(q, qid);
    const char *p[] = { qid };
    /* ON DELETE CASCADE removes properties, features, tags, notes, rules */
    return store_run(app->store, "DELETE FROM qube WHERE qid = ?", 1, p, err);
}

int persist_feature(struct app *app, const struct qube *q, const char *name, const char *value,
                    struct qerror *err)
{
    char qid[16];
    qid_text(q, qid);
    const char *p[] = { qid, name, value };
    return value
               ? store_run(app->store,
                           "INSERT OR REPLACE INTO feature (qid, name, value) VALUES (?, ?, ?)", 3,
                           p, err)
               : store_run(app->store, "DELETE FROM feature WHERE qid = ? AND name = ?", 2, p, err);
}

int persist_tag(struct app *app, const struct qube *q, const char *tag, bool present,
                struct qerror *err)
{
    char qid[16];
    qid_text(q, qid);
    const char *p[] = { qid, tag };
    return present ? store_run(app->store, "INSERT OR IGNORE INTO tag (qid, name) VALUES (?, ?)", 2,
                               p, err)
                   : store_run(app->store, "DELETE FROM tag WHERE qid = ? AND name = ?", 2, p, err);
}

int persist_notes(struct app *app, const struct qube *q, const char *text, struct qerror *err)
{
    char qid[16];
    qid_text(q, qid);
    const char *p[] = { qid, text };
    return store_run(app->store, "INSERT OR REPLACE INTO note (qid, text) VALUES (?, ?)", 2, p,
                     err);
}

int persist_firewall(struct app *app, const struct qube *q, const char *rules, struct qerror *err)
{
    char qid[16];
    qid_text(q, qid);
    const char *p[] = { qid, rules };
    return store_run(app->store, "INSERT OR REPLACE INTO firewall (qid, rules) VALUES (?, ?)", 2, p,
                     err);
}

int persist_label_insert(struct app *app, const struct label *l, struct qerror *err)
{
    char idx[16];
    snprintf(idx, sizeof(idx), "%d", l->index);
    const char *p[] = { idx, l->name, l->color };
    return store_run(app->store, "INSERT INTO label (idx, name, color) VALUES (?, ?, ?)", 3, p,
                     err);
}

int persist_label_delete(struct app *app, const char *name, struct qerror *err)
{
    const char *p[] = { name };
    return store_run(app->store, "DELETE FROM label WHERE name = ?", 1, p, err);
}

int persist_transaction(struct app *app, int (*fn)(void *ctx, struct qerror *err), void *ctx,
                        struct qerror *err)
{
    if (store_begin(app->store, err) < 0)
        return -1;
    if (fn(ctx, err) < 0 || store_commit(app->store, err) < 0) {
        store_rollback(app->store);
        return -1;
    }
    return 0;
}

/* ---- pools and volumes ---- */

int persist_pool_insert(struct app *app, const char *name, const char *driver,
                        const struct kv_list *config, struct qerror *err)
{
    const char *row[] = { name, driver };
    if (store_run(app->store, "INSERT INTO pool (name, driver) VALUES (?, ?)", 2, row, err) < 0)
        return -1;
    for (size_t i = 0; i < config->n; i++)
        if (persist_pool_option(app, name, config->items[i].key, config->items[i].value, err) < 0)
            return -1;
    return 0;
}

int persist_pool_option(struct app *app, const char *name, const char *key, const char *value,
                        struct qerror *err)
{
    const char *p[] = { name, key, value };
    return store_run(app->store,
                     "INSERT OR REPLACE INTO pool_config (pool, key, value) VALUES (?, ?, ?)", 3, p,
                     err);
}

int persist_pool_delete(struct app *app, const char *name, struct qerror *err)
{
    const char *p[] = { name };
    /* ON DELETE CASCADE removes its options */
    return store_run(app->store, "DELETE FROM pool WHERE name = ?", 1, p, err);
}

int persist_volume_key(struct app *app, const struct qube *q, const char *volume, const char *key,
                       const char *value, struct qerror *err)
{
    char qid[16];
    qid_text(q, qid);
    const char *p[] = { qid, volume, key, value };
    return store_run(app->store,
                     "INSERT OR REPLACE INTO volume_config (qid, volume, key, value) "
                     "VALUES (?, ?, ?, ?)",
                     4, p, err);
}

/* The rows of q->volume_config ("<volume>.<key>" -> value). */
static int persist_volume_config(struct app *app, const struct qube *q, struct qerror *err)
{
    for (size_t i = 0; i < q->volume_config.n; i++) {
        const char *k = q->volume_config.items[i].key;
        const char *dot = strchr(k, '.');
        if (!dot)
            continue;
        _cleanup_free_ char *volume = xstrndup(k, (size_t)(dot - k));
        if (persist_volume_key(app, q, volume, dot + 1, q->volume_config.items[i].value, err) < 0)
            return -1;
    }
    return 0;
}

static const struct {
    const char *name;
    const char *color;
} default_labels[] = {
    { "red", "0xcc0000" },    { "orange", "0xf57900" }, { "yellow", "0xedd400" },
    { "green", "0x73d216" },  { "gray", "0x555555" },   { "blue", "0x3465a4" },
    { "purple", "0x75507b" }, { "black", "0x000000" },
};

/* ---- loading the model ---- */

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
    if (!qid_text || parse_ll(qid_text, 0, QID_LIMIT - 1, 0, &qid) < 0)
        return NULL;
    return ld->by_qid[qid];
}

static int load_qube_row(void *ctx, size_t n, const char *const *c)
{
    struct loader *ld = ctx;
    struct app *app = ld->app;
    long long qid;
    int cls;
    if (n != 4 || !c[0] || !c[1] || !c[2] || !c[3] ||
        parse_ll(c[0], 0, QID_LIMIT - 1, 0, &qid) < 0 || ld->by_qid[qid] ||
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
    if (n != 3 || !c[0] || !c[1] || !c[2] || parse_ll(c[0], INT_MIN, INT_MAX, 0, &index) < 0)
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
    app->pools[app->n_pools++] = (struct pool){ .name = xstrdup(c[0]), .driver = xstrdup(c[1]) };
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
    if (store_run(s, "INSERT INTO qube_property (qid, name, value) VALUES (?, ?, ?)", 3, dom0_label,
                  err) < 0)
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
        if (store_run(s, "INSERT INTO pool_config (pool, key, value) VALUES (?, ?, ?)", 3, p, err) <
            0)
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

int persist_load(struct app *app, const char *db_path, struct qerror *err)
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
        return qerror_set(err, ERR_QUBES_EXCEPTION, "store %s has no dom0", db_path);
    app_host_init(app);
    return 0;
}
