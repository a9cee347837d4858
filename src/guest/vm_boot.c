/* vm-boot: PID 1 of a vm qube, the initramfs's /init. It turns a bare VM into
 * what qubes-init finds in a sandbox qube (src/drivers/sandbox/mount_plan.c):
 * the qube's root disk at /, its private disk at /rw (/home and /usr/local
 * from there), fresh /dev, /proc, /run and /tmp, the guest programs read-only
 * at /run/qubes-guest, the hostname; the qrexec channel on fd 3 and the
 * qubesdb channel on fd 4. Then it becomes qubes-init (exec, still PID 1).
 * dom0's disks and ports are found by their names (virtio serial, virtio-serial
 * port name), never by their order. A failed step is said on the console
 * (dom0's log of the qube) and powers the VM off. */
#include <errno.h>
#include <fcntl.h>
#include <linux/input.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "channel/relay.h"
#include "common/error.h"
#include "common/mono_time.h"
#include "common/names.h"
#include "guest/vm_devices.h"

#define MODULE_DIR "/modules"
/* the guest programs in the initramfs, and where every qube sees them */
#define GUEST_DIR_INITRAMFS "/qubes-guest"
#define NEW_ROOT "/sysroot"
#define GUEST_DIR "/run/qubes-guest"
/* dom0's names for what it attaches (see the vm driver) */
#define ROOT_SERIAL "qubes-root"
#define PRIVATE_SERIAL "qubes-private"
#define QREXEC_PORT "org.qubes.qrexec"
#define QUBESDB_PORT "org.qubes.qubesdb"
/* qubes-init's descriptors, as the sandbox launcher hands them over */
#define CHANNEL_FD 3
#define QUBESDB_FD 4
/* Under TCG the disks are there when virtio_blk is loaded; the ports'
 * names come a few milliseconds later from the host. Generous bounds. */
#define DISK_WAIT_MS 5000
#define PORT_WAIT_MS 5000
#define CMDLINE_MAX 4096

static void __attribute__((noreturn)) power_off(void)
{
    sync();
    reboot(RB_POWER_OFF);
    /* not allowed or not possible: PID 1 exiting panics the kernel, and
     * panic=-1 with QEMU's -no-reboot ends the VM too */
    vm_say("power off: %s", strerror(errno));
    _exit(1);
}

static void __attribute__((noreturn, format(printf, 1, 2))) fail(const char *fmt, ...);
static void fail(const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    vm_say("%s: powering off", msg);
    power_off();
}

static void mount_or_fail(const char *src, const char *target, const char *type,
                          unsigned long flags, const char *data)
{
    if (mount(src, target, type, flags, data) < 0)
        fail("mount %s on %s (%s): %s", src, target, type ? type : "bind", strerror(errno));
}

static void mkdir_or_fail(const char *path, mode_t mode)
{
    if (mkdir(path, mode) < 0 && errno != EEXIST)
        fail("mkdir %s: %s", path, strerror(errno));
    /* an existing directory keeps its mode; anything else in the way fails */
    struct stat st;
    if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode))
        fail("%s is not a directory", path);
}

static void symlink_or_fail(const char *target, const char *path)
{
    if (symlink(target, path) < 0 && errno != EEXIST)
        fail("symlink %s: %s", path, strerror(errno));
}

/* The kernel's own file systems, in the initramfs first (sysfs finds the
 * devices, devtmpfs gives their nodes); moved into the qube's root later. */
