/* Power management of qubes on the daemon's loop. A start is a chain of
 * asynchronous steps (netvm first, then the driver, then qrexec-daemon until
 * the agent's HELLO); whoever waits on it (an Admin API call, the preload
 * pool, a qube that needs this one as its netvm) is told once, through its
 * callback, with the outcome. What else happens when a qube starts or stops
 * (a disposable's removal) subscribes to the events fired here. */
#include "qubesd/lifecycle.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/host_budget.h"
#include "common/log.h"
#include "common/loop.h"
#include "common/mono_time.h"
#include "common/paths.h"
#include "common/root.h"
#include "common/spawn.h"
#include "drivers/driver.h"
#include "qubesd/events.h"
#include "qubesd/property.h"
#include "qubesd/qubesdb_link.h"
#include "qubesd/storage_glue.h"
#include "qubesd/xid.h"

/* Someone waiting for a qube to be up (or down). */
struct waiter {
    lifecycle_done_fn done;
    void *ctx;
    struct waiter *next;
};

struct qube_runtime {
    struct app *app;
    struct qube *q;
    enum power_state state;
    const struct driver_ops *drv;
    struct qube_run *run;
    struct loop_watch exit_watch;
    pid_t qrexec_pid;
    struct loop_watch qrexec_watch;
    struct qubesdb_link qubesdb;
    struct loop_watch shutdown_timer;
    bool timed_out;
    struct waiter *on_started;
    struct waiter *on_halted;
    time_t start_time;
    long long last_cpu_ms; /* the previous stats sample */
    double last_sample_ms;
};

enum power_state qube_power(const struct qube *q)
{
    if (q->cls == QUBE_ADMINVM)
        return POWER_RUNNING;
    return q->runtime ? q->runtime->state : POWER_HALTED;
}

const char *power_state_name(enum power_state s)
{
    switch (s) {
    case POWER_HALTED: return "Halted";
    case POWER_TRANSIENT: return "Transient";
    case POWER_RUNNING: return "Running";
    case POWER_PAUSED: return "Paused";
    case POWER_HALTING: return "Halting";
    case POWER_DYING: return "Dying";
    }
    return "NA";
}

/* ---- waiters ---- */

static void add_waiter(struct waiter **list, lifecycle_done_fn done, void *ctx)
{
    if (!done)
        return;
    struct waiter *w = xcalloc(1, sizeof(*w));
    w->done = done;
    w->ctx = ctx;
    w->next = *list;
    *list = w;
}

static void notify(struct app *app, struct waiter **list, const struct qerror *err)
{
    struct waiter *w = *list;
    *list = NULL;
    while (w) {
        struct waiter *next = w->next;
        w->done(app, w->ctx, err);
        free(w);
        w = next;
    }
}

static void fire0(struct app *app, const struct qube *q, const char *event)
{
    app_fire(app, q, event, 0, NULL, NULL);
}

static void fire1(struct app *app, const struct qube *q, const char *event, const char *key,
                  const char *value)
{
    const char *keys[] = { key }, *values[] = { value };
    app_fire(app, q, event, 1, keys, values);
}

/* Host-global names (cgroups) carry a tag of the root, so two roots on one
 * host never collide. */
static void instance_tag(char out[9])
{
    _cleanup_free_ char *root = realpath(qroot_get(), NULL);
    const char *s = root ? root : qroot_get();
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    snprintf(out, 9, "%08x", h);
}

static char *guest_log(const struct qube *q)
{
    _cleanup_free_ char *rel = xasprintf("var/log/qubes/guest-%s.log", q->name);
    return qroot_path(rel);
}

/* ---- the end of a qube ---- */

static void runtime_free(struct app *app, struct qube_runtime *rt)
{
    loop_del(app->loop, &rt->exit_watch);
    if (rt->qrexec_watch.fd >= 0) {
        loop_del(app->loop, &rt->qrexec_watch);
        close(rt->qrexec_watch.fd);
        waitpid(rt->qrexec_pid, NULL, WNOHANG);
    }
    loop_timer_cancel(app->loop, &rt->shutdown_timer);
    qubesdb_link_stop(&rt->qubesdb);
    rt->q->runtime = NULL;
    free(rt);
}

