/* Assembling a sandbox qube's filesystem tree in a private mount namespace:
 * root (own image, or the template's read-only under a discarded writable
 * layer), /rw (own image, or for a DispVM its DVM template's read-only under
 * a discarded writable layer), /home, /usr/local, a minimal /dev, a masked
 * /proc, tmpfs /run and /tmp, and dom0's guest programs read-only at
 * /run/qubes-guest. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "common/error.h"

/* Where guest programs appear inside every qube. */
#define GUEST_DIR_IN_QUBE "/run/qubes-guest"

struct rootfs_plan {
    const char *staging;       /* empty host directory that becomes "/" */
    const char *work;          /* host directory for intermediate mounts */
    const char *root_image;
    bool root_snapshot;
    const char *private_image; /* NULL: /rw is an empty tmpfs */
    bool private_snapshot;     /* private_image is read-only: overlay it */
    long volatile_mib;         /* the writable layers of both snapshots, together */
    const char *guest_dir;
    uid_t uid_base;            /* host uid of the qube's root */
    int idmap_userns_fd;       /* a user namespace mapping 0 -> uid_base */
};

/* Builds the tree at plan->staging. Must run as host root in the qube's new
 * mount namespace (and pid namespace, for /proc). */
int rootfs_build(const struct rootfs_plan *plan, struct qerror *err);
/* Makes staging the root of the mount namespace and drops the old root. */
int rootfs_enter(const char *staging, struct qerror *err);
