/* qubes-sandbox: the dom0 helper of one sandbox qube. It builds the qube's
 * namespaces, cgroups and filesystem, starts qubes-init as the qube's PID 1,
 * then stays as its supervisor: SIGTERM asks the qube to shut down, SIGUSR1
 * kills it, and when init is gone it releases every host resource and exits.
 *
 * Start order (host root unless noted):
 *   1. cgroups; a throwaway user namespace whose mapping (0 -> base) is
 *      used for the idmapped mounts;
 *   2. clone: new mount, pid, ipc, uts namespaces; the child joins the
 *      qube's cgroups, then a new cgroup namespace;
 *   3. child: filesystem (mount_plan.h, applied by rootfs.c), hostname,
 *      pivot_root; a network namespace (dom0's, unless the qube provides
 *      network); then a new user namespace (uid/gid maps written here),
 *      no_new_privs, seccomp; exec qubes-init.
 * The qube's uid range is held by this helper (uid_slot.h), and the qube
 * dies with it (PR_SET_PDEATHSIG), so the range is never shared. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <linux/sched.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "common/names.h"
#include "common/parse.h"
#include "common/spawn.h"
#include "drivers/console_log.h"
#include "drivers/helper_options.h"
#include "drivers/sandbox/cgroup.h"
#include "drivers/sandbox/mount_plan.h"
#include "drivers/sandbox/rootfs.h"
#include "drivers/sandbox/sandbox_layout.h"
#include "drivers/sandbox/seccomp.h"
#include "drivers/sandbox/uid_slot.h"

struct options {
    struct helper_options h; /* name, images, memory... (helper_options.h) */
    const char *guest_dir;
    int pids_max;
    bool provides_network;
    bool print_plan;
};

/* fd 4 from qubesd: why the qube could not start, read when we are gone;
 * closed once the qube runs. */
static int status_fd = -1;

static void __attribute__((noreturn, format(printf, 1, 2))) die(const char *fmt, ...)
{
    char msg[QERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fprintf(stderr, "qubes-sandbox: %s\n", msg);
    if (status_fd >= 0 && write(status_fd, msg, strlen(msg)) < 0)
        exit(1);
    exit(1);
}

/* ---- synchronisation between the launcher and the qube's PID 1 ---- */

enum sync_msg { SYNC_CGROUP = 'c', SYNC_USERNS = 'u', SYNC_MAPPED = 'm', SYNC_ERROR = 'E' };

static void sync_send(int fd, char msg)
{
    while (write(fd, &msg, 1) < 0 && errno == EINTR)
        ;
}

static char sync_wait(int fd)
{
    char msg = 0;
    ssize_t n;
    while ((n = read(fd, &msg, 1)) < 0 && errno == EINTR)
        ;
    return n == 1 ? msg : 0;
}

/* The child reports a failure as 'E' + text, then exits. */
static void __attribute__((noreturn)) child_fail(int sync_fd, const struct qerror *err)
{
    char buf[QERROR_MAX + 1];
    int n = snprintf(buf, sizeof(buf), "%c%s", SYNC_ERROR, err->message);
    if (write(sync_fd, buf, (size_t)n) < 0)
        _exit(1);
    _exit(1);
}

static int write_proc(pid_t pid, const char *file, const char *text, struct qerror *err)
{
    _cleanup_free_ char *path = xasprintf("/proc/%d/%s", (int)pid, file);
    _cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, text, strlen(text)) < 0)
        return qerror_errno(err, errno, "write %s", path);
    return 0;
}

static int write_id_maps(pid_t pid, uid_t base, struct qerror *err)
{
    _cleanup_free_ char *map = xasprintf("0 %u %u\n", base, SANDBOX_ID_RANGE);
    if (write_proc(pid, "uid_map", map, err) < 0 || write_proc(pid, "gid_map", map, err) < 0)
        return -1;
    return 0;
}

