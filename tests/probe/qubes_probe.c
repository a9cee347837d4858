/* qubes-probe: run inside a qube by the isolation tests. Each subcommand
 * tries one thing a qube must not be able to do and prints "allowed" or
 * the errno name, so the test asserts exactly how it was refused (the
 * shipped filter and namespaces, not that some filter loaded). Static. */
#include <errno.h>
#include <fcntl.h>
#include <linux/io_uring.h>
#include <linux/keyctl.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <linux/perf_event.h>
#include <linux/reboot.h>
#include <sched.h>
#include <signal.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

static int report(long rc)
{
    if (rc >= 0) {
        puts("allowed");
        return 0;
    }
    const char *name = strerrorname_np(errno);
    puts(name ? name : "E?");
    return 0;
}

static long try_open_by_handle(void)
{
    struct {
        struct file_handle fh;
        unsigned char bytes[128];
    } h = { .fh = { .handle_bytes = 128 } };
    int mount_id;
    if (syscall(SYS_name_to_handle_at, AT_FDCWD, "/", &h.fh, &mount_id, 0) < 0 && errno == EPERM)
        return -1;
    return syscall(SYS_open_by_handle_at, AT_FDCWD, &h.fh, O_RDONLY);
}

static long try_connect(const char *path)
{
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
    return connect(s, (struct sockaddr *)&a, sizeof(a));
}

/* Sends stdin as it is to qrexec-agent's trigger socket (what qrexec-client-vm would send)
 * and says how the agent answered: "connected" (a data socket came back), "closed". */
static int raw_trigger(void)
{
    static char req[1 << 20];
    size_t n = 0;
    ssize_t r;
    while (n < sizeof(req) && (r = read(0, req + n, sizeof(req) - n)) > 0)
        n += (size_t)r;
    struct sockaddr_un sa = { .sun_family = AF_UNIX, .sun_path = "/run/qubes/qrexec-agent" };
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        puts("no agent");
        return 1;
    }
    for (size_t off = 0; off < n; off += (size_t)r)
        if ((r = write(fd, req + off, n - off)) <= 0)
            break;
    alarm(10); /* an agent that never answers is a failure, not a hang */
    char params[8];
    char ctl[CMSG_SPACE(sizeof(int))];
    struct iovec iov = { params, sizeof(params) };
    struct msghdr mh = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof(ctl)
    };
    r = recvmsg(fd, &mh, 0);
    puts(r == (ssize_t)sizeof(params) && mh.msg_controllen ? "connected" : "closed");
    return 0;
}

/* mount(2) through the i386 entry point (int 0x80, call 21): another table
 * of calls, which a filter written for x86_64 must not let through */
static long i386_mount(void)
{
    long rc;
    static const char src[] = "none", dst[] = "/mnt", type[] = "tmpfs";
    __asm__ volatile("int $0x80"
                     : "=a"(rc)
                     : "a"(21L), "b"(src), "c"(dst), "d"(type), "S"(0L), "D"(0L)
                     : "memory");
    if (rc < 0) {
        errno = (int)-rc;
        return -1;
    }
    return rc;
}

/* io_uring reaches socket() and more without passing the filter (IORING_OP_SOCKET) */
static long try_io_uring(void)
{
    struct io_uring_params p = { 0 };
    return syscall(SYS_io_uring_setup, 8, &p);
}

