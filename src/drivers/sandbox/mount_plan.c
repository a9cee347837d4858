/* Building and printing the mount plan of a sandbox qube (see mount_plan.h).
 * Nothing here touches the system. */
#include "drivers/sandbox/mount_plan.h"

#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "drivers/sandbox/sandbox_layout.h"

static const char *const slot_names[SLOT_COUNT] = {
    [SLOT_NONE] = "-",
    [SLOT_WORK] = "work",
    [SLOT_STAGING] = "staging",
    [SLOT_VOLATILE] = "volatile",
    [SLOT_ROOT_IMAGE] = "root-image",
    [SLOT_ROOT_MAPPED] = "root-mapped",
    [SLOT_ROOT] = "root",
    [SLOT_PRIVATE_IMAGE] = "private-image",
    [SLOT_PRIVATE_MAPPED] = "private-mapped",
    [SLOT_PRIVATE] = "private",
    [SLOT_DEV] = "dev",
    [SLOT_PROC] = "proc",
    [SLOT_RUN] = "run",
};

const char *plan_slot_name(enum plan_slot slot)
{
    return slot < SLOT_COUNT ? slot_names[slot] : "?";
}

#define AT(s, p) ((struct plan_path){ (s), (p) })
#define NO_OWNER ((uid_t)-1)

static struct plan_step *add(struct mount_plan *plan, enum plan_op op, struct plan_path at)
{
    if (plan->n == plan->cap) {
        plan->cap = plan->cap ? plan->cap * 2 : 64;
        plan->steps = xrealloc(plan->steps, plan->cap * sizeof(*plan->steps));
    }
    struct plan_step *s = &plan->steps[plan->n++];
    *s = (struct plan_step){ .op = op, .at = at, .owner = NO_OWNER };
    return s;
}

static void mkdir_step(struct mount_plan *plan, struct plan_path at, mode_t mode, uid_t owner)
{
    struct plan_step *s = add(plan, PLAN_MKDIR, at);
    s->mode = mode;
    s->owner = owner;
}

static void mount_step(struct mount_plan *plan, struct plan_path at, const char *fstype,
                       char *options, unsigned attr, enum plan_slot creates)
{
    struct plan_step *s = add(plan, PLAN_MOUNT, at);
    s->fstype = fstype;
    s->options = options;
    s->attr = attr;
    s->creates = creates;
}

/* "mode=M,uid=B,gid=B[,extra]" of a tmpfs the qube's root owns. */
static char *owned_tmpfs(const struct rootfs_config *cfg, const char *mode, const char *extra)
{
    return xasprintf("mode=%s,uid=%u,gid=%u%s%s", mode, cfg->uid_base, cfg->uid_base,
                     extra ? "," : "", extra ? extra : "");
}

/* dom0's view of an image: mounted where no qube looks, and never following a
 * symbolic link the qube left in it, should anything here walk it by name. */
static void image_step(struct mount_plan *plan, const char *image, bool read_only, const char *dir,
                       enum plan_slot creates)
{
    mkdir_step(plan, AT(SLOT_WORK, dir), 0700, NO_OWNER);
    struct plan_step *s = add(plan, PLAN_IMAGE, AT(SLOT_WORK, dir));
    s->host = image;
    s->attr = PLAN_NOSUID | PLAN_NODEV | PLAN_NOSYMFOLLOW | (read_only ? PLAN_RDONLY : 0);
    s->creates = creates;
}

/* The qube's view of an image, its owners mapped into the qube's range.
 * attr: PLAN_NODEV always; the root also runs the template's set-user-ID
 * programs (sudo, su: the qube's root is the qube's, never dom0's), every
 * other volume is nosuid. */
static void idmap_step(struct mount_plan *plan, enum plan_slot from, struct plan_path at,
                       unsigned attr, enum plan_slot creates)
{
    struct plan_step *s = add(plan, PLAN_IDMAP, at);
    s->from = AT(from, "");
    s->attr = attr;
    s->creates = creates;
}

/* lower under a writable layer in the volatile tmpfs, whose root starts with
 * the owner and mode of lower's root, as the image mounted plainly shows;
 * attr as idmap_step's. */