static void on_exit_fd(struct loop_watch *w, uint32_t events)
{
    (void)events;
    struct qube_runtime *rt = w->ctx;
    struct app *app = rt->app;
    struct qube *q = rt->q;
    enum power_state was = rt->state;
    rt->state = POWER_DYING;
    loop_del(app->loop, &rt->exit_watch);

    struct qerror reap_err = { 0 };
    int rc = rt->drv->reap(rt->run, &reap_err);
    rt->run = NULL;
    qube_run_end(q);
    qube_run_save(q);
    fire0(app, q, "domain-stopped");
    struct qerror stop_err = { 0 };
    if (storage_stop(app, q, &stop_err) < 0)
        log_error("qube=%s op=storage-stop error=%s", q->name, stop_err.message);
    qube_run_announce(app, q);
    log_info("qube=%s op=halted was=%s%s%s", q->name, power_state_name(was),
             rc < 0 ? " error=" : "", rc < 0 ? reap_err.message : "");

    struct waiter *started = rt->on_started, *halted = rt->on_halted;
    rt->on_started = rt->on_halted = NULL;
    bool timed_out = rt->timed_out;
    runtime_free(app, rt);

    if (was == POWER_TRANSIENT) {
        _cleanup_free_ char *log = guest_log(q);
        struct qerror err;
        if (rc < 0)
            qerror_set(&err, ERR_QUBES_EXCEPTION, "Start failed: %s, see %s", reap_err.message,
                       log);
        else
            qerror_set(&err, ERR_QUBES_EXCEPTION,
                       "Start failed: qube %s stopped while starting, see %s", q->name, log);
        fire1(app, q, "domain-start-failed", "reason", err.message);
        notify(app, &started, &err);
    } else {
        notify(app, &started, NULL);
    }
    fire0(app, q, "domain-shutdown");
    struct qerror timeout_err;
    if (timed_out)
        qerror_set(&timeout_err, ERR_QUBES_VM_SHUTDOWN_TIMEOUT_ERROR,
                   "Domain shutdown timed out: '%s'", q->name);
    /* as Qubes' Kill answers once the domain is gone and auto-cleanup follows
     * domain-shutdown: a disposable's removal is deferred to the end of this callback
     * (its subscriber), so the caller does not wait for it, and the next request it
     * sends is served after it */
    notify(app, &halted, timed_out ? &timeout_err : NULL);
}

/* ---- starting ---- */

/* The runtime of a qube its driver just started (or found again); the
 * driver's exit descriptor tells when it is gone. */
static struct qube_runtime *runtime_new(struct app *app, struct qube *q,
                                        const struct driver_ops *drv, struct qube_run *run,
                                        enum power_state state)
{
    struct qube_runtime *rt = xcalloc(1, sizeof(*rt));
    rt->app = app;
    rt->q = q;
    rt->state = state;
    rt->drv = drv;
    rt->run = run;
    rt->start_time = time(NULL);
    rt->shutdown_timer.fd = -1;
    rt->qrexec_watch.fd = -1;
    rt->exit_watch = (struct loop_watch){ .fd = drv->exit_fd(run), .fn = on_exit_fd, .ctx = rt };
    q->runtime = rt;
    if (state == POWER_RUNNING) {
        qube_run_resume(app, q); /* found running by a new qubesd */
    } else {
        qube_run_begin(app, q);
        qube_run_save(q);
    }
    loop_add(app->loop, &rt->exit_watch, EPOLLIN);
    return rt;
}