/* CAP_NET_ADMIN over the qube's network namespace: change the MTU of lo */
static long try_netadmin(void)
{
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct ifreq ifr = { .ifr_mtu = 65000 };
    strcpy(ifr.ifr_name, "lo");
    return s < 0 ? -1 : ioctl(s, SIOCSIFMTU, &ifr);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs("usage: qubes-probe WHAT [ARG]\n", stderr);
        return 2;
    }
    const char *what = argv[1], *arg = argc > 2 ? argv[2] : "";
    /* as a set-user-ID copy: whose rights it runs with, and whether the
     * kernel would still let it gain more (no_new_privs) */
    if (!strcmp(what, "euid")) {
        printf("euid=%d nnp=%d\n", (int)geteuid(), prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
        return 0;
    }
    if (!strcmp(what, "trigger"))
        return raw_trigger();
    if (!strcmp(what, "mount"))
        return report(mount("none", "/mnt", "tmpfs", 0, NULL));
    if (!strcmp(what, "module"))
        return report(syscall(SYS_finit_module, -1, "", 0));
    if (!strcmp(what, "init_module"))
        return report(syscall(SYS_init_module, NULL, 0, ""));
    if (!strcmp(what, "open_by_handle_at"))
        return report(try_open_by_handle());
    if (!strcmp(what, "kexec"))
        return report(syscall(SYS_kexec_load, 0, 0, NULL, 0));
    if (!strcmp(what, "reboot"))
        return report(syscall(SYS_reboot, LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2,
                              LINUX_REBOOT_CMD_POWER_OFF, NULL));
    if (!strcmp(what, "swapon"))
        return report(syscall(SYS_swapon, "/dev/null", 0));
    if (!strcmp(what, "keyctl"))
        return report(syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0));
    if (!strcmp(what, "add_key"))
        return report(syscall(SYS_add_key, "user", "x", "y", 1, KEY_SPEC_SESSION_KEYRING));
    if (!strcmp(what, "bpf"))
        return report(syscall(SYS_bpf, 0, NULL, 0));
    if (!strcmp(what, "perf_event_open")) {
        struct perf_event_attr attr = { .type = PERF_TYPE_SOFTWARE,
                                        .size = sizeof(attr),
                                        .config = PERF_COUNT_SW_CPU_CLOCK };
        return report(syscall(SYS_perf_event_open, &attr, 0, -1, -1, 0));
    }
    if (!strcmp(what, "userfaultfd"))
        return report(syscall(SYS_userfaultfd, 0));
    if (!strcmp(what, "unshare_user"))
        return report(unshare(CLONE_NEWUSER));
    if (!strcmp(what, "clone_newuser"))
        return report(syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, NULL, NULL, NULL, 0));
    if (!strcmp(what, "setns"))
        return report(syscall(SYS_setns, open("/proc/1/ns/mnt", O_RDONLY), 0));
    if (!strcmp(what, "raw_socket"))
        return report(socket(AF_INET, SOCK_RAW, 1 /* ICMP */));
    if (!strcmp(what, "packet_socket"))
        return report(socket(17 /* AF_PACKET */, SOCK_RAW, 0));
    /* the kernel reads socket()'s family as an int: bits above 31 must not
     * get a call past a filter that compares 64 bits */
    if (!strcmp(what, "packet_socket_high"))
        return report(syscall(SYS_socket, 17L | 1L << 32, (long)SOCK_RAW, 0L));
    if (!strcmp(what, "raw_socket_high"))
        return report(syscall(SYS_socket, (long)AF_INET | 1L << 32, (long)SOCK_RAW, 1L));
    if (!strcmp(what, "raw6_socket"))
        return report(socket(AF_INET6, SOCK_RAW, 58 /* ICMPv6 */));
    if (!strcmp(what, "raw6_socket_high"))
        return report(syscall(SYS_socket, (long)AF_INET6 | 1L << 32, (long)SOCK_RAW, 58L));
    if (!strcmp(what, "sock_packet"))
        return report(socket(AF_INET, SOCK_PACKET, 0x0300 /* ETH_P_ALL */));
    if (!strcmp(what, "alg_socket"))
        return report(socket(38 /* AF_ALG */, SOCK_SEQPACKET, 0));
    if (!strcmp(what, "vsock_socket"))
        return report(socket(40 /* AF_VSOCK */, SOCK_STREAM, 0));
    if (!strcmp(what, "i386_mount"))
        return report(i386_mount());
    if (!strcmp(what, "x32_mount"))
        return report(syscall(0x40000000 | SYS_mount, "none", "/mnt", "tmpfs", 0L, NULL));
    if (!strcmp(what, "pidfd_getfd"))
        return report(syscall(SYS_pidfd_getfd, (int)syscall(SYS_pidfd_open, getppid(), 0), 0, 0));
    if (!strcmp(what, "io_uring"))
        return report(try_io_uring());
    if (!strcmp(what, "netadmin"))
        return report(try_netadmin());
    if (!strcmp(what, "ptrace"))
        return report(ptrace(PTRACE_ATTACH, atoi(arg), NULL, NULL));
    if (!strcmp(what, "kill"))
        return report(kill(atoi(arg), 0));
    if (!strcmp(what, "open"))
        return report(open(arg, O_RDONLY));
    if (!strcmp(what, "write"))
        return report(open(arg, O_WRONLY));
    if (!strcmp(what, "connect"))
        return report(try_connect(arg));
    if (!strcmp(what, "chroot"))
        return report(chroot("/tmp"));
    if (!strcmp(what, "settime")) {
        struct timespec ts = { 0 };
        return report(clock_settime(CLOCK_REALTIME, &ts));
    }
    fprintf(stderr, "qubes-probe: unknown check %s\n", what);
    return 2;
}
