/* admin.vmclass.List, admin.vm.List, admin.vm.Create.<Class>,
 * admin.vm.CreateInPool.<Class> and admin.vm.Remove. */
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "common/names.h"
#include "qubesd/api.h"
#include "qubesd/dispvm.h"
#include "qubesd/lifecycle.h"
#include "qubesd/change.h"
#include "qubesd/policy_service.h"
#include "qubesd/property.h"
#include "qubesd/property_rules.h"
#include "qubesd/storage_glue.h"
#include "store/store.h"

static const char *const volume_names[] = { "root", "private", "volatile", "kernel" };

static int vmclass_list(struct api_call *call, struct qerror *err)
{
    (void)err;
    for (int c = 0; c < QUBE_CLASS_COUNT; c++)
        buf_printf(&call->out, "%s\n", qube_class_name((enum qube_class)c));
    return 0;
}

static const char *power_state(const struct qube *q)
{
    return power_state_name(qube_power(q));
}

static void list_line(struct buf *out, const struct qube *q)
{
    buf_printf(out, "%s class=%s state=%s uuid=%s\n", q->name, qube_class_name(q->cls),
               power_state(q), q->uuid);
}

/* A qube (a management qube calling through qrexec) sees only the qubes the policy lets it
 * list, as Qubes' admin-permission:admin.vm.List filter. */
static int vm_list(struct api_call *call, struct qerror *err)
{
    (void)err;
    struct policy_check *check = NULL;
    if (call->src->cls != QUBE_ADMINVM && call->services->policy)
        check = policy_check_begin(call->services->policy);
    bool all = call->dest->cls == QUBE_ADMINVM;
    for (size_t i = 0; i < (all ? call->app->n_qubes : 1); i++) {
        const struct qube *q = all ? call->app->qubes[i] : call->dest;
        if (!check || policy_check_allows(check, call->src->name, q->name, "admin.vm.List"))
            list_line(&call->out, q);
    }
    policy_check_end(check);
    return 0;
}

struct create_params {
    char *name;
    const struct label *label;
    char *pool;
    const char *vol_pools[4];
};

static int parse_create_payload(const struct api_call *call, bool in_pool, struct create_params *p,
                                char **storage, struct qerror *err)
{
    if (api_payload_string(call, storage, err) < 0)
        return -1;
    if (!all_printable_ascii(*storage, call->payload_len))
        return api_protocol_error(err, "payload must be printable ASCII");
    char *save = NULL;
    for (char *part = *storage; part; part = save) {
        /* split(' '): every single space separates, so "a  b" has an empty part */
        save = strchr(part, ' ');
        if (save)
            *save++ = '\0';
        char *eq = strchr(part, '=');
        if (!eq)
            return qerror_set(err, ERR_PROTOCOL_ERROR, "Invalid param name: '%s'", part);
        *eq = '\0';
        const char *key = part, *value = eq + 1;
        if (strcmp(key, "name") == 0) {
            if (p->name)
                return api_protocol_error(err, "duplicated parameters");
            if (validate_qube_name(value, NULL, err) < 0)
                return -1;
            p->name = (char *)value;
        } else if (strcmp(key, "label") == 0) {
            if (p->label)
                return api_protocol_error(err, "duplicated parameters");
            if (!label_name_ok(value, true))
                return qerror_set(err, ERR_QUBES_INVALID_LABEL_ERROR, "Invalid label name: '%s'",
                                  value);
            p->label = app_label_lookup(call->app, value);
            if (!p->label)
                return qerror_set(err, ERR_QUBES_LABEL_NOT_FOUND_ERROR, "Label does not exist: %s",
                                  value);
        } else if (in_pool && strcmp(key, "pool") == 0) {
            if (p->pool)
                return api_protocol_error(err, "duplicated pool parameter");
            if (!app_pool_find(call->app, value))
                return qerror_set(err, ERR_QUBES_EXCEPTION, "Unknown storage pool %s", value);
            p->pool = (char *)value;
        } else if (in_pool && strncmp(key, "pool:", 5) == 0) {
            size_t v = 0;
            while (v < ARRAY_SIZE(volume_names) && strcmp(volume_names[v], key + 5) != 0)
                v++;
            if (v == ARRAY_SIZE(volume_names))
                return qerror_set(err, ERR_PROTOCOL_ERROR, "Invalid volume name: '%s'", key + 5);
            if (p->vol_pools[v])
                return qerror_set(err, ERR_PROTOCOL_ERROR, "duplicated pool:%s parameter", key + 5);
            if (!app_pool_find(call->app, value))
                return qerror_set(err, ERR_QUBES_EXCEPTION, "Unknown storage pool %s", value);
            p->vol_pools[v] = value;
        } else {
            return qerror_set(err, ERR_PROTOCOL_ERROR, "Invalid param name: '%s'", key);
        }
    }
    if (!p->name || !p->label)
        return api_protocol_error(err, "Missing name or label");
    for (size_t v = 0; v < ARRAY_SIZE(volume_names); v++)
        if (p->pool && p->vol_pools[v])
            return api_protocol_error(err, "Only one of 'pool=' and 'pool:volume=' can be used");
    return 0;
}