static void on_qrexec_ready(struct loop_watch *w, uint32_t events)
{
    (void)events;
    struct qube_runtime *rt = w->ctx;
    struct app *app = rt->app;
    struct qube *q = rt->q;
    int status = 0;
    if (waitpid(rt->qrexec_pid, &status, WNOHANG) != rt->qrexec_pid)
        return;
    loop_del(app->loop, &rt->qrexec_watch);
    close(rt->qrexec_watch.fd);
    rt->qrexec_watch.fd = -1;
    if (rt->state != POWER_TRANSIENT)
        return;
    struct qerror err = { 0 };
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
        app_check(app, q, "domain-pre-running", 0, NULL, NULL, &err) == 0) {
        rt->state = POWER_RUNNING;
        log_info("qube=%s op=start result=ok ms=%ld", q->name,
                 (long)(time(NULL) - rt->start_time) * 1000);
        fire1(app, q, "domain-start", "start_guid", "False");
        notify(app, &rt->on_started, NULL);
        return;
    }
    /* The start fails: the agent never said HELLO (qrexec-daemon exits 3 on the
     * timeout), or a part of the qube (its network) could not be made. Otherwise the
     * channel closed, the qube stopped, and its driver's exit (on_exit_fd) tells why.
     * Either way the qube goes. */
    if (!err.kind && WIFEXITED(status) && WEXITSTATUS(status) == 3) {
        _cleanup_free_ char *log = guest_log(q);
        qerror_set(&err, ERR_QUBES_EXCEPTION,
                   "Cannot connect to qrexec agent for %lld seconds, see %s",
                   prop_value_int(app, q, "qrexec_timeout", 60), log);
    } else if (err.kind) {
        qerror_prefix(&err, "Start failed: ");
    }
    if (err.kind) {
        fire1(app, q, "domain-start-failed", "reason", err.message);
        struct waiter *started = rt->on_started;
        rt->on_started = NULL;
        notify(app, &started, &err);
    }
    struct qerror ignored;
    rt->drv->kill(rt->run, &ignored);
}

/* One channel between dom0 and a qube: a byte stream, each end close-on-exec
 * until a helper is handed it. */
static int channel_pair(int *ours, int *theirs, struct qerror *err)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return qerror_errno(err, errno, "channel socketpair");
    *ours = sv[0];
    *theirs = sv[1];
    return 0;
}

static pid_t spawn_qrexec_daemon(const struct app *app, const struct qube *q, int channel_fd,
                                 struct qerror *err)
{
    _cleanup_free_ char *daemon = qubicle_program("qrexec-daemon");
    _cleanup_free_ char *rel = xasprintf("var/log/qubes/qrexec.%s.log", q->name);
    _cleanup_free_ char *log_path = qroot_path(rel);
    char timeout[24];
    snprintf(timeout, sizeof(timeout), "%lld", prop_value_int(app, q, "qrexec_timeout", 60));
    _cleanup_buf_ struct buf user = BUF_INIT;
    const struct prop_def *def = prop_find(q->cls, "default_user");
    if (!def || prop_value(app, q, def, &user) != 0 || !user.len)
        buf_append_str(&user, "user");
    int log = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (log < 0)
        return qerror_errno(err, errno, "open %s", log_path);
    char domid[16];
    snprintf(domid, sizeof(domid), "%d", q->qid);
    const char *argv[] = { "qrexec-daemon", "--qube", q->name,     "--channel-fd", "3",
                           "--domid",       domid,    "--timeout", timeout,        "--default-user",
                           user.data,       NULL };
    pid_t pid = spawn_helper(daemon, (char **)argv, log, &channel_fd, 1);
    if (pid < 0) {
        close(log);
        return qerror_errno(err, errno, "fork");
    }
    close(log);
    return pid;
}

static const struct storage_attach *find_attach(const struct storage_attachments *a,
                                                const char *name)
{
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->v[i].name, name) == 0)
            return &a->v[i].a;
    return NULL;
}

/* Qubes starts a qube only when its initial memory is free (qmemman): here
 * the running qubes' memory together stays within what the host gives qubes
 * (host_budget.h), whose instance cgroup also bounds what they really use. */
static int admit_memory(const struct app *app, const struct qube *q, struct qerror *err)
{
    long long used = 0;
    for (size_t i = 0; i < app->n_qubes; i++) {
        const struct qube *r = app->qubes[i];
        if (r != q && r->runtime)
            used += prop_value_int(app, r, "memory", 0);
    }
    if (used + prop_value_int(app, q, "memory", 0) > qubes_memory_budget_mib(app->host_memory_mib))
        return qerror_set(err, ERR_QUBES_MEMORY_ERROR, "Not enough memory to start domain '%s'",
                          q->name);
    return 0;
}

