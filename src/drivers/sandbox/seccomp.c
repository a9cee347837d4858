/* What a qube may not ask of the shared kernel: at least everything Docker's
 * and Flatpak's default profiles deny (docs/seccomp.md compares them).
 * Everything else is allowed; denied calls fail with EPERM (ENOSYS for
 * clone3, so libc falls back to clone, whose flags the filter can inspect).
 * Calls of other ABIs (i386 through int 0x80, x32) kill the caller: the
 * filter is written for the native one only. */
#include "drivers/sandbox/seccomp.h"

#include <errno.h>
#include <sched.h>
#include <stdbool.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <string.h>
#include <sys/socket.h>
#include <termios.h>

#include "common/cleanup.h"

/* Arguments the kernel declares int (or unsigned int) are compared on their
 * low 32 bits: the upper half of the register is whatever the caller left. */
#define INT_ARG 0xffffffffu

/* io_uring makes sockets and opens files without the calls this filter sees
 * (IORING_OP_SOCKET would give a packet socket). ENOSYS: libraries that use
 * it (liburing, libuv, tokio) fall back to plain calls, as on a kernel
 * without it. */
static const char *const absent[] = { "io_uring_setup", "io_uring_enter", "io_uring_register" };

/* grouped by what the calls reach, several to a line */
/* clang-format off */
static const char *const denied[] = {
    /* kernel, modules, boot */
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
    "reboot", "swapon", "swapoff", "syslog", "acct", "lookup_dcookie", "nfsservctl",
    "create_module", "get_kernel_syms", "query_module", "uselib", "vm86", "vm86old",
    /* obsolete interfaces nobody needs, kept out as Docker does */
    "sysfs", "ustat", "_sysctl",
    /* filesystems and handles */
    "mount", "umount", "umount2", "pivot_root", "open_by_handle_at",
    "fsopen", "fsconfig", "fsmount", "fspick", "open_tree", "move_mount", "mount_setattr",
    "quotactl", "quotactl_fd",
    /* keys */
    "add_key", "request_key", "keyctl",
    /* tracing and introspection of the kernel */
    "bpf", "perf_event_open", "userfaultfd", "fanotify_init",
    /* other processes' memory and descriptors: the qube's root may ptrace its
     * own processes, but these go further than Docker allows without
     * CAP_SYS_PTRACE */
    "kcmp", "process_vm_readv", "process_vm_writev", "pidfd_getfd", "process_madvise",
    /* time and hardware (adjtimex and clock_adjtime stay: reading the clock's
     * state is harmless, changing it needs CAP_SYS_TIME of dom0's namespace) */
    "settimeofday", "clock_settime", "clock_settime64", "stime", "iopl", "ioperm",
    /* namespaces: no nested user namespaces, no joining others */
    "setns", "unshare",
    /* NUMA policy of the host */
    "mbind", "migrate_pages", "move_pages", "set_mempolicy", "set_mempolicy_home_node",
    "personality",
};
/* clang-format on */

/* Calls newer than the libseccomp we build with, by their x86_64 number. */
static const struct {
    const char *name;
    int nr;
} denied_by_number[] = {
#ifdef __x86_64__
    { "open_tree_attr", 467 }, /* open_tree and mount_setattr in one */
#endif
};

/* The socket families a qube may use: local, IP and netlink. Every other
 * family is kernel code a qube has no business reaching (AF_PACKET below
 * its network, AF_ALG, AF_VSOCK, ...). libseccomp takes one comparison per
 * argument in a rule, so the rest is denied as ranges: 0, 3-9, 11-15, > 16. */
static const int socket_families_allowed[] = { AF_UNIX, AF_INET, AF_INET6, AF_NETLINK };

static bool family_allowed(int family)
{
    for (size_t i = 0; i < ARRAY_SIZE(socket_families_allowed); i++)
        if (socket_families_allowed[i] == family)
            return true;
    return false;
}

