/* The change layer for what a qube holds (features, tags, notes, firewall,
 * volume keys) and for labels and pools: store, then memory, then events. */
#include "qubesd/change.h"

#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "qubesd/events.h"
#include "qubesd/persist.h"

enum change_kind { CHANGE_FEATURE, CHANGE_TAG };

struct change {
    enum change_kind kind;
    struct qube *q;
    char *name;
    char *value;  /* CHANGE_FEATURE: NULL = remove */
    bool present; /* CHANGE_TAG */
};

static void add(struct change_batch *b, struct change c)
{
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 8;
        b->v = xrealloc(b->v, b->cap * sizeof(*b->v));
    }
    b->v[b->n++] = c;
}

void change_feature(struct change_batch *b, struct qube *q, const char *name, const char *value)
{
    const char *old = kv_get(&q->features, name);
    if ((value && old && strcmp(old, value) == 0) || (!value && !old))
        return;
    add(b,
        (struct change){ CHANGE_FEATURE, q, xstrdup(name), value ? xstrdup(value) : NULL, false });
}

void change_tag(struct change_batch *b, struct qube *q, const char *tag, bool present)
{
    if (str_set_has(&q->tags, tag) == present)
        return;
    add(b, (struct change){ CHANGE_TAG, q, xstrdup(tag), NULL, present });
}

void change_discard(struct change_batch *b)
{
    for (size_t i = 0; i < b->n; i++) {
        free(b->v[i].name);
        free(b->v[i].value);
    }
    free(b->v);
    *b = (struct change_batch){ 0 };
}

struct batch_txn {
    struct app *app;
    const struct change_batch *b;
};

static int store_batch(void *ctx, struct qerror *err)
{
    struct batch_txn *t = ctx;
    for (size_t i = 0; i < t->b->n; i++) {
        const struct change *c = &t->b->v[i];
        int rc = c->kind == CHANGE_TAG ? persist_tag(t->app, c->q, c->name, c->present, err)
                                       : persist_feature(t->app, c->q, c->name, c->value, err);
        if (rc < 0)
            return -1;
    }
    return 0;
}

static void fire_feature(struct app *app, const struct qube *q, const char *prefix,
                         const char *name, const char *value, const char *oldvalue)
{
    char event[160];
    snprintf(event, sizeof(event), "%s%s", prefix, name);
    const char *keys[3] = { "feature" }, *values[3] = { name };
    size_t n = 1;
    if (value) {
        keys[n] = "value";
        values[n++] = value;
    }
    if (oldvalue) {
        keys[n] = "oldvalue";
        values[n++] = oldvalue;
    }
    app_fire(app, q, event, n, keys, values);
}

static void fire_tag(struct app *app, const struct qube *q, const char *prefix, const char *tag)
{
    char event[128];
    snprintf(event, sizeof(event), "%s%s", prefix, tag);
    const char *keys[] = { "tag" }, *values[] = { tag };
    app_fire(app, q, event, 1, keys, values);
}

static void make_change(struct app *app, const struct change *c)
{
    if (c->kind == CHANGE_TAG) {
        if (c->present)
            str_set_add(&c->q->tags, c->name);
        else
            str_set_del(&c->q->tags, c->name);
        fire_tag(app, c->q, c->present ? "domain-tag-add:" : "domain-tag-delete:", c->name);
        return;
    }
    const char *cur = kv_get(&c->q->features, c->name);
    _cleanup_free_ char *old = cur ? xstrdup(cur) : NULL;
    if (c->value) {
        fire_feature(app, c->q, "domain-feature-pre-set:", c->name, c->value, old);
        kv_set(&c->q->features, c->name, c->value);
        fire_feature(app, c->q, "domain-feature-set:", c->name, c->value, old);
    } else {
        fire_feature(app, c->q, "domain-feature-pre-delete:", c->name, NULL, NULL);
        kv_del(&c->q->features, c->name);
        fire_feature(app, c->q, "domain-feature-delete:", c->name, NULL, NULL);
    }
}

int change_apply(struct app *app, struct change_batch *b, struct qerror *err)
{
    int rc = 0;
    if (b->n) {
        struct batch_txn t = { app, b };
        rc = persist_transaction(app, store_batch, &t, err);
        for (size_t i = 0; i < b->n && rc == 0; i++)
            make_change(app, &b->v[i]);
    }
    change_discard(b);
    return rc;
}

int change_set_feature(struct app *app, struct qube *q, const char *name, const char *value,
                       struct qerror *err)
{
    struct change_batch b = { 0 };
    change_feature(&b, q, name, value);
    return change_apply(app, &b, err);
}

int change_set_tag(struct app *app, struct qube *q, const char *tag, bool present,
                   struct qerror *err)
{
    struct change_batch b = { 0 };
    change_tag(&b, q, tag, present);
    return change_apply(app, &b, err);
}

/* ---- notes, firewall, volume keys ---- */

struct text_txn {
    struct app *app;
    const struct qube *q;
    const char *text;
    int (*store)(struct app *app, const struct qube *q, const char *text, struct qerror *err);
};

static int store_text(void *ctx, struct qerror *err)
{
    struct text_txn *t = ctx;
    return t->store(t->app, t->q, t->text, err);
}

/* Stores one text of q, then replaces *slot with it. */
static int set_text(struct app *app, struct qube *q, char **slot, const char *text,
                    int (*store)(struct app *, const struct qube *, const char *, struct qerror *),
                    struct qerror *err)
{
    struct text_txn t = { app, q, text, store };
    if (persist_transaction(app, store_text, &t, err) < 0)
        return -1;
    free(*slot);
    *slot = xstrdup(text);
    return 0;
}

