/* Changing a property the way Qubes does: checks, one store transaction,
 * then the pre/post events and the resets they imply for dependants. */
#pragma once

#include "qubesd/property.h"

/* new_value is canonical text (from prop_sanitize), or NULL to reset. */
int prop_change(struct app *app, struct qube *q, const struct prop_def *def,
                const char *new_value, struct qerror *err);
