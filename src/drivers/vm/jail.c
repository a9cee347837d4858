/* Building QEMU's jail (see jail.h). */
#include "drivers/vm/jail.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "drivers/vm/vm_layout.h"

static int bind_ro(const char *from, const char *to, unsigned long extra, struct qerror *err)
{
    if (mount(from, to, NULL, MS_BIND | MS_REC, NULL) < 0)
        return qerror_errno(err, errno, "jail: bind %s", from);
    if (mount(NULL, to, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | extra, NULL) < 0)
        return qerror_errno(err, errno, "jail: read-only %s", to);
    return 0;
}

/* An empty file or directory to mount over, then the mount. */
static int bind_at(const char *root, const char *from, const char *rel, bool dir,
                   unsigned long extra, struct qerror *err)
{
    _cleanup_free_ char *to = xasprintf("%s/%s", root, rel);
    if (dir ? mkdir(to, 0755) < 0 && errno != EEXIST : mknod(to, S_IFREG | 0600, 0) < 0)
        return qerror_errno(err, errno, "jail: create %s", rel);
    return bind_ro(from, to, extra, err);
}

/* /lib, /lib64, /bin as the host has them: a symbolic link into /usr on a
 * merged-/usr system, else a read-only copy of the directory. */
static int usr_alias(const char *root, const char *name, struct qerror *err)
{
    _cleanup_free_ char *host = xasprintf("/%s", name);
    char target[256];
    ssize_t n = readlink(host, target, sizeof(target) - 1);
    if (n > 0) {
        target[n] = '\0';
        _cleanup_free_ char *link = xasprintf("%s/%s", root, name);
        if (symlink(target, link) < 0)
            return qerror_errno(err, errno, "jail: link /%s", name);
        return 0;
    }
    struct stat st;
    if (stat(host, &st) < 0 || !S_ISDIR(st.st_mode))
        return 0;
    return bind_at(root, host, name, true, MS_NODEV, err);
}

