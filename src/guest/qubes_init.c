/* qubes-init: PID 1 of every qube. It prepares what the qube's own root may
 * prepare (the user's home on first use), starts qubesdb-daemon on the
 * qubesdb channel dom0 handed over (fd 4) and applies what it says
 * (guest_setup.c), starts the firewall agent where the qubes-firewall
 * service is on, starts qrexec-agent on the qrexec channel (fd 3), runs
 * /rw/config/rc.local, reaps orphans, and on SIGTERM
 * shuts the qube down: every process gets SIGTERM, then, after a grace
 * period, SIGKILL. dom0 kills the qube if this takes longer than the qube's
 * shutdown_timeout. In a VM (--vm, from vm-boot) it then powers the VM off:
 * PID 1 of a kernel may not exit. Built static: templates need no library
 * of ours. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/mono_time.h"
#include "guest/guest_setup.h"

#define GUEST_DIR "/run/qubes-guest"
#define CHANNEL_FD 3
#define QUBESDB_FD 4
#define USER_UID 1000
#define SHUTDOWN_GRACE_S 5
#define FIREWALL_READY_MS 10000

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("qubes-init: ", stdout);
    vprintf(fmt, ap);
    fputc('\n', stdout);
    fflush(stdout);
    va_end(ap);
}

/* First use of a private volume: the user's home, owned by the user. */
static void prepare_home(void)
{
    struct stat st;
    if (stat("/home/user", &st) == 0)
        return;
    if (mkdir("/home/user", 0700) < 0 || chown("/home/user", USER_UID, USER_UID) < 0)
        say("cannot create /home/user: %s", strerror(errno));
    else
        say("created /home/user");
    mkdir("/rw/config", 0755);
}

static pid_t spawn(const char *path, char *const argv[], bool keep_channel)
{
    pid_t pid = fork();
    if (pid < 0) {
        say("fork %s: %s", path, strerror(errno));
        return -1;
    }
    if (pid == 0) {
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        if (!keep_channel)
            close(CHANNEL_FD);
        close(QUBESDB_FD);
        setsid();
        char *const envp[] = {
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:" GUEST_DIR "/bin",
            "HOME=/root",
            "QREXEC_SERVICE_PATH=/usr/local/etc/qubes-rpc:/etc/qubes-rpc:" GUEST_DIR "/qubes-rpc",
            NULL
        };
        execve(path, argv, envp);
        fprintf(stderr, "qubes-init: exec %s: %s\n", path, strerror(errno));
        _exit(127);
    }
    return pid;
}

/* The firewall agent, waited for (as systemd waits for upstream's
 * READY=1) until its table is in place: the qube is not started, and
 * gets no client, before its forward chain drops what no rule allows. */
static pid_t start_firewall(void)
{
    int ready[2];
    if (pipe2(ready, O_CLOEXEC) < 0) {
        say("qubes-firewall: pipe: %s", strerror(errno));
        return -1;
    }
    /* above qubes-init's own channels (3, 4), and kept across exec */
    int ready_w = fcntl(ready[1], F_DUPFD, 10);
    close(ready[1]);
    char fd_text[16];
    snprintf(fd_text, sizeof(fd_text), "%d", ready_w);
    char *const argv[] = { "qubes-firewall", "--ready-fd", fd_text, NULL };
    say("starting qubes-firewall");
    pid_t pid = ready_w < 0 ? -1 : spawn(GUEST_DIR "/qubes-firewall", argv, false);
    if (ready_w >= 0)
        close(ready_w);
    struct pollfd p = { .fd = ready[0], .events = POLLIN };
    char byte;
    int r = pid < 0 ? 0 : poll(&p, 1, FIREWALL_READY_MS);
    if (r > 0 && read(ready[0], &byte, 1) == 1)
        say("qubes-firewall: ready");
    else if (pid >= 0)
        say("qubes-firewall: %s", r == 0 ? "not ready in time" : "ended before it was ready");
    close(ready[0]);
    return pid;
}

