/* Disposables in the model, without a loop or qubes running: what
 * admin.vm.CreateDisposable answers and copies, removal, and the sweep of
 * what a killed qubesd left behind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/root.h"
#include "qubesd/api.h"
#include "qubesd/app.h"
#include "qubesd/persist.h"
#include "qubesd/dispvm.h"

struct fixture {
    char root[64];
    char db[128];
    struct app app;
    struct buf answer;
};

/* Runs one request from src; returns "0:<content>" or "2:<Kind>:<message>". */
static const char *call_from(struct fixture *f, const char *src, const char *method,
                             const char *arg, const char *dest, const char *payload)
{
    struct buf raw = BUF_INIT;
    buf_printf(&raw, "%s+%s %s name %s", method, arg, src, dest);
    buf_append(&raw, "", 1);
    buf_append_str(&raw, payload);
    struct admin_request req;
    assert_int_equal(admin_request_parse(raw.data, raw.len, &req), 0);
    struct api_call c;
    struct qerror err = { 0 };
    buf_reset(&f->answer);
    if (api_execute(&f->app, NULL, &req, &c, NULL, &err) < 0)
        buf_printf(&f->answer, "2:%s:%s", qerror_kind_name(&err), err.message);
    else
        buf_printf(&f->answer, "0:%s", c.out.data ? c.out.data : "");
    api_call_free(&c);
    buf_free(&raw);
    return f->answer.data;
}

static const char *call(struct fixture *f, const char *method, const char *arg, const char *dest,
                        const char *payload)
{
    return call_from(f, "dom0", method, arg, dest, payload);
}

static void ok(struct fixture *f, const char *method, const char *arg, const char *dest,
               const char *payload)
{
    assert_string_equal(call(f, method, arg, dest, payload), "0:");
}

static void reload(struct fixture *f)
{
    app_free(&f->app);
    struct qerror err = { 0 };
    assert_int_equal(persist_load(&f->app, f->db, &err), 0);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    snprintf(f->root, sizeof(f->root), "/tmp/qubicle-unit.XXXXXX");
    assert_non_null(mkdtemp(f->root));
    qroot_set(f->root);
    snprintf(f->db, sizeof(f->db), "%s/qubes.db", f->root);
    struct qerror err = { 0 };
    assert_int_equal(persist_load(&f->app, f->db, &err), 0);
    ok(f, "admin.vm.Create.TemplateVM", "", "dom0", "name=tpl label=black");
    ok(f, "admin.vm.Create.AppVM", "tpl", "dom0", "name=dvm label=green");
    ok(f, "admin.vm.property.Set", "template_for_dispvms", "dvm", "True");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    app_free(&f->app);
    buf_free(&f->answer);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->root);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

/* A new disposable's name ("disp<N>"), copied out of the answer. */
static void create(struct fixture *f, const char *dest, char out[32])
{
    const char *a = call(f, "admin.vm.CreateDisposable", "", dest, "");
    assert_true(strncmp(a, "0:disp", 6) == 0);
    snprintf(out, 32, "%s", a + 2);
}

static void test_refusals(void **state)
{
    struct fixture *f = *state;
    assert_string_equal(call(f, "admin.vm.CreateDisposable", "", "dom0", ""),
                        "2:QubesException:Refusing to create disposable for dom0: it has no "
                        "default_dispvm");
    assert_string_equal(call(f, "admin.vm.CreateDisposable", "", "tpl", ""),
                        "2:QubesException:Refusing to create disposable out of this AppVM, "
                        "because template_for_dispvms=False");
    assert_string_equal(call(f, "admin.vm.CreateDisposable", "x", "dvm", ""),
                        "2:ProtocolError:Invalid argument for admin.vm.CreateDisposable");
    assert_string_equal(call(f, "admin.vm.CreateDisposable", "", "dvm", "uuid\n"),
                        "2:QubesValueError:Invalid payload for admin.vm.CreateDisposable: "
                        "expected the empty string or 'uuid'");
    /* preload without a pool (no loop): accepted, nothing made */
    ok(f, "admin.vm.CreateDisposable", "preload", "dvm", "");
    assert_int_equal(f->app.n_qubes, 3);
}

