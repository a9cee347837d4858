/* The sandbox driver as qubesd sees it: each qube is one qubes-sandbox
 * helper process (see launcher.c), watched through a pidfd, steered with
 * signals (SIGTERM: shut down, SIGUSR1: kill) and its cgroup freezer. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "common/paths.h"
#include "common/root.h"
#include "common/spawn.h"
#include "drivers/driver.h"
#include "drivers/sandbox/cgroup.h"
#include "drivers/sandbox/sandbox_layout.h"

struct qube_run {
    pid_t launcher;
    int pidfd;
    int status_fd; /* why the helper could not start the qube; -1 after a reattach */
    bool child;    /* started by this qubesd (else found again after a restart) */
    char *name;
    char *tag;
};

static char *state_dir(const char *name)
{
    _cleanup_free_ char *rel = xasprintf("run/qubes/sandbox/%s", name);
    return qroot_path(rel);
}

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

static struct qube_run *new_run(pid_t pid, bool child, const char *name, const char *tag)
{
    int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (pidfd < 0)
        return NULL;
    struct qube_run *run = xcalloc(1, sizeof(*run));
    run->launcher = pid;
    run->pidfd = pidfd;
    run->status_fd = -1;
    run->child = child;
    run->name = xstrdup(name);
    run->tag = xstrdup(tag);
    return run;
}

static int sandbox_start(const struct qube_launch *l, struct qube_run **out, struct qerror *err)
{
    _cleanup_close_ int status_ours = -1, status_theirs = -1;
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) < 0)
        return qerror_errno(err, errno, "status pipe");
    status_ours = pipefd[0];
    status_theirs = pipefd[1];
    _cleanup_close_ int log = open(l->log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (log < 0)
        return qerror_errno(err, errno, "open %s", l->log_path);
    if (qroot_mkdirs("run/qubes/sandbox", 0700) < 0)
        return qerror_errno(err, errno, "create run/qubes/sandbox");
    _cleanup_free_ char *helper = qubicle_program("qubes-sandbox");
    _cleanup_free_ char *dir = state_dir(l->name);
    char qid[16], vol[24], mem[24], maxmem[24], vcpus[16], pids[16];
    snprintf(qid, sizeof(qid), "%d", l->qid);
    snprintf(vol, sizeof(vol), "%ld", l->volatile_mib);
    snprintf(mem, sizeof(mem), "%ld", l->memory_mib);
    snprintf(maxmem, sizeof(maxmem), "%ld", l->maxmem_mib);
    snprintf(vcpus, sizeof(vcpus), "%d", l->vcpus);
    snprintf(pids, sizeof(pids), "%d", l->pids_max);
    const char *argv[32] = { helper,
                             "--name",
                             l->name,
                             "--qid",
                             qid,
                             "--tag",
                             l->instance_tag,
                             "--state-dir",
                             dir,
                             "--root-image",
                             l->root_image,
                             "--volatile-mib",
                             vol,
                             "--guest-dir",
                             l->guest_dir,
                             "--memory-mib",
                             mem,
                             "--maxmem-mib",
                             maxmem,
                             "--vcpus",
                             vcpus,
                             "--pids-max",
                             pids };
    size_t n = 23;
    if (l->root_snapshot)
        argv[n++] = "--root-snapshot";
    if (l->private_image) {
        argv[n++] = "--private-image";
        argv[n++] = l->private_image;
        if (l->private_snapshot)
            argv[n++] = "--private-snapshot";
    }
    if (l->provides_network)
        argv[n++] = "--provides-network";
    argv[n] = NULL;

    const int fds[] = { l->qrexec_fd, status_theirs, l->qubesdb_fd };
    pid_t pid = spawn_helper(helper, (char **)argv, log, fds, ARRAY_SIZE(fds));
    if (pid < 0)
        return qerror_errno(err, errno, "fork");
    struct qube_run *run = new_run(pid, true, l->name, l->instance_tag);
    if (!run) {
        qerror_errno(err, errno, "pidfd_open");
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        return -1;
    }
    run->status_fd = TAKE_FD(status_ours);
    *out = run;
    return 0;
}

/* A helper left running by an earlier qubesd: trust the state file only if
 * that pid really is the helper of this qube on this root. */
static struct qube_run *sandbox_reattach(const char *name, const char *tag)
{
    _cleanup_free_ char *dir = state_dir(name);
    _cleanup_free_ char *state = xasprintf("%s/" SANDBOX_STATE_FILE, dir);
    _cleanup_fclose_ FILE *f = fopen(state, "re");
    int launcher = 0;
    if (!f || fscanf(f, "launcher=%d", &launcher) != 1 || launcher <= 1)
        return NULL;
    _cleanup_free_ char *cmdline_path = xasprintf("/proc/%d/cmdline", launcher);
    _cleanup_fclose_ FILE *c = fopen(cmdline_path, "re");
    if (!c)
        return NULL;
    char cmd[8192];
    size_t len = fread(cmd, 1, sizeof(cmd) - 1, c);
    cmd[len] = '\0';
    bool name_ok = false, tag_ok = false;
    for (size_t i = 0; i < len; i += strlen(cmd + i) + 1) {
        const char *next = i + strlen(cmd + i) + 1 < len ? cmd + i + strlen(cmd + i) + 1 : "";
        if (strcmp(cmd + i, "--name") == 0 && strcmp(next, name) == 0)
            name_ok = true;
        if (strcmp(cmd + i, "--tag") == 0 && strcmp(next, tag) == 0)
            tag_ok = true;
    }
    if (!strstr(cmd, "qubes-sandbox") || !name_ok || !tag_ok)
        return NULL;
    return new_run(launcher, false, name, tag);
}

