/* cgroup v1/v2 handling for sandbox qubes. */
#include "drivers/sandbox/cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "common/host_budget.h"

#define CGROUP_ROOT "/sys/fs/cgroup"

enum { V1_MEMORY, V1_CPU, V1_PIDS, V1_FREEZER, V1_CPUACCT, V1_COUNT };
static const char *const v1_controllers[V1_COUNT] = { "memory", "cpu", "pids", "freezer",
                                                      "cpuacct" };

static bool is_v2_host(void)
{
    struct statfs st;
    return statfs(CGROUP_ROOT, &st) == 0 && st.f_type == CGROUP2_SUPER_MAGIC;
}

static int write_file(const char *dir, const char *file, const char *value, struct qerror *err)
{
    _cleanup_free_ char *path = xasprintf("%s/%s", dir, file);
    _cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, value, strlen(value)) < 0)
        return err ? qerror_errno(err, errno, "write %s to %s", value, path) : -1;
    return 0;
}

static bool dir_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static char *group_path(const char *base, const char *tag, const char *name)
{
    return xasprintf("%s/qubicle-%s/%s", base, tag, name);
}

static char *parent_of(const char *path)
{
    char *parent = xstrdup(path);
    *strrchr(parent, '/') = '\0';
    return parent;
}

static int mkdir_group(const char *path, struct qerror *err)
{
    /* parent "qubicle-<tag>" first; the last qube of the instance to stop
     * removes it (cgroup_remove), maybe between our two mkdirs: then again */
    _cleanup_free_ char *parent = parent_of(path);
    for (int tries = 0;; tries++) {
        if (mkdir(parent, 0755) < 0 && errno != EEXIST)
            return qerror_errno(err, errno, "mkdir %s", parent);
        if (mkdir(path, 0755) == 0 || errno == EEXIST)
            return 0;
        if (errno != ENOENT || tries == 3)
            return qerror_errno(err, errno, "mkdir %s", path);
    }
}

/* The instance's group bounds all its qubes together (host_budget.h); it is
 * written at every start, as the host's memory may have changed. Under
 * contention for CPU, the qubes together get a third of what dom0 gets. */
#define INSTANCE_CPU_WEIGHT "50"  /* v2; the default is 100 */
#define INSTANCE_CPU_SHARES "512" /* v1; the default is 1024 */

static int write_number(const char *dir, const char *file, long long v, struct qerror *err)
{
    char value[32];
    snprintf(value, sizeof(value), "%lld", v);
    return write_file(dir, file, value, err);
}

static int limit_instance(const struct qube_cgroup *cg, struct qerror *err)
{
    long long memory = qubes_memory_budget_mib(host_memory_mib()) << 20;
    long long pids = qubes_pids_budget();
    if (memory <= 0 || pids <= 0)
        return qerror_set(err, ERR_QUBES_EXCEPTION, "cannot tell the host's memory or pid limits");
    if (cg->v2) {
        _cleanup_free_ char *top = parent_of(cg->paths[0]);
        write_file(top, "cpu.weight", INSTANCE_CPU_WEIGHT, NULL);
        return write_number(top, "memory.max", memory, err) < 0 ||
                       write_number(top, "pids.max", pids, err) < 0
                   ? -1
                   : 0;
    }
    _cleanup_free_ char *mem = parent_of(cg->paths[V1_MEMORY]);
    _cleanup_free_ char *pid = parent_of(cg->paths[V1_PIDS]);
    _cleanup_free_ char *cpu = parent_of(cg->paths[V1_CPU]);
    write_file(cpu, "cpu.shares", INSTANCE_CPU_SHARES, NULL);
    return write_number(mem, "memory.limit_in_bytes", memory, err) < 0 ||
                   write_number(pid, "pids.max", pids, err) < 0
               ? -1
               : 0;
}

