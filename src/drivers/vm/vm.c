/* The vm driver as qubesd sees it: each qube is one qubes-vm helper
 * process running the qube's QEMU (see launcher.c and
 * drivers/helper_run.h); its cgroup freezer pauses the whole QEMU. */
#include <signal.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "common/paths.h"
#include "drivers/driver.h"
#include "drivers/helper_run.h"
#include "drivers/vm/vm_layout.h"

#define DRIVER "vm"
#define PROGRAM "qubes-vm"

static int vm_prepare(const struct qube_launch *l, struct qerror *err)
{
    _cleanup_free_ char *dir = qubicle_vm_dir();
    _cleanup_free_ char *kernel = xasprintf("%s/vmlinuz", dir);
    _cleanup_free_ char *initramfs = xasprintf("%s/initramfs.img", dir);
    if (access(VM_QEMU_PATH, X_OK) < 0)
        return qerror_set(err, ERR_QUBES_EXCEPTION, "virt_mode vm needs QEMU (" VM_QEMU_PATH ")");
    if (access(kernel, R_OK) < 0 || access(initramfs, R_OK) < 0)
        return qerror_set(err, ERR_QUBES_EXCEPTION, "no guest kernel and initramfs in %s", dir);
    if (!l->root_image || access(l->root_image, R_OK) < 0)
        return qerror_set(err, ERR_QUBES_EXCEPTION, "root image %s is not readable",
                          l->root_image ? l->root_image : "(none)");
    if (l->private_image && access(l->private_image, R_OK) < 0)
        return qerror_set(err, ERR_QUBES_EXCEPTION, "private image %s is not readable",
                          l->private_image);
    return 0;
}

static int vm_start(const struct qube_launch *l, struct qube_run **out, struct qerror *err)
{
    _cleanup_free_ char *helper = qubicle_program(PROGRAM);
    _cleanup_free_ char *dir = qubicle_vm_dir();
    _cleanup_free_ char *kernel = xasprintf("%s/vmlinuz", dir);
    _cleanup_free_ char *initramfs = xasprintf("%s/initramfs.img", dir);
    struct helper_cmd cmd;
    helper_cmd_init(&cmd, DRIVER, helper, l);
    helper_cmd_add(&cmd, "--kernel");
    helper_cmd_add(&cmd, kernel);
    helper_cmd_add(&cmd, "--initramfs");
    helper_cmd_add(&cmd, initramfs);
    int rc = helper_start(&cmd, l, out, err);
    helper_cmd_free(&cmd);
    return rc;
}

static struct qube_run *vm_reattach(const char *name, const char *tag)
{
    return helper_reattach(DRIVER, PROGRAM, name, tag);
}

static int vm_stop(struct qube_run *run, struct qerror *err)
{
    return helper_signal(run, SIGTERM, err);
}

static int vm_kill(struct qube_run *run, struct qerror *err)
{
    return helper_signal(run, SIGUSR1, err);
}

static int vm_pause(struct qube_run *run, struct qerror *err)
{
    return helper_freeze(run, true, err);
}

static int vm_unpause(struct qube_run *run, struct qerror *err)
{
    return helper_freeze(run, false, err);
}

/* No netns_fd yet: a vm qube with a netvm is refused at start, by name. */
const struct driver_ops vm_driver = {
    .virt_mode = "vm",
    .overlays_snapshots = true,
    .prepare = vm_prepare,
    .start = vm_start,
    .reattach = vm_reattach,
    .stop = vm_stop,
    .kill = vm_kill,
    .pause = vm_pause,
    .unpause = vm_unpause,
    .stats = helper_stats,
    .exit_fd = helper_exit_fd,
    .reap = helper_reap,
    .release = helper_release,
};
