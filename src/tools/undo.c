/* The undo list of the tools that change several things in one run (qvm-create,
 * qvm-create-default-netvms): each change is recorded before or as it is made. */
#include "tools/undo.h"

#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/cleanup.h"

static struct undo_step *undo_push(struct undo *u)
{
    u->steps = xrealloc(u->steps, (u->n + 1) * sizeof(*u->steps));
    struct undo_step *s = &u->steps[u->n++];
    memset(s, 0, sizeof(*s));
    return s;
}

void undo_created_qube(struct undo *u, const char *name)
{
    undo_push(u)->qube = xstrdup(name);
}

int undo_global_property(struct undo *u, const char *prop, struct qerror *err)
{
    struct qprop p = { 0 };
    if (global_prop_get(prop, &p, err) < 0)
        return -1;
    struct undo_step *s = undo_push(u);
    s->prop = xstrdup(prop);
    s->was_default = p.is_default;
    s->value = p.value;
    return 0;
}

/* One step put back; false with step_err set when it could not be. */
static bool undo_step_run(const struct undo_step *s, struct qerror *step_err)
{
    if (s->qube)
        return qcall("admin.vm.Remove", "", s->qube, "", 0, NULL, step_err) == 0;
    if (s->was_default)
        return qcall("admin.property.Reset", s->prop, "dom0", "", 0, NULL, step_err) == 0;
    return qcall("admin.property.Set", s->prop, "dom0", s->value, strlen(s->value), NULL,
                 step_err) == 0;
}

int undo_fail(const struct cli *cli, struct undo *u, const char *what, const struct qerror *err)
{
    _cleanup_buf_ struct buf done = BUF_INIT;
    _cleanup_strv_ char **failures = NULL;
    size_t nfailures = 0;
    for (size_t i = u->n; i-- > 0;) {
        const struct undo_step *s = &u->steps[i];
        struct qerror step_err = { 0 };
        bool ok = undo_step_run(s, &step_err);
        if (done.len)
            buf_append_str(&done, ", ");
        if (s->qube && u->name_qubes)
            buf_printf(&done, "qube %s %s", s->qube, ok ? "removed" : "NOT removed");
        else if (s->qube)
            buf_printf(&done, "qube %s", ok ? "removed" : "NOT removed");
        else
            buf_printf(&done, "qubes-prefs %s %s", s->prop, ok ? "put back" : "NOT put back");
        if (!ok)
            cli_strv_push(&failures, &nfailures, xstrdup(step_err.message));
    }
    if (done.len)
        cli_error(cli, "%s (%s): %s", what, done.data, err->message);
    else
        cli_error(cli, "%s: %s", what, err->message);
    for (size_t i = 0; i < nfailures; i++)
        cli_error(cli, "%s", failures[i]);
    undo_free(u);
    return CLI_EXIT_FAIL;
}

void undo_free(struct undo *u)
{
    for (size_t i = 0; i < u->n; i++) {
        free(u->steps[i].qube);
        free(u->steps[i].prop);
        free(u->steps[i].value);
    }
    free(u->steps);
    u->steps = NULL;
    u->n = 0;
}
