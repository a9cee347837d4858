/* Applying a mount plan with the descriptor-based mount API: each new mount is
 * made detached (fsmount, open_tree), given its attributes, then moved onto a
 * target that was looked up beneath its slot (common/beneath.h). No path into
 * a qube's volume is ever walked by name. */
#include "drivers/sandbox/rootfs.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/beneath.h"
#include "common/buf.h"
#include "common/cleanup.h"
#include "drivers/sandbox/loopdev.h"

struct plan_exec {
    int slot[SLOT_COUNT];
    int idmap_userns_fd;
};

static uint64_t mount_attr(unsigned attr)
{
    uint64_t a = 0;
    if (attr & PLAN_RDONLY)
        a |= MOUNT_ATTR_RDONLY;
    if (attr & PLAN_NOSUID)
        a |= MOUNT_ATTR_NOSUID;
    if (attr & PLAN_NODEV)
        a |= MOUNT_ATTR_NODEV;
    if (attr & PLAN_NOEXEC)
        a |= MOUNT_ATTR_NOEXEC;
    if (attr & PLAN_NOSYMFOLLOW)
        a |= MOUNT_ATTR_NOSYMFOLLOW;
    return a;
}

/* Which volume of the qube a slot shows, and where the qube sees it. */
static const char *volume_of(enum plan_slot slot, const char **where)
{
    switch (slot) {
    case SLOT_ROOT_IMAGE:
    case SLOT_ROOT_MAPPED:
    case SLOT_ROOT: *where = "/"; return "root volume";
    case SLOT_PRIVATE_IMAGE:
    case SLOT_PRIVATE_MAPPED:
    case SLOT_PRIVATE: *where = "/rw/"; return "private volume";
    case SLOT_NONE:
    case SLOT_WORK:
    case SLOT_STAGING:
    case SLOT_VOLATILE:
    case SLOT_DEV:
    case SLOT_PROC:
    case SLOT_RUN:
    case SLOT_COUNT: break;
    }
    *where = "";
    return plan_slot_name(slot);
}

/* A refused lookup names the volume and the path as the qube sees it, so the
 * owner of the qube knows what to mend ("private volume: /rw/home is ..."). */
static void name_lookup(enum plan_slot slot, struct qerror *err)
{
    const char *where;
    const char *volume = volume_of(slot, &where);
    qerror_prefix(err, "%s: %s", volume, where);
}

static int open_at(const struct plan_exec *ex, struct plan_path p, int flags, struct qerror *err)
{
    if (ex->slot[p.slot] < 0)
        return qerror_set(err, ERR_QUBES_EXCEPTION, "%s is not mounted", plan_slot_name(p.slot));
    int fd = beneath_open(ex->slot[p.slot], p.path, flags, err);
    if (fd < 0)
        name_lookup(p.slot, err);
    return fd;
}

