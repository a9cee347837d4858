/* Mount plan of a sandbox qube, applied step by step; every step names what
 * it was doing when it fails. */
#include "drivers/sandbox/rootfs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "drivers/sandbox/loopdev.h"

#define NOSUID_NODEV (MS_NOSUID | MS_NODEV)

static int do_mount(const char *src, const char *target, const char *type, unsigned long flags,
                    const char *data, struct qerror *err)
{
    if (mount(src, target, type, flags, data) < 0)
        return qerror_errno(err, errno, "mount %s on %s", src ? src : type ? type : "(remount)", target);
    return 0;
}

/* mkdir that accepts an existing directory; uid -1 keeps the owner. */
static int make_dir(const char *path, mode_t mode, uid_t uid, struct qerror *err)
{
    if (mkdir(path, mode) < 0) {
        if (errno != EEXIST)
            return qerror_errno(err, errno, "mkdir %s", path);
        return 0;
    }
    if (uid != (uid_t)-1 && chown(path, uid, uid) < 0)
        return qerror_errno(err, errno, "chown %s", path);
    return 0;
}

static int make_file(const char *path, struct qerror *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return qerror_errno(err, errno, "create %s", path);
    close(fd);
    return 0;
}

/* Mounts an ext4 image (through a self-clearing loop device) at target. */
static int mount_image(const char *image, const char *target, bool read_only, struct qerror *err)
{
    char dev[32];
    _cleanup_close_ int fd = loop_attach(image, read_only, dev, err);
    if (fd < 0)
        return -1;
    return do_mount(dev, target, "ext4", NOSUID_NODEV | (read_only ? MS_RDONLY : 0), NULL,
                    err);
}

/* Re-mounts source at target through the qube's id mapping: files owned by
 * uid N on disk appear as the qube's uid N. */
static int idmapped_bind(const char *source, const char *target, int userns_fd,
                         struct qerror *err)
{
    _cleanup_close_ int tree = (int)syscall(SYS_open_tree, AT_FDCWD, source,
                                            OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
    if (tree < 0)
        return qerror_errno(err, errno, "open_tree %s", source);
    struct mount_attr attr = { .attr_set = MOUNT_ATTR_IDMAP, .userns_fd = (unsigned)userns_fd };
    if (syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH, &attr, sizeof(attr)) < 0)
        return qerror_errno(err, errno, "idmap %s", source);
    if (syscall(SYS_move_mount, tree, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH) < 0)
        return qerror_errno(err, errno, "move idmapped %s to %s", source, target);
    return 0;
}

/* Directories every root needs, to mount on. */
static const char *const mount_points[] = { "rw", "home", "usr", "usr/local", "dev", "proc",
                                            "run", "tmp", "sys" };

/* The writable layers of snapshot volumes (root, private) share one tmpfs:
 * together they are bounded by volatile_mib, charged to the qube's memory
 * cgroup, and gone with the qube's mount namespace. */
static int mount_volatile(const struct rootfs_plan *p, struct qerror *err)
{
    _cleanup_free_ char *vol = xasprintf("%s/volatile", p->work);
    _cleanup_free_ char *opts = xasprintf("size=%ldm,mode=0755,uid=%u,gid=%u", p->volatile_mib,
                                          p->uid_base, p->uid_base);
    if (make_dir(vol, 0700, (uid_t)-1, err) < 0)
        return -1;
    return do_mount("volatile", vol, "tmpfs", NOSUID_NODEV, opts, err);
}

/* Mounts at target an overlay of lower (read-only, id-mapped already) under
 * the writable layer volatile/<layer>. The merged root shows the owner and
 * mode of lower's root, as the image mounted plainly would. */
