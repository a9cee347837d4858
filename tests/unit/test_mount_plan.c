/* The mount plan of sandbox qubes, checked without root: what each kind of
 * qube gets, and the rules every plan keeps (only trusted dom0 paths, every
 * slot made before use, dom0's views of images never follow links). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "drivers/sandbox/mount_plan.h"

#define BASE 0x40010000u

static const struct rootfs_config appvm = {
    .root_image = "/q/var/lib/qubes/appvms/work/root.img",
    .root_snapshot = true,
    .private_image = "/q/var/lib/qubes/appvms/work/private.img",
    .volatile_mib = 200,
    .guest_dir = "/usr/lib/qubicle/guest",
    .uid_base = BASE,
};
static const struct rootfs_config template_vm = {
    .root_image = "/q/var/lib/qubes/vm-templates/t/root.img",
    .private_image = "/q/var/lib/qubes/vm-templates/t/private.img",
    .volatile_mib = 200,
    .guest_dir = "/usr/lib/qubicle/guest",
    .uid_base = BASE,
};
static const struct rootfs_config dispvm = {
    .root_image = "/q/var/lib/qubes/appvms/disp1/root.img",
    .root_snapshot = true,
    .private_image = "/q/var/lib/qubes/appvms/disp1/private.img",
    .private_snapshot = true,
    .volatile_mib = 200,
    .guest_dir = "/usr/lib/qubicle/guest",
    .uid_base = BASE,
};
static const struct rootfs_config no_private = {
    .root_image = "/q/var/lib/qubes/vm-templates/t/root.img",
    .volatile_mib = 200,
    .guest_dir = "/usr/lib/qubicle/guest",
    .uid_base = BASE,
};
static const struct rootfs_config *const all[] = { &appvm, &template_vm, &dispvm, &no_private };

static char *printed(const struct rootfs_config *cfg)
{
    struct mount_plan plan;
    mount_plan_build(cfg, &plan);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    mount_plan_print(&plan, f);
    fclose(f);
    mount_plan_free(&plan);
    return text;
}

static bool trusted_host_path(const struct rootfs_config *cfg, const char *path)
{
    static const char *const devices[] = { "/dev/null",   "/dev/zero",    "/dev/full",
                                           "/dev/random", "/dev/urandom", "/dev/tty" };
    if (!strcmp(path, cfg->root_image) || !strcmp(path, cfg->guest_dir) ||
        (cfg->private_image && !strcmp(path, cfg->private_image)))
        return true;
    for (size_t i = 0; i < ARRAY_SIZE(devices); i++)
        if (!strcmp(path, devices[i]))
            return true;
    return false;
}

static void test_every_plan_keeps_the_rules(void **state)
{
    (void)state;
    for (size_t c = 0; c < ARRAY_SIZE(all); c++) {
        const struct rootfs_config *cfg = all[c];
        struct mount_plan plan;
        mount_plan_build(cfg, &plan);
        bool made[SLOT_COUNT] = { [SLOT_WORK] = true, [SLOT_STAGING] = true };
        for (size_t i = 0; i < plan.n; i++) {
            const struct plan_step *s = &plan.steps[i];
            /* every path is beneath a slot that exists by then */
            assert_true(made[s->at.slot]);
            if (s->op == PLAN_IDMAP || s->op == PLAN_BIND || s->op == PLAN_OVERLAY)
                assert_true(made[s->from.slot]);
            if (s->op == PLAN_OVERLAY)
                assert_true(made[s->upper.slot] && made[s->workdir.slot]);
            /* relative paths only; the only absolute ones are trusted inputs */
            assert_true(s->at.path[0] != '/');
            if (s->op == PLAN_IMAGE || s->op == PLAN_BIND_HOST)
                assert_true(trusted_host_path(cfg, s->host));
            else
                assert_null(s->host);
            /* nothing is made through an id-mapped view: host root would
             * not map into it, and its writes belong to the plain view */
            if (s->op == PLAN_MKDIR || s->op == PLAN_FILE || s->op == PLAN_SYMLINK)
                assert_true(s->at.slot != SLOT_ROOT_MAPPED && s->at.slot != SLOT_PRIVATE_MAPPED);
            /* dom0's views of images never follow a link left in them */
            if (s->op == PLAN_IMAGE)
                assert_int_equal(s->attr & (PLAN_NOSYMFOLLOW | PLAN_NOSUID | PLAN_NODEV),
                                 PLAN_NOSYMFOLLOW | PLAN_NOSUID | PLAN_NODEV);
            /* no device of a volume works in a qube; set-user-ID programs
             * only from the root's own view (sudo, su: the qube's root) */
            if (s->op == PLAN_MOUNT || s->op == PLAN_IMAGE || s->op == PLAN_IDMAP ||
                s->op == PLAN_OVERLAY || s->op == PLAN_BIND_HOST)
                assert_true(s->attr & (PLAN_NODEV | PLAN_NOEXEC));
            bool root_view = s->creates == SLOT_ROOT || s->creates == SLOT_ROOT_MAPPED;
            if (s->op == PLAN_MOUNT || s->op == PLAN_IMAGE || s->op == PLAN_IDMAP ||
                s->op == PLAN_OVERLAY || s->op == PLAN_BIND_HOST)
                assert_int_equal(!(s->attr & PLAN_NOSUID),
                                 root_view && (s->op == PLAN_IDMAP || s->op == PLAN_OVERLAY));
            if (s->creates) {
                assert_false(made[s->creates]); /* each slot is filled once */
                made[s->creates] = true;
            }
        }
        assert_true(made[SLOT_ROOT] && made[SLOT_PRIVATE] && made[SLOT_DEV] && made[SLOT_PROC]);
        assert_int_equal(made[SLOT_VOLATILE], cfg->root_snapshot || cfg->private_snapshot);
        mount_plan_free(&plan);
    }
}

