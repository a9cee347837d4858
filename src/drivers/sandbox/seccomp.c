/* What a qube may not ask of the shared kernel: at least everything Docker's
 * and Flatpak's default profiles deny. Everything else is allowed; denied
 * calls fail with EPERM (ENOSYS for clone3, so libc falls back to clone,
 * whose flags the filter can inspect). */
#include "drivers/sandbox/seccomp.h"

#include <errno.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <string.h>
#include <termios.h>

#include "common/cleanup.h"

static const char *const denied[] = {
    /* kernel, modules, boot */
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
    "reboot", "swapon", "swapoff", "syslog", "acct", "lookup_dcookie", "nfsservctl",
    "create_module", "get_kernel_syms", "query_module", "uselib", "vm86", "vm86old",
    /* filesystems and handles */
    "mount", "umount", "umount2", "pivot_root", "open_by_handle_at", "name_to_handle_at",
    "fsopen", "fsconfig", "fsmount", "fspick", "open_tree", "move_mount", "mount_setattr",
    "quotactl", "quotactl_fd",
    /* keys */
    "add_key", "request_key", "keyctl",
    /* tracing and introspection of the kernel */
    "bpf", "perf_event_open", "userfaultfd", "kcmp", "process_vm_readv", "process_vm_writev",
    "fanotify_init",
    /* time and hardware */
    "settimeofday", "clock_settime", "clock_settime64", "clock_adjtime", "clock_adjtime64",
    "adjtimex", "stime", "iopl", "ioperm",
    /* namespaces: no nested user namespaces, no joining others */
    "setns", "unshare",
    /* NUMA policy of the host */
    "mbind", "migrate_pages", "move_pages", "set_mempolicy",
    "personality",
};

int sandbox_seccomp_load(struct qerror *err)
{
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    if (!ctx)
        return qerror_set(err, "QubesException", "seccomp_init failed");
    int rc = 0;
    for (size_t i = 0; i < ARRAY_SIZE(denied) && rc == 0; i++) {
        int nr = seccomp_syscall_resolve_name(denied[i]);
        if (nr == __NR_SCMP_ERROR)
            continue; /* not on this architecture */
        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0);
    }
    /* clone: no new namespaces of any kind (one rule per flag: a rule
     * compares (arg & mask) == value, so "any of these bits" needs several) */
    static const unsigned long ns_flags[] = { CLONE_NEWUSER, CLONE_NEWNS,  CLONE_NEWPID,
                                              CLONE_NEWNET,  CLONE_NEWUTS, CLONE_NEWIPC,
                                              CLONE_NEWCGROUP, CLONE_NEWTIME };
    for (size_t i = 0; i < ARRAY_SIZE(ns_flags) && rc == 0; i++)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
                              SCMP_A0(SCMP_CMP_MASKED_EQ, ns_flags[i], ns_flags[i]));
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
    /* TIOCSTI and TIOCLINUX push input into a terminal another process reads */
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(ioctl), 1,
                              SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, TIOCSTI));
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(ioctl), 1,
                              SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, TIOCLINUX));
    /* raw and packet sockets would reach below the qube's own network */
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(socket), 1,
                              SCMP_A0(SCMP_CMP_EQ, 17 /* AF_PACKET */));
    /* raw IP sockets too: a qube talks through its interfaces only */
    static const int inet[] = { 2 /* AF_INET */, 10 /* AF_INET6 */ };
    for (size_t i = 0; i < ARRAY_SIZE(inet) && rc == 0; i++)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(socket), 2,
                              SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)inet[i]),
                              SCMP_A1(SCMP_CMP_MASKED_EQ, 0xf, 3 /* SOCK_RAW */));
    if (rc == 0)
        rc = seccomp_load(ctx);
    seccomp_release(ctx);
    if (rc < 0)
        return qerror_set(err, "QubesException", "seccomp filter: %s", strerror(-rc));
    return 0;
}
