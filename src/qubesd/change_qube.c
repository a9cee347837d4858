/* The change layer for whole qubes: their images, rows and place in the
 * collection come and go together. */
#include "qubesd/change.h"

#include <stdio.h>

#include "common/log.h"
#include "qubesd/events.h"
#include "qubesd/persist.h"
#include "qubesd/storage_glue.h"

struct qube_txn {
    struct app *app;
    const struct qube *q;
};

static int insert_step(void *ctx, struct qerror *err)
{
    struct qube_txn *t = ctx;
    return persist_qube_insert(t->app, t->q, err);
}

int change_add_qube(struct app *app, struct qube *q, const char *const *new_tags, size_t n_tags,
                    struct qerror *err)
{
    for (size_t i = 0; i < n_tags; i++)
        str_set_add(&q->tags, new_tags[i]);
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
    const char *vm_key[] = { "vm" }, *vm_val[] = { q->name };
    app_fire(app, NULL, "domain-add", 1, vm_key, vm_val);
    for (size_t i = 0; i < n_tags; i++) {
        char event[96];
        snprintf(event, sizeof(event), "domain-tag-add:%s", new_tags[i]);
        const char *tag_key[] = { "tag" }, *tag_val[] = { new_tags[i] };
        app_fire(app, q, event, 1, tag_key, tag_val);
    }
    return 0;
}

static int remove_step(void *ctx, struct qerror *err)
{
    struct qube_txn *t = ctx;
    return persist_qube_delete(t->app, t->q, err);
}

int change_remove_qube(struct app *app, struct qube *q, struct qerror *err)
{
    if (q->cls == QUBE_ADMINVM)
        return qerror_set(err, ERR_QUBES_VM_IN_USE_ERROR, "'dom0' cannot be removed");
    if (q->runtime)
        return qerror_set(err, ERR_QUBES_VM_NOT_HALTED_ERROR, "Domain is not powered off: '%s'",
                          q->name);
    const char *holder, *prop;
    if (prop_find_reference(app, q, &holder, &prop)) {
        log_info("qube=%s op=remove result=in-use by=%s property=%s", q->name, holder, prop);
        return qerror_set(err, ERR_QUBES_VM_IN_USE_ERROR, "Domain is in use: '%s' (%s of %s)",
                          q->name, prop, holder);
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
