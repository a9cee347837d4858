/* The sandbox driver as qubesd sees it: each qube is one qubes-sandbox
 * helper process (see launcher.c and drivers/helper_run.h), its cgroup
 * freezer pauses it. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "common/paths.h"
#include "drivers/driver.h"
#include "drivers/helper_run.h"

#define DRIVER "sandbox"
#define PROGRAM "qubes-sandbox"

static int sandbox_prepare(const struct qube_launch *launch, struct qerror *err)
{
    if (access("/proc/self/ns/user", F_OK) < 0)
        return qerror_set(err, ERR_QUBES_EXCEPTION, "the kernel has no user namespaces");
    if (!launch->root_image || access(launch->root_image, R_OK) < 0)
        return qerror_set(err, ERR_QUBES_EXCEPTION, "root image %s is not readable",
                          launch->root_image ? launch->root_image : "(none)");
    if (launch->private_image && access(launch->private_image, R_OK) < 0)
        return qerror_set(err, ERR_QUBES_EXCEPTION, "private image %s is not readable",
                          launch->private_image);
    return 0;
}

static int sandbox_start(const struct qube_launch *l, struct qube_run **out, struct qerror *err)
{
    _cleanup_free_ char *helper = qubicle_program(PROGRAM);
    struct helper_cmd cmd;
    helper_cmd_init(&cmd, DRIVER, helper, l);
    char pids[16];
    snprintf(pids, sizeof(pids), "%d", l->pids_max);
    helper_cmd_add(&cmd, "--guest-dir");
    helper_cmd_add(&cmd, l->guest_dir);
    helper_cmd_add(&cmd, "--pids-max");
    helper_cmd_add(&cmd, pids);
    if (l->provides_network)
        helper_cmd_add(&cmd, "--provides-network");
    int rc = helper_start(&cmd, l, out, err);
    helper_cmd_free(&cmd);
    return rc;
}

static struct qube_run *sandbox_reattach(const char *name, const char *tag)
{
    return helper_reattach(DRIVER, PROGRAM, name, tag);
}

static int sandbox_stop(struct qube_run *run, struct qerror *err)
{
    return helper_signal(run, SIGTERM, err);
}

static int sandbox_kill(struct qube_run *run, struct qerror *err)
{
    return helper_signal(run, SIGUSR1, err);
}

static int sandbox_pause(struct qube_run *run, struct qerror *err)
{
    return helper_freeze(run, true, err);
}

static int sandbox_unpause(struct qube_run *run, struct qerror *err)
{
    return helper_freeze(run, false, err);
}

/* The init's network namespace. The pid comes from the helper's state file;
 * a pidfd taken first, and still alive after the open, proves that the
 * namespace opened is that init's and not a reused pid's. */
static int sandbox_netns_fd(struct qube_run *run, struct qerror *err)
{
    pid_t init = helper_state_pid(DRIVER, run, "init");
    if (init <= 1)
        return qerror_set(err, ERR_QUBES_EXCEPTION, "qube %s has no init yet", run->name);
    _cleanup_close_ int pidfd = (int)syscall(SYS_pidfd_open, init, 0);
    _cleanup_free_ char *path = xasprintf("/proc/%d/ns/net", init);
    int fd = pidfd < 0 ? -1 : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) < 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return qerror_errno(err, e, "network namespace of %s", run->name);
    }
    return fd;
}

const struct driver_ops sandbox_driver = {
    .virt_mode = "sandbox",
    .overlays_snapshots = true,
    .prepare = sandbox_prepare,
    .start = sandbox_start,
    .reattach = sandbox_reattach,
    .stop = sandbox_stop,
    .kill = sandbox_kill,
    .pause = sandbox_pause,
    .unpause = sandbox_unpause,
    .stats = helper_stats,
    .netns_fd = sandbox_netns_fd,
    .exit_fd = helper_exit_fd,
    .reap = helper_reap,
    .release = helper_release,
};
