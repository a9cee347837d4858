/* The QEMU command line of one vm qube. Pure: builds strings, touches
 * nothing, so a test can read exactly what QEMU will be asked to do. */
#pragma once

#include <stdbool.h>

enum vm_accel { VM_ACCEL_TCG, VM_ACCEL_KVM };

struct vm_machine {
    const char *name;
    enum vm_accel accel;
    long memory_mib;
    int vcpus;
    long tsc_khz; /* TCG: the host's TSC rate for the guest kernel; 0 = none */
    bool has_private;
    bool root_snapshot;    /* the template's root: QEMU discards the writes */
    bool private_snapshot; /* a disposable's private: likewise */
};

/* A NULL-terminated argv (heap; vm_argv_free) for the program `qemu`, with
 * the disks, channels, QMP and console on the QEMU_*_FD descriptors and
 * the kernel and initramfs at their jail paths. */
char **vm_argv_build(const char *qemu, const struct vm_machine *m);
void vm_argv_free(char **argv);
