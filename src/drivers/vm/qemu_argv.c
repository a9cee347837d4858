/* Building QEMU's command line (see qemu_argv.h). */
#include "drivers/vm/qemu_argv.h"

#include <stdlib.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "drivers/vm/vm_layout.h"

struct argv_builder {
    char **v;
    size_t n, cap;
};

static void push(struct argv_builder *a, char *arg)
{
    if (a->n + 2 > a->cap) {
        a->cap = a->cap ? a->cap * 2 : 64;
        a->v = xrealloc(a->v, a->cap * sizeof(*a->v));
    }
    a->v[a->n++] = arg;
    a->v[a->n] = NULL;
}

static void push2(struct argv_builder *a, const char *opt, char *value)
{
    push(a, xstrdup(opt));
    push(a, value);
}

/* A disk the guest finds by its serial (vm_boot.c): the image reaches QEMU
 * as an open descriptor (an fdset), never by a host path. A snapshot disk
 * is read-only to QEMU (its descriptor is too); its writes go to a
 * temporary overlay in the jail's tmpfs, gone when QEMU ends. */
static void disk(struct argv_builder *a, const char *id, int fd, int ro_fd, int set, bool snapshot)
{
    push2(a, "-add-fd", xasprintf("fd=%d,set=%d,opaque=%s", fd, set, id));
    if (!snapshot)
        push2(a, "-add-fd", xasprintf("fd=%d,set=%d,opaque=%s-ro", ro_fd, set, id));
    push2(a, "-drive",
          xasprintf("if=none,id=%s,file=/dev/fdset/%d,format=raw,%s,discard=unmap", id, set,
                    snapshot ? "snapshot=on" : "readonly=off"));
    push2(a, "-device", xasprintf("virtio-blk-device,drive=%s,serial=qubes-%s", id, id));
}

/* A virtio-serial port the guest finds by its name, joined to a socket
 * QEMU holds from the start (it connects nowhere itself). */
static void port(struct argv_builder *a, const char *id, int fd, const char *name)
{
    push2(a, "-chardev", xasprintf("socket,id=%s,fd=%d", id, fd));
    push2(a, "-device", xasprintf("virtserialport,chardev=%s,name=%s", id, name));
}

char **vm_argv_build(const char *qemu, const struct vm_machine *m)
{
    struct argv_builder a = { 0 };
    push(&a, xstrdup(qemu));
    push2(&a, "-name", xasprintf("guest=%s", m->name));
    /* microvm with ACPI on: Debian's kernel finds microvm's virtio-mmio
     * devices only through ACPI (docs/vm-guest.md) */
    push2(&a, "-machine", xstrdup("microvm"));
    if (m->accel == VM_ACCEL_KVM) {
        push2(&a, "-accel", xstrdup("kvm"));
        push2(&a, "-cpu", xstrdup("host"));
    } else {
        push2(&a, "-accel", xasprintf("tcg,tb-size=%d", VM_TCG_TB_MIB));
        push2(&a, "-cpu", xstrdup("max"));
    }
    push2(&a, "-m", xasprintf("%ld", m->memory_mib));
    push2(&a, "-smp", xasprintf("%d", m->vcpus > 0 ? m->vcpus : 1));
    push(&a, xstrdup("-nodefaults"));
    push(&a, xstrdup("-no-user-config"));
    push2(&a, "-display", xstrdup("none"));
    push(&a, xstrdup("-no-reboot"));
    /* QEMU's own seccomp filter, beneath the jail it already runs in */
    push2(&a, "-sandbox",
          xstrdup("on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny"));
    push2(&a, "-kernel", xstrdup(JAIL_KERNEL));
    push2(&a, "-initrd", xstrdup(JAIL_INITRAMFS));
    /* under TCG the kernel has no timer to measure the TSC against
     * (microvm's ACPI is hardware-reduced): it is told the host's rate */
    _cleanup_free_ char *tsc =
        m->tsc_khz ? xasprintf(" tsc_early_khz=%ld", m->tsc_khz) : xstrdup("");
    push2(&a, "-append", xasprintf("console=ttyS0 quiet panic=-1%s qubes.name=%s", tsc, m->name));
    push2(&a, "-chardev", xasprintf("socket,id=console,fd=%d", QEMU_CONSOLE_FD));
    push2(&a, "-serial", xstrdup("chardev:console"));
    push2(&a, "-chardev", xasprintf("socket,id=qmp,fd=%d", QEMU_QMP_FD));
    push2(&a, "-mon", xstrdup("chardev=qmp,mode=control"));
    disk(&a, "root", QEMU_ROOT_FD, QEMU_ROOT_RO_FD, 1, m->root_snapshot);
    if (m->has_private)
        disk(&a, "private", QEMU_PRIVATE_FD, QEMU_PRIVATE_RO_FD, 2, m->private_snapshot);
    push2(&a, "-device", xstrdup("virtio-serial-device"));
    port(&a, "qrexec", QEMU_QREXEC_FD, "org.qubes.qrexec");
    port(&a, "qubesdb", QEMU_QUBESDB_FD, "org.qubes.qubesdb");
    return a.v;
}

void vm_argv_free(char **argv)
{
    for (char **p = argv; p && *p; p++)
        free(*p);
    free(argv);
}