static int mount_overlay(const struct rootfs_plan *p, const char *layer, const char *lower,
                         const char *target, struct qerror *err)
{
    _cleanup_free_ char *dir = xasprintf("%s/volatile/%s", p->work, layer);
    _cleanup_free_ char *upper = xasprintf("%s/upper", dir);
    _cleanup_free_ char *workdir = xasprintf("%s/work", dir);
    struct stat st;
    if (stat(lower, &st) < 0)
        return qerror_errno(err, errno, "stat %s", lower);
    if (make_dir(dir, 0700, (uid_t)-1, err) < 0 || make_dir(upper, 0700, (uid_t)-1, err) < 0 ||
        make_dir(workdir, 0700, (uid_t)-1, err) < 0)
        return -1;
    if (chown(upper, st.st_uid, st.st_gid) < 0 || chmod(upper, st.st_mode & 07777) < 0)
        return qerror_errno(err, errno, "set the owner of %s", upper);
    _cleanup_free_ char *ovl = xasprintf("lowerdir=%s,upperdir=%s,workdir=%s", lower, upper,
                                         workdir);
    return do_mount("overlay", target, "overlay", NOSUID_NODEV, ovl, err);
}

static int mount_root(const struct rootfs_plan *p, struct qerror *err)
{
    _cleanup_free_ char *image_mnt = xasprintf("%s/root-image", p->work);
    _cleanup_free_ char *mapped = xasprintf("%s/root-mapped", p->work);
    if (make_dir(image_mnt, 0700, (uid_t)-1, err) < 0 || make_dir(mapped, 0755, (uid_t)-1, err) < 0)
        return -1;
    if (mount_image(p->root_image, image_mnt, p->root_snapshot, err) < 0)
        return -1;
    if (!p->root_snapshot) {
        /* the qube's own root: its mount points are made on the plain mount,
         * as the image's root (through the id mapping, host root could not) */
        for (size_t i = 0; i < ARRAY_SIZE(mount_points); i++) {
            _cleanup_free_ char *d = xasprintf("%s/%s", image_mnt, mount_points[i]);
            if (make_dir(d, 0755, (uid_t)-1, err) < 0)
                return -1;
        }
        return idmapped_bind(image_mnt, p->staging, p->idmap_userns_fd, err);
    }

    /* the template's root, read-only and shared, under a writable tmpfs
     * layer that disappears with the qube */
    if (idmapped_bind(image_mnt, mapped, p->idmap_userns_fd, err) < 0)
        return -1;
    return mount_overlay(p, "root", mapped, p->staging, err);
}

/* /rw from the private image, with home and usrlocal made on first use. A
 * DispVM's private is its DVM template's committed image: mounted read-only
 * and id-mapped like a template's root (the template's user, uid 1000 on
 * disk, becomes the disposable's uid 1000), under a writable tmpfs layer, so
 * nothing the disposable writes reaches the image and nothing outlives it. */
/* What /rw holds on every qube (/home, /usr/local and /rw/config come from there). */
static int make_private_dirs(const char *base, uid_t owner, struct qerror *err)
{
    static const char *const dirs[] = { "home", "usrlocal", "config" };
    for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
        _cleanup_free_ char *d = xasprintf("%s/%s", base, dirs[i]);
        if (make_dir(d, 0755, owner, err) < 0)
            return -1;
    }
    return 0;
}

static int mount_private(const struct rootfs_plan *p, struct qerror *err)
{
    _cleanup_free_ char *rw = xasprintf("%s/rw", p->staging);
    if (make_dir(rw, 0755, p->uid_base, err) < 0)
        return -1;
    if (!p->private_image) {
        _cleanup_free_ char *opts = xasprintf("mode=0755,uid=%u,gid=%u", p->uid_base, p->uid_base);
        if (do_mount("private", rw, "tmpfs", NOSUID_NODEV, opts, err) < 0)
            return -1;
        return make_private_dirs(rw, p->uid_base, err);
    }
    _cleanup_free_ char *mnt = xasprintf("%s/private-image", p->work);
    if (make_dir(mnt, 0700, (uid_t)-1, err) < 0 ||
        mount_image(p->private_image, mnt, p->private_snapshot, err) < 0)
        return -1;
    if (!p->private_snapshot) {
        /* made through the plain mount, so they belong to the qube's root */
        if (make_private_dirs(mnt, (uid_t)-1, err) < 0)
            return -1;
        return idmapped_bind(mnt, rw, p->idmap_userns_fd, err);
    }
    _cleanup_free_ char *mapped = xasprintf("%s/private-mapped", p->work);
    if (make_dir(mapped, 0755, (uid_t)-1, err) < 0 ||
        idmapped_bind(mnt, mapped, p->idmap_userns_fd, err) < 0 ||
        mount_overlay(p, "private", mapped, rw, err) < 0)
        return -1;
    /* a DVM template that never ran has none yet: made in the writable
     * layer, owned by the qube's root */
    return make_private_dirs(rw, p->uid_base, err);
}