static void mount_kernel_fs(void)
{
    mount_or_fail("devtmpfs", "/dev", "devtmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755");
    mount_or_fail("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    mount_or_fail("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
}

/* 0 /dev/null, 1 and 2 the console (ttyS0: dom0's log of the qube). */
static void console_fds(void)
{
    int null = open("/dev/null", O_RDWR);
    int cons = fcntl(1, F_GETFD) < 0 ? open("/dev/console", O_WRONLY | O_NOCTTY) : 1;
    if (null < 0 || cons < 0)
        _exit(1); /* nowhere to say it */
    dup2(null, 0);
    dup2(cons, 1);
    dup2(cons, 2);
    if (null > 2)
        close(null);
    if (cons > 2)
        close(cons);
    setvbuf(stdout, NULL, _IOLBF, 0);
}

/* qubes.name=NAME from the kernel's command line, checked as qubesd checks
 * a qube's name (dom0 wrote it; it becomes the hostname). */
static void qube_name(char *name, size_t len)
{
    static char cmdline[CMDLINE_MAX];
    int fd = open("/proc/cmdline", O_RDONLY | O_CLOEXEC);
    ssize_t n = fd < 0 ? -1 : read(fd, cmdline, sizeof(cmdline) - 1);
    if (fd >= 0)
        close(fd);
    if (n < 0)
        fail("read /proc/cmdline: %s", strerror(errno));
    cmdline[n] = '\0';
    *name = '\0';
    for (char *save = NULL, *w = strtok_r(cmdline, " \n", &save); w;
         w = strtok_r(NULL, " \n", &save))
        if (strncmp(w, "qubes.name=", 11) == 0)
            snprintf(name, len, "%.*s", (int)(len - 1), w + 11);
    struct qerror err = { 0 };
    if (!*name)
        fail("no qubes.name= on the kernel command line");
    if (validate_qube_name(name, NULL, &err) < 0)
        fail("qubes.name: %s", err.message);
}

/* The qube's root (read-write: a template's root shared with its AppVMs
 * comes with QEMU's snapshot=on, whose writes QEMU throws away) and /rw:
 * the private disk, or an empty tmpfs without one. */
static void mount_volumes(void)
{
    char dev[32], path[64];
    if (!vm_find_disk(ROOT_SERIAL, true, mono_ms() + DISK_WAIT_MS, dev, sizeof(dev)))
        fail("no disk with serial %s", ROOT_SERIAL);
    snprintf(path, sizeof(path), "/dev/%s", dev);
    mount_or_fail(path, NEW_ROOT, "ext4", 0, NULL);
    /* where every root needs a mount point */
    static const char *const points[] = { "rw",   "home", "usr", "usr/local", "dev",
                                          "proc", "run",  "tmp", "sys" };
    for (size_t i = 0; i < sizeof(points) / sizeof(points[0]); i++) {
        snprintf(path, sizeof(path), NEW_ROOT "/%s", points[i]);
        mkdir_or_fail(path, 0755);
    }
    /* every disk is probed when virtio_blk loads: the private one, if dom0
     * gave one, is there by now */
    if (vm_find_disk(PRIVATE_SERIAL, false, 0, dev, sizeof(dev))) {
        snprintf(path, sizeof(path), "/dev/%s", dev);
        mount_or_fail(path, NEW_ROOT "/rw", "ext4", MS_NOSUID | MS_NODEV, NULL);
    } else {
        mount_or_fail("tmpfs", NEW_ROOT "/rw", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755");
    }
    static const char *const private_dirs[] = { "home", "usrlocal", "config" };
    for (size_t i = 0; i < sizeof(private_dirs) / sizeof(private_dirs[0]); i++) {
        snprintf(path, sizeof(path), NEW_ROOT "/rw/%s", private_dirs[i]);
        mkdir_or_fail(path, 0755);
    }
    mount_or_fail(NEW_ROOT "/rw/home", NEW_ROOT "/home", NULL, MS_BIND, NULL);
    mount_or_fail(NEW_ROOT "/rw/usrlocal", NEW_ROOT "/usr/local", NULL, MS_BIND, NULL);
}

/* /dev, /proc and /sys move over from the initramfs; /dev gains its ptys,
 * shm and links as a sandbox qube's; /run and /tmp are fresh; the guest
 * programs appear read-only. */
static void prepare_root(void)
{
    mount_or_fail("/dev", NEW_ROOT "/dev", NULL, MS_MOVE, NULL);
    mount_or_fail("/proc", NEW_ROOT "/proc", NULL, MS_MOVE, NULL);
    mount_or_fail("/sys", NEW_ROOT "/sys", NULL, MS_MOVE, NULL);
    mkdir_or_fail(NEW_ROOT "/dev/pts", 0755);
    mount_or_fail("devpts", NEW_ROOT "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
                  "newinstance,ptmxmode=0666,mode=0620,gid=5");
    mkdir_or_fail(NEW_ROOT "/dev/shm", 01777);
    mount_or_fail("tmpfs", NEW_ROOT "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV,
                  "mode=1777,size=64m");
    static const char *const links[][2] = {
        { "/proc/self/fd", NEW_ROOT "/dev/fd" },
        { "/proc/self/fd/0", NEW_ROOT "/dev/stdin" },
        { "/proc/self/fd/1", NEW_ROOT "/dev/stdout" },
        { "/proc/self/fd/2", NEW_ROOT "/dev/stderr" },
    };
    for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++)
        symlink_or_fail(links[i][0], links[i][1]);
    mount_or_fail("tmpfs", NEW_ROOT "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755");
    mount_or_fail("tmpfs", NEW_ROOT "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
    mkdir_or_fail(NEW_ROOT GUEST_DIR, 0755);
    mount_or_fail(GUEST_DIR_INITRAMFS, NEW_ROOT GUEST_DIR, NULL, MS_BIND, NULL);
    mount_or_fail(NULL, NEW_ROOT GUEST_DIR, NULL,
                  MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL);
}

/* The qube's root becomes / (the initramfs stays below it, holding the
 * guest programs the bind mount shows). */
static void switch_root(void)
{
    if (chdir(NEW_ROOT) < 0)
        fail("chdir %s: %s", NEW_ROOT, strerror(errno));
    mount_or_fail(".", "/", NULL, MS_MOVE, NULL);
    if (chroot(".") < 0 || chdir("/") < 0)
        fail("chroot into the qube's root: %s", strerror(errno));
}

/* In a child: fd moved above every descriptor vm-boot opens, which are all
 * closed. */
#define CHILD_FD_MIN 100
static int keep_above(int fd)
{
    int kept = fcntl(fd, F_DUPFD_CLOEXEC, CHILD_FD_MIN);
    if (kept < 0)
        _exit(1);
    close_range(3, CHILD_FD_MIN - 1, 0);
    return kept;
}

/* dom0 asks a VM to shut down as Qubes asks an HVM: the ACPI power button
 * (QMP system_powerdown). A child of PID 1 turns its press into the SIGTERM
 * that shuts a sandbox qube down; qubes-init's shutdown ends it too. */
static void watch_power_button(int button)
{
    pid_t pid = fork();
    if (pid < 0)
        fail("fork the power button watcher: %s", strerror(errno));
    if (pid > 0) {
        close(button);
        return;
    }
    prctl(PR_SET_NAME, "power-button", 0, 0, 0);
    /* nothing of the channels stays open here: their peers see them end
     * with qubes-init's programs */
    button = keep_above(button);
    struct input_event ev;
    while (read(button, &ev, sizeof(ev)) == (ssize_t)sizeof(ev))
        if (ev.type == EV_KEY && ev.code == KEY_POWER && ev.value == 1)
            kill(1, SIGTERM);
    _exit(0);
}

static void relay_poweroff(void *opaque)
{
    (void)opaque;
    kill(1, SIGTERM);
}

/* qrexec-agent wants a unix socket carrying descriptors, the port is a byte
 * stream: a child relays between them (channel/relay.h), qubes-init gets the
 * socketpair's other end. dom0's POWEROFF on this channel is a SIGTERM to
 * PID 1, as the power button's. */
static int start_qrexec_relay(int port)
{
    int sp[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
        fail("qrexec relay: socketpair: %s", strerror(errno));
    pid_t pid = fork();
    if (pid < 0)
        fail("fork the qrexec relay: %s", strerror(errno));
    if (pid > 0) {
        close(sp[1]);
        close(port);
        return sp[0];
    }
    prctl(PR_SET_NAME, "qrexec-relay", 0, 0, 0);
    /* the port and the socket only (keep_above's rule, for two) */
    int wire = fcntl(port, F_DUPFD_CLOEXEC, CHILD_FD_MIN);
    int local = fcntl(sp[1], F_DUPFD_CLOEXEC, CHILD_FD_MIN);
    if (wire < 0 || local < 0)
        _exit(1);
    close_range(3, CHILD_FD_MIN - 1, 0);
    struct channel_relay_config cfg = {
        .side = CHANNEL_SIDE_GUEST,
        .wire_fd = wire,
        .local_fd = local,
        .control_fd = -1,
        .on_poweroff = relay_poweroff,
    };
    struct qerror err = { 0 };
    if (channel_relay_run(&cfg, &err) < 0) {
        vm_say("qrexec relay: %s", err.message);
        _exit(1);
    }
    _exit(0);
}

/* fd onto target, without clobbering the other channel. */
static int above(int fd)
{
    int moved = fcntl(fd, F_DUPFD_CLOEXEC, 10);
    if (moved < 0)
        fail("channel descriptor: %s", strerror(errno));
    close(fd);
    return moved;
}

int main(void)
{
    if (getpid() != 1) {
        fputs("vm-boot: runs as PID 1 of a VM (the initramfs's /init)\n", stderr);
        return 1;
    }
    mount_kernel_fs();
    console_fds();
    int64_t start = mono_ms();
    char name[QUBE_NAME_MAX + 1];
    qube_name(name, sizeof(name));
    if (vm_load_modules(MODULE_DIR) < 0)
        fail("kernel modules");
    int64_t modules = mono_ms();
    mount_volumes();
    int64_t deadline = mono_ms() + PORT_WAIT_MS;
    int qrexec = vm_open_port(QREXEC_PORT, deadline);
    if (qrexec < 0)
        fail("no virtio-serial port %s", QREXEC_PORT);
    int qubesdb = vm_open_port(QUBESDB_PORT, deadline);
    if (qubesdb < 0)
        fail("no virtio-serial port %s", QUBESDB_PORT);
    int button = vm_open_power_button();
    if (button < 0)
        fail("no ACPI power button (dom0 could not shut the qube down)");
    prepare_root();
    switch_root();
    if (sethostname(name, strlen(name)) < 0)
        fail("sethostname: %s", strerror(errno));
    watch_power_button(button);

    qrexec = above(start_qrexec_relay(qrexec));
    qubesdb = above(qubesdb);
    if (dup2(qrexec, CHANNEL_FD) < 0 || dup2(qubesdb, QUBESDB_FD) < 0)
        fail("channel descriptors: %s", strerror(errno));
    close(qrexec);
    close(qubesdb);
    vm_say("qube=%s op=boot result=ok modules_ms=%lld ms=%lld", name, (long long)(modules - start),
           (long long)(mono_ms() - start));
    char *const argv[] = { "qubes-init", "--vm", NULL };
    char *const envp[] = { "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                           NULL };
    execve(GUEST_DIR "/qubes-init", argv, envp);
    fail("exec %s/qubes-init: %s", GUEST_DIR, strerror(errno));
}
