/* Choosing KVM or TCG (see accel.h). */
#include "drivers/vm/accel.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/mono_time.h"

/* The panic a kernel reaches when it looks for a root filesystem and finds
 * none: proof that it booted that far. */
#define REACHED_ROOT "VFS: Unable to mount root fs"

static bool kvm_opens(char *why, size_t len)
{
    _cleanup_close_ int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        snprintf(why, len, "tcg: /dev/kvm: %s", strerror(errno));
        return false;
    }
    if (ioctl(fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION) {
        snprintf(why, len, "tcg: /dev/kvm speaks another API version");
        return false;
    }
    return true;
}

/* Boots kernel under KVM with no root and reads its console for the panic. */
static bool kvm_boots(const char *qemu, const char *kernel, char *why, size_t len)
{
    int out[2];
    if (pipe2(out, O_CLOEXEC) < 0) {
        snprintf(why, len, "tcg: probe: %s", strerror(errno));
        return false;
    }
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(why, len, "tcg: probe: fork: %s", strerror(errno));
        close(out[0]);
        close(out[1]);
        return false;
    }
    if (pid == 0) {
        dup2(out[1], 1);
        int null = open("/dev/null", O_RDWR);
        dup2(null, 0);
        dup2(null, 2);
        execl(qemu, qemu, "-machine", "pc", "-accel", "kvm", "-cpu", "host", "-m", "128",
              "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot", "-serial",
              "stdio", "-kernel", kernel, "-append",
              "console=ttyS0 loglevel=1 panic=-1 reboot=t root=/dev/null", (char *)NULL);
        _exit(127);
    }
    close(out[1]);
    char seen[8192];
    size_t got = 0;
    bool booted = false;
    int64_t deadline = mono_ms() + VM_PROBE_MS;
    while (!booted) {
        int64_t left = deadline - mono_ms();
        struct pollfd p = { .fd = out[0], .events = POLLIN };
        if (left <= 0 || poll(&p, 1, (int)left) <= 0)
            break;
        if (got == sizeof(seen) - 1) { /* keep the tail, where the panic is */
            memmove(seen, seen + got / 2, got - got / 2);
            got -= got / 2;
        }
        ssize_t n = read(out[0], seen + got, sizeof(seen) - 1 - got);
        if (n <= 0)
            break;
        got += (size_t)n;
        seen[got] = '\0';
        booted = strstr(seen, REACHED_ROOT) != NULL;
    }
    close(out[0]);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    if (!booted)
        snprintf(why, len, "tcg: a kernel under /dev/kvm did not boot within %d ms", VM_PROBE_MS);
    else
        snprintf(why, len, "kvm: a kernel booted under /dev/kvm");
    return booted;
}

static void boot_id(char *id, size_t len)
{
    _cleanup_fclose_ FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");
    if (!f || !fgets(id, (int)len, f))
        snprintf(id, len, "unknown");
    id[strcspn(id, "\n")] = '\0';
}

/* The cache holds "<boot id>\n<why>\n"; why starts with kvm: or tcg:. */
static bool cached(const char *id, char *why, size_t len)
{
    _cleanup_fclose_ FILE *f = fopen(VM_ACCEL_CACHE, "re");
    char line[128];
    if (!f || !fgets(line, sizeof(line), f))
        return false;
    line[strcspn(line, "\n")] = '\0';
    if (strcmp(line, id) != 0 || !fgets(why, (int)len, f))
        return false;
    why[strcspn(why, "\n")] = '\0';
    return strncmp(why, "kvm:", 4) == 0 || strncmp(why, "tcg:", 4) == 0;
}

enum vm_accel vm_accel_choose(const char *qemu, const char *kernel, char *why, size_t len)
{
    char id[64];
    boot_id(id, sizeof(id));
    mkdir("/run/qubicle", 0755);
    /* one probe at a time: the others wait for its answer */
    _cleanup_close_ int lock = open(VM_ACCEL_CACHE ".lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lock >= 0)
        flock(lock, LOCK_EX);
    if (!cached(id, why, len)) {
        if (kvm_opens(why, len))
            kvm_boots(qemu, kernel, why, len);
        _cleanup_fclose_ FILE *f = fopen(VM_ACCEL_CACHE ".tmp", "we");
        if (f && fprintf(f, "%s\n%s\n", id, why) > 0 && fflush(f) == 0)
            rename(VM_ACCEL_CACHE ".tmp", VM_ACCEL_CACHE);
    }
    return strncmp(why, "kvm:", 4) == 0 ? VM_ACCEL_KVM : VM_ACCEL_TCG;
}