static int signal_helper(struct qube_run *run, int sig, struct qerror *err)
{
    if (syscall(SYS_pidfd_send_signal, run->pidfd, sig, NULL, 0) < 0 && errno != ESRCH)
        return qerror_errno(err, errno, "signal qube %s", run->name);
    return 0;
}

static int sandbox_stop(struct qube_run *run, struct qerror *err)
{
    return signal_helper(run, SIGTERM, err);
}

static int sandbox_kill(struct qube_run *run, struct qerror *err)
{
    return signal_helper(run, SIGUSR1, err);
}

static int freeze(struct qube_run *run, bool frozen, struct qerror *err)
{
    struct qube_cgroup cg;
    int rc = cgroup_open(&cg, run->tag, run->name)
                 ? cgroup_freeze(&cg, frozen, err)
                 : qerror_set(err, ERR_QUBES_EXCEPTION, "cgroups of %s are gone", run->name);
    cgroup_free(&cg);
    return rc;
}

static int sandbox_pause(struct qube_run *run, struct qerror *err)
{
    return freeze(run, true, err);
}

static int sandbox_unpause(struct qube_run *run, struct qerror *err)
{
    return freeze(run, false, err);
}

static int sandbox_stats(struct qube_run *run, struct driver_stats *out, struct qerror *err)
{
    struct qube_cgroup cg;
    if (!cgroup_open(&cg, run->tag, run->name)) {
        cgroup_free(&cg);
        return qerror_set(err, ERR_QUBES_EXCEPTION, "cgroups of %s are gone", run->name);
    }
    long long memory, cpu_ns;
    cgroup_usage(&cg, &memory, &cpu_ns);
    cgroup_free(&cg);
    out->memory_kib = memory < 0 ? 0 : memory / 1024;
    out->cpu_time_ms = cpu_ns < 0 ? 0 : cpu_ns / 1000000;
    out->online_vcpus = 0;
    return 0;
}

/* The init's network namespace. The pid comes from the helper's state file;
 * a pidfd taken first, and still alive after the open, proves that the
 * namespace opened is that init's and not a reused pid's. */
static int sandbox_netns_fd(struct qube_run *run, struct qerror *err)
{
    _cleanup_free_ char *dir = state_dir(run->name);
    _cleanup_free_ char *state = xasprintf("%s/" SANDBOX_STATE_FILE, dir);
    _cleanup_fclose_ FILE *f = fopen(state, "re");
    int launcher = 0, init = 0;
    if (!f || fscanf(f, "launcher=%d\ninit=%d", &launcher, &init) != 2 || init <= 1 ||
        launcher != run->launcher)
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

static int sandbox_exit_fd(struct qube_run *run)
{
    return run->pidfd;
}

static void sandbox_release(struct qube_run *run)
{
    if (run->status_fd >= 0)
        close(run->status_fd);
    close(run->pidfd);
    free(run->name);
    free(run->tag);
    free(run);
}

/* A helper killed outright leaves its qube's groups: its processes die with
 * it (their init's parent-death signal), and the groups, empty then, go. */
static void remove_leftover_cgroups(const struct qube_run *run)
{
    for (int tries = 0; tries < 50; tries++) {
        struct qube_cgroup cg;
        cgroup_open(&cg, run->tag, run->name);
        bool gone = cgroup_remove(&cg);
        cgroup_free(&cg);
        if (gone)
            return;
        usleep(10000);
    }
}

static int sandbox_reap(struct qube_run *run, struct qerror *err)
{
    int rc = 0;
    if (run->child) {
        int status = 0;
        if (waitpid(run->launcher, &status, 0) == run->launcher && WIFEXITED(status) &&
            WEXITSTATUS(status) != 0 && WEXITSTATUS(status) != 2)
            rc = qerror_set(err, ERR_QUBES_EXCEPTION, "qube %s failed (helper exit status %d)",
                            run->name, WEXITSTATUS(status));
    }
    remove_leftover_cgroups(run);
    /* the helper's own words, when it could not start the qube */
    char why[QERROR_MAX];
    ssize_t n = run->status_fd >= 0 ? read(run->status_fd, why, sizeof(why) - 1) : 0;
    if (n > 0) {
        why[n] = '\0';
        rc = qerror_set(err, ERR_QUBES_EXCEPTION, "%s", why);
    }
    sandbox_release(run);
    return rc;
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
    .stats = sandbox_stats,
    .netns_fd = sandbox_netns_fd,
    .exit_fd = sandbox_exit_fd,
    .reap = sandbox_reap,
    .release = sandbox_release,
};
