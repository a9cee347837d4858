/* qubes-hcl-report: what this host offers Qubicle, as Qubes' tool of that
 * name reports hardware compatibility: the kernel, memory and CPU, and
 * whether vm qubes get hardware virtualization (KVM) or QEMU's emulation
 * (TCG), with the reason (the probe of drivers/vm/accel.h, run here if this
 * host boot has not run it yet). */
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "common/paths.h"
#include "drivers/vm/accel.h"
#include "drivers/vm/vm_layout.h"

/* The value of the first "key<spaces>: value" line of a /proc file. */
static void proc_value(const char *path, const char *key, char *out, size_t len)
{
    _cleanup_fclose_ FILE *f = fopen(path, "re");
    char line[512];
    snprintf(out, len, "unknown");
    while (f && fgets(line, sizeof(line), f)) {
        char *colon = strchr(line, ':');
        if (!colon || strncmp(line, key, strlen(key)) != 0)
            continue;
        char *v = colon + 1 + strspn(colon + 1, " \t");
        v[strcspn(v, "\n")] = '\0';
        snprintf(out, len, "%s", v);
        return;
    }
}

int main(int argc, char **argv)
{
    (void)argv;
    if (argc > 1) {
        fputs("usage: qubes-hcl-report\n", stderr);
        return 2;
    }
    struct utsname u;
    uname(&u);
    char cpu[256], mem[64];
    proc_value("/proc/cpuinfo", "model name", cpu, sizeof(cpu));
    proc_value("/proc/meminfo", "MemTotal", mem, sizeof(mem));
    printf("Kernel: %s\nRAM: %s\nCPU:\n  %s\n", u.release, mem, cpu);
    _cleanup_free_ char *dir = qubicle_vm_dir();
    _cleanup_free_ char *kernel = xasprintf("%s/vmlinuz", dir);
    if (access(VM_QEMU_PATH, X_OK) < 0 || access(kernel, R_OK) < 0) {
        printf("HVM: not active\nvm qubes: cannot run (%s missing)\n",
               access(VM_QEMU_PATH, X_OK) < 0 ? VM_QEMU_PATH : kernel);
        return 0;
    }
    char why[256];
    enum vm_accel accel = vm_accel_choose(VM_QEMU_PATH, kernel, why, sizeof(why));
    printf("HVM: %s\nvm qubes: %s (%s)\n", accel == VM_ACCEL_KVM ? "active" : "not active",
           accel == VM_ACCEL_KVM ? "KVM" : "TCG emulation", why + 5);
    return 0;
}
