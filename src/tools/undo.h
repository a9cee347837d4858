/* What a tool changed so far (qubes it created, global properties it set), put back in
 * reverse order when a later step fails, so that nothing half-made stays. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"
#include "tools/cli.h"

struct undo_step {
    char *qube; /* a qube this run created, to remove; or NULL */
    char *prop; /* a global property this run is about to change; or NULL */
    bool was_default;
    char *value; /* its value before ("" for None) */
};

struct undo {
    struct undo_step *steps;
    size_t n;
    bool name_qubes; /* say which qube went: the run may have made more than one */
};

/* name was created by this run. */
void undo_created_qube(struct undo *u, const char *name);
/* Records the global property's present value (admin.property.Get); call it before the
 * change. */
int undo_global_property(struct undo *u, const char *prop, struct qerror *err);
/* Puts everything back, newest first, and reports "<what> (<what was put back>): <err>";
 * an undo step that failed too is said so there, and its own error follows on a line of its
 * own. Returns CLI_EXIT_FAIL. */
int undo_fail(const struct cli *cli, struct undo *u, const char *what, const struct qerror *err);

void undo_free(struct undo *u);
#define _cleanup_undo_ __attribute__((cleanup(undo_free)))
