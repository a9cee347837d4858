/* What vm-boot finds in a bare VM: the kernel modules it loads, dom0's disks
 * by their virtio serial, dom0's virtio-serial ports by their name, the ACPI
 * power button. Each function says on failure what it could not do. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One line on the console (dom0's log of the qube), "vm-boot: " first. */
void vm_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Loads every "*.ko" in dir, in the order of their names (the initramfs
 * numbers them in dependency order). 0, or -1 (said why). */
int vm_load_modules(const char *dir);

/* The block device ("vda") whose virtio serial is serial, into name (size
 * len). Waits until deadline_ms (CLOCK_MONOTONIC) for it to appear when wait.
 * 1 found, 0 not there. */
int vm_find_disk(const char *serial, bool wait, int64_t deadline_ms, char *name, size_t len);

/* /dev/vportNpM of the virtio-serial port named name, opened read-write and
 * close-on-exec. Waits until deadline_ms for the name to appear (the host
 * tells it after the port). The descriptor, or -1. */
int vm_open_port(const char *name, int64_t deadline_ms);

/* The input device of the ACPI power button, opened read-only, or -1. */
int vm_open_power_button(void);