static int start_now(struct app *app, struct qube *q, struct qerror *err)
{
    _cleanup_buf_ struct buf mode = BUF_INIT;
    prop_value(app, q, prop_find(q->cls, "virt_mode"), &mode);
    const struct driver_ops *drv = driver_for(mode.data ? mode.data : "");
    if (!drv)
        return qerror_set(err, ERR_QUBES_EXCEPTION, "virt_mode %s has no driver",
                          mode.data ? mode.data : "");
    if (admit_memory(app, q, err) < 0)
        return -1;
    fire0(app, q, "domain-pre-start");

    struct storage_attachments att = { 0 };
    if (storage_start(app, q, drv->overlays_snapshots, &att, err) < 0) {
        qerror_prefix(err, "storage: ");
        return -1;
    }
    const struct storage_attach *root = find_attach(&att, "root");
    const struct storage_attach *private = find_attach(&att, "private");
    char tag[9];
    instance_tag(tag);
    _cleanup_free_ char *log = guest_log(q);
    _cleanup_free_ char *guest = qubicle_guest_dir();
    long memory = (long)prop_value_int(app, q, "memory", 400);
    long maxmem = (long)prop_value_int(app, q, "maxmem", 0);
    struct qube_launch launch = {
        .name = q->name,
        .qid = q->qid,
        .instance_tag = tag,
        /* a snapshot root: the template's committed image, read-only,
         * under a writable layer the driver discards */
        .root_image = root ? (root->source_path ? root->source_path : root->path) : NULL,
        .root_snapshot = root && root->source_path,
        /* a DispVM's private the same way: its DVM template's committed image */
        .private_image =
            private ? (private->source_path ? private->source_path : private->path) : NULL,
        .private_snapshot = private && private->source_path,
        .volatile_mib = 1024,
        .guest_dir = guest,
        .log_path = log,
        .memory_mib = memory,
        .maxmem_mib = maxmem > memory ? maxmem : memory,
        .vcpus = (int)prop_value_int(app, q, "vcpus", 2),
        .pids_max = 4096,
        .provides_network = prop_value_bool(app, q, "provides_network"),
    };
    /* the qube's two channels to dom0: qrexec's and qubesdb's */
    _cleanup_close_ int qrexec_ours = -1, qrexec_theirs = -1, qdb_ours = -1, qdb_theirs = -1;
    if (channel_pair(&qrexec_ours, &qrexec_theirs, err) < 0 ||
        channel_pair(&qdb_ours, &qdb_theirs, err) < 0) {
        storage_attachments_free(&att);
        struct qerror ignored;
        storage_stop(app, q, &ignored);
        return -1;
    }
    launch.qrexec_fd = qrexec_theirs;
    launch.qubesdb_fd = qdb_theirs;
    struct qubesdb_link qubesdb;
    struct qube_run *run = NULL;
    if (drv->prepare(&launch, err) < 0 || qubesdb_link_start(app, q, qdb_ours, &qubesdb, err) < 0) {
        storage_attachments_free(&att);
        struct qerror ignored;
        storage_stop(app, q, &ignored);
        return -1;
    }
    if (drv->start(&launch, &run, err) < 0) {
        qubesdb_link_stop(&qubesdb);
        storage_attachments_free(&att);
        struct qerror ignored;
        storage_stop(app, q, &ignored);
        return -1;
    }
    storage_attachments_free(&att);

    struct qube_runtime *rt = runtime_new(app, q, drv, run, POWER_TRANSIENT);
    rt->qubesdb = qubesdb;
    qube_run_announce(app, q);
    fire0(app, q, "domain-spawn");

    rt->qrexec_pid = spawn_qrexec_daemon(app, q, qrexec_ours, err);
    if (rt->qrexec_pid < 0) {
        struct qerror ignored;
        drv->kill(run, &ignored);
        return -1; /* the exit watch cleans up */
    }
    rt->qrexec_watch = (struct loop_watch){ .fd = (int)syscall(SYS_pidfd_open, rt->qrexec_pid, 0),
                                            .fn = on_qrexec_ready,
                                            .ctx = rt };
    if (rt->qrexec_watch.fd < 0 || loop_add(app->loop, &rt->qrexec_watch, EPOLLIN) < 0) {
        qerror_errno(err, errno, "watch qrexec-daemon");
        struct qerror ignored;
        drv->kill(run, &ignored);
        return -1;
    }
    return 0;
}

