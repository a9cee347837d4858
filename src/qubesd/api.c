/* Request decoding and method dispatch (qubes/api/__init__.py). */
#include "qubesd/api.h"

#include <ctype.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/names.h"
#include "common/py_repr.h"

static const struct api_method *const groups[] = {
    api_vm_methods,        api_property_methods, api_feature_methods, api_tag_methods,
    api_label_methods,     api_firewall_methods, api_notes_methods,   api_events_methods,
    api_lifecycle_methods, api_volume_methods,   api_pool_methods, /* storage */
    api_dispvm_methods,    api_device_methods,
};

/* Methods with one endpoint per qube class. */
static const char *const per_class_prefixes[] = { "admin.vm.Create.", "admin.vm.CreateInPool." };

int api_protocol_error(struct qerror *err, const char *msg)
{
    return qerror_set(err, ERR_PROTOCOL_ERROR, "%s", msg);
}

int api_payload_string(const struct api_call *call, char **out, struct qerror *err)
{
    if (memchr(call->untrusted_payload, '\0', call->payload_len))
        return api_protocol_error(err, "payload contains a NUL byte");
    *out = xstrndup(call->untrusted_payload, call->payload_len);
    return 0;
}

static bool uuid_form_ok(const char *s)
{
    /* 8-4-4-4-12 lower-case hex */
    if (strlen(s) != 36)
        return false;
    for (int i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !(isdigit((unsigned char)s[i]) || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    }
    return true;
}

/* decode_vm: "uuid:<uuid>" or a valid name, then lookup. */
static struct qube *decode_qube(const struct app *app, const char *untrusted, struct qerror *err)
{
    struct qube *q;
    if (strncmp(untrusted, "uuid:", 5) == 0) {
        if (!uuid_form_ok(untrusted + 5)) {
            qerror_set(err, ERR_QUBES_VM_INVALID_UUID_ERROR, "VM UUID is not valid: '%s'",
                       untrusted + 5);
            return NULL;
        }
        q = app_find_uuid(app, untrusted + 5);
    } else {
        if (validate_qube_name(untrusted, NULL, err) < 0)
            return NULL;
        q = app_find(app, untrusted);
    }
    if (!q)
        qerror_set(err, ERR_QUBES_VM_NOT_FOUND_ERROR, "No such domain: '%s'", untrusted);
    return q;
}

/* The argument against the method's syntax (the framing let through only
 * printable ASCII without spaces). */
static int check_arg(enum api_arg syntax, const char *untrusted_arg, struct qerror *err)
{
    size_t len = strlen(untrusted_arg);
    if (syntax == ARG_NONE)
        return len ? api_protocol_error(err, "unexpected argument") : 0;
    if (len == 0)
        return syntax == ARG_NAME_OPTIONAL ? 0 : api_protocol_error(err, "expected an argument");
    if (len > API_ARG_MAX)
        return api_protocol_error(err, "argument too long");
    switch (syntax) {
    case ARG_FEATURE:
        if (!feature_name_ok(untrusted_arg))
            return qerror_set(err, ERR_QUBES_VALUE_ERROR,
                              "feature name contains illegal characters");
        return 0;
    case ARG_TAG:
        if (!tag_name_ok(untrusted_arg))
            return qerror_set(err, ERR_QUBES_INVALID_TAG_ERROR, "disallowed characters in tag '%s'",
                              untrusted_arg);
        return 0;
    case ARG_NEW_LABEL:
        if (!label_name_ok(untrusted_arg, true))
            return qerror_set(err, ERR_QUBES_INVALID_LABEL_ERROR, "Invalid label name: '%s'",
                              untrusted_arg);
        return 0;
    case ARG_NONE:
    case ARG_NAME:
    case ARG_NAME_OPTIONAL: return 0;
    }
    return api_protocol_error(err, "unexpected argument");
}

static const struct api_method *find_method(const char *name, const char **endpoint)
{
    *endpoint = NULL;
    for (size_t g = 0; g < ARRAY_SIZE(groups); g++)
        for (const struct api_method *m = groups[g]; m->name; m++)
            if (strcmp(m->name, name) == 0 && name[strlen(name) - 1] != '.')
                return m;
    for (size_t i = 0; i < ARRAY_SIZE(per_class_prefixes); i++) {
        size_t n = strlen(per_class_prefixes[i]);
        if (strncmp(name, per_class_prefixes[i], n) != 0)
            continue;
        int cls = qube_class_from_name(name + n);
        if (cls < 0 || cls == QUBE_ADMINVM)
            return NULL;
        *endpoint = name + n;
        for (const struct api_method *m = api_vm_methods; m->name; m++)
            if (strcmp(m->name, per_class_prefixes[i]) == 0)
                return m;
    }
    return NULL;
}

void api_for_each_method(void (*fn)(const char *name, void *ctx), void *ctx)
{
    static const char *const classes[] = { "AppVM", "TemplateVM", "StandaloneVM", "DispVM" };
    for (size_t g = 0; g < ARRAY_SIZE(groups); g++)
        for (const struct api_method *m = groups[g]; m->name; m++) {
            if (m->name[strlen(m->name) - 1] != '.') {
                fn(m->name, ctx);
                continue;
            }
            for (size_t c = 0; c < ARRAY_SIZE(classes); c++) {
                _cleanup_free_ char *full = xasprintf("%s%s", m->name, classes[c]);
                fn(full, ctx);
            }
        }
}

int api_execute(struct app *app, const struct api_services *services,
                const struct admin_request *req, struct api_call *call, void *origin,
                struct qerror *err)
{
    static const struct api_services none = { 0 };
    memset(call, 0, sizeof(*call));
    call->app = app;
    call->services = services ? services : &none;
    call->origin = origin;
    call->src = decode_qube(app, req->src, err);
    if (!call->src)
        return -1;
    call->dest = decode_qube(app, req->dest, err);
    if (!call->dest)
        return -1;
    call->method = req->method;
    call->untrusted_arg = req->arg;
    call->untrusted_payload = req->payload;
    call->payload_len = req->payload_len;

    const struct api_method *m = find_method(req->method, &call->endpoint);
    if (!m) {
        _cleanup_buf_ struct buf r = BUF_INIT;
        py_repr(&r, req->method, strlen(req->method));
        return qerror_set(err, ERR_PROTOCOL_ERROR, "no such method: %s", r.data);
    }
    if (m->payload == WANT_YES && call->payload_len == 0)
        return api_protocol_error(err, "expected payload");
    if (m->payload == WANT_NO && call->payload_len != 0)
        return api_protocol_error(err, "unexpected payload");
    if (check_arg(m->arg, call->untrusted_arg, err) < 0)
        return -1;
    call->arg = call->untrusted_arg;
    bool dest_is_admin = call->dest->cls == QUBE_ADMINVM;
    if (m->dest_adminvm == WANT_YES && !dest_is_admin)
        return api_protocol_error(err, "expected destination to be AdminVM");
    if (m->dest_adminvm == WANT_NO && dest_is_admin)
        return api_protocol_error(err, "expected destination to not be AdminVM");
    return m->fn(call, err);
}

void api_call_free(struct api_call *call)
{
    buf_free(&call->out);
}
