/* Writing model changes to the store. Each function is one statement; the
 * caller wraps a whole Admin API change in store_begin/store_commit. */
#pragma once

#include "qubesd/app.h"
#include "qubesd/property.h"

/* value NULL deletes the row (property back to default). q NULL = global. */
int persist_property(struct app *app, const struct qube *q, const struct prop_def *def,
                     const char *value, struct qerror *err);
/* The qube row with everything it holds (properties, tags, features, ...). */
int persist_qube_insert(struct app *app, const struct qube *q, struct qerror *err);
int persist_qube_delete(struct app *app, const struct qube *q, struct qerror *err);
int persist_feature(struct app *app, const struct qube *q, const char *name, const char *value,
                    struct qerror *err);
int persist_tag(struct app *app, const struct qube *q, const char *tag, bool present,
                struct qerror *err);
int persist_notes(struct app *app, const struct qube *q, const char *text, struct qerror *err);
int persist_firewall(struct app *app, const struct qube *q, const char *rules,
                     struct qerror *err);
int persist_label_insert(struct app *app, const struct label *l, struct qerror *err);
int persist_label_delete(struct app *app, const char *name, struct qerror *err);

/* Runs fn(ctx) between BEGIN and COMMIT; rolls back if either fails. */
int persist_transaction(struct app *app, int (*fn)(void *ctx, struct qerror *err), void *ctx,
                        struct qerror *err);