/* Moves the detached mount mnt onto the target looked up beneath its slot. */
static int attach(const struct plan_exec *ex, int mnt, struct plan_path at, struct qerror *err)
{
    _cleanup_close_ int target = open_at(ex, at, O_PATH, err);
    if (target < 0)
        return -1;
    if (syscall(SYS_move_mount, mnt, "", target, "",
                MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
        return qerror_errno(err, errno, "attach on %s:%s", plan_slot_name(at.slot), at.path);
    return 0;
}

static int set_attr(int mnt, uint64_t set, uint64_t clear, int userns_fd, struct qerror *err)
{
    struct mount_attr a = { .attr_set = set,
                            .attr_clr = clear,
                            .userns_fd = userns_fd < 0 ? 0 : (uint64_t)userns_fd };
    if (syscall(SYS_mount_setattr, mnt, "", AT_EMPTY_PATH | AT_RECURSIVE, &a, sizeof(a)) < 0)
        return qerror_errno(err, errno, "mount attributes");
    return 0;
}

/* A recursive detached copy of the mount tree at fd (or of dom0's path). */
static int clone_tree(int fd, const char *host, struct qerror *err)
{
    int tree = (int)syscall(SYS_open_tree, host ? AT_FDCWD : fd, host ? host : "",
                            OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE |
                                (host ? 0 : AT_EMPTY_PATH));
    if (tree < 0)
        return qerror_errno(err, errno, "clone %s", host ? host : "mount");
    return tree;
}

/* A new filesystem, configured from "key=value,flag" options. */
static int new_fs(const char *fstype, const char *source, const char *options, unsigned attr,
                  struct qerror *err)
{
    _cleanup_close_ int fs = (int)syscall(SYS_fsopen, fstype, FSOPEN_CLOEXEC);
    if (fs < 0)
        return qerror_errno(err, errno, "fsopen %s", fstype);
    if (syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "source", source, 0) < 0)
        return qerror_errno(err, errno, "%s: source %s", fstype, source);
    _cleanup_free_ char *copy = xstrdup(options ? options : "");
    char *save = NULL;
    for (char *kv = strtok_r(copy, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(kv, '=');
        if (eq)
            *eq = '\0';
        if (syscall(SYS_fsconfig, fs, eq ? FSCONFIG_SET_STRING : FSCONFIG_SET_FLAG, kv,
                    eq ? eq + 1 : NULL, 0) < 0)
            return qerror_errno(err, errno, "%s: option %s", fstype, kv);
    }
    if (syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) {
        int e = errno;
        /* the kernel's own words, when it left some ("e VFS: Can't find ...") */
        char why[256];
        ssize_t n = read(fs, why, sizeof(why) - 1);
        if (n > 2 && why[1] == ' ') {
            why[n] = '\0';
            why[strcspn(why, "\n")] = '\0';
            return qerror_set(err, ERR_QUBES_EXCEPTION, "%s: %s", fstype, why + 2);
        }
        return qerror_errno(err, e, "create %s", fstype);
    }
    int mnt = (int)syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, (unsigned)mount_attr(attr));
    if (mnt < 0)
        return qerror_errno(err, errno, "fsmount %s", fstype);
    return mnt;
}

/* Keeps a new mount: its descriptor fills a slot, or is closed. */
static void keep(struct plan_exec *ex, enum plan_slot slot, int mnt)
{
    if (slot)
        ex->slot[slot] = mnt;
    else
        close(mnt);
}

static int do_mkdir(struct plan_exec *ex, const struct plan_step *s, struct qerror *err)
{
    _cleanup_close_ int dir =
        beneath_mkdirs(ex->slot[s->at.slot], s->at.path, s->mode, s->owner, err);
    if (dir < 0) {
        name_lookup(s->at.slot, err);
        return -1;
    }
    if (!s->owner_like)
        return 0;
    struct stat st;
    _cleanup_close_ int rw = open_at(ex, s->at, O_RDONLY | O_DIRECTORY, err);
    if (rw < 0)
        return -1;
    if (fstat(ex->slot[s->owner_like], &st) < 0 || fchown(rw, st.st_uid, st.st_gid) < 0 ||
        fchmod(rw, st.st_mode & 07777) < 0)
        return qerror_errno(err, errno, "owner of %s like %s", s->at.path,
                            plan_slot_name(s->owner_like));
    return 0;
}

static int do_symlink(struct plan_exec *ex, const struct plan_step *s, struct qerror *err)
{
    const char *slash = strrchr(s->at.path, '/');
    _cleanup_free_ char *parent =
        slash ? xasprintf("%.*s", (int)(slash - s->at.path), s->at.path) : xstrdup("");
    const char *name = slash ? slash + 1 : s->at.path;
    _cleanup_close_ int dir =
        open_at(ex, (struct plan_path){ s->at.slot, parent }, O_PATH | O_DIRECTORY, err);
    if (dir < 0)
        return -1;
    if (symlinkat(s->link_target, dir, name) < 0)
        return qerror_errno(err, errno, "symlink %s", s->at.path);
    if (s->owner != (uid_t)-1 && fchownat(dir, name, s->owner, s->owner, AT_SYMLINK_NOFOLLOW) < 0)
        return qerror_errno(err, errno, "chown %s", s->at.path);
    return 0;
}

static int do_image(struct plan_exec *ex, const struct plan_step *s, struct qerror *err)
{
    char dev[32];
    bool read_only = s->attr & PLAN_RDONLY;
    /* the loop device clears itself once the mount is gone */
    _cleanup_close_ int loop = loop_attach(s->host, read_only, dev, err);
    if (loop < 0)
        return -1;
    int mnt = new_fs("ext4", dev, read_only ? "ro" : NULL, s->attr, err);
    if (mnt < 0 || attach(ex, mnt, s->at, err) < 0) {
        if (mnt >= 0)
            close(mnt);
        const char *where;
        qerror_prefix(err, "%s: mount %s: ", volume_of(s->creates, &where), s->host);
        return -1;
    }
    keep(ex, s->creates, mnt);
    return 0;
}

/* Where a clone goes: attributes set while detached, then attached. */
static int place(struct plan_exec *ex, const struct plan_step *s, int tree, uint64_t set,
                 uint64_t clear, int userns_fd, struct qerror *err)
{
    if ((set || clear || userns_fd >= 0) && set_attr(tree, set, clear, userns_fd, err) < 0) {
        close(tree);
        return -1;
    }
    if (attach(ex, tree, s->at, err) < 0) {
        close(tree);
        return -1;
    }
    keep(ex, s->creates, tree);
    return 0;
}

static int do_idmap(struct plan_exec *ex, const struct plan_step *s, struct qerror *err)
{
    int tree = clone_tree(ex->slot[s->from.slot], NULL, err);
    if (tree < 0)
        return -1;
    /* dom0's view does not follow symbolic links, nor run set-user-ID
     * programs; the qube's follows its links, and its root runs them */
    uint64_t clear = MOUNT_ATTR_NOSYMFOLLOW | (s->attr & PLAN_NOSUID ? 0 : MOUNT_ATTR_NOSUID);
    return place(ex, s, tree, MOUNT_ATTR_IDMAP | mount_attr(s->attr), clear, ex->idmap_userns_fd,
                 err);
}

static int do_bind(struct plan_exec *ex, const struct plan_step *s, struct qerror *err)
{
    int tree;
    if (s->op == PLAN_BIND_HOST) {
        tree = clone_tree(-1, s->host, err);
    } else {
        _cleanup_close_ int from = open_at(ex, s->from, O_PATH, err);
        tree = from < 0 ? -1 : clone_tree(from, NULL, err);
    }
    if (tree < 0)
        return -1;
    return place(ex, s, tree, mount_attr(s->attr), 0, -1, err);
}

static int do_overlay(struct plan_exec *ex, const struct plan_step *s, struct qerror *err)
{
    /* overlayfs takes its layers as paths: /proc/self/fd/N names each by the
     * descriptor already looked up */
    _cleanup_close_ int upper = open_at(ex, s->upper, O_PATH | O_DIRECTORY, err);
    _cleanup_close_ int work = upper < 0 ? -1 : open_at(ex, s->workdir, O_PATH | O_DIRECTORY, err);
    if (work < 0)
        return -1;
    _cleanup_free_ char *opts = xasprintf("lowerdir=/proc/self/fd/%d,upperdir=/proc/self/fd/%d,"
                                          "workdir=/proc/self/fd/%d",
                                          ex->slot[s->from.slot], upper, work);
    int mnt = new_fs("overlay", "overlay", opts, s->attr, err);
    if (mnt < 0)
        return -1;
    return place(ex, s, mnt, 0, 0, -1, err);
}

static int do_mask(struct plan_exec *ex, const struct plan_step *s, struct qerror *err)
{
    _cleanup_close_ int fd = beneath_open_optional(ex->slot[s->at.slot], s->at.path, err);
    if (fd < 0 && err->kind)
        name_lookup(s->at.slot, err);
    if (fd < 0)
        return err->kind ? -1 : 0; /* absent on this kernel: nothing to cover */
    struct stat st;
    if (fstat(fd, &st) < 0)
        return qerror_errno(err, errno, "stat %s", s->at.path);
    int mnt = S_ISDIR(st.st_mode)
                  ? new_fs("tmpfs", "masked", "mode=0555",
                           PLAN_RDONLY | PLAN_NOSUID | PLAN_NODEV | PLAN_NOEXEC, err)
                  : clone_tree(-1, "/dev/null", err);
    if (mnt < 0)
        return -1;
    return place(ex, s, mnt, 0, 0, -1, err);
}

static int apply_step(struct plan_exec *ex, const struct plan_step *s, struct qerror *err)
{
    switch (s->op) {
    case PLAN_MKDIR: return do_mkdir(ex, s, err);
    case PLAN_FILE: {
        int fd = beneath_mkfile(ex->slot[s->at.slot], s->at.path, s->mode, err);
        if (fd < 0) {
            name_lookup(s->at.slot, err);
            return -1;
        }
        close(fd);
        return 0;
    }
    case PLAN_SYMLINK: return do_symlink(ex, s, err);
    case PLAN_MOUNT: {
        int mnt = new_fs(s->fstype, s->fstype, s->options, s->attr, err);
        if (mnt < 0)
            return -1;
        return place(ex, s, mnt, 0, 0, -1, err);
    }
    case PLAN_IMAGE: return do_image(ex, s, err);
    case PLAN_IDMAP: return do_idmap(ex, s, err);
    case PLAN_OVERLAY: return do_overlay(ex, s, err);
    case PLAN_BIND:
    case PLAN_BIND_HOST: return do_bind(ex, s, err);
    case PLAN_MASK: return do_mask(ex, s, err);
    }
    return qerror_set(err, ERR_QUBES_EXCEPTION, "unknown plan step %d", (int)s->op);
}

static int enter(int root, struct qerror *err)
{
    if (fchdir(root) < 0)
        return qerror_errno(err, errno, "chdir to the new root");
    if (syscall(SYS_pivot_root, ".", ".") < 0)
        return qerror_errno(err, errno, "pivot_root");
    if (umount2(".", MNT_DETACH) < 0)
        return qerror_errno(err, errno, "detach the old root");
    if (chdir("/") < 0)
        return qerror_errno(err, errno, "chdir /");
    return 0;
}

int rootfs_setup(const struct mount_plan *plan, const char *work, const char *staging,
                 int idmap_userns_fd, struct qerror *err)
{
    struct plan_exec ex = { .idmap_userns_fd = idmap_userns_fd };
    for (int i = 0; i < SLOT_COUNT; i++)
        ex.slot[i] = -1;
    int rc = -1;
    mode_t old_umask = umask(0); /* modes in the plan are exact */
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
        qerror_errno(err, errno, "make mounts private");
        goto out;
    }
    ex.slot[SLOT_WORK] = open(work, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    ex.slot[SLOT_STAGING] = open(staging, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (ex.slot[SLOT_WORK] < 0 || ex.slot[SLOT_STAGING] < 0) {
        qerror_errno(err, errno, "open %s", ex.slot[SLOT_WORK] < 0 ? work : staging);
        goto out;
    }
    for (size_t i = 0; i < plan->n; i++) {
        if (apply_step(&ex, &plan->steps[i], err) < 0)
            goto out;
    }
    rc = ex.slot[SLOT_ROOT] < 0 ? qerror_set(err, ERR_QUBES_EXCEPTION, "the plan made no root")
                                : enter(ex.slot[SLOT_ROOT], err);
out:
    umask(old_umask);
    for (int i = 0; i < SLOT_COUNT; i++)
        if (ex.slot[i] >= 0)
            close(ex.slot[i]);
    return rc;
}
