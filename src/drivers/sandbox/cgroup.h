/* The cgroups of one qube: memory, cpu, pids limits and the freezer, on a
 * cgroup v2 host or on v1 hierarchies (hybrid hosts use v1 controllers). */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "common/error.h"

struct qube_cgroup {
    bool v2;
    char *paths[5]; /* v2: [0] only; v1: memory, cpu, pids, freezer, (cpuacct) */
    int n_paths;
};

struct cgroup_limits {
    long long memory_max_bytes;  /* 0 = none */
    long long memory_high_bytes; /* soft limit; 0 = none */
    int cpus;                    /* 0 = none */
    int pids_max;                /* 0 = none */
};

/* Creates (or reuses) the group "qubicle-<tag>/<name>" in every hierarchy. */
int cgroup_create(struct qube_cgroup *cg, const char *tag, const char *name,
                  const struct cgroup_limits *limits, struct qerror *err);
/* Finds the existing group without creating it; false if absent. */
bool cgroup_open(struct qube_cgroup *cg, const char *tag, const char *name);
int cgroup_add(const struct qube_cgroup *cg, pid_t pid, struct qerror *err);
int cgroup_freeze(const struct qube_cgroup *cg, bool frozen, struct qerror *err);
/* Lifts the CPU limit: a qube being killed must not die slowly because its
 * dying processes are throttled (a fork bomb has thousands). */
void cgroup_unthrottle(const struct qube_cgroup *cg);
/* Memory in use (bytes) and CPU time (ns); -1 when unknown. */
void cgroup_usage(const struct qube_cgroup *cg, long long *memory, long long *cpu_ns);
/* Removes the groups (they must be empty), and the instance's when it was
 * the last; whether the qube's are gone. */
bool cgroup_remove(struct qube_cgroup *cg);
void cgroup_free(struct qube_cgroup *cg);
