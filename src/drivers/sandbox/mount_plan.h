/* The filesystem of a sandbox qube as data (bubblewrap's setup ops): a list
 * of steps built from the qube's volumes without touching the system, shown
 * by `qubes-sandbox --print-plan`, checked by unit tests, and applied by one
 * executor (mount_exec.c).
 *
 * Every path of a step is relative to a slot: a directory of dom0's (the
 * helper's work and staging directories) or a mount an earlier step made.
 * The executor resolves it by descriptor beneath that slot, refusing symbolic
 * links, "..", and crossing into another mount: a qube may have made any
 * name in its volumes a symbolic link, and no step may follow one. The only
 * dom0 paths in a plan are the trusted inputs: images, guest programs and the
 * device nodes a qube gets. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

/* Mounts and directories that steps name. */
enum plan_slot {
    SLOT_NONE,
    SLOT_WORK,           /* the helper's own directory for intermediate mounts */
    SLOT_STAGING,        /* the empty directory that becomes "/" */
    SLOT_VOLATILE,       /* tmpfs holding the writable layers of snapshots */
    SLOT_ROOT_IMAGE,     /* dom0's plain view of the root image */
    SLOT_ROOT_MAPPED,    /* the root image through the qube's id mapping */
    SLOT_ROOT,           /* the qube's "/" */
    SLOT_PRIVATE_IMAGE,  /* dom0's plain view of the private image */
    SLOT_PRIVATE_MAPPED, /* the private image through the qube's id mapping */
    SLOT_PRIVATE,        /* the qube's /rw */
    SLOT_DEV,
    SLOT_PROC,
    SLOT_RUN,
    SLOT_COUNT
};

enum plan_op {
    PLAN_MKDIR,     /* at: directories made as needed (mode, owner) */
    PLAN_FILE,      /* at: a new empty file, to bind a device node on */
    PLAN_SYMLINK,   /* at: a symbolic link to link_target (owner) */
    PLAN_MOUNT,     /* a new filesystem (fstype, options) on at */
    PLAN_IMAGE,     /* the ext4 image host, through a loop device, on at */
    PLAN_IDMAP,     /* a clone of the mount `from`, through the qube's id mapping, on at */
    PLAN_OVERLAY,   /* overlay of `from` (lower) under upper/work, on at */
    PLAN_BIND,      /* a recursive clone of from (slot, path) on at */
    PLAN_BIND_HOST, /* a recursive clone of dom0's path host on at */
    PLAN_MASK,      /* if at exists: a file is covered by /dev/null, a directory by an
                     * empty read-only tmpfs */
};

struct plan_path {
    enum plan_slot slot;
    const char *path; /* "" = the slot itself */
};

/* Mount attributes, as MOUNT_ATTR_* of mount_setattr(2). */
enum {
    PLAN_RDONLY = 1 << 0,
    PLAN_NOSUID = 1 << 1,
    PLAN_NODEV = 1 << 2,
    PLAN_NOEXEC = 1 << 3,
    PLAN_NOSYMFOLLOW = 1 << 4,
};

struct plan_step {
    enum plan_op op;
    struct plan_path at;
    struct plan_path from;     /* IDMAP, OVERLAY (lower), BIND */
    struct plan_path upper;    /* OVERLAY */
    struct plan_path workdir;  /* OVERLAY */
    const char *host;          /* IMAGE, BIND_HOST: a trusted dom0 path */
    const char *fstype;        /* MOUNT */
    char *options;             /* MOUNT: "key=value,flag,..." (owned) */
    const char *link_target;   /* SYMLINK */
    unsigned attr;             /* PLAN_* attributes of the new mount */
    mode_t mode;               /* MKDIR, FILE */
    uid_t owner;               /* MKDIR, SYMLINK; (uid_t)-1 = as made */
    enum plan_slot owner_like; /* MKDIR: owner and mode of this slot's root instead */
    enum plan_slot creates;    /* the slot the new mount fills */
};

/* What a qube's tree is made of. */
struct rootfs_config {
    const char *root_image;
    bool root_snapshot;        /* the template's image: read-only, under a writable layer */
    const char *private_image; /* NULL: /rw is an empty tmpfs */
    bool private_snapshot;     /* the DVM template's image: likewise */
    long volatile_mib;         /* the writable layers, together */
    const char *guest_dir;     /* dom0's guest programs, read-only at GUEST_DIR_IN_QUBE */
    uid_t uid_base;            /* host uid of the qube's root */
};

struct mount_plan {
    struct plan_step *steps;
    size_t n, cap;
};

/* Builds the plan of one qube; the strings of cfg must outlive the plan. */
void mount_plan_build(const struct rootfs_config *cfg, struct mount_plan *plan);
void mount_plan_free(struct mount_plan *plan);
/* One line per step, numbered. */
void mount_plan_print(const struct mount_plan *plan, FILE *out);
const char *plan_slot_name(enum plan_slot slot);