static void overlay_step(struct mount_plan *plan, enum plan_slot lower, const char *upper,
                         const char *work, struct plan_path at, unsigned attr,
                         enum plan_slot creates)
{
    struct plan_step *u = add(plan, PLAN_MKDIR, AT(SLOT_VOLATILE, upper));
    u->mode = 0700;
    u->owner_like = lower;
    mkdir_step(plan, AT(SLOT_VOLATILE, work), 0700, NO_OWNER);
    struct plan_step *s = add(plan, PLAN_OVERLAY, at);
    s->from = AT(lower, "");
    s->upper = AT(SLOT_VOLATILE, upper);
    s->workdir = AT(SLOT_VOLATILE, work);
    s->attr = attr;
    s->creates = creates;
}

/* Directories every root needs, to mount on. */
static const char *const mount_points[] = { "rw",   "home", "usr", "usr/local", "dev",
                                            "proc", "run",  "tmp", "sys" };
/* What /rw holds on every qube: /home, /usr/local and /rw/config come from there. */
static const char *const private_dirs[] = { "home", "usrlocal", "config" };

static void root_steps(const struct rootfs_config *cfg, struct mount_plan *plan)
{
    image_step(plan, cfg->root_image, cfg->root_snapshot, "root-image", SLOT_ROOT_IMAGE);
    if (!cfg->root_snapshot) {
        /* the qube's own root: mount points are made on the plain view, as the
         * image's root (through the id mapping, host root could not) */
        for (size_t i = 0; i < ARRAY_SIZE(mount_points); i++)
            mkdir_step(plan, AT(SLOT_ROOT_IMAGE, mount_points[i]), 0755, NO_OWNER);
        idmap_step(plan, SLOT_ROOT_IMAGE, AT(SLOT_STAGING, ""), PLAN_NODEV, SLOT_ROOT);
        return;
    }
    /* the template's root, read-only and shared, under a writable layer that
     * goes with the qube; missing mount points are made in that layer */
    mkdir_step(plan, AT(SLOT_WORK, "root-mapped"), 0700, NO_OWNER);
    idmap_step(plan, SLOT_ROOT_IMAGE, AT(SLOT_WORK, "root-mapped"), PLAN_NODEV, SLOT_ROOT_MAPPED);
    overlay_step(plan, SLOT_ROOT_MAPPED, "root/upper", "root/work", AT(SLOT_STAGING, ""),
                 PLAN_NODEV, SLOT_ROOT);
    for (size_t i = 0; i < ARRAY_SIZE(mount_points); i++)
        mkdir_step(plan, AT(SLOT_ROOT, mount_points[i]), 0755, cfg->uid_base);
}

/* /rw: the private image (made dirs belong to the image's root), a DVM
 * template's committed image under a writable layer (a disposable's), or an
 * empty tmpfs. */
static void private_steps(const struct rootfs_config *cfg, struct mount_plan *plan)
{
    if (!cfg->private_image) {
        mount_step(plan, AT(SLOT_ROOT, "rw"), "tmpfs", owned_tmpfs(cfg, "0755", NULL),
                   PLAN_NOSUID | PLAN_NODEV, SLOT_PRIVATE);
    } else if (!cfg->private_snapshot) {
        image_step(plan, cfg->private_image, false, "private-image", SLOT_PRIVATE_IMAGE);
        for (size_t i = 0; i < ARRAY_SIZE(private_dirs); i++)
            mkdir_step(plan, AT(SLOT_PRIVATE_IMAGE, private_dirs[i]), 0755, NO_OWNER);
        idmap_step(plan, SLOT_PRIVATE_IMAGE, AT(SLOT_ROOT, "rw"), PLAN_NOSUID | PLAN_NODEV,
                   SLOT_PRIVATE);
        return;
    } else {
        image_step(plan, cfg->private_image, true, "private-image", SLOT_PRIVATE_IMAGE);
        mkdir_step(plan, AT(SLOT_WORK, "private-mapped"), 0700, NO_OWNER);
        idmap_step(plan, SLOT_PRIVATE_IMAGE, AT(SLOT_WORK, "private-mapped"),
                   PLAN_NOSUID | PLAN_NODEV, SLOT_PRIVATE_MAPPED);
        overlay_step(plan, SLOT_PRIVATE_MAPPED, "private/upper", "private/work",
                     AT(SLOT_ROOT, "rw"), PLAN_NOSUID | PLAN_NODEV, SLOT_PRIVATE);
    }
    /* a tmpfs, or a DVM template that never ran: made in the writable layer */
    for (size_t i = 0; i < ARRAY_SIZE(private_dirs); i++)
        mkdir_step(plan, AT(SLOT_PRIVATE, private_dirs[i]), 0755, cfg->uid_base);
}