static int bind_inside(const struct rootfs_plan *p, const char *from, const char *to,
                       struct qerror *err)
{
    _cleanup_free_ char *src = xasprintf("%s/%s", p->staging, from);
    _cleanup_free_ char *dst = xasprintf("%s/%s", p->staging, to);
    if (make_dir(dst, 0755, p->uid_base, err) < 0)
        return -1;
    return do_mount(src, dst, NULL, MS_BIND | MS_REC, NULL, err);
}

static int mount_dev(const struct rootfs_plan *p, struct qerror *err)
{
    _cleanup_free_ char *dev = xasprintf("%s/dev", p->staging);
    _cleanup_free_ char *opts = xasprintf("mode=0755,size=64k,uid=%u,gid=%u", p->uid_base,
                                          p->uid_base);
    if (make_dir(dev, 0755, p->uid_base, err) < 0 ||
        do_mount("dev", dev, "tmpfs", MS_NOSUID | MS_NOEXEC, opts, err) < 0)
        return -1;
    static const char *const nodes[] = { "null", "zero", "full", "random", "urandom", "tty" };
    for (size_t i = 0; i < ARRAY_SIZE(nodes); i++) {
        _cleanup_free_ char *host = xasprintf("/dev/%s", nodes[i]);
        _cleanup_free_ char *node = xasprintf("%s/%s", dev, nodes[i]);
        if (make_file(node, err) < 0 ||
            do_mount(host, node, NULL, MS_BIND | MS_NOSUID | MS_NOEXEC, NULL, err) < 0)
            return -1;
    }
    _cleanup_free_ char *pts = xasprintf("%s/pts", dev);
    _cleanup_free_ char *pts_opts = xasprintf("newinstance,ptmxmode=0666,mode=0620,gid=%u",
                                              p->uid_base + 5);
    _cleanup_free_ char *shm = xasprintf("%s/shm", dev);
    _cleanup_free_ char *shm_opts = xasprintf("mode=1777,size=64m,uid=%u,gid=%u", p->uid_base,
                                              p->uid_base);
    if (make_dir(pts, 0755, (uid_t)-1, err) < 0 ||
        do_mount("devpts", pts, "devpts", MS_NOSUID | MS_NOEXEC, pts_opts, err) < 0 ||
        make_dir(shm, 01777, (uid_t)-1, err) < 0 ||
        do_mount("shm", shm, "tmpfs", MS_NOSUID | MS_NODEV, shm_opts, err) < 0)
        return -1;
    static const char *const links[][2] = {
        { "pts/ptmx", "ptmx" },           { "/proc/self/fd", "fd" },
        { "/proc/self/fd/0", "stdin" },   { "/proc/self/fd/1", "stdout" },
        { "/proc/self/fd/2", "stderr" },
    };
    for (size_t i = 0; i < ARRAY_SIZE(links); i++) {
        _cleanup_free_ char *l = xasprintf("%s/%s", dev, links[i][1]);
        if (symlink(links[i][0], l) < 0 && errno != EEXIST)
            return qerror_errno(err, errno, "symlink %s", l);
        if (lchown(l, p->uid_base, p->uid_base) < 0)
            return qerror_errno(err, errno, "chown %s", l);
    }
    return 0;
}

/* A fresh /proc of the qube's pid namespace, with the kernel's sensitive
 * files covered and /proc/sys read-only. */
