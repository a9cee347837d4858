/* qubes-vm: the dom0 helper of one vm qube, as qubes-sandbox is of a
 * sandbox qube. It runs the qube's QEMU in a jail (jail.h), relays the
 * qube's qrexec channel into the VM (src/channel), copies the guest's
 * console into the qube's log (bounded), then stays as the supervisor:
 * SIGTERM asks the guest to shut down, SIGUSR1 kills QEMU, and when QEMU is
 * gone it releases every host resource and exits.
 *
 * Descriptors from qubesd: VM_CHANNEL_FD the qrexec channel (qrexec-daemon
 * holds its other end), VM_STATUS_FD why a start failed, VM_QUBESDB_FD the
 * qubesdb channel (a byte stream: it goes to QEMU as it is). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "channel/relay.h"
#include "common/buf.h"
#include "common/cleanup.h"
#include "common/names.h"
#include "common/parse.h"
#include "common/spawn.h"
#include "drivers/console_log.h"
#include "drivers/helper_options.h"
#include "drivers/sandbox/cgroup.h"
#include "drivers/sandbox/uid_slot.h"
#include "drivers/vm/accel.h"
#include "drivers/vm/jail.h"
#include "drivers/vm/qemu_argv.h"
#include "drivers/vm/vm_layout.h"

struct options {
    struct helper_options h; /* name, images, memory... (helper_options.h) */
    const char *kernel;
    const char *initramfs;
    bool print_argv;
};

static int status_fd = -1;