static void bind_step(struct mount_plan *plan, struct plan_path from, struct plan_path at,
                      unsigned attr)
{
    struct plan_step *s = add(plan, PLAN_BIND, at);
    s->from = from;
    s->attr = attr;
}

static void bind_host_step(struct mount_plan *plan, const char *host, struct plan_path at,
                           unsigned attr)
{
    struct plan_step *s = add(plan, PLAN_BIND_HOST, at);
    s->host = host;
    s->attr = attr;
}

/* A minimal /dev: the harmless character devices, its own ptys and shm. */
static void dev_steps(const struct rootfs_config *cfg, struct mount_plan *plan)
{
    mount_step(plan, AT(SLOT_ROOT, "dev"), "tmpfs", owned_tmpfs(cfg, "0755", "size=64k"),
               PLAN_NOSUID | PLAN_NOEXEC, SLOT_DEV);
    static const char *const nodes[][2] = {
        { "null", "/dev/null" },     { "zero", "/dev/zero" },       { "full", "/dev/full" },
        { "random", "/dev/random" }, { "urandom", "/dev/urandom" }, { "tty", "/dev/tty" },
    };
    for (size_t i = 0; i < ARRAY_SIZE(nodes); i++) {
        struct plan_step *f = add(plan, PLAN_FILE, AT(SLOT_DEV, nodes[i][0]));
        f->mode = 0644;
        bind_host_step(plan, nodes[i][1], AT(SLOT_DEV, nodes[i][0]), PLAN_NOSUID | PLAN_NOEXEC);
    }
    mkdir_step(plan, AT(SLOT_DEV, "pts"), 0755, NO_OWNER);
    mount_step(plan, AT(SLOT_DEV, "pts"), "devpts",
               xasprintf("newinstance,ptmxmode=0666,mode=0620,gid=%u", cfg->uid_base + 5),
               PLAN_NOSUID | PLAN_NOEXEC, SLOT_NONE);
    mkdir_step(plan, AT(SLOT_DEV, "shm"), 01777, NO_OWNER);
    mount_step(plan, AT(SLOT_DEV, "shm"), "tmpfs", owned_tmpfs(cfg, "1777", "size=64m"),
               PLAN_NOSUID | PLAN_NODEV, SLOT_NONE);
    static const char *const links[][2] = {
        { "ptmx", "pts/ptmx" },          { "fd", "/proc/self/fd" },
        { "stdin", "/proc/self/fd/0" },  { "stdout", "/proc/self/fd/1" },
        { "stderr", "/proc/self/fd/2" },
    };
    for (size_t i = 0; i < ARRAY_SIZE(links); i++) {
        struct plan_step *l = add(plan, PLAN_SYMLINK, AT(SLOT_DEV, links[i][0]));
        l->link_target = links[i][1];
        l->owner = cfg->uid_base;
    }
}

/* A fresh /proc of the qube's pid namespace, with the kernel's sensitive
 * files covered and /proc/sys read-only. */
static void proc_steps(struct mount_plan *plan)
{
    mount_step(plan, AT(SLOT_ROOT, "proc"), "proc", NULL, PLAN_NOSUID | PLAN_NODEV | PLAN_NOEXEC,
               SLOT_PROC);
    static const char *const masked[] = {
        "kcore", "kallsyms",      "sysrq-trigger", "keys",       "timer_list",  "sched_debug",
        "kmsg",  "latency_stats", "kpagecount",    "kpageflags", "kpagecgroup", "config.gz",
        "acpi",  "scsi",          "firmware",      "asound",     "bus",         "irq",
        "fs",    "driver",        "sysvipc"
    };
    for (size_t i = 0; i < ARRAY_SIZE(masked); i++)
        add(plan, PLAN_MASK, AT(SLOT_PROC, masked[i]));
    bind_step(plan, AT(SLOT_PROC, "sys"), AT(SLOT_PROC, "sys"),
              PLAN_RDONLY | PLAN_NOSUID | PLAN_NODEV | PLAN_NOEXEC);
}