static void test_an_appvm(void **state)
{
    (void)state;
    _cleanup_free_ char *text = printed(&appvm);
    assert_string_equal(
        text,
        "  1 mkdir     work:volatile mode=0700\n"
        "  2 mount     work:volatile tmpfs size=200m,mode=0755,uid=1073807360,gid=1073807360 "
        "[nosuid,nodev] => volatile\n"
        "  3 mkdir     work:root-image mode=0700\n"
        "  4 image     work:root-image from /q/var/lib/qubes/appvms/work/root.img "
        "[ro,nosuid,nodev,nosymfollow] => root-image\n"
        "  5 mkdir     work:root-mapped mode=0700\n"
        "  6 idmap     work:root-mapped from root-image [nodev] => root-mapped\n"
        "  7 mkdir     volatile:root/upper mode=0700 owner=like:root-mapped\n"
        "  8 mkdir     volatile:root/work mode=0700\n"
        "  9 overlay   staging lower=root-mapped upper=volatile:root/upper work=volatile:root/work "
        "[nodev] => root\n"
        " 10 mkdir     root:rw mode=0755 owner=1073807360\n"
        " 11 mkdir     root:home mode=0755 owner=1073807360\n"
        " 12 mkdir     root:usr mode=0755 owner=1073807360\n"
        " 13 mkdir     root:usr/local mode=0755 owner=1073807360\n"
        " 14 mkdir     root:dev mode=0755 owner=1073807360\n"
        " 15 mkdir     root:proc mode=0755 owner=1073807360\n"
        " 16 mkdir     root:run mode=0755 owner=1073807360\n"
        " 17 mkdir     root:tmp mode=0755 owner=1073807360\n"
        " 18 mkdir     root:sys mode=0755 owner=1073807360\n"
        " 19 mkdir     work:private-image mode=0700\n"
        " 20 image     work:private-image from /q/var/lib/qubes/appvms/work/private.img "
        "[nosuid,nodev,nosymfollow] => private-image\n"
        " 21 mkdir     private-image:home mode=0755\n"
        " 22 mkdir     private-image:usrlocal mode=0755\n"
        " 23 mkdir     private-image:config mode=0755\n"
        " 24 idmap     root:rw from private-image [nosuid,nodev] => private\n"
        " 25 bind      root:home from private:home\n"
        " 26 bind      root:usr/local from private:usrlocal\n"
        " 27 mount     root:dev tmpfs mode=0755,uid=1073807360,gid=1073807360,size=64k "
        "[nosuid,noexec] => dev\n"
        " 28 file      dev:null mode=0644\n"
        " 29 bind-host dev:null from /dev/null [nosuid,noexec]\n"
        " 30 file      dev:zero mode=0644\n"
        " 31 bind-host dev:zero from /dev/zero [nosuid,noexec]\n"
        " 32 file      dev:full mode=0644\n"
        " 33 bind-host dev:full from /dev/full [nosuid,noexec]\n"
        " 34 file      dev:random mode=0644\n"
        " 35 bind-host dev:random from /dev/random [nosuid,noexec]\n"
        " 36 file      dev:urandom mode=0644\n"
        " 37 bind-host dev:urandom from /dev/urandom [nosuid,noexec]\n"
        " 38 file      dev:tty mode=0644\n"
        " 39 bind-host dev:tty from /dev/tty [nosuid,noexec]\n"
        " 40 mkdir     dev:pts mode=0755\n"
        " 41 mount     dev:pts devpts newinstance,ptmxmode=0666,mode=0620,gid=1073807365 "
        "[nosuid,noexec]\n"
        " 42 mkdir     dev:shm mode=1777\n"
        " 43 mount     dev:shm tmpfs mode=1777,uid=1073807360,gid=1073807360,size=64m "
        "[nosuid,nodev]\n"
        " 44 symlink   dev:ptmx -> pts/ptmx owner=1073807360\n"
        " 45 symlink   dev:fd -> /proc/self/fd owner=1073807360\n"
        " 46 symlink   dev:stdin -> /proc/self/fd/0 owner=1073807360\n"
        " 47 symlink   dev:stdout -> /proc/self/fd/1 owner=1073807360\n"
        " 48 symlink   dev:stderr -> /proc/self/fd/2 owner=1073807360\n"
        " 49 mount     root:proc proc - [nosuid,nodev,noexec] => proc\n"
        " 50 mask      proc:kcore\n"
        " 51 mask      proc:kallsyms\n"
        " 52 mask      proc:sysrq-trigger\n"
        " 53 mask      proc:keys\n"
        " 54 mask      proc:timer_list\n"
        " 55 mask      proc:sched_debug\n"
        " 56 mask      proc:kmsg\n"
        " 57 mask      proc:latency_stats\n"
        " 58 mask      proc:kpagecount\n"
        " 59 mask      proc:kpageflags\n"
        " 60 mask      proc:kpagecgroup\n"
        " 61 mask      proc:config.gz\n"
        " 62 mask      proc:acpi\n"
        " 63 mask      proc:scsi\n"
        " 64 mask      proc:firmware\n"
        " 65 mask      proc:asound\n"
        " 66 mask      proc:bus\n"
        " 67 mask      proc:irq\n"
        " 68 mask      proc:fs\n"
        " 69 mask      proc:driver\n"
        " 70 mask      proc:sysvipc\n"
        " 71 bind      proc:sys from proc:sys [ro,nosuid,nodev,noexec]\n"
        " 72 mount     root:run tmpfs mode=0755,uid=1073807360,gid=1073807360 [nosuid,nodev] => "
        "run\n"
        " 73 mount     root:tmp tmpfs mode=1777,uid=1073807360,gid=1073807360 [nosuid,nodev]\n"
        " 74 mkdir     run:qubes-guest mode=0755 owner=1073807360\n"
        " 75 bind-host run:qubes-guest from /usr/lib/qubicle/guest [ro,nosuid,nodev]\n");
}

