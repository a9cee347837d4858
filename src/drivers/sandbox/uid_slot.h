/* Host uid ranges of running sandbox qubes. Each running qube holds a lock
 * on its range's file in one host-wide directory for as long as its helper
 * lives, so no two qubes share host uids, whichever instance root they
 * belong to. */
#pragma once

#include <sys/types.h>

#include "common/error.h"

#define UID_SLOT_DIR "/run/qubicle/uid-slots"

/* The first uid of a free range, preferring the one of `hint`; returns the
 * descriptor that holds it (released when closed, or when the process ends). */
int uid_slot_acquire(int hint, uid_t *base, struct qerror *err);
/* The first uid of range `slot`. */
uid_t uid_slot_base(int slot);
