/* admin.pool.* (reference §2.1, upstream qubes/api/admin.py pool_*): the
 * pools of the model, their drivers, configuration and space. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "common/parse.h"
#include "qubesd/api.h"
#include "qubesd/change.h"
#include "qubesd/property.h"
#include "qubesd/storage_glue.h"

/* An unknown pool: admin.py's enforce_arg, which does not tell a qube whether
 * a name it may not see exists (PermissionDenied). */
static const struct pool *find_pool(const struct api_call *call, struct qerror *err)
{
    const struct pool *p = app_pool_find(call->app, call->arg);
    if (!p)
        qerror_set(err, ERR_PERMISSION_DENIED, "Argument not in 'pools'");
    return p;
}

static int pool_list(struct api_call *call, struct qerror *err)
{
    (void)err;
    for (size_t i = 0; i < call->app->n_pools; i++)
        buf_printf(&call->out, "%s\n", call->app->pools[i].name);
    return 0;
}

static int pool_list_drivers(struct api_call *call, struct qerror *err)
{
    (void)err;
    size_t n;
    const struct pool_driver *const *d = storage_drivers(&n);
    for (size_t i = 0; i < n; i++) {
        buf_append_str(&call->out, d[i]->name);
        for (const char *const *p = d[i]->params; *p; p++)
            buf_printf(&call->out, " %s", *p);
        buf_append_char(&call->out, '\n');
    }
    return 0;
}

static int pool_info(struct api_call *call, struct qerror *err)
{
    const struct pool *mp = find_pool(call, err);
    struct storage_pool p;
    if (!mp || storage_pool_open_model(call->app, mp, &p, err) < 0)
        return -1;
    storage_pool_config(&p, &call->out);
    uint64_t size, usage;
    if (p.driver->usage_details(&p, &size, &usage) == 0)
        buf_printf(&call->out, "size=%llu\nusage=%llu\n", (unsigned long long)size,
                   (unsigned long long)usage);
    storage_pool_close(&p);
    return 0;
}

static int pool_usage_details(struct api_call *call, struct qerror *err)
{
    const struct pool *mp = find_pool(call, err);
    struct storage_pool p;
    if (!mp || storage_pool_open_model(call->app, mp, &p, err) < 0)
        return -1;
    uint64_t size, usage;
    if (p.driver->usage_details(&p, &size, &usage) == 0)
        buf_printf(&call->out, "data_size=%llu\ndata_usage=%llu\n", (unsigned long long)size,
                   (unsigned long long)usage);
    storage_pool_close(&p);
    return 0;
}

static bool pool_name_ok(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '-' || *s == '_' || *s == '.'))
            return false;
    return true;
}

static int pool_add(struct api_call *call, struct qerror *err)
{
    struct app *app = call->app;
    const struct pool_driver *d = storage_driver_find(call->arg);
    if (!d)
        return qerror_set(err, ERR_QUBES_EXCEPTION, "unexpected driver name: %s", call->arg);
    _cleanup_free_ char *text = NULL;
    if (api_payload_string(call, &text, err) < 0)
        return -1;
    for (const char *c = text; *c; c++)
        if ((unsigned char)*c > 0x7e || ((unsigned char)*c < 0x20 && *c != '\n'))
            return api_protocol_error(err, "payload must be ASCII");
    struct kv_list config = { 0 };
    _cleanup_free_ char *name = NULL;
    _cleanup_buf_ struct buf unexpected = BUF_INIT;
    int rc = -1;
    char *save = NULL;
    size_t nlines = 0;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        nlines++;
        char *eq = strchr(line, '=');
        if (!eq) {
            api_protocol_error(err, "Invalid pool option line");
            goto out;
        }
        *eq = '\0';
        if ((strcmp(line, "name") == 0 && name) || kv_has(&config, line)) {
            api_protocol_error(err, "Duplicated pool option");
            goto out;
        }
        if (strcmp(line, "name") == 0) {
            name = xstrdup(eq + 1);
            continue;
        }
        bool known = false;
        for (const char *const *p = d->params; *p; p++)
            known = known || strcmp(*p, line) == 0;
        if (!known)
            buf_printf(&unexpected, "%s%s", unexpected.len ? " " : "", line);
        kv_set(&config, line, eq + 1);
    }
    if (!name) {
        api_protocol_error(err, "Missing pool name");
        goto out;
    }
    if (!pool_name_ok(name)) {
        api_protocol_error(err, "Invalid pool name");
        goto out;
    }
    if (app_pool_find(app, name)) {
        api_protocol_error(err, "Pool already exists");
        goto out;
    }
    if (unexpected.len) {
        qerror_set(err, ERR_QUBES_EXCEPTION, "unexpected driver options: %s", unexpected.data);
        goto out;
    }
    /* the pool as it would be, before it is in the model */
    struct pool candidate = { .name = name, .driver = (char *)d->name, .config = config };
    struct storage_pool p;
    if (storage_pool_open_model(app, &candidate, &p, err) < 0)
        goto out;
    rc = d->setup(&p, err);
    storage_pool_close(&p);
    if (rc < 0)
        goto out;
    rc = change_add_pool(app, name, d->name, &config, err);
out:
    kv_free(&config);
    return rc;
}