static void enable_v2_controllers(const char *path)
{
    /* the parent must delegate the controllers to the qube's group */
    _cleanup_free_ char *parent = parent_of(path);
    write_file(CGROUP_ROOT, "cgroup.subtree_control", "+memory +cpu +pids", NULL);
    write_file(parent, "cgroup.subtree_control", "+memory +cpu +pids", NULL);
}

int cgroup_create(struct qube_cgroup *cg, const char *tag, const char *name,
                  const struct cgroup_limits *limits, struct qerror *err)
{
    memset(cg, 0, sizeof(*cg));
    char value[64];
    if (is_v2_host()) {
        cg->v2 = true;
        cg->paths[0] = group_path(CGROUP_ROOT, tag, name);
        cg->n_paths = 1;
        if (mkdir_group(cg->paths[0], err) < 0)
            return -1;
        enable_v2_controllers(cg->paths[0]);
        if (limit_instance(cg, err) < 0)
            return -1;
        if (limits->memory_max_bytes) {
            snprintf(value, sizeof(value), "%lld", limits->memory_max_bytes);
            if (write_file(cg->paths[0], "memory.max", value, err) < 0)
                return -1;
            write_file(cg->paths[0], "memory.swap.max", "0", NULL);
        }
        if (limits->memory_high_bytes) {
            snprintf(value, sizeof(value), "%lld", limits->memory_high_bytes);
            write_file(cg->paths[0], "memory.high", value, NULL);
        }
        if (limits->cpus) {
            snprintf(value, sizeof(value), "%d 100000", limits->cpus * 100000);
            if (write_file(cg->paths[0], "cpu.max", value, err) < 0)
                return -1;
        }
        if (limits->pids_max) {
            snprintf(value, sizeof(value), "%d", limits->pids_max);
            if (write_file(cg->paths[0], "pids.max", value, err) < 0)
                return -1;
        }
        return 0;
    }

    for (int i = 0; i < V1_COUNT; i++) {
        _cleanup_free_ char *base = xasprintf(CGROUP_ROOT "/%s", v1_controllers[i]);
        if (!dir_exists(base)) {
            if (i == V1_CPUACCT)
                continue; /* optional: only for statistics */
            return qerror_set(err, ERR_QUBES_EXCEPTION, "cgroup controller %s not mounted at %s",
                              v1_controllers[i], base);
        }
        cg->paths[i] = group_path(base, tag, name);
        cg->n_paths = i + 1;
        if (i == V1_MEMORY) {
            /* before any child group exists: limits of the parent apply to
             * its children (always so on recent kernels) */
            _cleanup_free_ char *top = parent_of(cg->paths[i]);
            if (mkdir(top, 0755) == 0)
                write_file(top, "memory.use_hierarchy", "1", NULL);
        }
        if (mkdir_group(cg->paths[i], err) < 0)
            return -1;
    }
    if (limit_instance(cg, err) < 0)
        return -1;
    if (limits->memory_max_bytes) {
        snprintf(value, sizeof(value), "%lld", limits->memory_max_bytes);
        if (write_file(cg->paths[V1_MEMORY], "memory.limit_in_bytes", value, err) < 0)
            return -1;
        /* no swap beyond the limit, where the kernel accounts swap */
        write_file(cg->paths[V1_MEMORY], "memory.memsw.limit_in_bytes", value, NULL);
    }
    if (limits->memory_high_bytes) {
        snprintf(value, sizeof(value), "%lld", limits->memory_high_bytes);
        write_file(cg->paths[V1_MEMORY], "memory.soft_limit_in_bytes", value, NULL);
    }
    if (limits->cpus) {
        write_file(cg->paths[V1_CPU], "cpu.cfs_period_us", "100000", NULL);
        snprintf(value, sizeof(value), "%d", limits->cpus * 100000);
        if (write_file(cg->paths[V1_CPU], "cpu.cfs_quota_us", value, err) < 0)
            return -1;
    }
    if (limits->pids_max) {
        snprintf(value, sizeof(value), "%d", limits->pids_max);
        if (write_file(cg->paths[V1_PIDS], "pids.max", value, err) < 0)
            return -1;
    }
    return 0;
}