static int devices(const char *root, bool kvm, struct qerror *err)
{
    _cleanup_free_ char *dev = xasprintf("%s/dev", root);
    if (mkdir(dev, 0755) < 0 ||
        mount("tmpfs", dev, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755,size=64k") < 0)
        return qerror_errno(err, errno, "jail: /dev");
    static const char *const nodes[] = { "null", "zero", "urandom", "random" };
    for (size_t i = 0; i < sizeof(nodes) / sizeof(nodes[0]); i++) {
        _cleanup_free_ char *from = xasprintf("/dev/%s", nodes[i]);
        _cleanup_free_ char *rel = xasprintf("dev/%s", nodes[i]);
        if (bind_at(root, from, rel, false, 0, err) < 0)
            return -1;
        /* bind_at made it read-only; these are written to */
        _cleanup_free_ char *to = xasprintf("%s/%s", root, rel);
        if (mount(NULL, to, NULL, MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NOEXEC, NULL) < 0)
            return qerror_errno(err, errno, "jail: %s", rel);
    }
    if (kvm) {
        _cleanup_free_ char *to = xasprintf("%s/dev/kvm", root);
        if (mknod(to, S_IFREG | 0600, 0) < 0 || mount("/dev/kvm", to, NULL, MS_BIND, NULL) < 0)
            return qerror_errno(err, errno, "jail: /dev/kvm");
    }
    return 0;
}

static int build_root(const struct jail_config *cfg, struct qerror *err)
{
    const char *root = cfg->dir;
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        return qerror_errno(err, errno, "jail: private mounts");
    if (mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m") < 0)
        return qerror_errno(err, errno, "jail: root tmpfs");
    if (bind_at(root, "/usr", "usr", true, MS_NODEV, err) < 0)
        return -1;
    static const char *const aliases[] = { "lib", "lib64", "bin", "sbin" };
    for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++)
        if (usr_alias(root, aliases[i], err) < 0)
            return -1;
    _cleanup_free_ char *etc = xasprintf("%s/etc", root);
    if (mkdir(etc, 0755) < 0)
        return qerror_errno(err, errno, "jail: /etc");
    /* the dynamic linker's cache; nothing else of dom0's /etc */
    if (access("/etc/ld.so.cache", R_OK) == 0 &&
        bind_at(root, "/etc/ld.so.cache", "etc/ld.so.cache", false, MS_NODEV | MS_NOEXEC, err) < 0)
        return -1;
    if (devices(root, cfg->kvm, err) < 0)
        return -1;
    _cleanup_free_ char *proc = xasprintf("%s/proc", root);
    if (mkdir(proc, 0555) < 0 ||
        mount("proc", proc, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
        return qerror_errno(err, errno, "jail: /proc");
    _cleanup_free_ char *tmp = xasprintf("%s" JAIL_TMP, root);
    _cleanup_free_ char *tmp_opts = xasprintf("mode=0700,size=%ldm,uid=%u,gid=%u", cfg->tmp_mib,
                                              (unsigned)cfg->uid, (unsigned)cfg->gid);
    _cleanup_free_ char *var = xasprintf("%s/var", root);
    if (mkdir(var, 0755) < 0 || mkdir(tmp, 0700) < 0 ||
        mount("tmpfs", tmp, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, tmp_opts) < 0)
        return qerror_errno(err, errno, "jail: %s", JAIL_TMP);
    _cleanup_free_ char *vm = xasprintf("%s/vm", root);
    if (mkdir(vm, 0755) < 0)
        return qerror_errno(err, errno, "jail: /vm");
    if (bind_at(root, cfg->kernel, JAIL_KERNEL + 1, false, MS_NODEV | MS_NOEXEC, err) < 0 ||
        bind_at(root, cfg->initramfs, JAIL_INITRAMFS + 1, false, MS_NODEV | MS_NOEXEC, err) < 0)
        return -1;
    return 0;
}

static int pivot(const char *root, struct qerror *err)
{
    _cleanup_free_ char *old = xasprintf("%s/.old", root);
    if (mkdir(old, 0700) < 0 || syscall(SYS_pivot_root, root, old) < 0 || chdir("/") < 0 ||
        umount2("/.old", MNT_DETACH) < 0 || rmdir("/.old") < 0)
        return qerror_errno(err, errno, "jail: pivot_root");
    if (mount(NULL, "/", NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) < 0)
        return qerror_errno(err, errno, "jail: read-only root");
    return 0;
}

static int write_file(const char *path, const char *text, struct qerror *err)
{
    _cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
        return qerror_errno(err, errno, "jail: write %s", path);
    return 0;
}

/* The unprivileged uid first, then a user namespace owned by it: inside,
 * QEMU holds no capability over anything the host's namespaces own. */
static int drop_privileges(const struct jail_config *cfg, struct qerror *err)
{
    struct stat st;
    gid_t kvm_gid = cfg->kvm && stat("/dev/kvm", &st) == 0 ? st.st_gid : 0;
    if (setgroups(kvm_gid ? 1 : 0, &kvm_gid) < 0 || setresgid(cfg->gid, cfg->gid, cfg->gid) < 0 ||
        setresuid(cfg->uid, cfg->uid, cfg->uid) < 0)
        return qerror_errno(err, errno, "jail: drop to uid %u", (unsigned)cfg->uid);
    /* a uid change made us undumpable, which leaves /proc/self/ to root;
     * dumpable just long enough to write our own maps */
    if (unshare(CLONE_NEWUSER) < 0 || prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) < 0)
        return qerror_errno(err, errno, "jail: user namespace");
    char map[64];
    snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)cfg->uid, (unsigned)cfg->uid);
    if (write_file("/proc/self/uid_map", map, err) < 0 ||
        write_file("/proc/self/setgroups", "deny", err) < 0)
        return -1;
    snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)cfg->gid, (unsigned)cfg->gid);
    if (write_file("/proc/self/gid_map", map, err) < 0)
        return -1;
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
        prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
        return qerror_errno(err, errno, "jail: prctl");
    return 0;
}

int jail_enter(const struct jail_config *cfg, struct qerror *err)
{
    if (build_root(cfg, err) < 0 || pivot(cfg->dir, err) < 0)
        return -1;
    return drop_privileges(cfg, err);
}
