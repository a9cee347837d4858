/* The change layer for properties: set/reset with persistence and events
 * (qubes/__init__.py: property.__set__/__delete__ and the handlers that
 * react to them). */
#include "qubesd/change.h"
#include "qubesd/events.h"

#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "qubesd/persist.h"

/* str() of a value as Python would print it in an event: None for no qube. */
static const char *event_text(const struct prop_def *def, const char *v)
{
    return def->type == PROP_VM && !*v ? "None" : v;
}

/* An event on a property: its name and keyword arguments (name, then newvalue
 * and oldvalue when given), as property-set/-reset and their pre- events carry. */
struct prop_event {
    char name[128];
    const char *keys[3], *values[3];
    size_t n;
};

static void prop_event_init(struct prop_event *ev, const char *prefix, const struct prop_def *def,
                            const char *newvalue, const char *oldvalue)
{
    snprintf(ev->name, sizeof(ev->name), "%s%s", prefix, def->name);
    ev->keys[0] = "name";
    ev->values[0] = def->name;
    ev->n = 1;
    if (newvalue) {
        ev->keys[ev->n] = "newvalue";
        ev->values[ev->n++] = event_text(def, newvalue);
    }
    if (oldvalue) {
        ev->keys[ev->n] = "oldvalue";
        ev->values[ev->n++] = event_text(def, oldvalue);
    }
}

static void fire_change(struct app *app, const struct qube *q, const char *prefix,
                        const struct prop_def *def, const char *newvalue, const char *oldvalue)
{
    struct prop_event ev;
    prop_event_init(&ev, prefix, def, newvalue, oldvalue);
    app_fire(app, q, ev.name, ev.n, ev.keys, ev.values);
}

/* Children of q that inherit this property now see another value. */
static void fire_inherited_resets(struct app *app, const struct qube *q, const struct prop_def *def)
{
    if (!q || !(def->flags & PROP_INHERIT))
        return;
    for (size_t i = 0; i < app->n_qubes; i++) {
        const struct qube *child = app->qubes[i];
        if (qube_template(app, child) != q)
            continue;
        const struct prop_def *cdef = prop_find(child->cls, def->name);
        if (cdef && prop_is_default(app, child, cdef))
            fire_change(app, child, "property-reset:", cdef, NULL, NULL);
    }
}

/* Qubes using a global default see it change (app.on_property_set_default_*). */
static void fire_default_followers(struct app *app, const struct qube *q,
                                   const struct prop_def *def, const char *oldvalue)
{
    if (q)
        return;
    const char *follower = strcmp(def->name, "default_netvm") == 0    ? "netvm"
                           : strcmp(def->name, "default_dispvm") == 0 ? "default_dispvm"
                                                                      : NULL;
    if (!follower)
        return;
    for (size_t i = 0; i < app->n_qubes; i++) {
        const struct qube *other = app->qubes[i];
        const struct prop_def *fdef = prop_find(other->cls, follower);
        if (!fdef || !prop_is_default(app, other, fdef))
            continue;
        if (strcmp(follower, "netvm") == 0 && other->cls == QUBE_TEMPLATEVM)
            continue;
        /* both followers are qube properties: "" reads None, as no old value */
        fire_change(app, other, "property-reset:", fdef, NULL, oldvalue ? oldvalue : "");
    }
}

/* What subscribers say before the change (a netvm that cannot be attached). */
static int check_change(struct app *app, const struct qube *q, const struct prop_def *def,
                        const char *newvalue, const char *oldvalue, struct qerror *err)
{
    struct prop_event ev;
    prop_event_init(&ev, newvalue ? "property-pre-set:" : "property-pre-reset:", def, newvalue,
                    oldvalue);
    return app_check(app, q, ev.name, ev.n, ev.keys, ev.values, err);
}

struct persist_prop_ctx {
    struct app *app;
    const struct qube *q;
    const struct prop_def *def;
    const char *value;
};

static int persist_prop_step(void *ctx, struct qerror *err)
{
    struct persist_prop_ctx *c = ctx;
    return persist_property(c->app, c->q, c->def, c->value, err);
}

int change_set_property(struct app *app, struct qube *q, const struct prop_def *def,
                        const char *new_value, struct qerror *err)
{
    if (prop_check_writable(q, def, new_value == NULL, err) < 0)
        return -1;
    if (prop_check_change(app, q, def, new_value, err) < 0)
        return -1;

    _cleanup_buf_ struct buf old = BUF_INIT;
    bool has_old = prop_value(app, q, def, &old) == 0;
    const char *oldvalue = has_old ? (old.data ? old.data : "") : NULL;
    if (check_change(app, q, def, new_value, oldvalue, err) < 0)
        return -1;

    struct persist_prop_ctx ctx = { app, q, def, new_value };
    if (persist_transaction(app, persist_prop_step, &ctx, err) < 0)
        return -1;

    log_info("%s%s op=%s property=%s", q ? "qube=" : "global", q ? q->name : "",
             new_value ? "set" : "reset", def->name);
    char **slot = prop_slot(app, q, def);
    if (new_value) {
        fire_change(app, q, "property-pre-set:", def, new_value, oldvalue);
        free(*slot);
        *slot = xstrdup(new_value);
        fire_change(app, q, "property-set:", def, new_value, oldvalue);
    } else {
        fire_change(app, q, "property-pre-reset:", def, NULL, oldvalue);
        fire_change(app, q, "property-pre-del:", def, NULL, oldvalue);
        free(*slot);
        *slot = NULL;
        fire_change(app, q, "property-reset:", def, NULL, oldvalue);
        fire_change(app, q, "property-del:", def, NULL, oldvalue);
    }

    if (q && (strcmp(def->name, "label") == 0 || strcmp(def->name, "template_for_dispvms") == 0)) {
        const struct prop_def *icon = prop_find(q->cls, "icon");
        if (icon)
            fire_change(app, q, "property-reset:", icon, NULL, NULL);
    }
    fire_inherited_resets(app, q, def);
    fire_default_followers(app, q, def, oldvalue);
    return 0;
}