static void set_initial(struct qube *q, const char *name, const char *value)
{
    const struct prop_def *def = prop_find(q->cls, name);
    free(q->props[def->index]);
    q->props[def->index] = xstrdup(value);
}

static int vm_create(struct api_call *call, struct qerror *err)
{
    struct app *app = call->app;
    enum qube_class cls = (enum qube_class)qube_class_from_name(call->endpoint);
    bool has_template = cls == QUBE_APPVM || cls == QUBE_DISPVM;
    bool in_pool = strncmp(call->method, "admin.vm.CreateInPool.", 22) == 0;

    struct qube *template = NULL;
    if (*call->arg) {
        if (!has_template)
            return qerror_set(err, ERR_PROTOCOL_ERROR, "%s cannot be based on template",
                              call->endpoint);
        template = app_find(app, call->arg);
        if (!template)
            return qerror_set(err, ERR_QUBES_VM_NOT_FOUND_ERROR, "No such domain: '%s'", call->arg);
    }

    struct create_params p = { 0 };
    _cleanup_free_ char *storage = NULL;
    if (parse_create_payload(call, in_pool, &p, &storage, err) < 0)
        return -1;
    if (app_find(app, p.name))
        return qerror_set(err, ERR_QUBES_VM_ALREADY_EXISTS_ERROR, "VM %s already exists", p.name);

    if (has_template && !template) {
        template =
            prop_value_qube(app, NULL, cls == QUBE_DISPVM ? "default_dispvm" : "default_template");
        if (!template)
            return qerror_set(err, ERR_QUBES_VALUE_ERROR,
                              "Template for the qube not specified, nor default template set.");
    }
    int qid = app_new_qid(app);
    if (qid < 0)
        return qerror_set(err, ERR_QUBES_EXCEPTION, "No unused qube id left");

    struct qube *q = xcalloc(1, sizeof(*q));
    q->qid = qid;
    q->cls = cls;
    strcpy(q->name, p.name);
    app_new_uuid(q->uuid);
    set_initial(q, "label", p.label->name);
    if (template) {
        const struct prop_def *tdef = prop_find(cls, "template");
        if (check_template(app, q, tdef, template->name, err) < 0) {
            qube_free(q);
            return -1;
        }
        set_initial(q, "template", template->name);
    }
    if (cls == QUBE_DISPVM) {
        int dispid = dispvm_new_dispid(app);
        if (dispid < 0) {
            qube_free(q);
            return qerror_set(err, ERR_QUBES_EXCEPTION, "No unused dispid left");
        }
        char text[16];
        snprintf(text, sizeof(text), "%d", dispid);
        set_initial(q, "dispid", text);
        /* a named disposable starts as a copy of its template's settings too */
        dispvm_clone_template(app, q, template);
    }
    for (size_t v = 0; v < ARRAY_SIZE(volume_names); v++) {
        const char *pool = p.vol_pools[v] ? p.vol_pools[v] : v < 3 ? p.pool : NULL;
        if (pool)
            kv_set(&q->volume_pools, volume_names[v], pool);
    }
    _cleanup_free_ char *tag = xasprintf("created-by-%s", call->src->name);
    const char *tags[] = { tag };
    char name[sizeof(q->name)];
    snprintf(name, sizeof(name), "%s", q->name);
    if (change_add_qube(app, q, tags, 1, err) < 0)
        return -1;
    log_info("qube=%s op=create class=%s qid=%d", name, call->endpoint, qid);
    return 0;
}

static int vm_remove(struct api_call *call, struct qerror *err)
{
    struct app *app = call->app;
    struct qube *q = call->dest;
    if (q->cls == QUBE_ADMINVM)
        return qerror_set(err, ERR_QUBES_VM_IN_USE_ERROR, "'dom0' cannot be removed");
    if (qube_power(q) != POWER_HALTED)
        return qerror_set(err, ERR_QUBES_VM_NOT_HALTED_ERROR, "Domain is not powered off: '%s'",
                          q->name);
    if (prop_value_bool(app, q, "installed_by_rpm"))
        return qerror_set(err, ERR_QUBES_VM_IN_USE_ERROR, "VM installed by package manager: %s",
                          q->name);
    if (change_remove_qube(app, q, err) < 0)
        return -1;
    call->dest = NULL;
    return 0;
}

const struct api_method api_vm_methods[] = {
    { "admin.vmclass.List", ARG_NONE, WANT_NO, WANT_YES, vmclass_list },
    { "admin.vm.List", ARG_NONE, WANT_NO, WANT_ANY, vm_list },
    { "admin.vm.Create.", ARG_NAME_OPTIONAL, WANT_YES, WANT_YES, vm_create },
    { "admin.vm.CreateInPool.", ARG_NAME_OPTIONAL, WANT_YES, WANT_YES, vm_create },
    { "admin.vm.Remove", ARG_NONE, WANT_NO, WANT_ANY, vm_remove },
    { NULL, ARG_NONE, WANT_NO, WANT_NO, NULL },
};
