/* The one seam between qubesd and an isolation mechanism (DESIGN §1): a
 * driver starts a qube from a launch description and reports on it. qubesd
 * picks a driver by the qube's virt_mode and never names one otherwise. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "common/error.h"

/* Everything a driver needs to start one qube. */
struct qube_launch {
    const char *name;
    int qid;
    const char *instance_tag;  /* keeps host-global names of two roots apart */
    const char *root_image;    /* ext4 image of the root filesystem */
    bool root_snapshot;        /* root_image is the template's: read-only + writable layer */
    const char *private_image; /* ext4 image mounted at /rw; NULL = none */
    bool private_snapshot;     /* private_image is the DVM template's: likewise */
    long volatile_mib;         /* size of the discarded writable layers, together */
    const char *guest_dir;     /* dom0's guest programs, mounted read-only */
    const char *log_path;      /* where init and the agent print */
    long memory_mib;           /* initial memory (sandbox: soft limit) */
    long maxmem_mib;           /* hard memory limit; 0 = memory_mib */
    int vcpus;
    int pids_max;
    bool provides_network; /* the qube administers its own network namespace */
    /* The qube's ends of its channels to dom0, byte streams each (DESIGN §1):
     * qrexec's and qubesdb's. The driver takes them over. */
    int qrexec_fd;
    int qubesdb_fd;
};

struct driver_stats {
    long long memory_kib;
    long long cpu_time_ms;
    int online_vcpus;
};

struct qube_run; /* a running qube, owned by its driver */

struct driver_ops {
    const char *virt_mode;
    /* The driver puts a writable layer of its own over snapshot volumes,
     * root and private (root_snapshot, private_snapshot), discarded when the
     * qube ends, so storage need not copy them at start. */
    bool overlays_snapshots;
    /* Checks that this host can run the qube at all (kernel features). */
    int (*prepare)(const struct qube_launch *launch, struct qerror *err);
    /* Starts the qube, joined to dom0 by the launch's channels. */
    int (*start)(const struct qube_launch *launch, struct qube_run **out, struct qerror *err);
    /* Finds a qube left running by an earlier qubesd, or returns NULL. */
    struct qube_run *(*reattach)(const char *name, const char *instance_tag);
    /* Asks the qube to shut down cleanly. */
    int (*stop)(struct qube_run *run, struct qerror *err);
    int (*kill)(struct qube_run *run, struct qerror *err);
    int (*pause)(struct qube_run *run, struct qerror *err);
    int (*unpause)(struct qube_run *run, struct qerror *err);
    int (*stats)(struct qube_run *run, struct driver_stats *out, struct qerror *err);
    /* A descriptor of the running qube's network namespace, for its links to
     * other qubes (net/vif.h); the caller closes it. */
    int (*netns_fd)(struct qube_run *run, struct qerror *err);
    /* A descriptor that becomes readable when the qube is gone. */
    int (*exit_fd)(struct qube_run *run);
    /* After exit: collects the outcome (0 clean, else a reason in err: why
     * the qube could not start, or how it failed) and frees the handle.
     * Every host resource is released by then. */
    int (*reap)(struct qube_run *run, struct qerror *err);
    /* qubesd exits and the qube goes on (reattach finds it again): frees the
     * handle, touching nothing of the qube. */
    void (*release)(struct qube_run *run);
};

/* The driver for a virt_mode value, or NULL. */
const struct driver_ops *driver_for(const char *virt_mode);
