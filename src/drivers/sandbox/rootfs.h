/* The one executor of a sandbox qube's mount plan (mount_plan.h), and the
 * switch into the finished tree. Runs as host root in the qube's new mount
 * namespace (and pid namespace, for /proc). */
#pragma once

#include "common/error.h"
#include "drivers/sandbox/mount_plan.h"

/* Applies the plan with dom0's directories work (intermediate mounts) and
 * staging (becomes "/"), then makes the qube's root the root of the mount
 * namespace and drops the old one. idmap_userns_fd is a user namespace that
 * maps 0 to cfg->uid_base. */
int rootfs_setup(const struct mount_plan *plan, const char *work, const char *staging,
                 int idmap_userns_fd, struct qerror *err);
