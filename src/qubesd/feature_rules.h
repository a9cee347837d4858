/* What a feature may hold, checked before it is set (Qubes' feature-pre-set
 * handlers that raise): features only qubesd itself manages, and the values
 * of the features qubesd reads. Any other feature is free-form. */
#pragma once

#include "common/error.h"
#include "qubesd/app.h"

/* 0 if admin.vm.feature.Set may give q feature `name` the value (a NUL-free,
 * printable string, checked by the caller); else -1 with Qubes' error. */
int feature_check_set(const struct app *app, const struct qube *q, const char *name,
                      const char *value, struct qerror *err);
