/* admin.vm.tag.*: tags mark qubes for policy rules (@tag:...). */
#include <string.h>

#include "common/cleanup.h"
#include "qubesd/api.h"
#include "qubesd/change.h"

static int tag_list(struct api_call *call, struct qerror *err)
{
    (void)err;
    for (size_t i = 0; i < call->dest->tags.n; i++)
        buf_printf(&call->out, "%s\n", call->dest->tags.items[i]);
    return 0;
}

static int tag_get(struct api_call *call, struct qerror *err)
{
    (void)err;
    buf_append_str(&call->out, str_set_has(&call->dest->tags, call->arg) ? "1" : "0");
    return 0;
}

/* created-by-* records who made a qube; only dom0 may change it. */
static int check_created_by(const struct api_call *call, struct qerror *err)
{
    if (strncmp(call->arg, "created-by-", 11) == 0 && call->src->cls != QUBE_ADMINVM)
        return qerror_set(err, ERR_PERMISSION_DENIED, "changing tag %s is not allowed", call->arg);
    return 0;
}

static int tag_set(struct api_call *call, struct qerror *err)
{
    if (check_created_by(call, err) < 0)
        return -1;
    return change_set_tag(call->app, call->dest, call->arg, true, err);
}

static int tag_remove(struct api_call *call, struct qerror *err)
{
    if (check_created_by(call, err) < 0)
        return -1;
    if (!str_set_has(&call->dest->tags, call->arg))
        return qerror_set(err, ERR_QUBES_TAG_NOT_FOUND_ERROR, "Tag not set for domain %s: %s",
                          call->dest->name, call->arg);
    return change_set_tag(call->app, call->dest, call->arg, false, err);
}

const struct api_method api_tag_methods[] = {
    { "admin.vm.tag.List", ARG_NONE, WANT_NO, WANT_ANY, tag_list },
    { "admin.vm.tag.Get", ARG_TAG, WANT_NO, WANT_ANY, tag_get },
    { "admin.vm.tag.Set", ARG_TAG, WANT_NO, WANT_ANY, tag_set },
    { "admin.vm.tag.Remove", ARG_TAG, WANT_NO, WANT_ANY, tag_remove },
    { NULL, ARG_NONE, WANT_NO, WANT_NO, NULL },
};
