/* Paths inside a qube's volume, resolved by descriptor beneath it: a qube is
 * root of its own tree and may have turned any name into a symbolic link, so
 * dom0 never walks such a path by name. Every lookup here refuses symbolic
 * links, magic links, ".." out of the tree and crossing into another mount. */
#pragma once

#include <sys/types.h>

#include "common/error.h"

/* Opens path beneath dirfd ("" = dirfd itself). flags are open(2)'s; O_CLOEXEC
 * is added. Errors name the path and why it was refused. */
int beneath_open(int dirfd, const char *path, int flags, struct qerror *err);

/* Like `mkdir -p` beneath dirfd: each missing component is made with mode (the
 * umask applies) and, unless owner is (uid_t)-1, handed to owner:owner. An
 * existing component must be a real directory. Returns an O_PATH descriptor
 * of the last component. */
int beneath_mkdirs(int dirfd, const char *path, mode_t mode, uid_t owner, struct qerror *err);

/* Creates an empty regular file beneath dirfd (it must not exist) and returns
 * an O_PATH descriptor of it. */
int beneath_mkfile(int dirfd, const char *path, mode_t mode, struct qerror *err);

/* Opens path beneath dirfd as O_PATH; -1 with errno ENOENT (and err untouched)
 * when it does not exist, so optional paths can be skipped. */
int beneath_open_optional(int dirfd, const char *path, struct qerror *err);