/* The qube's own images: mount points and /rw's directories are made on
 * dom0's plain view (as the image's root), before the id-mapped view. */
static void test_own_volumes_are_prepared_on_the_plain_view(void **state)
{
    (void)state;
    _cleanup_free_ char *text = printed(&template_vm);
    assert_non_null(
        strstr(text, "  1 mkdir     work:root-image mode=0700\n"
                     "  2 image     work:root-image from /q/var/lib/qubes/vm-templates/t/root.img "
                     "[nosuid,nodev,nosymfollow] => root-image\n"
                     "  3 mkdir     root-image:rw mode=0755\n"));
    assert_non_null(strstr(text, " 11 mkdir     root-image:sys mode=0755\n"
                                 " 12 idmap     staging from root-image [nodev] => root\n"));
    assert_null(strstr(text, "volatile"));
}

static void test_a_disposable_private_is_a_layer(void **state)
{
    (void)state;
    _cleanup_free_ char *text = printed(&dispvm);
    assert_non_null(strstr(
        text,
        " 20 image     work:private-image from /q/var/lib/qubes/appvms/disp1/private.img "
        "[ro,nosuid,nodev,nosymfollow] => private-image\n"
        " 21 mkdir     work:private-mapped mode=0700\n"
        " 22 idmap     work:private-mapped from private-image [nosuid,nodev] => private-mapped\n"
        " 23 mkdir     volatile:private/upper mode=0700 owner=like:private-mapped\n"
        " 24 mkdir     volatile:private/work mode=0700\n"
        " 25 overlay   root:rw lower=private-mapped upper=volatile:private/upper "
        "work=volatile:private/work [nosuid,nodev] => private\n"
        " 26 mkdir     private:home mode=0755 owner=1073807360\n"));
    _cleanup_free_ char *bare = printed(&no_private);
    assert_non_null(strstr(bare,
                           " 13 mount     root:rw tmpfs mode=0755,uid=1073807360,gid=1073807360 "
                           "[nosuid,nodev] => private\n"
                           " 14 mkdir     private:home mode=0755 owner=1073807360\n"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_plan_keeps_the_rules),
        cmocka_unit_test(test_an_appvm),
        cmocka_unit_test(test_own_volumes_are_prepared_on_the_plain_view),
        cmocka_unit_test(test_a_disposable_private_is_a_layer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
