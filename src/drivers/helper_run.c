/* The helper process of a running qube (see helper_run.h). */
#include "drivers/helper_run.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "common/root.h"
#include "common/spawn.h"
#include "drivers/sandbox/cgroup.h"

char *helper_state_dir(const char *driver, const char *name)
{
    _cleanup_free_ char *rel = xasprintf("run/qubes/%s/%s", driver, name);
    return qroot_path(rel);
}

void helper_cmd_add(struct helper_cmd *cmd, const char *arg)
{
    if (cmd->n + 2 > ARRAY_SIZE(cmd->argv))
        abort(); /* a programming error: the options are fixed */
    cmd->argv[cmd->n++] = arg;
    cmd->argv[cmd->n] = NULL;
}

static const char *num(struct helper_cmd *cmd, int slot, long value)
{
    snprintf(cmd->num[slot], sizeof(cmd->num[slot]), "%ld", value);
    return cmd->num[slot];
}

void helper_cmd_init(struct helper_cmd *cmd, const char *driver, const char *program_path,
                     const struct qube_launch *l)
{
    *cmd = (struct helper_cmd){ .driver = driver, .state_dir = helper_state_dir(driver, l->name) };
    static const char *const opts[] = { "--name",       "--qid",        "--tag",
                                        "--state-dir",  "--root-image", "--volatile-mib",
                                        "--memory-mib", "--maxmem-mib", "--vcpus" };
    const char *values[] = { l->name,
                             num(cmd, 0, l->qid),
                             l->instance_tag,
                             cmd->state_dir,
                             l->root_image,
                             num(cmd, 1, l->volatile_mib),
                             num(cmd, 2, l->memory_mib),
                             num(cmd, 3, l->maxmem_mib),
                             num(cmd, 4, l->vcpus) };
    helper_cmd_add(cmd, program_path);
    for (size_t i = 0; i < ARRAY_SIZE(opts); i++) {
        helper_cmd_add(cmd, opts[i]);
        helper_cmd_add(cmd, values[i]);
    }
    if (l->root_snapshot)
        helper_cmd_add(cmd, "--root-snapshot");
    if (l->private_image) {
        helper_cmd_add(cmd, "--private-image");
        helper_cmd_add(cmd, l->private_image);
        if (l->private_snapshot)
            helper_cmd_add(cmd, "--private-snapshot");
    }
}

void helper_cmd_free(struct helper_cmd *cmd)
{
    free(cmd->state_dir);
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

int helper_start(const struct helper_cmd *cmd, const struct qube_launch *l, struct qube_run **out,
                 struct qerror *err)
{
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) < 0)
        return qerror_errno(err, errno, "status pipe");
    _cleanup_close_ int status_ours = pipefd[0], status_theirs = pipefd[1];
    _cleanup_close_ int log = open(l->log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (log < 0)
        return qerror_errno(err, errno, "open %s", l->log_path);
    _cleanup_free_ char *parent = xasprintf("run/qubes/%s", cmd->driver);
    if (qroot_mkdirs(parent, 0700) < 0)
        return qerror_errno(err, errno, "create %s", parent);
    const int fds[] = { l->qrexec_fd, status_theirs, l->qubesdb_fd };
    pid_t pid = spawn_helper(cmd->argv[0], (char **)cmd->argv, log, fds, ARRAY_SIZE(fds));
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

/* The state file's "key=<pid>" line, 0 when absent. */
static pid_t state_pid(const char *driver, const char *name, const char *key)
{
    _cleanup_free_ char *dir = helper_state_dir(driver, name);
    _cleanup_free_ char *state = xasprintf("%s/state", dir);
    _cleanup_fclose_ FILE *f = fopen(state, "re");
    char line[64];
    size_t klen = strlen(key);
    while (f && fgets(line, sizeof(line), f)) {
        int pid;
        if (strncmp(line, key, klen) == 0 && line[klen] == '=' &&
            sscanf(line + klen + 1, "%d", &pid) == 1 && pid > 1)
            return pid;
    }
    return 0;
}

pid_t helper_state_pid(const char *driver, const struct qube_run *run, const char *key)
{
    return state_pid(driver, run->name, "launcher") == run->launcher
               ? state_pid(driver, run->name, key)
               : 0;
}

struct qube_run *helper_reattach(const char *driver, const char *program, const char *name,
                                 const char *tag)
{
    pid_t launcher = state_pid(driver, name, "launcher");
    if (launcher <= 1)
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
    if (!strstr(cmd, program) || !name_ok || !tag_ok)
        return NULL;
    return new_run(launcher, false, name, tag);
}

int helper_signal(struct qube_run *run, int sig, struct qerror *err)
{
    if (syscall(SYS_pidfd_send_signal, run->pidfd, sig, NULL, 0) < 0 && errno != ESRCH)
        return qerror_errno(err, errno, "signal qube %s", run->name);
    return 0;
}

int helper_freeze(struct qube_run *run, bool frozen, struct qerror *err)
{
    struct qube_cgroup cg;
    int rc = cgroup_open(&cg, run->tag, run->name)
                 ? cgroup_freeze(&cg, frozen, err)
                 : qerror_set(err, ERR_QUBES_EXCEPTION, "cgroups of %s are gone", run->name);
    cgroup_free(&cg);
    return rc;
}

int helper_stats(struct qube_run *run, struct driver_stats *out, struct qerror *err)
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

int helper_exit_fd(struct qube_run *run)
{
    return run->pidfd;
}

void helper_release(struct qube_run *run)
{
    if (run->status_fd >= 0)
        close(run->status_fd);
    close(run->pidfd);
    free(run->name);
    free(run->tag);
    free(run);
}

/* A helper killed outright leaves its qube's groups: its processes die with
 * it (their parent-death signal), and the groups, empty then, go. */
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

int helper_reap(struct qube_run *run, struct qerror *err)
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
    helper_release(run);
    return rc;
}
