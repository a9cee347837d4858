/* System info from the live qubesd of $QUBES_ROOT through the Admin API:
 * admin.vm.List, then per qube property.GetAll and tag.List. */
#include <stdlib.h>
#include <string.h>

#include "client/qubesd_client.h"
#include "common/buf.h"
#include "common/cleanup.h"
#include "policy/internal.h"

/* Value of "key=" in a space-separated List line, copied; NULL if absent. */
static char *list_field(const char *line, const char *key)
{
    size_t kl = strlen(key);
    for (const char *p = strchr(line, ' '); p; p = strchr(p + 1, ' ')) {
        if (strncmp(p + 1, key, kl) == 0 && p[1 + kl] == '=')
            return xstrndup(p + 2 + kl, strcspn(p + 2 + kl, " "));
    }
    return NULL;
}

/* One GetAll line "name default=X type=T value": returns value for name. */
static char *getall_value(const char *untrusted_all, const char *name)
{
    size_t nl = strlen(name);
    for (const char *p = untrusted_all; p && *p;) {
        const char *end = strchr(p, '\n');
        size_t ll = end ? (size_t)(end - p) : strlen(p);
        if (ll > nl && strncmp(p, name, nl) == 0 && p[nl] == ' ') {
            _cleanup_free_ char *line = xstrndup(p + nl + 1, ll - nl - 1);
            const char *t = strstr(line, "type=");
            if (!t)
                return NULL;
            t = strchr(t, ' ');
            return xstrdup(t ? t + 1 : "");
        }
        p = end ? end + 1 : NULL;
    }
    return NULL;
}

static int fill_qube(struct policy_qube *q, struct qerror *err)
{
    _cleanup_buf_ struct buf all = BUF_INIT;
    if (qubesd_call_str("admin.vm.property.GetAll", "", q->name, NULL, &all, err) < 0)
        return -1;
    const char *text = all.data ? all.data : "";
    _cleanup_free_ char *dvm = getall_value(text, "default_dispvm");
    if (dvm && *dvm)
        policy_qube_set(&q->default_dispvm, dvm);
    _cleanup_free_ char *tfd = getall_value(text, "template_for_dispvms");
    q->template_for_dispvms = tfd && strcmp(tfd, "True") == 0;
    _cleanup_free_ char *internal = getall_value(text, "internal");
    q->internal = internal && strcmp(internal, "True") == 0;

    _cleanup_buf_ struct buf tags = BUF_INIT;
    if (qubesd_call_str("admin.vm.tag.List", "", q->name, NULL, &tags, err) < 0)
        return -1;
    for (char *p = tags.data, *save = NULL, *t = p ? strtok_r(p, "\n", &save) : NULL; t;
         t = strtok_r(NULL, "\n", &save))
        policy_qube_add_tag(q, t);
    return 0;
}

int policy_system_from_qubesd(struct policy_system *sys, struct qerror *err)
{
    _cleanup_buf_ struct buf list = BUF_INIT;
    if (qubesd_call_str("admin.vm.List", "", "dom0", NULL, &list, err) < 0) {
        qerror_prefix(err, "admin.vm.List: ");
        return -1;
    }
    for (char *save = NULL, *line = list.data ? strtok_r(list.data, "\n", &save) : NULL; line;
         line = strtok_r(NULL, "\n", &save)) {
        _cleanup_free_ char *name = xstrndup(line, strcspn(line, " "));
        _cleanup_free_ char *cls = list_field(line, "class");
        _cleanup_free_ char *state = list_field(line, "state");
        _cleanup_free_ char *uuid = list_field(line, "uuid");
        struct policy_qube *q = policy_system_add(sys, name, uuid, cls ? cls : "AppVM");
        if (state)
            policy_qube_set(&q->power_state, state);
        if (fill_qube(q, err) < 0) {
            qerror_prefix(err, "qube %s: ", name);
            return -1;
        }
    }
    return 0;
}