int change_set_notes(struct app *app, struct qube *q, const char *text, struct qerror *err)
{
    return set_text(app, q, &q->notes, text, persist_notes, err);
}

int change_set_firewall(struct app *app, struct qube *q, const char *rules, struct qerror *err)
{
    if (set_text(app, q, &q->firewall, rules, persist_firewall, err) < 0)
        return -1;
    app_fire(app, q, "firewall-changed", 0, NULL, NULL);
    return 0;
}

struct volume_key_txn {
    struct app *app;
    const struct qube *q;
    const char *volume, *key, *value;
};

static int store_volume_key(void *ctx, struct qerror *err)
{
    struct volume_key_txn *t = ctx;
    return persist_volume_key(t->app, t->q, t->volume, t->key, t->value, err);
}

int change_set_volume_key(struct app *app, struct qube *q, const char *volume, const char *key,
                          const char *value, struct qerror *err)
{
    struct volume_key_txn t = { app, q, volume, key, value };
    if (persist_transaction(app, store_volume_key, &t, err) < 0)
        return -1;
    _cleanup_free_ char *k = xasprintf("%s.%s", volume, key);
    kv_set(&q->volume_config, k, value);
    return 0;
}

/* ---- labels ---- */

struct label_txn {
    struct app *app;
    const struct label *label;
    const char *name;
};

static int store_label(void *ctx, struct qerror *err)
{
    struct label_txn *t = ctx;
    return t->label ? persist_label_insert(t->app, t->label, err)
                    : persist_label_delete(t->app, t->name, err);
}

int change_add_label(struct app *app, const char *name, const char *color, struct qerror *err)
{
    int index = 0;
    for (size_t i = 0; i < app->n_labels; i++)
        if (app->labels[i].index > index)
            index = app->labels[i].index;
    struct label l = { .index = index + 1, .name = xstrdup(name), .color = xstrdup(color) };
    struct label_txn t = { app, &l, NULL };
    if (persist_transaction(app, store_label, &t, err) < 0) {
        free(l.name);
        free(l.color);
        return -1;
    }
    app->labels = xrealloc(app->labels, (app->n_labels + 1) * sizeof(*app->labels));
    app->labels[app->n_labels++] = l;
    return 0;
}

int change_remove_label(struct app *app, const char *name, struct qerror *err)
{
    struct label_txn t = { app, NULL, name };
    if (persist_transaction(app, store_label, &t, err) < 0)
        return -1;
    for (size_t i = 0; i < app->n_labels; i++) {
        if (strcmp(app->labels[i].name, name) != 0)
            continue;
        free(app->labels[i].name);
        free(app->labels[i].color);
        memmove(&app->labels[i], &app->labels[i + 1],
                (app->n_labels - i - 1) * sizeof(*app->labels));
        app->n_labels--;
        break;
    }
    return 0;
}

/* ---- pools ---- */

struct pool_txn {
    struct app *app;
    const char *name, *driver;
    const struct kv_list *config;
    const char *key, *value;
};

static int store_pool_add(void *ctx, struct qerror *err)
{
    struct pool_txn *t = ctx;
    return persist_pool_insert(t->app, t->name, t->driver, t->config, err);
}

static int store_pool_remove(void *ctx, struct qerror *err)
{
    struct pool_txn *t = ctx;
    return persist_pool_delete(t->app, t->name, err);
}

static int store_pool_option(void *ctx, struct qerror *err)
{
    struct pool_txn *t = ctx;
    return persist_pool_option(t->app, t->name, t->key, t->value, err);
}

int change_add_pool(struct app *app, const char *name, const char *driver, struct kv_list *config,
                    struct qerror *err)
{
    struct pool_txn t = { .app = app, .name = name, .driver = driver, .config = config };
    if (persist_transaction(app, store_pool_add, &t, err) < 0) {
        kv_free(config);
        return -1;
    }
    size_t at = 0;
    while (at < app->n_pools && strcmp(app->pools[at].name, name) < 0)
        at++;
    app->pools = xrealloc(app->pools, (app->n_pools + 1) * sizeof(*app->pools));
    memmove(&app->pools[at + 1], &app->pools[at], (app->n_pools - at) * sizeof(*app->pools));
    app->pools[at] =
        (struct pool){ .name = xstrdup(name), .driver = xstrdup(driver), .config = *config };
    *config = (struct kv_list){ 0 };
    app->n_pools++;
    log_info("pool=%s op=add driver=%s", name, driver);
    return 0;
}

int change_remove_pool(struct app *app, const char *name, struct qerror *err)
{
    struct pool_txn t = { .app = app, .name = name };
    if (persist_transaction(app, store_pool_remove, &t, err) < 0)
        return -1;
    for (size_t i = 0; i < app->n_pools; i++) {
        if (strcmp(app->pools[i].name, name) != 0)
            continue;
        log_info("pool=%s op=remove", name);
        free(app->pools[i].name);
        free(app->pools[i].driver);
        kv_free(&app->pools[i].config);
        memmove(&app->pools[i], &app->pools[i + 1], (app->n_pools - i - 1) * sizeof(*app->pools));
        app->n_pools--;
        break;
    }
    return 0;
}

int change_set_pool_option(struct app *app, struct pool *p, const char *key, const char *value,
                           struct qerror *err)
{
    struct pool_txn t = { .app = app, .name = p->name, .key = key, .value = value };
    if (persist_transaction(app, store_pool_option, &t, err) < 0)
        return -1;
    kv_set(&p->config, key, value);
    return 0;
}
