/* admin.vm.property.* and admin.property.* (the app's global properties). */
#include <string.h>

#include "common/cleanup.h"
#include "common/py_repr.h"
#include "qubesd/api.h"
#include "qubesd/property.h"
#include "qubesd/change.h"

/* The holder: the destination qube, or NULL (the app) for admin.property.*. */
static struct qube *holder_of(const struct api_call *call)
{
    return strncmp(call->method, "admin.vm.", 9) == 0 ? call->dest : NULL;
}

static const struct prop_def *lookup(const struct api_call *call, struct qerror *err)
{
    struct qube *q = holder_of(call);
    const struct prop_def *def = q ? prop_find(q->cls, call->arg) : prop_find_global(call->arg);
    if (!def) {
        _cleanup_buf_ struct buf r = BUF_INIT;
        py_repr(&r, call->arg, strlen(call->arg));
        qerror_set(err, ERR_QUBES_NO_SUCH_PROPERTY_ERROR, "Invalid property %s of %s", r.data,
                   q ? q->name : "Qubes");
    }
    return def;
}

static int property_list(struct api_call *call, struct qerror *err)
{
    (void)err;
    size_t n;
    const struct prop_def *const *defs = prop_list(holder_of(call), &n);
    for (size_t i = 0; i < n; i++)
        buf_printf(&call->out, "%s\n", defs[i]->name);
    return 0;
}

static int property_get(struct api_call *call, struct qerror *err)
{
    const struct prop_def *def = lookup(call, err);
    if (!def)
        return -1;
    prop_serialize(call->app, holder_of(call), def, &call->out);
    return 0;
}

static int property_get_all(struct api_call *call, struct qerror *err)
{
    (void)err;
    struct qube *q = holder_of(call);
    size_t n;
    const struct prop_def *const *defs = prop_list(q, &n);
    _cleanup_buf_ struct buf one = BUF_INIT;
    for (size_t i = 0; i < n; i++) {
        buf_reset(&one);
        prop_serialize(call->app, q, defs[i], &one);
        buf_append_str(&call->out, defs[i]->name);
        buf_append_char(&call->out, ' ');
        /* escape backslash first, then newline, as qubesd does */
        const char *p = one.data, *end = one.data + one.len;
        while (p < end) {
            size_t plain = strcspn(p, "\\\n");
            buf_append(&call->out, p, plain);
            p += plain;
            if (p < end) {
                buf_append_str(&call->out, *p == '\\' ? "\\\\" : "\\n");
                p++;
            }
        }
        buf_append_char(&call->out, '\n');
    }
    return 0;
}

static int property_get_default(struct api_call *call, struct qerror *err)
{
    const struct prop_def *def = lookup(call, err);
    if (!def)
        return -1;
    _cleanup_buf_ struct buf v = BUF_INIT;
    if (prop_default(call->app, holder_of(call), def, &v) == 0)
        buf_printf(&call->out, "type=%s %s", prop_type_name(def->type), v.data ? v.data : "");
    return 0;
}

static int property_set(struct api_call *call, struct qerror *err)
{
    const struct prop_def *def = lookup(call, err);
    if (!def)
        return -1;
    struct qube *q = holder_of(call);
    _cleanup_buf_ struct buf value = BUF_INIT;
    if (prop_check_writable(q, def, false, err) < 0 ||
        prop_sanitize(call->app, q, def, call->untrusted_payload, call->payload_len, &value, err) <
            0)
        return -1;
    return change_set_property(call->app, q, def, value.data ? value.data : "", err);
}

static int property_reset(struct api_call *call, struct qerror *err)
{
    const struct prop_def *def = lookup(call, err);
    if (!def)
        return -1;
    return change_set_property(call->app, holder_of(call), def, NULL, err);
}

static int property_help(struct api_call *call, struct qerror *err)
{
    const struct prop_def *def = lookup(call, err);
    if (!def)
        return -1;
    prop_help(def, &call->out);
    return 0;
}

const struct api_method api_property_methods[] = {
    { "admin.vm.property.List", ARG_NONE, WANT_NO, WANT_ANY, property_list },
    { "admin.vm.property.Get", ARG_NAME, WANT_NO, WANT_ANY, property_get },
    { "admin.vm.property.GetAll", ARG_NONE, WANT_NO, WANT_ANY, property_get_all },
    { "admin.vm.property.GetDefault", ARG_NAME, WANT_NO, WANT_ANY, property_get_default },
    { "admin.vm.property.Set", ARG_NAME, WANT_ANY, WANT_ANY, property_set },
    { "admin.vm.property.Reset", ARG_NAME, WANT_NO, WANT_ANY, property_reset },
    { "admin.vm.property.Help", ARG_NAME, WANT_NO, WANT_ANY, property_help },
    { "admin.property.List", ARG_NONE, WANT_NO, WANT_YES, property_list },
    { "admin.property.Get", ARG_NAME, WANT_NO, WANT_YES, property_get },
    { "admin.property.GetAll", ARG_NONE, WANT_NO, WANT_YES, property_get_all },
    { "admin.property.GetDefault", ARG_NAME, WANT_NO, WANT_YES, property_get_default },
    { "admin.property.Set", ARG_NAME, WANT_ANY, WANT_YES, property_set },
    { "admin.property.Reset", ARG_NAME, WANT_NO, WANT_YES, property_reset },
    { "admin.property.Help", ARG_NAME, WANT_NO, WANT_YES, property_help },
    { NULL, ARG_NONE, WANT_NO, WANT_NO, NULL },
};
