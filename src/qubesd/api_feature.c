/* admin.vm.feature.*: free-form key/value settings of a qube, and the
 * CheckWith* lookups that walk the template / netvm chains to dom0. */
#include <string.h>

#include "common/cleanup.h"
#include "common/names.h"
#include "qubesd/api.h"
#include "qubesd/feature_rules.h"
#include "qubesd/change.h"
#include "qubesd/property.h"

#define FEATURE_VALUE_MAX 4096

static int not_found(const struct api_call *call, struct qerror *err)
{
    return qerror_set(err, ERR_QUBES_FEATURE_NOT_FOUND_ERROR, "Feature not set for domain %s: %s",
                      call->dest->name, call->arg);
}

static int feature_list(struct api_call *call, struct qerror *err)
{
    (void)err;
    const struct kv_list *f = &call->dest->features;
    for (size_t i = 0; i < f->n; i++)
        buf_printf(&call->out, "%s\n", f->items[i].key);
    return 0;
}

static int feature_get(struct api_call *call, struct qerror *err)
{
    const char *v = kv_get(&call->dest->features, call->arg);
    if (!v)
        return not_found(call, err);
    buf_append_str(&call->out, v);
    return 0;
}

enum chain { CHAIN_NONE, CHAIN_TEMPLATE, CHAIN_NETVM };

/* features.py _recursive_check: along the chain, then dom0 if asked. */
static int check_with(struct api_call *call, enum chain chain, bool admin_vm, struct qerror *err)
{
    const struct app *app = call->app;
    const struct qube *q = call->dest;
    for (size_t steps = 0; q && steps <= app->n_qubes; steps++) {
        const char *v = kv_get(&q->features, call->arg);
        if (v) {
            buf_append_str(&call->out, v);
            return 0;
        }
        q = chain == CHAIN_TEMPLATE ? qube_template(app, q)
            : chain == CHAIN_NETVM  ? qube_netvm(app, q)
                                    : NULL;
    }
    if (admin_vm && call->dest->cls != QUBE_ADMINVM) {
        const char *v = kv_get(&app_dom0(app)->features, call->arg);
        if (v) {
            buf_append_str(&call->out, v);
            return 0;
        }
    }
    return not_found(call, err);
}

static int check_with_template(struct api_call *call, struct qerror *err)
{
    return check_with(call, CHAIN_TEMPLATE, false, err);
}

static int check_with_netvm(struct api_call *call, struct qerror *err)
{
    return check_with(call, CHAIN_NETVM, false, err);
}

static int check_with_adminvm(struct api_call *call, struct qerror *err)
{
    return check_with(call, CHAIN_NONE, true, err);
}

static int check_with_template_and_adminvm(struct api_call *call, struct qerror *err)
{
    return check_with(call, CHAIN_TEMPLATE, true, err);
}

static int feature_set(struct api_call *call, struct qerror *err)
{
    if (call->payload_len > FEATURE_VALUE_MAX ||
        !all_printable_ascii(call->untrusted_payload, call->payload_len))
        return qerror_set(err, ERR_QUBES_VALUE_ERROR, "%s value contains illegal characters",
                          call->arg);
    _cleanup_free_ char *value = xstrndup(call->untrusted_payload, call->payload_len);

    if (feature_check_set(call->app, call->dest, call->arg, value, err) < 0)
        return -1;
    return change_set_feature(call->app, call->dest, call->arg, value, err);
}

static int feature_remove(struct api_call *call, struct qerror *err)
{
    if (!kv_has(&call->dest->features, call->arg))
        return not_found(call, err);
    return change_set_feature(call->app, call->dest, call->arg, NULL, err);
}

const struct api_method api_feature_methods[] = {
    { "admin.vm.feature.List", ARG_NONE, WANT_NO, WANT_ANY, feature_list },
    { "admin.vm.feature.Get", ARG_NAME, WANT_NO, WANT_ANY, feature_get },
    { "admin.vm.feature.CheckWithTemplate", ARG_NAME, WANT_NO, WANT_ANY, check_with_template },
    { "admin.vm.feature.CheckWithNetvm", ARG_NAME, WANT_NO, WANT_ANY, check_with_netvm },
    { "admin.vm.feature.CheckWithAdminVM", ARG_NAME, WANT_NO, WANT_ANY, check_with_adminvm },
    { "admin.vm.feature.CheckWithTemplateAndAdminVM", ARG_NAME, WANT_NO, WANT_ANY,
      check_with_template_and_adminvm },
    { "admin.vm.feature.Set", ARG_FEATURE, WANT_ANY, WANT_ANY, feature_set },
    { "admin.vm.feature.Remove", ARG_NAME, WANT_NO, WANT_ANY, feature_remove },
    { NULL, ARG_NONE, WANT_NO, WANT_NO, NULL },
};