static int deny_socket_families(scmp_filter_ctx ctx)
{
    int rc = 0;
    for (int family = 0; family <= AF_NETLINK && rc == 0; family++)
        if (!family_allowed(family))
            rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(socket), 1,
                                  SCMP_A0(SCMP_CMP_MASKED_EQ, INT_ARG, (scmp_datum_t)family));
    /* a 64-bit compare: any bit above 31 also lands here */
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(socket), 1,
                              SCMP_A0(SCMP_CMP_GT, AF_NETLINK));
    /* raw IP sockets, and SOCK_PACKET (a packet socket by its old name): a
     * qube talks through its interfaces only */
    static const int inet[] = { AF_INET, AF_INET6 };
    static const int types[] = { SOCK_RAW, SOCK_PACKET };
    for (size_t i = 0; i < ARRAY_SIZE(inet); i++)
        for (size_t t = 0; t < ARRAY_SIZE(types) && rc == 0; t++)
            rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(socket), 2,
                                  SCMP_A0(SCMP_CMP_MASKED_EQ, INT_ARG, (scmp_datum_t)inet[i]),
                                  SCMP_A1(SCMP_CMP_MASKED_EQ, 0xf, (scmp_datum_t)types[t]));
    return rc;
}

/* A call of another architecture resolves to a pseudo number that a rule
 * ignores; a name libseccomp does not know at all would leave the call open,
 * so the start fails instead. */
static int deny_all(scmp_filter_ctx ctx, const char *const *names, size_t n, int errnum,
                    struct qerror *err)
{
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        int nr = seccomp_syscall_resolve_name(names[i]);
        if (nr == __NR_SCMP_ERROR)
            return qerror_set(err, ERR_QUBES_EXCEPTION, "seccomp: libseccomp does not know %s",
                              names[i]);
        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(errnum), nr, 0);
    }
    return rc;
}

int sandbox_seccomp_load(struct qerror *err)
{
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    if (!ctx)
        return qerror_set(err, ERR_QUBES_EXCEPTION, "seccomp_init failed");
    /* no no_new_privs: the qube's set-user-ID programs (sudo, su) make the
     * qube's root, the filter binds them as everything else; loading it
     * without no_new_privs takes CAP_SYS_ADMIN, which the qube's root has in
     * its user namespace */
    if (seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0) < 0) {
        seccomp_release(ctx);
        return qerror_set(err, ERR_QUBES_EXCEPTION, "seccomp: cannot leave no_new_privs unset");
    }
    int rc = deny_all(ctx, denied, ARRAY_SIZE(denied), EPERM, err);
    if (rc == 0)
        rc = deny_all(ctx, absent, ARRAY_SIZE(absent), ENOSYS, err);
    if (err->kind) {
        seccomp_release(ctx);
        return -1;
    }
    for (size_t i = 0; i < ARRAY_SIZE(denied_by_number) && rc == 0; i++)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), denied_by_number[i].nr, 0);
    /* clone: no new namespaces of any kind (one rule per flag: a rule
     * compares (arg & mask) == value, so "any of these bits" needs several) */
    /* (CLONE_NEWTIME shares its bit with clone()'s exit signal: a new time
     * namespace comes only through unshare or clone3, both refused) */
    static const unsigned long ns_flags[] = { CLONE_NEWUSER,  CLONE_NEWNS,  CLONE_NEWPID,
                                              CLONE_NEWNET,   CLONE_NEWUTS, CLONE_NEWIPC,
                                              CLONE_NEWCGROUP };
    for (size_t i = 0; i < ARRAY_SIZE(ns_flags) && rc == 0; i++)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
                              SCMP_A0(SCMP_CMP_MASKED_EQ, ns_flags[i], ns_flags[i]));
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
    /* TIOCSTI and TIOCLINUX push input into a terminal another process reads */
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(ioctl), 1,
                              SCMP_A1(SCMP_CMP_MASKED_EQ, INT_ARG, TIOCSTI));
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(ioctl), 1,
                              SCMP_A1(SCMP_CMP_MASKED_EQ, INT_ARG, TIOCLINUX));
    if (rc == 0)
        rc = deny_socket_families(ctx);
    if (rc == 0)
        rc = seccomp_load(ctx);
    seccomp_release(ctx);
    if (rc < 0)
        return qerror_set(err, ERR_QUBES_EXCEPTION, "seccomp filter: %s", strerror(-rc));
    return 0;
}
