/* The feature rules (qubes/ext/admin.py, mix/dvmtemplate.py) and ours. */
#include "qubesd/feature_rules.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/parse.h"
#include "qubesd/property.h"

/* Set and removed only by qubesd: the preload pool's bookkeeping. */
static const char *const reserved[] = { "deferred-netvm-original", "preload-dispvm",
                                        "preload-dispvm-completed", "preload-dispvm-in-progress" };

/* A non-negative integer of at most `digits` digits. */
static bool digits_only(const char *v, size_t digits)
{
    size_t n = strlen(v);
    if (n == 0 || n > digits)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)v[i]))
            return false;
    return true;
}

/* preload-dispvm-max: on a disposable template (or dom0, for the global
 * default_dispvm), a number of disposables (dvmtemplate.py). */
static int check_preload_max(const struct qube *q, const char *name, const char *value,
                             struct qerror *err)
{
    if (q->cls != QUBE_ADMINVM && !prop_find(q->cls, "template_for_dispvms"))
        return qerror_set(err, ERR_QUBES_VALUE_ERROR,
                          "Qube %s is a %s, not a disposable template: %s is not for it", q->name,
                          qube_class_name(q->cls), name);
    if (strlen(value) > 9)
        return qerror_set(err, ERR_QUBES_VALUE_ERROR, "Invalid %s value: too large", name);
    if (*value && !digits_only(value, 9)) /* empty: none */
        return qerror_set(err, ERR_QUBES_VALUE_ERROR, "Invalid %s value: not a digit", name);
    return 0;
}

/* dispvm-calls-max: how many disposables a qube's calls may hold at once
 * (qrexec-daemon(1)), 0 to 1000. */
static int check_dispvm_calls_max(const struct qube *q, const char *name, const char *value,
                                  struct qerror *err)
{
    (void)q;
    long long n;
    if (!digits_only(value, 4) || parse_ll(value, 0, 1000, 0, &n) < 0)
        return qerror_set(err, ERR_QUBES_VALUE_ERROR, "Invalid %s value: a number from 0 to 1000",
                          name);
    return 0;
}

static const struct {
    const char *name;
    int (*check)(const struct qube *q, const char *name, const char *value, struct qerror *err);
} valued[] = {
    { "preload-dispvm-max", check_preload_max },
    { "dispvm-calls-max", check_dispvm_calls_max },
};

int feature_check_set(const struct app *app, const struct qube *q, const char *name,
                      const char *value, struct qerror *err)
{
    (void)app;
    for (size_t i = 0; i < ARRAY_SIZE(reserved); i++)
        if (strcmp(reserved[i], name) == 0)
            return qerror_set(err, ERR_PERMISSION_DENIED, "feature %s can only be set by qubesd",
                              name);
    for (size_t i = 0; i < ARRAY_SIZE(valued); i++)
        if (strcmp(valued[i].name, name) == 0)
            return valued[i].check(q, name, value, err);
    return 0;
}
