/* All of qubesd's SQL. Loading fills the model from the store; each write
 * function is one statement (or the rows of one object), which the change
 * layer (change.h) wraps in one transaction per change. */
#pragma once

#include "qubesd/app.h"
#include "qubesd/property.h"

/* Opens the store at db_path and loads the model from it; a fresh store first
 * gets what a new root starts with: dom0, the eight labels, the two pools of
 * Qubes' load_initial_values. No other qube is created implicitly. */
int persist_load(struct app *app, const char *db_path, struct qerror *err);

/* value NULL deletes the row (property back to default). q NULL = global. */
int persist_property(struct app *app, const struct qube *q, const struct prop_def *def,
                     const char *value, struct qerror *err);
/* The qube row with everything it holds (properties, tags, features, volumes, ...). */
int persist_qube_insert(struct app *app, const struct qube *q, struct qerror *err);
int persist_qube_delete(struct app *app, const struct qube *q, struct qerror *err);
/* value NULL deletes the feature. */
int persist_feature(struct app *app, const struct qube *q, const char *name, const char *value,
                    struct qerror *err);
int persist_tag(struct app *app, const struct qube *q, const char *tag, bool present,
                struct qerror *err);
int persist_notes(struct app *app, const struct qube *q, const char *text, struct qerror *err);
int persist_firewall(struct app *app, const struct qube *q, const char *rules, struct qerror *err);
int persist_label_insert(struct app *app, const struct label *l, struct qerror *err);
int persist_label_delete(struct app *app, const char *name, struct qerror *err);
int persist_pool_insert(struct app *app, const char *name, const char *driver,
                        const struct kv_list *config, struct qerror *err);
int persist_pool_option(struct app *app, const char *name, const char *key, const char *value,
                        struct qerror *err);
int persist_pool_delete(struct app *app, const char *name, struct qerror *err);
int persist_volume_key(struct app *app, const struct qube *q, const char *volume, const char *key,
                       const char *value, struct qerror *err);

/* Runs fn(ctx) between BEGIN and COMMIT; rolls back if either fails. */
int persist_transaction(struct app *app, int (*fn)(void *ctx, struct qerror *err), void *ctx,
                        struct qerror *err);
