/* QEMU's jail: what the process that becomes QEMU does to itself, after
 * clone gave it new mount, pid, network, ipc and uts namespaces. It sees a
 * tmpfs root holding only /usr (read-only: QEMU's program and libraries),
 * a few device nodes, its own /proc, a bounded /tmp for the overlays of
 * snapshot disks and the guest's kernel and initramfs. Its images and
 * sockets come as descriptors. It runs as an unprivileged uid, in a user
 * namespace of its own, with no_new_privs. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "common/error.h"

struct jail_config {
    const char *dir; /* an empty directory of the helper's: the jail's root */
    const char *kernel;
    const char *initramfs;
    long tmp_mib; /* size of /tmp, the discarded writable layers */
    bool kvm;     /* /dev/kvm inside, and its group */
    uid_t uid;
    gid_t gid;
};

/* 0, or -1 with err; on success the caller execs QEMU (by its path under
 * /usr). */
int jail_enter(const struct jail_config *cfg, struct qerror *err);