static void test_source_default_dispvm(void **state)
{
    struct fixture *f = *state;
    ok(f, "admin.property.Set", "default_dispvm", "dom0", "dvm");
    ok(f, "admin.vm.Create.AppVM", "tpl", "dom0", "name=work label=red");
    char d[32];
    create(f, "dom0", d);
    assert_string_equal(call(f, "admin.vm.property.Get", "template", d, ""),
                        "0:default=False type=vm dvm");
    ok(f, "admin.vm.property.Set", "default_dispvm", "work", "");
    assert_string_equal(call_from(f, "work", "admin.vm.CreateDisposable", "", "dom0", ""),
                        "2:QubesException:Refusing to create disposable for work: it has no "
                        "default_dispvm");
    /* uuid payload */
    const char *a = call(f, "admin.vm.CreateDisposable", "", "dvm", "uuid");
    assert_true(strncmp(a, "0:uuid:", 7) == 0);
    assert_non_null(app_find_uuid(&f->app, a + 7));
}

static void test_copies_its_template(void **state)
{
    struct fixture *f = *state;
    ok(f, "admin.vm.property.Set", "vcpus", "dvm", "3");
    ok(f, "admin.vm.property.Set", "ip", "dvm", "10.137.0.50");
    ok(f, "admin.vm.feature.Set", "feat", "dvm", "v");
    ok(f, "admin.vm.feature.Set", "preload-dispvm-max", "dvm", "0");
    ok(f, "admin.vm.tag.Set", "team", "dvm", "");
    ok(f, "admin.vm.firewall.Set", "", "dvm", "action=drop\n");
    char d[32];
    create(f, "dvm", d);
    assert_string_equal(call(f, "admin.vm.property.Get", "vcpus", d, ""),
                        "0:default=False type=int 3");
    assert_string_equal(call(f, "admin.vm.property.Get", "label", d, ""),
                        "0:default=False type=label green");
    assert_string_equal(call(f, "admin.vm.property.Get", "auto_cleanup", d, ""),
                        "0:default=False type=bool True");
    /* ip: Qubes derives a disposable's from its dispid */
    assert_true(strncmp(call(f, "admin.vm.property.Get", "ip", d, ""), "0:default=True", 14) == 0);
    assert_string_equal(call(f, "admin.vm.feature.List", "", d, ""), "0:feat\n");
    assert_string_equal(call(f, "admin.vm.tag.List", "", d, ""),
                        "0:created-by-dom0\ndisp-created-by-dom0\nteam\n");
    assert_string_equal(call(f, "admin.vm.firewall.Get", "", d, ""), "0:action=drop\n");
    /* stored as made */
    reload(f);
    assert_string_equal(call(f, "admin.vm.property.Get", "vcpus", d, ""),
                        "0:default=False type=int 3");
    assert_string_equal(call(f, "admin.vm.feature.List", "", d, ""), "0:feat\n");
}

static void test_names_differ(void **state)
{
    struct fixture *f = *state;
    char names[40][32];
    for (int i = 0; i < 40; i++) {
        create(f, "dvm", names[i]);
        for (int j = 0; j < i; j++)
            assert_string_not_equal(names[i], names[j]);
    }
    assert_int_equal(f->app.n_qubes, 43);
}

static void test_preload_max_is_checked(void **state)
{
    struct fixture *f = *state;
    assert_string_equal(call(f, "admin.vm.feature.Set", "preload-dispvm-max", "dvm", "x"),
                        "2:QubesValueError:Invalid preload-dispvm-max value: not a digit");
    assert_string_equal(call(f, "admin.vm.feature.Set", "preload-dispvm-max", "tpl", "1"),
                        "2:QubesValueError:Qube tpl is a TemplateVM, not a disposable template: "
                        "preload-dispvm-max is not for it");
    assert_string_equal(call(f, "admin.vm.feature.Set", "preload-dispvm", "dvm", "disp1"),
                        "2:PermissionDenied:feature preload-dispvm can only be set by qubesd");
    ok(f, "admin.vm.feature.Set", "preload-dispvm-max", "dvm", "2");
    ok(f, "admin.vm.feature.Set", "preload-dispvm-max", "dom0", "1");
}

