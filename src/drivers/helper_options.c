/* Parsing the helpers' common options (see helper_options.h). */
#include "drivers/helper_options.h"

#include <limits.h>

#include "common/names.h"
#include "common/parse.h"

static int number(const char *arg, const char *what, long *out, struct qerror *err)
{
    long long v;
    if (parse_ll(arg, 0, LONG_MAX, 0, &v) < 0)
        return qerror_set(err, ERR_QUBES_EXCEPTION, "%s must be a non-negative number: %s", what,
                          arg);
    *out = (long)v;
    return 1;
}

int helper_option(struct helper_options *o, int code, const char *arg, struct qerror *err)
{
    long v = 0;
    switch (code) {
    case 1: o->name = arg; return 1;
    case 2:
        if (number(arg, "--qid", &v, err) < 0)
            return -1;
        o->qid = v > INT_MAX ? INT_MAX : (int)v;
        return 1;
    case 3: o->tag = arg; return 1;
    case 4: o->state_dir = arg; return 1;
    case 5: o->root_image = arg; return 1;
    case 6: o->root_snapshot = true; return 1;
    case 7: o->private_image = arg; return 1;
    case 8: o->private_snapshot = true; return 1;
    case 9: return number(arg, "--volatile-mib", &o->volatile_mib, err);
    case 10: return number(arg, "--memory-mib", &o->memory_mib, err);
    case 11: return number(arg, "--maxmem-mib", &o->maxmem_mib, err);
    case 12:
        if (number(arg, "--vcpus", &v, err) < 0)
            return -1;
        o->vcpus = v > INT_MAX ? INT_MAX : (int)v;
        return 1;
    default: return 0;
    }
}

bool helper_options_valid(const struct helper_options *o, bool for_start)
{
    struct qerror err = { 0 };
    return o->name && validate_qube_name(o->name, NULL, &err) == 0 && o->root_image && o->qid > 0 &&
           o->qid < 10000 && (!o->private_snapshot || o->private_image) &&
           (!for_start || (o->tag && o->state_dir));
}