/* A user namespace with the qube's mapping, for MOUNT_ATTR_IDMAP. The
 * process holding it exits at once; the fd keeps the namespace. */
static int idmap_userns(uid_t base, struct qerror *err)
{
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) < 0)
        return qerror_errno(err, errno, "pipe");
    pid_t pid = (pid_t)syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, NULL, NULL, NULL, 0);
    if (pid < 0)
        return qerror_errno(err, errno, "clone a user namespace");
    if (pid == 0) {
        char c;
        close(pipefd[1]);
        while (read(pipefd[0], &c, 1) < 0 && errno == EINTR)
            ;
        _exit(0);
    }
    close(pipefd[0]);
    int fd = -1;
    if (write_id_maps(pid, base, err) == 0) {
        _cleanup_free_ char *path = xasprintf("/proc/%d/ns/user", (int)pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            qerror_errno(err, errno, "open %s", path);
    }
    close(pipefd[1]);
    waitpid(pid, NULL, 0);
    return fd;
}

static int loopback_up(struct qerror *err)
{
    _cleanup_close_ int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct ifreq ifr = { 0 };
    strcpy(ifr.ifr_name, "lo");
    if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
        return qerror_errno(err, errno, "loopback");
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
        return qerror_errno(err, errno, "loopback up");
    return 0;
}

static int new_netns(struct qerror *err)
{
    if (unshare(CLONE_NEWNET) < 0)
        return qerror_errno(err, errno, "network namespace");
    return loopback_up(err);
}

struct child_args {
    const struct options *opt;
    int sync_fd;
    int console_fd; /* the write end of the console pipe: init's stdout/stderr */
    int idmap_fd;
    uid_t base;
};

/* The writable layers of snapshot volumes are tmpfs, so their pages count
 * against the qube's memory limit. Capped at half of it, a qube that fills
 * them (a disposable writing its /home) gets ENOSPC while its programs still
 * have memory to run, instead of meeting the OOM killer. */
static long volatile_layer_mib(const struct options *opt)
{
    long limit = opt->h.maxmem_mib ? opt->h.maxmem_mib : opt->h.memory_mib;
    long half = limit / 2 > 16 ? limit / 2 : 16;
    return limit && half < opt->h.volatile_mib ? half : opt->h.volatile_mib;
}

static struct rootfs_config rootfs_config_of(const struct options *opt, uid_t base)
{
    return (struct rootfs_config){
        .root_image = opt->h.root_image,
        .root_snapshot = opt->h.root_snapshot,
        .private_image = opt->h.private_image,
        .private_snapshot = opt->h.private_snapshot,
        .volatile_mib = volatile_layer_mib(opt),
        .guest_dir = opt->guest_dir,
        .uid_base = base,
    };
}