/* Whom to tell when a start is over. */
struct start_waiter {
    lifecycle_done_fn done;
    void *ctx;
};

static void deliver(struct app *app, struct start_waiter w, const struct qerror *err)
{
    if (w.done)
        w.done(app, w.ctx, err);
}

/* A start that failed before the qube ran: announced, logged (the
 * subscribers may remove q: it is not used afterwards). */
static void start_failed(struct app *app, struct qube *q, const struct qerror *err)
{
    log_warning("qube=%s op=start result=failed error=%s", q->name, err->message);
    fire1(app, q, "domain-start-failed", "reason", err->message);
}

/* A start waiting for its netvm; it goes on (or fails) once that is up. */
struct after_netvm {
    char name[32];
    struct start_waiter w;
};

static int start_with(struct app *app, struct qube *q, struct start_waiter w, struct qerror *err);

static void start_after_netvm(struct app *app, void *ctx, const struct qerror *netvm_err)
{
    struct after_netvm *a = ctx;
    struct qube *q = app_find(app, a->name);
    struct qerror err = { 0 };
    if (netvm_err) {
        err = *netvm_err;
        qerror_prefix(&err, "netvm of %s: ", a->name);
    } else if (!q) {
        qerror_set(&err, ERR_QUBES_VM_NOT_FOUND_ERROR, "No such domain: '%s'", a->name);
    } else if (start_with(app, q, a->w, &err) == 0) {
        free(a);
        return;
    }
    /* its waiters are told first: a disposable that could not start goes
     * (after this callback), and they may still ask for it by name */
    deliver(app, a->w, &err);
    q = app_find(app, a->name);
    if (q && !q->runtime)
        start_failed(app, q, &err);
    free(a);
}

/* Starts q, or joins a start under way; w is told the outcome, unless this
 * returns -1 (refused at once: err says why and w is not used). */
static int start_with(struct app *app, struct qube *q, struct start_waiter w, struct qerror *err)
{
    if (q->cls == QUBE_ADMINVM)
        return qerror_set(err, ERR_QUBES_VM_NOT_HALTED_ERROR, "Cannot start Dom0 fake domain!");
    struct qube_runtime *rt = q->runtime;
    if (rt) {
        if (rt->state == POWER_TRANSIENT)
            add_waiter(&rt->on_started, w.done, w.ctx);
        else
            deliver(app, w, NULL); /* not Halted: nothing to do, as in Qubes */
        return 0;
    }
    /* Qubes starts the netvm chain first */
    struct qube *netvm = qube_netvm(app, q);
    if (netvm && qube_power(netvm) != POWER_RUNNING) {
        if (netvm->runtime && netvm->runtime->state != POWER_TRANSIENT)
            return qerror_set(err, ERR_QUBES_VM_NOT_STARTED_ERROR,
                              "netvm %s of %s is %s, not running", netvm->name, q->name,
                              power_state_name(qube_power(netvm)));
        struct after_netvm *a = xcalloc(1, sizeof(*a));
        snprintf(a->name, sizeof(a->name), "%s", q->name);
        a->w = w;
        struct start_waiter then = { .done = start_after_netvm, .ctx = a };
        if (start_with(app, netvm, then, err) < 0) {
            free(a);
            qerror_prefix(err, "netvm %s: ", netvm->name);
            return -1;
        }
        return 0;
    }
    if (start_now(app, q, err) < 0)
        return -1;
    add_waiter(&q->runtime->on_started, w.done, w.ctx);
    return 0;
}

int lifecycle_start(struct app *app, struct qube *q, lifecycle_done_fn done, void *ctx,
                    struct qerror *err)
{
    /* a subscriber may refuse (a disposable whose template is one no more) */
    struct start_waiter w = { .done = done, .ctx = ctx };
    if (app_check(app, q, "domain-pre-start", 0, NULL, NULL, err) < 0 ||
        start_with(app, q, w, err) < 0) {
        if (q->cls != QUBE_ADMINVM && !q->runtime)
            start_failed(app, q, err);
        return -1;
    }
    return 0;
}

/* ---- stopping ---- */

