/* The one way the model changes: what a change touches is stored in one
 * transaction, then made in memory, then announced on the event bus with
 * Qubes' events (events.h). The Admin API's handlers only decode, validate
 * and call these; qubesd's own services (the preload pool) use the same
 * calls. On failure nothing changed, in the store or in memory. */
#pragma once

#include <stdbool.h>

#include "common/error.h"
#include "qubesd/app.h"
#include "qubesd/property.h"

/* Several feature and tag changes as one: one transaction, then each in
 * memory with its events, in the order added. A change that changes nothing
 * (a feature set to its value, a tag it has) is left out, so it fires
 * nothing. */
struct change;
struct change_batch {
    struct change *v;
    size_t n, cap;
};

/* value NULL removes the feature. */
void change_feature(struct change_batch *b, struct qube *q, const char *name, const char *value);
void change_tag(struct change_batch *b, struct qube *q, const char *tag, bool present);
/* Applies and empties b (also on failure). */
int change_apply(struct app *app, struct change_batch *b, struct qerror *err);
void change_discard(struct change_batch *b);

/* One change each. */
int change_set_feature(struct app *app, struct qube *q, const char *name, const char *value,
                       struct qerror *err);
int change_set_tag(struct app *app, struct qube *q, const char *tag, bool present,
                   struct qerror *err);
int change_set_notes(struct app *app, struct qube *q, const char *text, struct qerror *err);
/* rules in API form, canonical; fires firewall-changed. */
int change_set_firewall(struct app *app, struct qube *q, const char *rules, struct qerror *err);
/* Sets (new_value canonical text, from prop_sanitize) or resets (NULL) a
 * property of q (NULL: a global one) as Qubes does: its checks, then the
 * pre/post events and the resets they imply for dependants. */
int change_set_property(struct app *app, struct qube *q, const struct prop_def *def,
                        const char *new_value, struct qerror *err);
/* One key of one volume's configuration. */
int change_set_volume_key(struct app *app, struct qube *q, const char *volume, const char *key,
                          const char *value, struct qerror *err);

/* A label above the highest index; name and color are validated already. */
int change_add_label(struct app *app, const char *name, const char *color, struct qerror *err);
int change_remove_label(struct app *app, const char *name, struct qerror *err);

/* A pool whose driver accepted config (taken over, also on failure). */
int change_add_pool(struct app *app, const char *name, const char *driver, struct kv_list *config,
                    struct qerror *err);
int change_remove_pool(struct app *app, const char *name, struct qerror *err);
int change_set_pool_option(struct app *app, struct pool *p, const char *key, const char *value,
                           struct qerror *err);

/* Adds a new qube for good: its volumes' images, then its store rows (one
 * transaction), then the collection; announces domain-add and a
 * domain-tag-add for each of new_tags, which it gets first. On failure
 * nothing of it remains and q is freed. */
int change_add_qube(struct app *app, struct qube *q, const char *const *new_tags, size_t n_tags,
                    struct qerror *err);
/* Removes a halted qube for good: its store rows (one transaction), then
 * domain-pre-delete, its volumes, the collection and domain-delete. Refused
 * (QubesVMInUseError) while another qube or a global property refers to it.
 * On success q is freed. */
int change_remove_qube(struct app *app, struct qube *q, struct qerror *err);
