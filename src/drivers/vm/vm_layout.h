/* Facts shared by qubesd's vm driver, the qubes-vm helper and the QEMU it
 * runs: descriptor numbers, where things are inside QEMU's jail, bounds. */
#pragma once

/* The QEMU every vm qube runs (Debian's qemu-system-x86). */
#define VM_QEMU_PATH "/usr/bin/qemu-system-x86_64"

/* The descriptors qubes-vm gets from qubesd, as qubes-sandbox does: the
 * qube's qrexec channel, a status pipe (why a start failed), the qube's
 * qubesdb channel. */
#define VM_CHANNEL_FD 3
#define VM_STATUS_FD 4
#define VM_QUBESDB_FD 5

/* The descriptors QEMU starts with (everything else is closed). */
#define QEMU_ROOT_FD 3
#define QEMU_PRIVATE_FD 4
#define QEMU_QREXEC_FD 5
#define QEMU_QUBESDB_FD 6
#define QEMU_QMP_FD 7
#define QEMU_CONSOLE_FD 8
/* a writable disk's fdset holds a read-only descriptor too: QEMU opens
 * the image read-only first, then read-write */
#define QEMU_ROOT_RO_FD 9
#define QEMU_PRIVATE_RO_FD 10
#define QEMU_FD_COUNT 11

/* Inside QEMU's jail: the guest kernel and initramfs, read-only, and the
 * tmpfs that holds the discarded writable layers of snapshot disks. */
#define JAIL_KERNEL "/vm/vmlinuz"
#define JAIL_INITRAMFS "/vm/initramfs.img"
#define JAIL_TMP "/var/tmp" /* where QEMU puts snapshot overlays */

/* In the helper's state directory: "launcher=<pid>\nqemu=<pid>\n". */
#define VM_STATE_FILE "state"

/* QEMU's own memory beside the guest's (device emulation, TCG's
 * translation cache, which -accel tcg,tb-size bounds). */
#define VM_OVERHEAD_MIB 192
#define VM_TCG_TB_MIB 64
