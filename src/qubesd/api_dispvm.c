/* admin.vm.CreateDisposable (qubes/api/admin.py create_disposable): a new
 * disposable of the caller's default_dispvm or of the named disposable
 * template, a preloaded one when one is ready. */
#include <string.h>

#include "common/log.h"
#include "qubesd/api.h"
#include "qubesd/dispvm.h"
#include "qubesd/dispvm_preload.h"
#include "qubesd/property.h"

static int create_disposable(struct api_call *call, struct qerror *err)
{
    struct app *app = call->app;
    bool preload = strcmp(call->arg, "preload") == 0;
    if (*call->arg && !preload)
        return qerror_set(err, ERR_PROTOCOL_ERROR, "Invalid argument for %s", call->method);
    bool want_uuid = call->payload_len == 4 && memcmp(call->untrusted_payload, "uuid", 4) == 0;
    if (call->payload_len && !want_uuid)
        return qerror_set(err, ERR_QUBES_VALUE_ERROR,
                          "Invalid payload for admin.vm.CreateDisposable: expected the empty "
                          "string or 'uuid'");

    struct qube *dvm = call->dest;
    if (dvm->cls == QUBE_ADMINVM) {
        dvm = prop_value_qube(app, call->src, "default_dispvm");
        if (!dvm)
            return qerror_set(err, ERR_QUBES_EXCEPTION,
                              "Refusing to create disposable for %s: it has no default_dispvm",
                              call->src->name);
    }
    if (dispvm_check_template(app, dvm, err) < 0)
        return -1;
    if (preload) {
        dispvm_pool_kick(call->services->dispvm_pool);
        return 0;
    }

    struct qube *q = dispvm_pool_take(call->services->dispvm_pool, dvm, call->src);
    if (!q && dispvm_create(app, dvm, call->src, NULL, 0, &q, err) < 0)
        return -1;
    /* a fresh one means the pool is short too (fill_preload_gap) */
    dispvm_pool_handed_out(call->services->dispvm_pool);
    if (want_uuid)
        buf_printf(&call->out, "uuid:%s", q->uuid);
    else
        buf_append_str(&call->out, q->name);
    return 0;
}

const struct api_method api_dispvm_methods[] = {
    { "admin.vm.CreateDisposable", ARG_NAME_OPTIONAL, WANT_ANY, WANT_ANY, create_disposable },
    { NULL, ARG_NONE, WANT_NO, WANT_NO, NULL },
};
