/* The seccomp filter of every sandbox qube. */
#pragma once

#include "common/error.h"

/* Loads the filter into the calling thread (no_new_privs must be set). */
int sandbox_seccomp_load(struct qerror *err);