void mount_plan_build(const struct rootfs_config *cfg, struct mount_plan *plan)
{
    *plan = (struct mount_plan){ 0 };
    if (cfg->root_snapshot || cfg->private_snapshot) {
        mkdir_step(plan, AT(SLOT_WORK, "volatile"), 0700, NO_OWNER);
        mount_step(plan, AT(SLOT_WORK, "volatile"), "tmpfs",
                   xasprintf("size=%ldm,mode=0755,uid=%u,gid=%u", cfg->volatile_mib, cfg->uid_base,
                             cfg->uid_base),
                   PLAN_NOSUID | PLAN_NODEV, SLOT_VOLATILE);
    }
    root_steps(cfg, plan);
    private_steps(cfg, plan);
    bind_step(plan, AT(SLOT_PRIVATE, "home"), AT(SLOT_ROOT, "home"), 0);
    bind_step(plan, AT(SLOT_PRIVATE, "usrlocal"), AT(SLOT_ROOT, "usr/local"), 0);
    dev_steps(cfg, plan);
    proc_steps(plan);
    mount_step(plan, AT(SLOT_ROOT, "run"), "tmpfs", owned_tmpfs(cfg, "0755", NULL),
               PLAN_NOSUID | PLAN_NODEV, SLOT_RUN);
    mount_step(plan, AT(SLOT_ROOT, "tmp"), "tmpfs", owned_tmpfs(cfg, "1777", NULL),
               PLAN_NOSUID | PLAN_NODEV, SLOT_NONE);
    mkdir_step(plan, AT(SLOT_RUN, GUEST_DIR_IN_RUN), 0755, cfg->uid_base);
    bind_host_step(plan, cfg->guest_dir, AT(SLOT_RUN, GUEST_DIR_IN_RUN),
                   PLAN_RDONLY | PLAN_NOSUID | PLAN_NODEV);
}

void mount_plan_free(struct mount_plan *plan)
{
    for (size_t i = 0; i < plan->n; i++)
        free(plan->steps[i].options);
    free(plan->steps);
    *plan = (struct mount_plan){ 0 };
}

static const char *const op_names[] = {
    [PLAN_MKDIR] = "mkdir",     [PLAN_FILE] = "file",   [PLAN_SYMLINK] = "symlink",
    [PLAN_MOUNT] = "mount",     [PLAN_IMAGE] = "image", [PLAN_IDMAP] = "idmap",
    [PLAN_OVERLAY] = "overlay", [PLAN_BIND] = "bind",   [PLAN_BIND_HOST] = "bind-host",
    [PLAN_MASK] = "mask",
};

static void print_path(FILE *out, struct plan_path p)
{
    fprintf(out, "%s%s%s", plan_slot_name(p.slot), *p.path ? ":" : "", p.path);
}

static void print_attr(FILE *out, unsigned attr)
{
    static const char *const names[] = { "ro", "nosuid", "nodev", "noexec", "nosymfollow" };
    const char *sep = " [";
    for (size_t i = 0; i < ARRAY_SIZE(names); i++)
        if (attr & (1u << i)) {
            fprintf(out, "%s%s", sep, names[i]);
            sep = ",";
        }
    if (attr)
        fputc(']', out);
}

void mount_plan_print(const struct mount_plan *plan, FILE *out)
{
    for (size_t i = 0; i < plan->n; i++) {
        const struct plan_step *s = &plan->steps[i];
        fprintf(out, "%3zu %-9s ", i + 1, op_names[s->op]);
        print_path(out, s->at);
        switch (s->op) {
        case PLAN_MKDIR:
        case PLAN_FILE:
            fprintf(out, " mode=%04o", (unsigned)s->mode);
            if (s->owner_like)
                fprintf(out, " owner=like:%s", plan_slot_name(s->owner_like));
            else if (s->owner != NO_OWNER)
                fprintf(out, " owner=%u", s->owner);
            break;
        case PLAN_SYMLINK: fprintf(out, " -> %s owner=%u", s->link_target, s->owner); break;
        case PLAN_MOUNT: fprintf(out, " %s %s", s->fstype, s->options ? s->options : "-"); break;
        case PLAN_IMAGE:
        case PLAN_BIND_HOST: fprintf(out, " from %s", s->host); break;
        case PLAN_IDMAP:
        case PLAN_BIND:
            fputs(" from ", out);
            print_path(out, s->from);
            break;
        case PLAN_OVERLAY:
            fputs(" lower=", out);
            print_path(out, s->from);
            fputs(" upper=", out);
            print_path(out, s->upper);
            fputs(" work=", out);
            print_path(out, s->workdir);
            break;
        case PLAN_MASK: break;
        }
        print_attr(out, s->attr);
        if (s->creates)
            fprintf(out, " => %s", plan_slot_name(s->creates));
        fputc('\n', out);
    }
}