static bool exists(const char *root, const char *rel)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", root, rel);
    struct stat st;
    return stat(path, &st) == 0;
}

static void touch(const char *root, const char *rel)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", root, rel);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fclose(fp);
}

static void mkdir_rel(const char *root, const char *rel)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", root, rel);
    assert_int_equal(mkdir(path, 0755), 0);
}

static void test_startup_sweep(void **state)
{
    struct fixture *f = *state;
    char d[32];
    create(f, "dvm", d);
    ok(f, "admin.vm.Create.DispVM", "dvm", "dom0", "name=disp7 label=red");
    ok(f, "admin.vm.Create.AppVM", "tpl", "dom0", "name=disp8 label=red");
    /* images of disposables the store never got, and what is not theirs */
    mkdir_rel(f->root, "var/lib/qubes/appvms/disp9");
    touch(f->root, "var/lib/qubes/appvms/disp9/private-dirty.img");
    touch(f->root, "var/lib/qubes/appvms/disp7/mine.img");
    mkdir_rel(f->root, "var/lib/qubes/appvms/disp10");
    mkdir_rel(f->root, "var/lib/qubes/appvms/disp10/sub");
    mkdir_rel(f->root, "var/lib/qubes/appvms/disp12345");
    mkdir_rel(f->root, "var/lib/qubes/appvms/dispx");

    dispvm_startup_sweep(&f->app);
    assert_null(app_find(&f->app, d));           /* halted and auto_cleanup */
    assert_non_null(app_find(&f->app, "disp7")); /* named: stays */
    assert_non_null(app_find(&f->app, "disp8"));
    assert_false(exists(f->root, "var/lib/qubes/appvms/disp9"));
    assert_true(exists(f->root, "var/lib/qubes/appvms/disp7/mine.img"));
    assert_true(exists(f->root, "var/lib/qubes/appvms/disp8"));
    assert_true(exists(f->root, "var/lib/qubes/appvms/disp10/sub"));
    assert_true(exists(f->root, "var/lib/qubes/appvms/disp12345"));
    assert_true(exists(f->root, "var/lib/qubes/appvms/dispx"));
    reload(f);
    assert_null(app_find(&f->app, d));
    assert_int_equal(f->app.n_qubes, 5);
}

static void test_remove_keeps_referenced(void **state)
{
    struct fixture *f = *state;
    char d[32];
    create(f, "dvm", d);
    ok(f, "admin.vm.property.Set", "provides_network", d, "True");
    ok(f, "admin.vm.Create.AppVM", "tpl", "dom0", "name=client label=red");
    ok(f, "admin.vm.property.Set", "netvm", "client", d);
    /* a disposable another qube uses is not removed under it */
    assert_false(dispvm_cleanup(&f->app, app_find(&f->app, d)));
    assert_non_null(app_find(&f->app, d));
    ok(f, "admin.vm.property.Set", "netvm", "client", "");
    assert_true(dispvm_cleanup(&f->app, app_find(&f->app, d)));
    assert_null(app_find(&f->app, d));
    /* a named one is no auto_cleanup disposable */
    ok(f, "admin.vm.Create.DispVM", "dvm", "dom0", "name=named label=red");
    assert_false(dispvm_cleanup(&f->app, app_find(&f->app, "named")));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_source_default_dispvm, setup, teardown),
        cmocka_unit_test_setup_teardown(test_copies_its_template, setup, teardown),
        cmocka_unit_test_setup_teardown(test_names_differ, setup, teardown),
        cmocka_unit_test_setup_teardown(test_preload_max_is_checked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_startup_sweep, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remove_keeps_referenced, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