bool cgroup_open(struct qube_cgroup *cg, const char *tag, const char *name)
{
    memset(cg, 0, sizeof(*cg));
    if (is_v2_host()) {
        cg->v2 = true;
        cg->paths[0] = group_path(CGROUP_ROOT, tag, name);
        cg->n_paths = 1;
        return dir_exists(cg->paths[0]);
    }
    for (int i = 0; i < V1_COUNT; i++) {
        _cleanup_free_ char *base = xasprintf(CGROUP_ROOT "/%s", v1_controllers[i]);
        if (dir_exists(base))
            cg->paths[i] = group_path(base, tag, name);
        cg->n_paths = i + 1;
    }
    return cg->paths[V1_MEMORY] && dir_exists(cg->paths[V1_MEMORY]);
}

int cgroup_add(const struct qube_cgroup *cg, pid_t pid, struct qerror *err)
{
    char value[32];
    snprintf(value, sizeof(value), "%d", (int)pid);
    for (int i = 0; i < cg->n_paths; i++)
        if (cg->paths[i] && write_file(cg->paths[i], "cgroup.procs", value, err) < 0)
            return -1;
    return 0;
}

int cgroup_freeze(const struct qube_cgroup *cg, bool frozen, struct qerror *err)
{
    if (cg->v2)
        return write_file(cg->paths[0], "cgroup.freeze", frozen ? "1" : "0", err);
    return write_file(cg->paths[V1_FREEZER], "freezer.state", frozen ? "FROZEN" : "THAWED", err);
}

void cgroup_unthrottle(const struct qube_cgroup *cg)
{
    if (cg->v2)
        write_file(cg->paths[0], "cpu.max", "max 100000", NULL);
    else if (cg->paths[V1_CPU])
        write_file(cg->paths[V1_CPU], "cpu.cfs_quota_us", "-1", NULL);
}

static long long read_number(const char *dir, const char *file, const char *key)
{
    _cleanup_free_ char *path = xasprintf("%s/%s", dir, file);
    _cleanup_fclose_ FILE *f = fopen(path, "re");
    if (!f)
        return -1;
    char line[256];
    while (fgets(line, sizeof(line), f)) {
        if (!key)
            return atoll(line);
        size_t n = strlen(key);
        if (strncmp(line, key, n) == 0 && line[n] == ' ')
            return atoll(line + n + 1);
    }
    return -1;
}

void cgroup_usage(const struct qube_cgroup *cg, long long *memory, long long *cpu_ns)
{
    if (cg->v2) {
        *memory = read_number(cg->paths[0], "memory.current", NULL);
        long long usec = read_number(cg->paths[0], "cpu.stat", "usage_usec");
        *cpu_ns = usec < 0 ? -1 : usec * 1000;
        return;
    }
    *memory = read_number(cg->paths[V1_MEMORY], "memory.usage_in_bytes", NULL);
    *cpu_ns =
        cg->paths[V1_CPUACCT] ? read_number(cg->paths[V1_CPUACCT], "cpuacct.usage", NULL) : -1;
}

bool cgroup_remove(struct qube_cgroup *cg)
{
    bool gone = true;
    for (int i = 0; i < cg->n_paths; i++)
        if (cg->paths[i] && rmdir(cg->paths[i]) < 0 && errno != ENOENT)
            gone = false;
    /* the instance's group goes with its last qube (EBUSY while others run;
     * the next start makes it again, limits and all) */
    for (int i = 0; i < cg->n_paths; i++) {
        if (!cg->paths[i])
            continue;
        _cleanup_free_ char *parent = parent_of(cg->paths[i]);
        rmdir(parent);
    }
    return gone;
}

void cgroup_free(struct qube_cgroup *cg)
{
    for (int i = 0; i < cg->n_paths; i++)
        free(cg->paths[i]);
    memset(cg, 0, sizeof(*cg));
}
