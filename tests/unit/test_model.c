/* The domain model through the Admin API layer, without sockets: defaults
 * and inheritance, validation, references, and what the store keeps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/root.h"
#include "qubesd/api.h"
#include "qubesd/app.h"
#include "qubesd/persist.h"
#include "qubesd/xid.h"

struct fixture {
    char root[64];
    char db[128];
    struct app app;
    struct buf answer;
};

/* Runs one request; returns "0:<content>" or "2:<Kind>:<message>". */
static const char *call(struct fixture *f, const char *method, const char *arg, const char *dest,
                        const char *payload)
{
    struct buf raw = BUF_INIT;
    buf_printf(&raw, "%s+%s dom0 name %s", method, arg, dest);
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

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    snprintf(f->root, sizeof(f->root), "/tmp/qubicle-unit.XXXXXX");
    assert_non_null(mkdtemp(f->root));
    qroot_set(f->root);
    snprintf(f->db, sizeof(f->db), "%s/qubes.db", f->root);
    struct qerror err = { 0 };
    assert_int_equal(persist_load(&f->app, f->db, &err), 0);
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

static void create_basics(struct fixture *f)
{
    assert_string_equal(call(f, "admin.vm.Create.TemplateVM", "", "dom0", "name=tpl label=black"),
                        "0:");
    assert_string_equal(call(f, "admin.vm.Create.AppVM", "tpl", "dom0", "name=work label=blue"),
                        "0:");
}

static void test_fresh_root_has_dom0_only(void **state)
{
    struct fixture *f = *state;
    assert_string_equal(call(f, "admin.vm.List", "", "dom0", ""),
                        "0:dom0 class=AdminVM state=Running "
                        "uuid=00000000-0000-0000-0000-000000000000\n");
    assert_string_equal(call(f, "admin.label.List", "", "dom0", ""),
                        "0:red\norange\nyellow\ngreen\ngray\nblue\npurple\nblack\n");
}

static void test_template_inheritance(void **state)
{
    struct fixture *f = *state;
    create_basics(f);
    assert_string_equal(call(f, "admin.vm.property.Get", "memory", "work", ""),
                        "0:default=True type=int 400");
    assert_string_equal(call(f, "admin.vm.property.Set", "memory", "tpl", "800"), "0:");
    assert_string_equal(call(f, "admin.vm.property.Get", "memory", "work", ""),
                        "0:default=True type=int 800");
    assert_string_equal(call(f, "admin.vm.property.Set", "memory", "work", "1000"), "0:");
    assert_string_equal(call(f, "admin.vm.property.Get", "memory", "work", ""),
                        "0:default=False type=int 1000");
    assert_string_equal(call(f, "admin.vm.property.GetDefault", "memory", "work", ""),
                        "0:type=int 800");
    assert_string_equal(call(f, "admin.vm.property.Reset", "memory", "work", ""), "0:");
    assert_string_equal(call(f, "admin.vm.property.Get", "memory", "work", ""),
                        "0:default=True type=int 800");
}

static void test_netvm_rules(void **state)
{
    struct fixture *f = *state;
    create_basics(f);
    assert_string_equal(call(f, "admin.vm.Create.AppVM", "tpl", "dom0", "name=net label=red"),
                        "0:");
    assert_string_equal(call(f, "admin.vm.property.Set", "netvm", "work", "net"),
                        "2:QubesValueError:The net qube does not provide network");
    assert_string_equal(call(f, "admin.vm.property.Set", "provides_network", "net", "yes"), "0:");
    assert_string_equal(call(f, "admin.vm.property.Set", "netvm", "work", "net"), "0:");
    assert_string_equal(call(f, "admin.vm.property.Set", "provides_network", "work", "1"), "0:");
    assert_string_equal(call(f, "admin.vm.property.Set", "netvm", "net", "work"),
                        "2:QubesValueError:Loops in network are unsupported");
    assert_string_equal(call(f, "admin.vm.property.Set", "provides_network", "net", "off"),
                        "2:QubesValueError:The qube is still used by other qubes, change theirs "
                        "'netvm' first");
    assert_string_equal(call(f, "admin.vm.property.Get", "ip", "work", ""),
                        "0:default=True type=str 10.137.0.2");
    assert_string_equal(call(f, "admin.vm.property.Get", "visible_gateway", "work", ""),
                        "0:default=True type=str 10.137.0.3");
    assert_string_equal(call(f, "admin.vm.property.Set", "netvm", "work", "nope"),
                        "2:QubesVMNotFoundError:No such domain: 'nope'");
}

static void test_validation_changes_nothing(void **state)
{
    struct fixture *f = *state;
    create_basics(f);
    assert_string_equal(call(f, "admin.vm.property.Set", "vcpus", "work", "0"),
                        "2:QubesPropertyValueError:vcpus must be positive");
    assert_string_equal(call(f, "admin.vm.property.Set", "debug", "work", "maybe"),
                        "2:QubesValueError:Invalid literal for boolean property: 'maybe'");
    assert_string_equal(call(f, "admin.vm.property.Set", "klass", "work", "x"),
                        "2:QubesPropertyValueError:property 'klass' on AppVM instance cannot be "
                        "set");
    assert_string_equal(call(f, "admin.vm.property.Set", "template", "work", "work"),
                        "2:QubesPropertyValueError:wrong VM class: domains['work'] is of type "
                        "AppVM and not TemplateVM");
    assert_string_equal(call(f, "admin.vm.property.Set", "label", "work", "pink"),
                        "2:QubesLabelNotFoundError:Label does not exist: pink");
    assert_string_equal(call(f, "admin.vm.property.Set", "label", "work", "3"), "0:");
    assert_string_equal(call(f, "admin.vm.property.Get", "label", "work", ""),
                        "0:default=False type=label yellow");
    assert_string_equal(call(f, "admin.vm.property.Get", "vcpus", "work", ""),
                        "0:default=True type=int 2");
    assert_string_equal(call(f, "admin.vm.property.Get", "nope", "work", ""),
                        "2:QubesNoSuchPropertyError:Invalid property 'nope' of work");
}

static void test_remove_refused_while_referenced(void **state)
{
    struct fixture *f = *state;
    create_basics(f);
    assert_string_equal(call(f, "admin.vm.Remove", "", "tpl", ""),
                        "2:QubesVMInUseError:Domain is in use: 'tpl' (template of work)");
    assert_string_equal(call(f, "admin.vm.Remove", "", "work", ""), "0:");
    assert_string_equal(call(f, "admin.property.Set", "default_template", "dom0", "tpl"), "0:");
    assert_string_equal(call(f, "admin.vm.Remove", "", "tpl", ""),
                        "2:QubesVMInUseError:Domain is in use: 'tpl' (default_template of the "
                        "global properties)");
    assert_string_equal(call(f, "admin.property.Reset", "default_template", "dom0", ""), "0:");
    assert_string_equal(call(f, "admin.vm.Remove", "", "tpl", ""), "0:");
    assert_string_equal(call(f, "admin.vm.Remove", "", "dom0", ""),
                        "2:QubesVMInUseError:'dom0' cannot be removed");
}

static void test_store_keeps_everything(void **state)
{
    struct fixture *f = *state;
    create_basics(f);
    assert_string_equal(call(f, "admin.vm.property.Set", "memory", "work", "1234"), "0:");
    assert_string_equal(call(f, "admin.vm.feature.Set", "gui", "work", "1"), "0:");
    assert_string_equal(call(f, "admin.vm.tag.Set", "blue-team", "work", ""), "0:");
    assert_string_equal(call(f, "admin.vm.notes.Set", "", "work", "hello"), "0:");
    assert_string_equal(call(f, "admin.vm.firewall.Set", "", "work", "action=drop\n"), "0:");
    assert_string_equal(call(f, "admin.label.Create", "pink", "dom0", "0xff00ff"), "0:");
    const char *before = call(f, "admin.vm.property.GetAll", "", "work", "");
    char *saved = strdup(before);

    app_free(&f->app);
    struct qerror err = { 0 };
    assert_int_equal(persist_load(&f->app, f->db, &err), 0);
    assert_string_equal(call(f, "admin.vm.property.GetAll", "", "work", ""), saved);
    free(saved);
    assert_string_equal(call(f, "admin.vm.feature.Get", "gui", "work", ""), "0:1");
    assert_string_equal(call(f, "admin.vm.tag.List", "", "work", ""),
                        "0:blue-team\ncreated-by-dom0\n");
    assert_string_equal(call(f, "admin.vm.notes.Get", "", "work", ""), "0:hello");
    assert_string_equal(call(f, "admin.vm.firewall.Get", "", "work", ""), "0:action=drop\n");
    assert_string_equal(call(f, "admin.label.Index", "pink", "dom0", ""), "0:9");
}

static void test_dispvm_rules(void **state)
{
    struct fixture *f = *state;
    create_basics(f);
    assert_string_equal(call(f, "admin.vm.Create.DispVM", "work", "dom0", "name=d1 label=red"),
                        "2:QubesPropertyValueError:template for DispVM must have "
                        "template_for_dispvms=True");
    assert_string_equal(call(f, "admin.property.Set", "default_dispvm", "dom0", "work"),
                        "2:QubesPropertyValueError:The work qube is not a disposable template "
                        "(template_for_dispvms is False)");
    assert_string_equal(call(f, "admin.vm.property.Set", "template_for_dispvms", "work", "True"),
                        "0:");
    assert_string_equal(call(f, "admin.vm.Create.DispVM", "work", "dom0", "name=d1 label=red"),
                        "0:");
    assert_string_equal(call(f, "admin.vm.property.Set", "template_for_dispvms", "work", "False"),
                        "2:QubesVMInUseError:Cannot change template_for_dispvms to False while "
                        "there are some DispVMs based on this DVM template");
    assert_string_equal(call(f, "admin.vm.property.Get", "default_dispvm", "d1", ""),
                        "0:default=True type=vm work");
}

/* xids: never 0, never one a running qube holds, counting on from the last one and
 * wrapping after XID_MAX; start_time as Python prints libxl's centiseconds. */
static void test_xids_and_start_time(void **state)
{
    (void)state;
    struct qube dom0 = { 0 }, a = { 0 }, b = { 0 }, c = { 0 };
    struct qube *qubes[] = { &dom0, &a, &b, &c };
    struct app app = { .qubes = qubes, .n_qubes = 4 };
    qube_run_begin(&app, &a);
    qube_run_begin(&app, &b);
    assert_int_equal(a.xid, 1);
    assert_int_equal(b.xid, 2);
    qube_run_end(&a);
    assert_int_equal(a.xid, 0);
    qube_run_begin(&app, &a);
    assert_int_equal(a.xid, 3);
    /* at the end of the range: back to 1, skipping the ids in use */
    app.last_xid = XID_MAX - 1;
    qube_run_end(&a);
    b.xid = 1;
    qube_run_begin(&app, &c);
    qube_run_begin(&app, &a);
    assert_int_equal(c.xid, XID_MAX);
    assert_int_equal(a.xid, 2);

    struct buf t = BUF_INIT;
    c.started = (struct timespec){ .tv_sec = 1700000000, .tv_nsec = 120000000 };
    qube_start_time_text(&c, &t);
    assert_string_equal(t.data, "1700000000.12");
    buf_reset(&t);
    c.started.tv_nsec = 509999999;
    qube_start_time_text(&c, &t);
    assert_string_equal(t.data, "1700000000.5");
    buf_reset(&t);
    c.started.tv_nsec = 9999999;
    qube_start_time_text(&c, &t);
    assert_string_equal(t.data, "1700000000.0");
    buf_reset(&t);
    qube_run_end(&c);
    qube_start_time_text(&c, &t);
    assert_true(t.len == 0);
    buf_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fresh_root_has_dom0_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_template_inheritance, setup, teardown),
        cmocka_unit_test_setup_teardown(test_netvm_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_validation_changes_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remove_refused_while_referenced, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_keeps_everything, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dispvm_rules, setup, teardown),
        cmocka_unit_test(test_xids_and_start_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
