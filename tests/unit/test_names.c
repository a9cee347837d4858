/* Name rules of qubes, tags, features and labels, with Qubes' wording. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "common/names.h"

static void expect_name_error(const char *name, const char *message)
{
    struct qerror err = { 0 };
    assert_int_equal(validate_qube_name(name, NULL, &err), -1);
    assert_string_equal(qerror_kind_name(&err), "QubesValueError");
    assert_string_equal(err.message, message);
}

static void test_qube_names(void **state)
{
    (void)state;
    struct qerror err = { 0 };
    assert_int_equal(validate_qube_name("work", NULL, &err), 0);
    assert_int_equal(validate_qube_name("sys-net.2_x", NULL, &err), 0);
    assert_int_equal(validate_qube_name("a234567890123456789012345678901", NULL, &err), 0);
    expect_name_error("a2345678901234567890123456789012",
                      "VM name must be shorter than 32 characters");
    expect_name_error("1x", "VM name cannot start with hyphen, underscore, dot or numbers");
    expect_name_error("-x", "VM name cannot start with hyphen, underscore, dot or numbers");
    expect_name_error("_x", "VM name cannot start with hyphen, underscore, dot or numbers");
    expect_name_error("a b", "VM name contains illegal characters");
    expect_name_error("a+b", "VM name contains illegal characters");
    expect_name_error("", "VM name contains illegal characters");
    expect_name_error("\xc3\xa9t\xc3\xa9", "VM name contains illegal characters");
    expect_name_error("none", "VM name cannot be 'none' nor 'default'");
    expect_name_error("default", "VM name cannot be 'none' nor 'default'");
    expect_name_error("Domain-0", "VM name cannot be 'Domain-0'");
    expect_name_error("work-dm", "VM name cannot end with -dm");
}

static void test_tags_features_labels(void **state)
{
    (void)state;
    assert_true(tag_name_ok("created-by-dom0"));
    assert_true(tag_name_ok("a_b"));
    assert_false(tag_name_ok(""));
    assert_false(tag_name_ok("a.b"));
    assert_false(tag_name_ok("a b"));
    assert_true(feature_name_ok("service.qubes-firewall"));
    assert_false(feature_name_ok("a/b"));
    assert_true(label_name_ok("red", true));
    assert_true(label_name_ok("12", false));
    assert_false(label_name_ok("12", true));
    assert_true(label_color_ok("0x12abEF"));
    assert_false(label_color_ok("0X12abef"));
    assert_false(label_color_ok("0x12abe"));
    assert_false(label_color_ok("0x12abeg"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_qube_names),
        cmocka_unit_test(test_tags_features_labels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
