/* admin.label.*: the colours of qubes. The eight defaults are fixed; users
 * may add their own above index 8. */
#include <ctype.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/names.h"
#include "qubesd/api.h"
#include "qubesd/change.h"
#include "qubesd/property.h"

#define DEFAULT_LABELS 8

static const struct label *find(const struct api_call *call, struct qerror *err)
{
    const struct label *l = app_label_lookup(call->app, call->arg);
    if (!l)
        qerror_set(err, ERR_QUBES_VALUE_ERROR, "Label does not exist: %s", call->arg);
    return l;
}

static int label_list(struct api_call *call, struct qerror *err)
{
    (void)err;
    for (size_t i = 0; i < call->app->n_labels; i++)
        buf_printf(&call->out, "%s\n", call->app->labels[i].name);
    return 0;
}

static int label_get(struct api_call *call, struct qerror *err)
{
    const struct label *l = find(call, err);
    if (!l)
        return -1;
    buf_append_str(&call->out, l->color);
    return 0;
}

static int label_index(struct api_call *call, struct qerror *err)
{
    const struct label *l = find(call, err);
    if (!l)
        return -1;
    buf_printf(&call->out, "%d", l->index);
    return 0;
}

static int label_create(struct api_call *call, struct qerror *err)
{
    struct app *app = call->app;
    if (app_label_lookup(app, call->arg))
        return qerror_set(err, ERR_QUBES_VALUE_ERROR, "label already exists");
    /* the colour, stripped of surrounding whitespace: exactly 0xRRGGBB */
    const char *p = call->untrusted_payload, *end = p + call->payload_len;
    while (p < end && isspace((unsigned char)*p))
        p++;
    while (end > p && isspace((unsigned char)end[-1]))
        end--;
    _cleanup_free_ char *color = xstrndup(p, (size_t)(end - p));
    if ((size_t)(end - p) != 8 || !label_color_ok(color))
        return qerror_set(err, ERR_QUBES_INVALID_LABEL_VALUE_ERROR,
                          "Invalid color: expected 0xRRGGBB");
    return change_add_label(app, call->arg, color, err);
}

static int label_remove(struct api_call *call, struct qerror *err)
{
    struct app *app = call->app;
    const struct label *l = find(call, err);
    if (!l)
        return -1;
    if (l->index <= DEFAULT_LABELS)
        return qerror_set(err, ERR_PROTOCOL_ERROR, "default label %s cannot be removed", l->name);
    for (size_t i = 0; i < app->n_qubes; i++) {
        const struct prop_def *def = prop_find(app->qubes[i]->cls, "label");
        const char *v = app->qubes[i]->props[def->index];
        if (v && strcmp(v, l->name) == 0)
            return qerror_set(err, ERR_QUBES_LABEL_IN_USE_ERROR, "Label is still in use: '%s'",
                              l->name);
    }
    return change_remove_label(app, l->name, err);
}

const struct api_method api_label_methods[] = {
    { "admin.label.List", ARG_NONE, WANT_NO, WANT_YES, label_list },
    { "admin.label.Get", ARG_NAME, WANT_NO, WANT_YES, label_get },
    { "admin.label.Index", ARG_NAME, WANT_NO, WANT_YES, label_index },
    { "admin.label.Create", ARG_NEW_LABEL, WANT_YES, WANT_YES, label_create },
    { "admin.label.Remove", ARG_NAME, WANT_NO, WANT_YES, label_remove },
    { NULL, ARG_NONE, WANT_NO, WANT_NO, NULL },
};
