/* KVM or TCG. /dev/kvm being there is not enough: on some hosts (a
 * paravirtual KVM, as on this project's build machines) it exists and
 * answers, yet a stock guest kernel hangs in it. So the first vm qube of a
 * host boot probes it: the guest kernel alone, under KVM, must reach the
 * point where it looks for a root filesystem (it panics there, and QEMU
 * ends) within VM_PROBE_MS. The answer is kept in /run for the rest of the
 * host's boot, so the probe runs once. */
#pragma once

#include <stddef.h>

#include "drivers/vm/qemu_argv.h"

#define VM_PROBE_MS 5000
#define VM_ACCEL_CACHE "/run/qubicle/vm-accel"

/* The accelerator to use, and in why (at most len bytes) a sentence that
 * says how it was decided. */
enum vm_accel vm_accel_choose(const char *qemu, const char *kernel, char *why, size_t len);