static int mount_proc(const struct rootfs_plan *p, struct qerror *err)
{
    _cleanup_free_ char *proc = xasprintf("%s/proc", p->staging);
    if (make_dir(proc, 0555, (uid_t)-1, err) < 0 ||
        do_mount("proc", proc, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, err) < 0)
        return -1;
    static const char *const files[] = { "kcore", "kallsyms", "sysrq-trigger", "keys",
                                         "timer_list", "sched_debug", "kmsg", "latency_stats",
                                         "kpagecount", "kpageflags", "kpagecgroup", "config.gz" };
    for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
        _cleanup_free_ char *f = xasprintf("%s/%s", proc, files[i]);
        if (access(f, F_OK) == 0 && do_mount("/dev/null", f, NULL, MS_BIND, NULL, err) < 0)
            return -1;
    }
    static const char *const dirs[] = { "acpi", "scsi", "firmware", "asound", "bus", "irq",
                                        "fs", "driver", "sysvipc" };
    for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
        _cleanup_free_ char *d = xasprintf("%s/%s", proc, dirs[i]);
        if (access(d, F_OK) == 0 &&
            do_mount("masked", d, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                     "size=0,mode=0555", err) < 0)
            return -1;
    }
    _cleanup_free_ char *sys = xasprintf("%s/sys", proc);
    if (do_mount(sys, sys, NULL, MS_BIND | MS_REC, NULL, err) < 0 ||
        do_mount(NULL, sys, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV |
                                      MS_NOEXEC, NULL, err) < 0)
        return -1;
    return 0;
}

static int mount_tmpfs(const struct rootfs_plan *p, const char *where, const char *mode,
                       struct qerror *err)
{
    _cleanup_free_ char *dir = xasprintf("%s/%s", p->staging, where);
    _cleanup_free_ char *opts = xasprintf("mode=%s,uid=%u,gid=%u", mode, p->uid_base,
                                          p->uid_base);
    if (make_dir(dir, 0755, (uid_t)-1, err) < 0)
        return -1;
    return do_mount(where, dir, "tmpfs", NOSUID_NODEV, opts, err);
}

static int mount_guest(const struct rootfs_plan *p, struct qerror *err)
{
    _cleanup_free_ char *dir = xasprintf("%s%s", p->staging, GUEST_DIR_IN_QUBE);
    if (make_dir(dir, 0755, p->uid_base, err) < 0 ||
        do_mount(p->guest_dir, dir, NULL, MS_BIND | MS_REC, NULL, err) < 0 ||
        do_mount(NULL, dir, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NODEV | MS_NOSUID, NULL,
                 err) < 0)
        return -1;
    return 0;
}

int rootfs_build(const struct rootfs_plan *p, struct qerror *err)
{
    if (do_mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL, err) < 0)
        return -1;
    if ((p->root_snapshot || p->private_snapshot) && mount_volatile(p, err) < 0) {
        qerror_prefix(err, "volatile layer: ");
        return -1;
    }
    if (mount_root(p, err) < 0) {
        qerror_prefix(err, "root volume: ");
        return -1;
    }
    if (mount_private(p, err) < 0) {
        qerror_prefix(err, "private volume: ");
        return -1;
    }
    if (bind_inside(p, "rw/home", "home", err) < 0 ||
        bind_inside(p, "rw/usrlocal", "usr/local", err) < 0 || mount_dev(p, err) < 0 ||
        mount_proc(p, err) < 0 || mount_tmpfs(p, "run", "0755", err) < 0 ||
        mount_tmpfs(p, "tmp", "1777", err) < 0 || mount_guest(p, err) < 0)
        return -1;
    /* no /sys at all: an empty directory */
    _cleanup_free_ char *sys = xasprintf("%s/sys", p->staging);
    return make_dir(sys, 0555, (uid_t)-1, err);
}

int rootfs_enter(const char *staging, struct qerror *err)
{
    if (chdir(staging) < 0)
        return qerror_errno(err, errno, "chdir %s", staging);
    if (syscall(SYS_pivot_root, ".", ".") < 0)
        return qerror_errno(err, errno, "pivot_root");
    if (umount2(".", MNT_DETACH) < 0)
        return qerror_errno(err, errno, "detach the old root");
    if (chdir("/") < 0)
        return qerror_errno(err, errno, "chdir /");
    return 0;
}