static bool executable(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111);
}

static void reap(pid_t agent, pid_t firewall)
{
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
        if (pid == agent || pid == firewall)
            say("%s exited (status %d)", pid == agent ? "qrexec-agent" : "qubes-firewall",
                WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

/* The end of a VM: its disks left clean (read-only, so that the next mount
 * finds no journal to replay), then the power off that ends QEMU. */
static void __attribute__((noreturn)) power_off(void)
{
    static const char *const binds[] = { "/home", "/usr/local" };
    for (size_t i = 0; i < sizeof(binds) / sizeof(binds[0]); i++)
        umount2(binds[i], MNT_DETACH);
    static const char *const volumes[] = { "/rw", "/" };
    for (size_t i = 0; i < sizeof(volumes) / sizeof(volumes[0]); i++)
        if (mount(NULL, volumes[i], NULL, MS_REMOUNT | MS_RDONLY, NULL) < 0 && errno != EINVAL)
            say("remount %s read-only: %s", volumes[i], strerror(errno));
    sync();
    say("powering off");
    reboot(RB_POWER_OFF);
    say("power off: %s", strerror(errno));
    exit(1);
}

/* SIGTERM to everything, wait, then SIGKILL to what is left. */
static void __attribute__((noreturn)) shutdown_qube(bool vm)
{
    say("shutting down");
    kill(-1, SIGTERM);
    int64_t start = mono_ms();
    for (;;) {
        pid_t pid = waitpid(-1, NULL, WNOHANG);
        if (pid < 0 && errno == ECHILD)
            break;
        if (mono_ms() - start >= SHUTDOWN_GRACE_S * 1000) {
            say("processes still running after %d s: killing them", SHUTDOWN_GRACE_S);
            kill(-1, SIGKILL);
            while (waitpid(-1, NULL, 0) > 0)
                ;
            break;
        }
        if (pid <= 0)
            usleep(10000);
    }
    sync();
    if (vm)
        power_off();
    say("halted");
    exit(0);
}

int main(int argc, char **args)
{
    /* vm-boot's word: this is a VM's PID 1, not a sandbox's */
    bool vm = argc == 2 && strcmp(args[1], "--vm") == 0;
    if (getpid() != 1) {
        fputs("qubes-init: must run as PID 1 of a qube\n", stderr);
        return 1;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGCHLD);
    sigaddset(&mask, SIGINT);
    sigprocmask(SIG_BLOCK, &mask, NULL);

    char host[65] = "";
    gethostname(host, sizeof(host) - 1);
    say("starting qube %s", host);
    prepare_home();

    /* qubesdb first: what follows reads dom0's word from it */
    if (fcntl(QUBESDB_FD, F_GETFD) < 0)
        say("no qubesdb channel on fd %d: qubesdb-daemon not started", QUBESDB_FD);
    else if (guest_qubesdb_start(QUBESDB_FD) > 0) {
        guest_set_hostname();
        guest_apply_services();
        guest_write_resolv_conf();
    }
    pid_t firewall = guest_service_enabled("qubes-firewall") ? start_firewall() : -1;

    pid_t agent = -1;
    if (fcntl(CHANNEL_FD, F_GETFD) < 0) {
        say("no channel on fd %d: qrexec-agent not started", CHANNEL_FD);
    } else {
        char *const argv[] = { "qrexec-agent", "--channel-fd", "3", NULL };
        agent = spawn(GUEST_DIR "/qrexec-agent", argv, true);
        close(CHANNEL_FD);
    }
    if (executable("/rw/config/rc.local")) {
        char *const argv[] = { "/rw/config/rc.local", NULL };
        say("running /rw/config/rc.local");
        spawn("/rw/config/rc.local", argv, false);
    }

    for (;;) {
        int sig;
        if (sigwait(&mask, &sig) != 0)
            continue;
        if (sig == SIGTERM || sig == SIGINT)
            shutdown_qube(vm);
        reap(agent, firewall);
    }
}
