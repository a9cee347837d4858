/* Admin API framing: request splitting, answers and events. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/admin_wire.h"

static int parse(const char *bytes, size_t len, struct admin_request *req, char *storage)
{
    memcpy(storage, bytes, len);
    return admin_request_parse(storage, len, req);
}

static void test_request_basic(void **state)
{
    (void)state;
    static const char raw[] = "admin.vm.property.Set+netvm dom0 name work\0sys-firewall";
    char buf[sizeof(raw)];
    struct admin_request req;
    assert_int_equal(parse(raw, sizeof(raw) - 1, &req, buf), 0);
    assert_string_equal(req.method, "admin.vm.property.Set");
    assert_string_equal(req.arg, "netvm");
    assert_string_equal(req.src, "dom0");
    assert_string_equal(req.dest, "work");
    assert_int_equal(req.payload_len, 12);
    assert_memory_equal(req.payload, "sys-firewall", 12);
}

static void test_request_arg_keeps_plus(void **state)
{
    (void)state;
    static const char raw[] = "admin.vm.Shutdown+force+wait dom0 name work\0";
    char buf[sizeof(raw)];
    struct admin_request req;
    assert_int_equal(parse(raw, sizeof(raw) - 1, &req, buf), 0);
    assert_string_equal(req.method, "admin.vm.Shutdown");
    assert_string_equal(req.arg, "force+wait");
    assert_int_equal(req.payload_len, 0);
}

static void test_request_no_plus_and_keyword(void **state)
{
    (void)state;
    static const char raw[] = "admin.vm.List dom0 keyword adminvm\0";
    char buf[sizeof(raw)];
    struct admin_request req;
    assert_int_equal(parse(raw, sizeof(raw) - 1, &req, buf), 0);
    assert_string_equal(req.method, "admin.vm.List");
    assert_string_equal(req.arg, "");
    assert_string_equal(req.dest, "dom0");
}

static void test_request_framing_errors(void **state)
{
    (void)state;
    char buf[128];
    struct admin_request req;
    /* no NUL */
    assert_int_equal(parse("admin.vm.List+ dom0 name dom0", 29, &req, buf), -1);
    /* too few fields */
    assert_int_equal(parse("admin.vm.List+ dom0 name\0", 25, &req, buf), -1);
    /* other destination types */
    assert_int_equal(parse("admin.vm.List+ dom0 keyword other\0", 34, &req, buf), -1);
    assert_int_equal(parse("admin.vm.List+ dom0 uuid x\0", 27, &req, buf), -1);
    /* control bytes in the header */
    assert_int_equal(parse("admin.vm.List+ dom0 name d\x01m0\0", 29, &req, buf), -1);
    assert_int_equal(parse("", 0, &req, buf), -1);
}

static void test_request_dest_takes_rest(void **state)
{
    (void)state;
    static const char raw[] = "m+ dom0 name a b\0";
    char buf[sizeof(raw)];
    struct admin_request req;
    assert_int_equal(parse(raw, sizeof(raw) - 1, &req, buf), 0);
    assert_string_equal(req.dest, "a b");
}

static void test_build_request(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    admin_request_build(&b, "admin.vm.List", "", "dom0", "", 0);
    assert_int_equal(b.len, 30);
    assert_memory_equal(b.data, "admin.vm.List+ dom0 name dom0\0", 30);
    buf_free(&b);
}

static void test_responses(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    admin_response_exception(&b, "QubesVMNotFoundError", "", "No such domain: 'foo'");
    static const char want[] = "2\0QubesVMNotFoundError\0\0No such domain: 'foo'\0";
    assert_int_equal(b.len, sizeof(want) - 1);
    assert_memory_equal(b.data, want, sizeof(want) - 1);

    struct admin_response r;
    struct qerror err = { 0 };
    assert_int_equal(admin_response_parse(b.data, b.len, &r, &err), 0);
    assert_int_equal(r.type, ADMIN_MSG_EXCEPTION);
    assert_string_equal(r.kind, "QubesVMNotFoundError");
    assert_string_equal(r.message, "No such domain: 'foo'");

    buf_reset(&b);
    admin_response_ok(&b, "abc", 3);
    assert_int_equal(admin_response_parse(b.data, b.len, &r, &err), 0);
    assert_int_equal(r.type, ADMIN_MSG_OK);
    assert_int_equal(r.content_len, 3);

    assert_int_equal(admin_response_parse("", 0, &r, &err), -1);
    assert_string_equal(qerror_kind_name(&err), "QubesDaemonAccessError");
    assert_int_equal(admin_response_parse("x\0", 2, &r, &err), -1);
    assert_string_equal(err.message, "Invalid response format");
    assert_int_equal(admin_response_parse("2\0Kind\0", 7, &r, &err), -1);
    buf_free(&b);
}

static void test_events(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    const char *keys[] = { "name", "newvalue", "oldvalue" };
    const char *values[] = { "netvm", "sys-firewall", "sys-net" };
    admin_event_build(&b, "work", "property-set:netvm", 3, keys, values);
    static const char want[] =
        "1\0work\0property-set:netvm\0name\0netvm\0newvalue\0sys-firewall\0oldvalue\0sys-net\0\0";
    assert_int_equal(b.len, sizeof(want) - 1);
    assert_memory_equal(b.data, want, sizeof(want) - 1);

    struct admin_event ev;
    assert_int_equal(admin_event_parse(b.data, b.len - 1, &ev), 0); /* incomplete */
    assert_int_equal(admin_event_parse(b.data, b.len, &ev), (long)b.len);
    assert_string_equal(ev.subject, "work");
    assert_string_equal(ev.name, "property-set:netvm");
    assert_int_equal(ev.n_kwargs, 3);
    assert_string_equal(ev.keys[2], "oldvalue");
    assert_string_equal(ev.values[2], "sys-net");

    buf_reset(&b);
    admin_event_build(&b, "", "connection-established", 0, NULL, NULL);
    assert_int_equal(b.len, 27);
    assert_memory_equal(b.data, "1\0\0connection-established\0\0", 27);
    assert_int_equal(admin_event_parse(b.data, b.len, &ev), 27);
    assert_int_equal(ev.n_kwargs, 0);
    assert_int_equal(admin_event_parse("2\0", 2, &ev), -1);
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_basic),
        cmocka_unit_test(test_request_arg_keeps_plus),
        cmocka_unit_test(test_request_no_plus_and_keyword),
        cmocka_unit_test(test_request_framing_errors),
        cmocka_unit_test(test_request_dest_takes_rest),
        cmocka_unit_test(test_build_request),
        cmocka_unit_test(test_responses),
        cmocka_unit_test(test_events),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
