/* The seccomp filter of every sandbox qube. */
#pragma once

#include "common/error.h"

/* Loads the filter into the calling thread, which needs CAP_SYS_ADMIN in its
 * user namespace (no_new_privs stays unset). */
int sandbox_seccomp_load(struct qerror *err);
