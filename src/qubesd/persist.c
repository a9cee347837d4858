/* The SQL of every model change. */
#include "qubesd/persist.h"

#include <stdio.h>

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
        return value ? store_run(app->store,
                                 "INSERT OR REPLACE INTO global_property (name, value) "
                                 "VALUES (?, ?)", 2, p, err)
                     : store_run(app->store, "DELETE FROM global_property WHERE name = ?", 1, p,
                                 err);
    }
    char qid[16];
    qid_text(q, qid);
    const char *p[] = { qid, def->name, value };
    return value ? store_run(app->store,
                             "INSERT OR REPLACE INTO qube_property (qid, name, value) "
                             "VALUES (?, ?, ?)", 3, p, err)
                 : store_run(app->store, "DELETE FROM qube_property WHERE qid = ? AND name = ?",
                             2, p, err);
}

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
        if (persist_feature(app, q, q->features.items[i].key, q->features.items[i].value, err) <
            0)
            return -1;
    for (size_t i = 0; i < q->volume_pools.n; i++) {
        const char *p[] = { qid, q->volume_pools.items[i].key, q->volume_pools.items[i].value };
        if (store_run(app->store, "INSERT INTO volume_pool (qid, volume, pool) VALUES (?, ?, ?)",
                      3, p, err) < 0)
            return -1;
    }
    if (q->notes && persist_notes(app, q, q->notes, err) < 0)
        return -1;
    if (q->firewall && persist_firewall(app, q, q->firewall, err) < 0)
        return -1;
    return 0;
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
    return value ? store_run(app->store,
                             "INSERT OR REPLACE INTO feature (qid, name, value) VALUES (?, ?, ?)",
                             3, p, err)
                 : store_run(app->store, "DELETE FROM feature WHERE qid = ? AND name = ?", 2, p,
                             err);
}

int persist_tag(struct app *app, const struct qube *q, const char *tag, bool present,
                struct qerror *err)
{
    char qid[16];
    qid_text(q, qid);
    const char *p[] = { qid, tag };
    return present ? store_run(app->store, "INSERT OR IGNORE INTO tag (qid, name) VALUES (?, ?)",
                               2, p, err)
                   : store_run(app->store, "DELETE FROM tag WHERE qid = ? AND name = ?", 2, p,
                               err);
}

int persist_notes(struct app *app, const struct qube *q, const char *text, struct qerror *err)
{
    char qid[16];
    qid_text(q, qid);
    const char *p[] = { qid, text };
    return store_run(app->store, "INSERT OR REPLACE INTO note (qid, text) VALUES (?, ?)", 2, p,
                     err);
}

int persist_firewall(struct app *app, const struct qube *q, const char *rules,
                     struct qerror *err)
{
    char qid[16];
    qid_text(q, qid);
    const char *p[] = { qid, rules };
    return store_run(app->store, "INSERT OR REPLACE INTO firewall (qid, rules) VALUES (?, ?)", 2,
                     p, err);
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