static void on_shutdown_timeout(struct loop_watch *w, uint32_t events)
{
    (void)events;
    struct qube_runtime *rt = w->ctx;
    loop_timer_cancel(rt->app->loop, &rt->shutdown_timer);
    log_warning("qube=%s op=shutdown result=timeout: killing it", rt->q->name);
    rt->timed_out = true;
    struct qerror ignored;
    rt->drv->kill(rt->run, &ignored);
}

static int not_started(const struct qube *q, struct qerror *err)
{
    return qerror_set(err, ERR_QUBES_VM_NOT_STARTED_ERROR, "Domain is powered off: '%s'", q->name);
}

int lifecycle_shutdown(struct app *app, struct qube *q, bool force, bool wait,
                       lifecycle_done_fn done, void *ctx, struct qerror *err)
{
    if (q->cls == QUBE_ADMINVM)
        return qerror_set(err, ERR_QUBES_VM_ERROR, "Cannot shutdown Dom0 fake domain!");
    struct qube_runtime *rt = q->runtime;
    if (!rt)
        return not_started(q, err);
    if (!force) {
        _cleanup_buf_ struct buf users = BUF_INIT;
        for (size_t i = 0; i < app->n_qubes; i++) {
            const struct qube *other = app->qubes[i];
            if (other != q && other->runtime && qube_netvm(app, other) == q)
                buf_printf(&users, "%s%s", users.len ? ", " : "", other->name);
        }
        if (users.len)
            return qerror_set(err, ERR_QUBES_VM_IN_USE_ERROR,
                              "There are other VMs connected to this VM: %s", users.data);
    }
    if (rt->state == POWER_PAUSED && rt->drv->unpause(rt->run, err) < 0)
        return -1;
    fire1(app, q, "domain-pre-shutdown", "force", force ? "True" : "False");
    if (rt->state != POWER_HALTING) {
        if (rt->drv->stop(rt->run, err) < 0)
            return -1;
        rt->state = POWER_HALTING;
        long long timeout = prop_value_int(app, q, "shutdown_timeout", 60);
        loop_timer_start(app->loop, &rt->shutdown_timer, (long)timeout * 1000, on_shutdown_timeout,
                         rt);
    }
    if (wait)
        add_waiter(&rt->on_halted, done, ctx);
    else if (done)
        done(app, ctx, NULL);
    return 0;
}

int lifecycle_kill(struct app *app, struct qube *q, lifecycle_done_fn done, void *ctx,
                   struct qerror *err)
{
    (void)app;
    if (q->cls == QUBE_ADMINVM)
        return qerror_set(err, ERR_QUBES_VM_ERROR, "Cannot kill Dom0 fake domain!");
    struct qube_runtime *rt = q->runtime;
    if (!rt)
        return not_started(q, err);
    if (rt->drv->kill(rt->run, err) < 0)
        return -1;
    add_waiter(&rt->on_halted, done, ctx);
    return 0;
}

/* q's runtime while its driver runs it; NULL, with the error, otherwise. */
static struct qube_runtime *running(const struct qube *q, struct qerror *err)
{
    if (!q->runtime || !q->runtime->run) {
        qerror_set(err, ERR_QUBES_VM_NOT_RUNNING_ERROR, "Domain is not running: '%s'", q->name);
        return NULL;
    }
    return q->runtime;
}

struct qdb_client *lifecycle_qubesdb(struct qube *q, struct qerror *err)
{
    struct qube_runtime *rt = running(q, err);
    return rt ? qubesdb_link_client(&rt->qubesdb, q->name, err) : NULL;
}

int lifecycle_netns_fd(const struct qube *q, struct qerror *err)
{
    struct qube_runtime *rt = running(q, err);
    if (!rt)
        return -1;
    if (!rt->drv->netns_fd)
        return qerror_set(err, ERR_QUBES_EXCEPTION, "virt_mode %s has no network yet",
                          rt->drv->virt_mode);
    return rt->drv->netns_fd(rt->run, err);
}