static int child_main(void *arg)
{
    const struct child_args *a = arg;
    const struct options *opt = a->opt;
    struct qerror err = { 0 };

    if (sync_wait(a->sync_fd) != SYNC_CGROUP)
        _exit(1);
    if (unshare(CLONE_NEWCGROUP) < 0) {
        qerror_errno(&err, errno, "cgroup namespace");
        child_fail(a->sync_fd, &err);
    }

    _cleanup_free_ char *staging = xasprintf("%s/root", opt->h.state_dir);
    _cleanup_free_ char *work = xasprintf("%s/work", opt->h.state_dir);
    struct rootfs_config cfg = rootfs_config_of(opt, a->base);
    struct mount_plan plan;
    mount_plan_build(&cfg, &plan);
    int rc = rootfs_setup(&plan, work, staging, a->idmap_fd, &err);
    mount_plan_free(&plan);
    if (rc < 0)
        child_fail(a->sync_fd, &err);
    close(a->idmap_fd);
    if (sethostname(opt->h.name, strlen(opt->h.name)) < 0) {
        qerror_errno(&err, errno, "sethostname");
        child_fail(a->sync_fd, &err);
    }
    /* A qube that provides network administers its own interfaces (it runs
     * a firewall), so its network namespace belongs to its user namespace.
     * Any other qube's belongs to dom0's: it holds no CAP_NET_ADMIN there. */
    if (!opt->provides_network && new_netns(&err) < 0)
        child_fail(a->sync_fd, &err);
    /* the OOM killer takes the qube's processes before dom0's; set as host
     * root, so that (with CAP_SYS_RESOURCE) the qube cannot go below it */
    if (set_oom_score_adj(OOM_SCORE_ADJ_QUBE) < 0) {
        qerror_errno(&err, errno, "oom_score_adj");
        child_fail(a->sync_fd, &err);
    }

    /* from here on, root of the qube is not root of the host */
    if (unshare(CLONE_NEWUSER) < 0) {
        qerror_errno(&err, errno, "user namespace");
        child_fail(a->sync_fd, &err);
    }
    sync_send(a->sync_fd, SYNC_USERNS);
    if (sync_wait(a->sync_fd) != SYNC_MAPPED)
        _exit(1);
    if (setresgid(0, 0, 0) < 0 || setgroups(0, NULL) < 0 || setresuid(0, 0, 0) < 0) {
        qerror_errno(&err, errno, "become the qube's root");
        child_fail(a->sync_fd, &err);
    }
    /* the qube dies with its helper, which holds its uid range; set after
     * the uid change (which clears it), then checked: the helper may have
     * died just before */
    struct pollfd helper = { .fd = a->sync_fd, .events = POLLIN };
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || poll(&helper, 1, 0) != 0)
        _exit(1);
    if (opt->provides_network && new_netns(&err) < 0)
        child_fail(a->sync_fd, &err);
    if (sandbox_seccomp_load(&err) < 0)
        child_fail(a->sync_fd, &err);

    /* init's descriptors: 0 /dev/null, 1-2 the console pipe (the helper
     * copies it into the guest log, bounded), QUBE_CHANNEL_FD and
     * QUBE_QUBESDB_FD the channels; the rest closes on exec */
    int null = open("/dev/null", O_RDONLY);
    if (null < 0 || dup2(null, 0) < 0 || dup2(a->console_fd, 1) < 0 || dup2(a->console_fd, 2) < 0 ||
        (fcntl(SANDBOX_QUBESDB_FD, F_GETFD) >= 0 &&
         (dup2(SANDBOX_QUBESDB_FD, QUBE_QUBESDB_FD) < 0 || close(SANDBOX_QUBESDB_FD) < 0))) {
        qerror_errno(&err, errno, "init's descriptors");
        child_fail(a->sync_fd, &err);
    }
    if (null > 0)
        close(null);
    char *const argv[] = { "qubes-init", NULL };
    char *const envp[] = { "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                           "container=qubicle", NULL };
    execve(GUEST_DIR_IN_QUBE "/qubes-init", argv, envp);
    qerror_errno(&err, errno, "exec %s/qubes-init", GUEST_DIR_IN_QUBE);
    child_fail(a->sync_fd, &err);
}

/* ---- supervision ---- */

static int write_state(const struct options *opt, pid_t init_pid, struct qerror *err)
{
    _cleanup_free_ char *path = xasprintf("%s/" SANDBOX_STATE_FILE, opt->h.state_dir);
    _cleanup_free_ char *tmp = xasprintf("%s.tmp", path);
    _cleanup_fclose_ FILE *f = fopen(tmp, "we");
    if (!f || fprintf(f, "launcher=%d\ninit=%d\n", (int)getpid(), (int)init_pid) < 0 ||
        fflush(f) != 0 || rename(tmp, path) < 0)
        return qerror_errno(err, errno, "state file %s", path);
    return 0;
}

static void *rmdir_thread(void *path)
{
    rmdir(path);
    return NULL;
}

/* Removes the directories at once. Those that were mount points of the qube's namespace (dead
 * now) still carry its mounts, and each rmdir waits for their release, an RCU grace period
 * (about 4 ms); in threads those waits overlap instead of adding up. */
