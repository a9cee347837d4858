/* QEMU's command line for a vm qube, exactly: the disks reach QEMU as
 * descriptors (read-only ones for snapshots), the channels as sockets it
 * holds from the start, its own seccomp filter on, nothing from a path of
 * dom0's but the kernel and initramfs of its jail. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "drivers/vm/qemu_argv.h"

static char *joined(const struct vm_machine *m)
{
    char **argv = vm_argv_build("/usr/bin/qemu-system-x86_64", m);
    struct buf b = BUF_INIT;
    for (char **a = argv; *a; a++) {
        buf_append_str(&b, *a);
        buf_append_char(&b, '\n');
    }
    vm_argv_free(argv);
    return buf_steal(&b);
}

static const char *const common_head =
    "/usr/bin/qemu-system-x86_64\n-name\nguest=work\n-machine\nmicrovm\n";
/* then the kernel's command line (%s) */
#define COMMON_TAIL \
    "-nodefaults\n-no-user-config\n-display\nnone\n-no-reboot\n" \
    "-sandbox\non,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny\n" \
    "-kernel\n/vm/vmlinuz\n-initrd\n/vm/initramfs.img\n" \
    "%s" \
    "-chardev\nsocket,id=console,fd=8\n-serial\nchardev:console\n" \
    "-chardev\nsocket,id=qmp,fd=7\n-mon\nchardev=qmp,mode=control\n"
static const char *const channels =
    "-device\nvirtio-serial-device\n"
    "-chardev\nsocket,id=qrexec,fd=5\n-device\nvirtserialport,chardev=qrexec,name=org.qubes."
    "qrexec\n"
    "-chardev\nsocket,id=qubesdb,fd=6\n"
    "-device\nvirtserialport,chardev=qubesdb,name=org.qubes.qubesdb\n";

static void appvm_under_tcg(void **state)
{
    (void)state;
    struct vm_machine m = { .name = "work",
                            .accel = VM_ACCEL_TCG,
                            .memory_mib = 400,
                            .vcpus = 2,
                            .tsc_khz = 2000000,
                            .has_private = true,
                            .root_snapshot = true };
    char *got = joined(&m);
    char *want = xasprintf(
        "%s-accel\ntcg,tb-size=64\n-cpu\nmax\n-m\n400\n-smp\n2\n" COMMON_TAIL
        "-add-fd\nfd=3,set=1,opaque=root\n"
        "-drive\nif=none,id=root,file=/dev/fdset/1,format=raw,snapshot=on,discard=unmap\n"
        "-device\nvirtio-blk-device,drive=root,serial=qubes-root\n"
        "-add-fd\nfd=4,set=2,opaque=private\n"
        "-add-fd\nfd=10,set=2,opaque=private-ro\n"
        "-drive\nif=none,id=private,file=/dev/fdset/2,format=raw,readonly=off,discard=unmap\n"
        "-device\nvirtio-blk-device,drive=private,serial=qubes-private\n%s",
        common_head,
        "-append\nconsole=ttyS0 quiet panic=-1 tsc_early_khz=2000000 qubes.name=work\n", channels);
    assert_string_equal(got, want);
    free(got);
    free(want);
}

static void standalone_under_kvm_without_private(void **state)
{
    (void)state;
    struct vm_machine m = { .name = "work", .accel = VM_ACCEL_KVM, .memory_mib = 256 };
    char *got = joined(&m);
    char *want = xasprintf(
        "%s-accel\nkvm\n-cpu\nhost\n-m\n256\n-smp\n1\n" COMMON_TAIL
        "-add-fd\nfd=3,set=1,opaque=root\n"
        "-add-fd\nfd=9,set=1,opaque=root-ro\n"
        "-drive\nif=none,id=root,file=/dev/fdset/1,format=raw,readonly=off,discard=unmap\n"
        "-device\nvirtio-blk-device,drive=root,serial=qubes-root\n%s",
        common_head, "-append\nconsole=ttyS0 quiet panic=-1 qubes.name=work\n", channels);
    assert_string_equal(got, want);
    free(got);
    free(want);
}

static void disposable_private_is_a_snapshot(void **state)
{
    (void)state;
    struct vm_machine m = { .name = "work",
                            .memory_mib = 400,
                            .has_private = true,
                            .root_snapshot = true,
                            .private_snapshot = true };
    char *got = joined(&m);
    assert_non_null(strstr(got, "id=private,file=/dev/fdset/2,format=raw,snapshot=on,"));
    assert_null(strstr(got, "readonly=off"));
    free(got);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(appvm_under_tcg),
        cmocka_unit_test(standalone_under_kvm_without_private),
        cmocka_unit_test(disposable_private_is_a_snapshot),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