int lifecycle_pause(struct app *app, struct qube *q, bool pause, struct qerror *err)
{
    struct qube_runtime *rt = q->runtime;
    if (q->cls == QUBE_ADMINVM)
        return qerror_set(err, ERR_QUBES_VM_ERROR, "Cannot pause Dom0 fake domain!");
    if (pause) {
        if (!rt || rt->state != POWER_RUNNING)
            return qerror_set(err, ERR_QUBES_VM_NOT_RUNNING_ERROR,
                              "Domain not running (either powered off or paused): '%s'", q->name);
        if (rt->drv->pause(rt->run, err) < 0)
            return -1;
        rt->state = POWER_PAUSED;
        fire0(app, q, "domain-paused");
        return 0;
    }
    if (!rt || rt->state != POWER_PAUSED)
        return qerror_set(err, ERR_QUBES_VM_NOT_PAUSED_ERROR, "Domain is not paused: '%s'",
                          q->name);
    if (rt->drv->unpause(rt->run, err) < 0)
        return -1;
    rt->state = POWER_RUNNING;
    fire0(app, q, "domain-unpaused");
    return 0;
}

void lifecycle_current_state(const struct app *app, const struct qube *q, struct buf *out)
{
    struct driver_stats st = { 0 };
    struct qerror ignored;
    if (q->runtime && q->runtime->run)
        q->runtime->drv->stats(q->runtime->run, &st, &ignored);
    long long maxmem = prop_value_int(app, q, "maxmem", 0);
    /* dom0's is what its domain has (Qubes asks libvirt): the host's memory in use */
    if (q->cls == QUBE_ADMINVM)
        st.memory_kib = host_memory_used_kib();
    buf_printf(out, "mem=%lld mem_static_max=%lld cputime=%lld power_state=%s", st.memory_kib,
               q->cls == QUBE_ADMINVM ? app->host_memory_mib * 1024 : maxmem * 1024, st.cpu_time_ms,
               power_state_name(qube_power(q)));
}

bool lifecycle_sample(const struct app *app, struct qube *q, struct qube_sample *out)
{
    struct qube_runtime *rt = q->runtime;
    if (!rt || !rt->run || (rt->state != POWER_RUNNING && rt->state != POWER_PAUSED))
        return false;
    struct driver_stats st = { 0 };
    struct qerror ignored;
    if (rt->drv->stats(rt->run, &st, &ignored) < 0)
        return false;
    double now = (double)mono_ns() / 1e6;
    int vcpus = (int)prop_value_int(app, q, "vcpus", 1);
    double elapsed = now - rt->last_sample_ms;
    out->memory_kb = st.memory_kib;
    out->cpu_time_ms = st.cpu_time_ms;
    out->online_vcpus = vcpus;
    out->cpu_usage =
        rt->last_sample_ms > 0 && elapsed > 0 && vcpus > 0
            ? (int)((double)(st.cpu_time_ms - rt->last_cpu_ms) * 100.0 / elapsed / vcpus)
            : 0;
    rt->last_cpu_ms = st.cpu_time_ms;
    rt->last_sample_ms = now;
    return true;
}

static void free_waiters(struct waiter *w)
{
    for (struct waiter *next; w; w = next) {
        next = w->next;
        free(w);
    }
}

void lifecycle_release_all(struct app *app)
{
    for (size_t i = 0; i < app->n_qubes; i++) {
        struct qube_runtime *rt = app->qubes[i]->runtime;
        if (!rt)
            continue;
        /* nobody is told: their connections close with the server */
        free_waiters(rt->on_started);
        free_waiters(rt->on_halted);
        rt->drv->release(rt->run);
        qubesdb_link_release(&rt->qubesdb);
        runtime_free(app, rt);
    }
}

void lifecycle_reattach_all(struct app *app)
{
    char tag[9];
    instance_tag(tag);
    for (size_t i = 0; i < app->n_qubes; i++) {
        struct qube *q = app->qubes[i];
        if (q->cls == QUBE_ADMINVM)
            continue;
        _cleanup_buf_ struct buf mode = BUF_INIT;
        prop_value(app, q, prop_find(q->cls, "virt_mode"), &mode);
        const struct driver_ops *drv = driver_for(mode.data ? mode.data : "");
        struct qube_run *run = drv && drv->reattach ? drv->reattach(q->name, tag) : NULL;
        if (!run)
            continue;
        runtime_new(app, q, drv, run, POWER_RUNNING);
        log_info("qube=%s op=reattach result=running", q->name);
    }
}