static void rmdir_together(char *const *paths, size_t n)
{
    pthread_t t[8];
    bool started[8] = { false };
    for (size_t i = 0; i < n && i < ARRAY_SIZE(t); i++)
        started[i] = pthread_create(&t[i], NULL, rmdir_thread, paths[i]) == 0;
    for (size_t i = 0; i < n; i++) {
        if (i < ARRAY_SIZE(t) && started[i])
            pthread_join(t[i], NULL);
        else
            rmdir(paths[i]);
    }
}

/* After init is gone the kernel kills the rest of the pid namespace; the
 * cgroups can go once they are empty. */
static void release(const struct options *opt, struct qube_cgroup *cg)
{
    for (int attempt = 0; attempt < 200; attempt++) {
        cgroup_remove(cg);
        bool gone = true;
        for (int i = 0; i < cg->n_paths; i++)
            if (cg->paths[i] && access(cg->paths[i], F_OK) == 0)
                gone = false;
        if (gone)
            break;
        usleep(5000);
    }
    _cleanup_free_ char *state = xasprintf("%s/" SANDBOX_STATE_FILE, opt->h.state_dir);
    _cleanup_free_ char *root = xasprintf("%s/root", opt->h.state_dir);
    _cleanup_free_ char *work = xasprintf("%s/work", opt->h.state_dir);
    unlink(state);
    static const char *const work_dirs[] = { "root-image", "root-mapped", "volatile",
                                             "private-image", "private-mapped" };
    /* the work directories and the root first (all mount points), then their parents */
    char *dirs[ARRAY_SIZE(work_dirs) + 1];
    for (size_t i = 0; i < ARRAY_SIZE(work_dirs); i++)
        dirs[i] = xasprintf("%s/%s", work, work_dirs[i]);
    dirs[ARRAY_SIZE(work_dirs)] = root;
    rmdir_together(dirs, ARRAY_SIZE(dirs));
    for (size_t i = 0; i < ARRAY_SIZE(work_dirs); i++)
        free(dirs[i]);
    rmdir(work);
    rmdir(opt->h.state_dir);
}

/* A start given up after init was cloned: init goes, then what was made for it. */
static void __attribute__((noreturn))
abandon(const struct options *opt, struct qube_cgroup *cg, pid_t init_pid, const char *why)
{
    kill(init_pid, SIGKILL);
    waitpid(init_pid, NULL, 0);
    release(opt, cg);
    die("%s", why);
}

static int supervise(const struct options *opt, pid_t init_pid, struct qube_cgroup *cg,
                     struct console_source *con)
{
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGUSR1);
    sigaddset(&mask, SIGCHLD);
    sigaddset(&mask, SIGINT);
    int sfd = signalfd(-1, &mask, SFD_CLOEXEC);
    if (sfd < 0)
        die("signalfd: %s", strerror(errno));
    struct console_log log = { .helper = "qubes-sandbox", .qube = opt->h.name };
    int status = 0;
    for (;;) {
        struct pollfd fds[2] = { { .fd = sfd, .events = POLLIN },
                                 { .fd = con->fd, .events = POLLIN } };
        if (poll(fds, con->fd >= 0 ? 2 : 1, -1) < 0 && errno != EINTR)
            die("poll: %s", strerror(errno));
        if (con->fd >= 0 && (fds[1].revents & (POLLIN | POLLHUP | POLLERR)))
            console_copy(&log, con);
        if (!(fds[0].revents & POLLIN))
            continue;
        struct signalfd_siginfo si;
        if (read(sfd, &si, sizeof(si)) != (ssize_t)sizeof(si))
            continue;
        if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
            /* a clean shutdown: init stops its services within the qube's
             * shutdown_timeout; qubesd kills it if it does not */
            kill(init_pid, SIGTERM);
        } else if (si.ssi_signo == SIGUSR1) {
            cgroup_unthrottle(cg);
            cgroup_freeze(cg, false, NULL);
            kill(init_pid, SIGKILL);
        } else if (si.ssi_signo == SIGCHLD) {
            pid_t p = waitpid(init_pid, &status, WNOHANG);
            if (p == init_pid)
                break;
        }
    }
    if (con->fd >= 0)
        console_copy(&log, con); /* what init printed last */
    release(opt, cg);
    if (WIFEXITED(status)) {
        fprintf(stderr, "qubes-sandbox: qube=%s init exited status=%d\n", opt->h.name,
                WEXITSTATUS(status));
        return WEXITSTATUS(status) == 0 ? 0 : 1;
    }
    fprintf(stderr, "qubes-sandbox: qube=%s init killed signal=%d\n", opt->h.name,
            WTERMSIG(status));
    return WTERMSIG(status) == SIGKILL ? 2 : 1;
}

