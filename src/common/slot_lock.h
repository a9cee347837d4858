/* Numbered slots held with flock(2) on files of one directory: the kernel
 * releases a slot when its holder's descriptor goes, also when the process
 * dies by SIGKILL, so a slot is never leaked nor held twice. For resources
 * that outlive no process: host uid ranges of running qubes, concurrent
 * disposables of one caller. */
#pragma once

#include "common/error.h"

/* Takes a free slot in [0, count), trying `first` first and then the next
 * ones, wrapping; dir is made (0700) if missing. Returns the descriptor that
 * holds it and its number in *slot; -1 with err set on failure, or -1 with
 * errno EBUSY (err untouched) when every slot is held. */
int slot_lock_acquire(const char *dir, int first, int count, int *slot, struct qerror *err);
