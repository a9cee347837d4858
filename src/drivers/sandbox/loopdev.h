/* Attaching an image file to a loop device that detaches itself once the
 * last mount of it is gone (so a dying qube cannot leak one). */
#pragma once

#include <stdbool.h>

#include "common/error.h"

/* Writes "/dev/loopN" into path (size >= 32) and returns an open descriptor
 * of it: the device clears itself when the last user goes, so keep the
 * descriptor until the filesystem is mounted, then close it. */
int loop_attach(const char *image, bool read_only, char *path, struct qerror *err);