static void usage(FILE *f)
{
    fputs("usage: qubes-sandbox --name NAME --qid QID --tag TAG --state-dir DIR\n"
          "         --root-image IMG [--root-snapshot]\n"
          "         [--private-image IMG [--private-snapshot]] [--volatile-mib N]\n"
          "         --guest-dir DIR [--memory-mib N] [--maxmem-mib N]\n"
          "         [--vcpus N] [--pids-max N] [--provides-network] [--print-plan]\n"
          "Runs one sandbox qube (started by qubesd). The qube's channel is fd 3;\n"
          "stdout and stderr become the qube's console log. --print-plan shows\n"
          "the qube's mount plan instead, and changes nothing.\n",
          f);
}

static long number(const char *s, const char *what)
{
    long long v;
    if (parse_ll(s, 0, LONG_MAX, 0, &v) < 0)
        die("%s must be a non-negative number: %s", what, s);
    return (long)v;
}

int main(int argc, char **argv)
{
    struct options opt = { .h = { .volatile_mib = 1024, .vcpus = 2 }, .pids_max = 4096 };
    struct qerror err = { 0 };
    static const struct option longopts[] = {
        HELPER_LONGOPTS,
        { "guest-dir", required_argument, NULL, 'g' },
        { "pids-max", required_argument, NULL, 'P' },
        { "provides-network", no_argument, NULL, 'N' },
        { "print-plan", no_argument, NULL, 'X' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'g': opt.guest_dir = optarg; break;
        case 'P': opt.pids_max = (int)number(optarg, "--pids-max"); break;
        case 'N': opt.provides_network = true; break;
        case 'X': opt.print_plan = true; break;
        case 'h': usage(stdout); return 0;
        default:
            if (helper_option(&opt.h, c, optarg, &err) > 0)
                break;
            if (err.kind)
                die("%s", err.message);
            usage(stderr);
            return 2;
        }
    }
    if (!helper_options_valid(&opt.h, !opt.print_plan) || !opt.guest_dir || optind != argc) {
        usage(stderr);
        return 2;
    }
    if (opt.print_plan) {
        /* the range the qube gets unless another qube holds it */
        struct rootfs_config cfg = rootfs_config_of(&opt, uid_slot_base(opt.h.qid));
        struct mount_plan plan;
        mount_plan_build(&cfg, &plan);
        mount_plan_print(&plan, stdout);
        mount_plan_free(&plan);
        return 0;
    }
    if (fcntl(SANDBOX_STATUS_FD, F_GETFD) >= 0) {
        status_fd = SANDBOX_STATUS_FD;
        fcntl(status_fd, F_SETFD, FD_CLOEXEC);
    }
    if (fcntl(SANDBOX_CHANNEL_FD, F_GETFD) < 0)
        die("no channel on fd %d", SANDBOX_CHANNEL_FD);

    uid_t base;
    int uid_slot = uid_slot_acquire(opt.h.qid, &base, &err); /* held until we exit */
    if (uid_slot < 0)
        die("%s", err.message);
    struct qube_cgroup cg;
    long long maxmem = (opt.h.maxmem_mib ? opt.h.maxmem_mib : opt.h.memory_mib) * 1024LL * 1024;
    struct cgroup_limits limits = {
        .memory_max_bytes = maxmem,
        .memory_high_bytes = 0,
        .cpus = opt.h.vcpus,
        .pids_max = opt.pids_max,
    };
    if (cgroup_create(&cg, opt.h.tag, opt.h.name, &limits, &err) < 0)
        die("cgroups: %s", err.message);

    _cleanup_free_ char *root = xasprintf("%s/root", opt.h.state_dir);
    _cleanup_free_ char *work = xasprintf("%s/work", opt.h.state_dir);
    if ((mkdir(opt.h.state_dir, 0700) < 0 && errno != EEXIST) ||
        (mkdir(root, 0755) < 0 && errno != EEXIST) || (mkdir(work, 0700) < 0 && errno != EEXIST))
        die("state directory %s: %s", opt.h.state_dir, strerror(errno));

    int idmap_fd = idmap_userns(base, &err);
    if (idmap_fd < 0)
        die("%s", err.message);

    /* signals reach the supervisor loop through a signalfd */
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGUSR1);
    sigaddset(&mask, SIGCHLD);
    sigaddset(&mask, SIGINT);
    sigprocmask(SIG_BLOCK, &mask, NULL);

    int sync[2], console[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sync) < 0 ||
        pipe2(console, O_CLOEXEC) < 0)
        die("socketpair: %s", strerror(errno));
    struct child_args args = { &opt, sync[1], console[1], idmap_fd, base };
    size_t stack_size = 256 * 1024;
    char *stack = mmap(NULL, stack_size, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED)
        die("stack: %s", strerror(errno));
    pid_t pid = clone(child_main, stack + stack_size,
                      CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS | SIGCHLD, &args);
    if (pid < 0)
        die("clone: %s", strerror(errno));
    /* the state before init may run: its qrexec-agent's hello makes qubesd take
     * the qube as started and read the state for the init's namespaces (network
     * attach), which can be before this helper is scheduled again; release()
     * removes it if the start fails */
    if (write_state(&opt, pid, &err) < 0)
        abandon(&opt, &cg, pid, err.message);
    close(sync[1]);
    close(console[1]);
    close(idmap_fd);
    /* the channels are the qube's now: dom0's ends see them close when it ends */
    close(SANDBOX_CHANNEL_FD);
    close(SANDBOX_QUBESDB_FD);
    fcntl(console[0], F_SETFL, O_NONBLOCK);

    if (cgroup_add(&cg, pid, &err) < 0)
        abandon(&opt, &cg, pid, err.message);
    sync_send(sync[0], SYNC_CGROUP);
    char msg = sync_wait(sync[0]);
    if (msg == SYNC_USERNS) {
        if (write_id_maps(pid, base, &err) < 0) {
            kill(pid, SIGKILL);
        } else {
            sync_send(sync[0], SYNC_MAPPED);
            msg = sync_wait(sync[0]); /* EOF (0) once init was exec'd */
        }
    }
    if (msg != 0 || err.kind) {
        char text[QERROR_MAX] = "";
        if (msg == SYNC_ERROR) {
            ssize_t n = read(sync[0], text, sizeof(text) - 1);
            text[n > 0 ? n : 0] = '\0';
        }
        waitpid(pid, NULL, 0);
        release(&opt, &cg);
        die("%s", err.kind ? err.message : text);
    }
    close(sync[0]);
    if (status_fd >= 0)
        close(status_fd);
    status_fd = -1;
    fprintf(stderr, "qubes-sandbox: qube=%s started init=%d uid_base=%u\n", opt.h.name, (int)pid,
            base);
    struct console_source con = { .fd = console[0] };
    int rc = supervise(&opt, pid, &cg, &con);
    cgroup_free(&cg);
    return rc;
}