static void __attribute__((noreturn, format(printf, 1, 2))) die(const char *fmt, ...)
{
    char msg[QERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fprintf(stderr, "qubes-vm: %s\n", msg);
    if (status_fd >= 0 && write(status_fd, msg, strlen(msg)) < 0)
        exit(1);
    exit(1);
}

/* The discarded writable layers live in QEMU's /tmp, a tmpfs whose pages
 * count against the qube's memory group: capped at half the guest's
 * memory, as the sandbox caps its own. */
static long volatile_layer_mib(const struct options *opt)
{
    long half = opt->h.memory_mib / 2 > 16 ? opt->h.memory_mib / 2 : 16;
    return half < opt->h.volatile_mib ? half : opt->h.volatile_mib;
}

/* Under TCG the guest's TSC is the host's: its rate in kHz, from
 * /proc/cpuinfo (the TSC's on hosts with constant_tsc), or 0. */
static long host_tsc_khz(void)
{
    _cleanup_fclose_ FILE *f = fopen("/proc/cpuinfo", "re");
    char line[256];
    double mhz;
    while (f && fgets(line, sizeof(line), f))
        if (sscanf(line, "cpu MHz : %lf", &mhz) == 1)
            return (long)(mhz * 1000);
    return 0;
}

static struct vm_machine machine_of(const struct options *opt, enum vm_accel accel)
{
    return (struct vm_machine){
        .name = opt->h.name,
        .accel = accel,
        .memory_mib = opt->h.memory_mib,
        .vcpus = opt->h.vcpus,
        .tsc_khz = accel == VM_ACCEL_TCG ? host_tsc_khz() : 0,
        .has_private = opt->h.private_image != NULL,
        .root_snapshot = opt->h.root_snapshot,
        .private_snapshot = opt->h.private_snapshot,
    };
}

/* An image QEMU gets as a descriptor: read-only when QEMU discards the
 * writes anyway, so a compromised QEMU cannot change a template. */
static int open_image(const char *path, bool snapshot)
{
    int fd = open(path, (snapshot ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
    if (fd < 0)
        die("open %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
        die("%s is not a regular file", path);
    return fd;
}

/* ---- QEMU ---- */

struct qemu_child {
    const struct options *opt;
    enum vm_accel accel;
    uid_t uid;
    int fds[QEMU_FD_COUNT]; /* the launcher's descriptors for QEMU_*_FD; -1 = none */
    int sync_fd;            /* the child waits here until it is in its cgroup */
    int err_fd;             /* QEMU's stderr */
};

static void __attribute__((noreturn)) child_fail(int sync_fd, const char *msg)
{
    if (write(sync_fd, msg, strlen(msg)) < 0)
        _exit(1);
    _exit(1);
}

/* Moves the launcher's descriptors to the numbers QEMU's command line
 * names, through numbers above them all so none is overwritten early. */
static int place_fds(const int *fds)
{
    int high[QEMU_FD_COUNT];
    for (int i = 0; i < QEMU_FD_COUNT; i++) {
        high[i] = fds[i] < 0 ? -1 : fcntl(fds[i], F_DUPFD, 100);
        if (fds[i] >= 0 && high[i] < 0)
            return -1;
    }
    for (int i = 0; i < QEMU_FD_COUNT; i++)
        if (high[i] >= 0 && (dup2(high[i], i) < 0 || close(high[i]) < 0))
            return -1;
    return 0;
}

static int qemu_child_main(void *arg)
{
    const struct qemu_child *c = arg;
    char ok = 0;
    if (read(c->sync_fd, &ok, 1) != 1)
        _exit(1);
    _cleanup_free_ char *jail_dir = xasprintf("%s/jail", c->opt->h.state_dir);
    struct jail_config jc = {
        .dir = jail_dir,
        .kernel = c->opt->kernel,
        .initramfs = c->opt->initramfs,
        .tmp_mib = volatile_layer_mib(c->opt),
        .kvm = c->accel == VM_ACCEL_KVM,
        .uid = c->uid,
        .gid = c->uid,
    };
    struct qerror err = { 0 };
    if (jail_enter(&jc, &err) < 0)
        child_fail(c->sync_fd, err.message);
    /* above the numbers QEMU's descriptors are moved to */
    int sync_fd = fcntl(c->sync_fd, F_DUPFD_CLOEXEC, 1000);
    if (sync_fd < 0)
        child_fail(c->sync_fd, "sync descriptor");
    int fds[QEMU_FD_COUNT];
    memcpy(fds, c->fds, sizeof(fds));
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    fds[0] = null;
    fds[1] = null;
    fds[2] = c->err_fd;
    if (null < 0 || place_fds(fds) < 0)
        child_fail(sync_fd, "QEMU's descriptors");
    for (int fd = QEMU_FD_COUNT; fd < 1000; fd++)
        close(fd);
    struct vm_machine m = machine_of(c->opt, c->accel);
    char **argv = vm_argv_build(VM_QEMU_PATH, &m);
    char *const envp[] = { "TMPDIR=" JAIL_TMP, "PATH=/usr/bin", NULL };
    execve(VM_QEMU_PATH, argv, envp);
    char msg[128];
    snprintf(msg, sizeof(msg), "exec %s: %s", VM_QEMU_PATH, strerror(errno));
    child_fail(sync_fd, msg);
}

/* ---- supervision ---- */

static void write_state(const struct options *opt, pid_t qemu)
{
    _cleanup_free_ char *path = xasprintf("%s/" VM_STATE_FILE, opt->h.state_dir);
    _cleanup_free_ char *tmp = xasprintf("%s.tmp", path);
    _cleanup_fclose_ FILE *f = fopen(tmp, "we");
    if (!f || fprintf(f, "launcher=%d\nqemu=%d\n", (int)getpid(), (int)qemu) < 0 ||
        fflush(f) != 0 || rename(tmp, path) < 0)
        die("state file %s: %s", path, strerror(errno));
}

static void release(const struct options *opt, struct qube_cgroup *cg)
{
    for (int attempt = 0; attempt < 200 && !cgroup_remove(cg); attempt++)
        usleep(5000);
    _cleanup_free_ char *state = xasprintf("%s/" VM_STATE_FILE, opt->h.state_dir);
    _cleanup_free_ char *jail = xasprintf("%s/jail", opt->h.state_dir);
    unlink(state);
    rmdir(jail);
    rmdir(opt->h.state_dir);
}

/* QMP says hello as soon as QEMU has built the machine: the qube runs. */
static bool qmp_greeted(int qmp)
{
    char buf[4096];
    ssize_t n = read(qmp, buf, sizeof(buf) - 1);
    if (n <= 0)
        return false;
    buf[n] = '\0';
    return strstr(buf, "\"QMP\"") != NULL;
}

struct supervisor {
    const struct options *opt;
    struct qube_cgroup *cg;
    pid_t qemu;
    pid_t relay;
    int relay_ctl; /* 'P' asks the guest to power off */
    int qmp;
    struct console_log log;
    struct console_source con[2]; /* the guest's serial console, QEMU's stderr */
    bool started;
};

static void drain(struct supervisor *s)
{
    for (int i = 0; i < 2; i++)
        if (s->con[i].fd >= 0)
            console_copy(&s->log, &s->con[i]);
}

static int supervise(struct supervisor *s, int sfd)
{
    int status = 0;
    for (;;) {
        struct pollfd p[4] = { { .fd = sfd, .events = POLLIN },
                               { .fd = s->con[0].fd, .events = POLLIN },
                               { .fd = s->con[1].fd, .events = POLLIN },
                               { .fd = s->qmp, .events = POLLIN } };
        if (poll(p, 4, -1) < 0 && errno != EINTR)
            die("poll: %s", strerror(errno));
        for (int i = 0; i < 2; i++)
            if (s->con[i].fd >= 0 && (p[1 + i].revents & (POLLIN | POLLHUP | POLLERR)))
                console_copy(&s->log, &s->con[i]);
        if (s->qmp >= 0 && (p[3].revents & (POLLIN | POLLHUP | POLLERR))) {
            if (!s->started && qmp_greeted(s->qmp)) {
                s->started = true;
                if (status_fd >= 0)
                    close(status_fd);
                status_fd = -1;
                fprintf(stderr, "qubes-vm: qube=%s started qemu=%d\n", s->opt->h.name,
                        (int)s->qemu);
            } else {
                char sink[4096]; /* QMP events: none asked for yet */
                if (read(s->qmp, sink, sizeof(sink)) <= 0) {
                    close(s->qmp);
                    s->qmp = -1;
                }
            }
        }
        if (!(p[0].revents & POLLIN))
            continue;
        struct signalfd_siginfo si;
        if (read(sfd, &si, sizeof(si)) != (ssize_t)sizeof(si))
            continue;
        if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
            /* the guest's init shuts down within the qube's shutdown_timeout;
             * qubesd kills the qube if it does not */
            if (s->relay_ctl >= 0 && write(s->relay_ctl, "P", 1) < 0)
                kill(s->qemu, SIGKILL);
        } else if (si.ssi_signo == SIGUSR1) {
            /* a frozen (paused) QEMU dies only once thawed */
            cgroup_unthrottle(s->cg);
            cgroup_freeze(s->cg, false, NULL);
            kill(s->qemu, SIGKILL);
        } else if (si.ssi_signo == SIGCHLD) {
            int st;
            pid_t gone;
            while ((gone = waitpid(-1, &st, WNOHANG)) > 0) {
                if (gone == s->qemu) {
                    status = st;
                    s->qemu = 0;
                } else if (gone == s->relay) {
                    s->relay = 0;
                    /* the channel ended: the guest broke the protocol or
                     * went away; either way the qube is over */
                    if (s->qemu > 0 && WIFEXITED(st) && WEXITSTATUS(st) != 0) {
                        fprintf(stderr, "qubes-vm: qube=%s qrexec channel failed: killed\n",
                                s->opt->h.name);
                        kill(s->qemu, SIGKILL);
                    }
                }
            }
            if (s->qemu == 0)
                break;
        }
    }
    if (s->relay > 0) {
        kill(s->relay, SIGKILL);
        waitpid(s->relay, NULL, 0);
    }
    drain(s);
    if (!s->started)
        return -1;
    if (WIFEXITED(status)) {
        fprintf(stderr, "qubes-vm: qube=%s qemu exited status=%d\n", s->opt->h.name,
                WEXITSTATUS(status));
        return WEXITSTATUS(status) == 0 ? 0 : 1;
    }
    fprintf(stderr, "qubes-vm: qube=%s qemu killed signal=%d\n", s->opt->h.name, WTERMSIG(status));
    return WTERMSIG(status) == SIGKILL ? 2 : 1;
}

/* ---- the relay of the qrexec channel ---- */

static pid_t start_relay(int wire, int ctl)
{
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    struct channel_relay_config cfg = {
        .side = CHANNEL_SIDE_DOM0,
        .wire_fd = wire,
        .local_fd = VM_CHANNEL_FD,
        .control_fd = ctl,
    };
    struct qerror err = { 0 };
    if (channel_relay_run(&cfg, &err) < 0) {
        fprintf(stderr, "qubes-vm: qrexec channel: %s\n", err.message);
        _exit(1);
    }
    _exit(0);
}

/* ---- main ---- */

static void usage(FILE *f)
{
    fputs("usage: qubes-vm --name NAME --qid QID --tag TAG --state-dir DIR\n"
          "         --root-image IMG [--root-snapshot]\n"
          "         [--private-image IMG [--private-snapshot]] [--volatile-mib N]\n"
          "         --kernel VMLINUZ --initramfs IMG [--memory-mib N] [--maxmem-mib N]\n"
          "         [--vcpus N] [--print-argv]\n"
          "       qubes-vm --probe --kernel VMLINUZ\n"
          "Runs one vm qube under QEMU (started by qubesd). --print-argv shows\n"
          "QEMU's command line instead and changes nothing; --probe says whether\n"
          "this host's KVM runs a guest (else QEMU emulates: TCG).\n",
          f);
}

static void print_argv(const struct options *opt, enum vm_accel accel)
{
    struct vm_machine m = machine_of(opt, accel);
    char **argv = vm_argv_build(VM_QEMU_PATH, &m);
    for (char **a = argv; *a; a++)
        printf("%s\n", *a);
    vm_argv_free(argv);
}

int main(int argc, char **argv)
{
    struct options opt = { .h = { .volatile_mib = 1024, .vcpus = 1, .memory_mib = 400 } };
    struct qerror err = { 0 };
    bool probe = false;
    static const struct option longopts[] = {
        HELPER_LONGOPTS,
        { "kernel", required_argument, NULL, 'k' },
        { "initramfs", required_argument, NULL, 'i' },
        { "print-argv", no_argument, NULL, 'X' },
        { "probe", no_argument, NULL, 'K' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'k': opt.kernel = optarg; break;
        case 'i': opt.initramfs = optarg; break;
        case 'X': opt.print_argv = true; break;
        case 'K': probe = true; break;
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
    char why[256];
    if (probe) {
        if (!opt.kernel || optind != argc) {
            usage(stderr);
            return 2;
        }
        vm_accel_choose(VM_QEMU_PATH, opt.kernel, why, sizeof(why));
        printf("%s\n", why);
        return 0;
    }
    if (!helper_options_valid(&opt.h, !opt.print_argv) || !opt.kernel || !opt.initramfs ||
        opt.h.memory_mib <= 0 || optind != argc) {
        usage(stderr);
        return 2;
    }
    if (opt.print_argv) {
        print_argv(&opt, VM_ACCEL_TCG);
        return 0;
    }
    if (fcntl(VM_STATUS_FD, F_GETFD) >= 0) {
        status_fd = VM_STATUS_FD;
        fcntl(status_fd, F_SETFD, FD_CLOEXEC);
    }
    if (fcntl(VM_CHANNEL_FD, F_GETFD) < 0 || fcntl(VM_QUBESDB_FD, F_GETFD) < 0)
        die("no channels on fds %d and %d", VM_CHANNEL_FD, VM_QUBESDB_FD);
    fcntl(VM_CHANNEL_FD, F_SETFD, FD_CLOEXEC);
    fcntl(VM_QUBESDB_FD, F_SETFD, FD_CLOEXEC);

    enum vm_accel accel = vm_accel_choose(VM_QEMU_PATH, opt.kernel, why, sizeof(why));
    fprintf(stderr, "qubes-vm: qube=%s accel=%s\n", opt.h.name, why);

    uid_t uid;
    int uid_slot = uid_slot_acquire(opt.h.qid, &uid, &err); /* held until we exit */
    if (uid_slot < 0)
        die("%s", err.message);
    struct qube_cgroup cg;
    struct cgroup_limits limits = {
        .memory_max_bytes =
            (opt.h.memory_mib + volatile_layer_mib(&opt) + VM_OVERHEAD_MIB) * 1024LL * 1024,
        .cpus = opt.h.vcpus,
        .pids_max = 256, /* QEMU's threads */
    };
    if (cgroup_create(&cg, opt.h.tag, opt.h.name, &limits, &err) < 0)
        die("cgroups: %s", err.message);
    _cleanup_free_ char *jail = xasprintf("%s/jail", opt.h.state_dir);
    if ((mkdir(opt.h.state_dir, 0700) < 0 && errno != EEXIST) ||
        (mkdir(jail, 0700) < 0 && errno != EEXIST))
        die("state directory %s: %s", opt.h.state_dir, strerror(errno));

    struct qemu_child child = { .opt = &opt, .accel = accel, .uid = uid };
    for (int i = 0; i < QEMU_FD_COUNT; i++)
        child.fds[i] = -1;
    child.fds[QEMU_ROOT_FD] = open_image(opt.h.root_image, opt.h.root_snapshot);
    if (!opt.h.root_snapshot)
        child.fds[QEMU_ROOT_RO_FD] = open_image(opt.h.root_image, true);
    if (opt.h.private_image) {
        child.fds[QEMU_PRIVATE_FD] = open_image(opt.h.private_image, opt.h.private_snapshot);
        if (!opt.h.private_snapshot)
            child.fds[QEMU_PRIVATE_RO_FD] = open_image(opt.h.private_image, true);
    }
    child.fds[QEMU_QUBESDB_FD] = VM_QUBESDB_FD;
    int wire[2], qmp[2], console[2], errpipe[2], sync[2], ctl[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, wire) < 0 ||
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, qmp) < 0 ||
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, console) < 0 ||
        pipe2(errpipe, O_CLOEXEC) < 0 ||
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sync) < 0 || pipe2(ctl, O_CLOEXEC) < 0)
        die("socketpair: %s", strerror(errno));
    child.fds[QEMU_QREXEC_FD] = wire[1];
    child.fds[QEMU_QMP_FD] = qmp[1];
    child.fds[QEMU_CONSOLE_FD] = console[1];
    child.err_fd = errpipe[1];
    child.sync_fd = sync[1];

    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGUSR1);
    sigaddset(&mask, SIGCHLD);
    sigaddset(&mask, SIGINT);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    int sfd = signalfd(-1, &mask, SFD_CLOEXEC);
    if (sfd < 0)
        die("signalfd: %s", strerror(errno));

    size_t stack_size = 256 * 1024;
    char *stack = mmap(NULL, stack_size, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED)
        die("stack: %s", strerror(errno));
    pid_t qemu = clone(
        qemu_child_main, stack + stack_size,
        CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | SIGCHLD, &child);
    if (qemu < 0)
        die("clone: %s", strerror(errno));
    write_state(&opt, qemu);
    for (int i = 0; i < QEMU_FD_COUNT; i++)
        if (child.fds[i] >= 0 && i != QEMU_QUBESDB_FD)
            close(child.fds[i]);
    close(VM_QUBESDB_FD); /* QEMU's now */
    close(errpipe[1]);
    close(sync[1]);
    if (cgroup_add(&cg, qemu, &err) < 0) {
        kill(qemu, SIGKILL);
        waitpid(qemu, NULL, 0);
        release(&opt, &cg);
        die("%s", err.message);
    }
    if (write(sync[0], "c", 1) != 1)
        die("sync: %s", strerror(errno));
    /* EOF once QEMU was exec'd; a message if its jail failed */
    char text[QERROR_MAX];
    ssize_t n;
    while ((n = read(sync[0], text, sizeof(text) - 1)) < 0 && errno == EINTR)
        ;
    close(sync[0]);
    if (n > 0) {
        text[n] = '\0';
        waitpid(qemu, NULL, 0);
        release(&opt, &cg);
        die("%s", text);
    }

    pid_t relay = start_relay(wire[0], ctl[0]);
    if (relay < 0) {
        kill(qemu, SIGKILL);
        waitpid(qemu, NULL, 0);
        release(&opt, &cg);
        die("fork: %s", strerror(errno));
    }
    close(wire[0]);
    close(ctl[0]);
    close(VM_CHANNEL_FD); /* the relay's now */

    struct supervisor s = {
        .opt = &opt,
        .cg = &cg,
        .qemu = qemu,
        .relay = relay,
        .relay_ctl = ctl[1],
        .qmp = qmp[0],
        .log = { .helper = "qubes-vm", .qube = opt.h.name },
        .con = { { .fd = console[0] }, { .fd = errpipe[0] } },
    };
    fcntl(console[0], F_SETFL, O_NONBLOCK);
    fcntl(errpipe[0], F_SETFL, O_NONBLOCK);
    int rc = supervise(&s, sfd);
    release(&opt, &cg);
    if (rc < 0)
        die("QEMU ended before the VM ran: %s", s.con[1].last[0] ? s.con[1].last : "no message");
    cgroup_free(&cg);
    close(uid_slot);
    return rc;
}