/* Who uses the pool: a volume of a qube, or a default_pool* property. */
static bool pool_in_use(const struct app *app, const char *name, struct qerror *err)
{
    static const char *const props[] = { "default_pool", "default_pool_kernel",
                                         "default_pool_private", "default_pool_root",
                                         "default_pool_volatile" };
    for (size_t i = 0; i < ARRAY_SIZE(props); i++) {
        _cleanup_buf_ struct buf v = BUF_INIT;
        const struct prop_def *def = prop_find_global(props[i]);
        if (def && prop_value(app, NULL, def, &v) == 0 && v.data && strcmp(v.data, name) == 0) {
            qerror_set(err, ERR_QUBES_POOL_IN_USE_ERROR, "Storage pool is in use: set as %s",
                       props[i]);
            return true;
        }
    }
    for (size_t i = 0; i < app->n_qubes; i++) {
        const struct qube *q = app->qubes[i];
        struct qube_storage s;
        struct qerror ignored;
        if (qube_storage_open(app, q, &s, &ignored) < 0)
            continue;
        for (size_t j = 0; j < s.n; j++) {
            if (strcmp(s.pool[j].name, name) == 0) {
                qerror_set(err, ERR_QUBES_POOL_IN_USE_ERROR,
                           "Storage pool is in use: volume %s of %s", s.vol[j].name, q->name);
                qube_storage_close(&s);
                return true;
            }
        }
        qube_storage_close(&s);
    }
    return false;
}

static int pool_remove(struct api_call *call, struct qerror *err)
{
    struct app *app = call->app;
    const struct pool *p = find_pool(call, err);
    if (!p || pool_in_use(app, p->name, err))
        return -1;
    return change_remove_pool(app, p->name, err);
}

static int pool_volume_list(struct api_call *call, struct qerror *err)
{
    const struct app *app = call->app;
    const struct pool *p = find_pool(call, err);
    if (!p)
        return -1;
    struct kv_list seen = { 0 };
    for (size_t i = 0; i < app->n_qubes; i++) {
        struct qube_storage s;
        struct qerror ignored;
        if (qube_storage_open(app, app->qubes[i], &s, &ignored) < 0)
            continue;
        for (size_t j = 0; j < s.n; j++) {
            if (strcmp(s.pool[j].name, p->name) != 0 || kv_has(&seen, s.vol[j].vid))
                continue;
            kv_set(&seen, s.vol[j].vid, "");
            buf_printf(&call->out, "%s\n", s.vol[j].vid);
        }
        qube_storage_close(&s);
    }
    kv_free(&seen);
    return 0;
}

static int pool_set(struct api_call *call, const char *key, const char *value, struct qerror *err)
{
    struct app *app = call->app;
    struct pool *p = (struct pool *)find_pool(call, err);
    if (!p)
        return -1;
    const struct pool_driver *d = storage_driver_find(p->driver);
    bool known = false;
    for (const char *const *k = d ? d->params : NULL; k && *k; k++)
        known = known || strcmp(*k, key) == 0;
    if (!known)
        return qerror_set(err, ERR_STORAGE_POOL_EXCEPTION, "Pool %s has no option %s", p->name,
                          key);
    if (change_set_pool_option(app, p, key, value, err) < 0)
        return -1;
    log_info("pool=%s op=set %s=%s", p->name, key, value);
    return 0;
}

static int pool_set_revisions_to_keep(struct api_call *call, struct qerror *err)
{
    _cleanup_free_ char *text = NULL;
    if (api_payload_string(call, &text, err) < 0)
        return -1;
    const char *d = text[0] == '-' ? text + 1 : text;
    if (!*d || strspn(d, "0123456789") != strlen(d))
        return api_protocol_error(err, "Size contains non ASCII digits");
    if (strlen(d) >= 20)
        return api_protocol_error(err, "Size is bigger than 19 decimal digits");
    if (d[0] == '0' && d[1])
        return api_protocol_error(err, "Size contains spurious leading zeros");
    long long v;
    if (parse_ll(text, -1, LLONG_MAX, 0, &v) < 0)
        return api_protocol_error(err, "Invalid value for revisions_to_keep");
    char num[32];
    snprintf(num, sizeof(num), "%lld", v);
    return pool_set(call, "revisions_to_keep", num, err);
}

static int pool_set_ephemeral_volatile(struct api_call *call, struct qerror *err)
{
    _cleanup_free_ char *text = NULL;
    bool b;
    if (api_payload_string(call, &text, err) < 0)
        return -1;
    if (parse_bool(text, PARSE_BOOL_EMPTY_FALSE, &b) < 0)
        return api_protocol_error(err, "Invalid value");
    return pool_set(call, "ephemeral_volatile", storage_bool_str(b), err);
}

const struct api_method api_pool_methods[] = {
    { "admin.pool.List", ARG_NONE, WANT_NO, WANT_YES, pool_list },
    { "admin.pool.ListDrivers", ARG_NONE, WANT_NO, WANT_YES, pool_list_drivers },
    { "admin.pool.Info", ARG_NAME, WANT_NO, WANT_YES, pool_info },
    { "admin.pool.UsageDetails", ARG_NAME, WANT_NO, WANT_YES, pool_usage_details },
    { "admin.pool.Add", ARG_NAME, WANT_YES, WANT_YES, pool_add },
    { "admin.pool.Remove", ARG_NAME, WANT_NO, WANT_YES, pool_remove },
    { "admin.pool.volume.List", ARG_NAME, WANT_NO, WANT_YES, pool_volume_list },
    { "admin.pool.Set.revisions_to_keep", ARG_NAME, WANT_YES, WANT_YES,
      pool_set_revisions_to_keep },
    { "admin.pool.Set.ephemeral_volatile", ARG_NAME, WANT_YES, WANT_YES,
      pool_set_ephemeral_volatile },
    { NULL, ARG_NONE, WANT_NO, WANT_NO, NULL },
};
