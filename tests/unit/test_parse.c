/* parse_ll and parse_bool: the one strict integer and bool parser, and its flags. */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "common/parse.h"

static long long ok_ll(const char *s, long long min, long long max, unsigned flags)
{
    long long v = 12345;
    assert_int_equal(parse_ll(s, min, max, flags, &v), 0);
    return v;
}

static void bad_ll(const char *s, long long min, long long max, unsigned flags, int e)
{
    long long v = 12345;
    errno = 0;
    assert_int_equal(parse_ll(s, min, max, flags, &v), -1);
    assert_int_equal(errno, e);
    assert_int_equal(v, 12345);
}

static void test_ll_plain(void **state)
{
    (void)state;
    assert_int_equal(ok_ll("400", LLONG_MIN, LLONG_MAX, 0), 400);
    assert_int_equal(ok_ll("-1", LLONG_MIN, LLONG_MAX, 0), -1);
    assert_int_equal(ok_ll("0", 0, 0, 0), 0);
    assert_int_equal(ok_ll("007", 0, 10, 0), 7);
    assert_int_equal(ok_ll("9223372036854775807", LLONG_MIN, LLONG_MAX, 0), LLONG_MAX);
    assert_true(ok_ll("-9223372036854775808", LLONG_MIN, LLONG_MAX, 0) == LLONG_MIN);
    const char *junk[] = { "",   "-",    "+",   "1x",  "x1",    " 1",  "1 ",  "\t1", "1\n",
                           "+1", "0x10", "1.5", "1e3", "1_000", "--1", "-+1", "٣" };
    for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++)
        bad_ll(junk[i], LLONG_MIN, LLONG_MAX, 0, EINVAL);
    bad_ll("9223372036854775808", LLONG_MIN, LLONG_MAX, 0, ERANGE);
    bad_ll("-9223372036854775809", LLONG_MIN, LLONG_MAX, 0, ERANGE);
    bad_ll("99999999999999999999", LLONG_MIN, LLONG_MAX, 0, ERANGE);
    bad_ll("99999999999999999999x", LLONG_MIN, LLONG_MAX, 0, EINVAL);
}

static void test_ll_range(void **state)
{
    (void)state;
    assert_int_equal(ok_ll("65535", 0, 65535, 0), 65535);
    bad_ll("65536", 0, 65535, 0, ERANGE);
    assert_int_equal(ok_ll("-1", -1, 10, 0), -1);
    bad_ll("-2", -1, 10, 0, ERANGE);
    bad_ll("0", 1, 10, 0, ERANGE);
    /* a '-' only where the range has negative numbers */
    bad_ll("-1", 0, 10, 0, EINVAL);
    bad_ll("-0", 0, 10, 0, EINVAL);
}

static void test_ll_flags(void **state)
{
    (void)state;
    assert_int_equal(ok_ll("+640", LLONG_MIN, LLONG_MAX, PARSE_PLUS), 640);
    assert_int_equal(ok_ll("-640", LLONG_MIN, LLONG_MAX, PARSE_PLUS), -640);
    bad_ll("+-1", LLONG_MIN, LLONG_MAX, PARSE_PLUS, EINVAL);
    bad_ll(" +1", LLONG_MIN, LLONG_MAX, PARSE_PLUS, EINVAL);
    assert_int_equal(ok_ll(" 512 ", 0, 1000, PARSE_SPACE), 512);
    assert_int_equal(ok_ll("\t-5\n", -10, 10, PARSE_SPACE), -5);
    bad_ll(" +5", -10, 10, PARSE_SPACE, EINVAL);
    bad_ll("- 5", -10, 10, PARSE_PYTHON_INT, EINVAL);
    bad_ll("1 2", 0, 100, PARSE_PYTHON_INT, EINVAL);
    bad_ll("  ", 0, 100, PARSE_PYTHON_INT, EINVAL);
    assert_int_equal(ok_ll(" +5 ", -10, 10, PARSE_PYTHON_INT), 5);
    assert_int_equal(ok_ll("0", 0, 10, PARSE_NO_LEADING_ZEROS), 0);
    assert_int_equal(ok_ll("10", 0, 10, PARSE_NO_LEADING_ZEROS), 10);
    bad_ll("01", 0, 10, PARSE_NO_LEADING_ZEROS, EINVAL);
    bad_ll("-01", -10, 10, PARSE_NO_LEADING_ZEROS, EINVAL);
    bad_ll("00", 0, 10, PARSE_NO_LEADING_ZEROS, EINVAL);
}

static void expect_bool(const char *s, unsigned flags, int rc, bool want)
{
    bool v = !want;
    errno = 0;
    assert_int_equal(parse_bool(s, flags, &v), rc);
    if (rc == 0)
        assert_int_equal(v, want);
    else
        assert_int_equal(errno, EINVAL);
}

static void test_bool(void **state)
{
    (void)state;
    const char *yes[] = { "1", "yes", "true", "on", "TRUE", "True", "Yes", "ON" };
    const char *no[] = { "0", "no", "false", "off", "FALSE", "False", "No", "OFF" };
    for (size_t i = 0; i < 8; i++) {
        expect_bool(yes[i], 0, 0, true);
        expect_bool(no[i], 0, 0, false);
    }
    const char *bad[] = { "", "maybe", "2", " true", "true ", "y", "n", "01", "None" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_bool(bad[i], 0, -1, false);
    expect_bool("", PARSE_BOOL_EMPTY_FALSE, 0, false);
    expect_bool("on", PARSE_BOOL_EMPTY_FALSE, 0, true);
    expect_bool(" ", PARSE_BOOL_EMPTY_FALSE, -1, false);
    expect_bool("yes", PARSE_BOOL_YES_NO, 0, true);
    expect_bool("no", PARSE_BOOL_YES_NO, 0, false);
    expect_bool("Yes", PARSE_BOOL_YES_NO, -1, false);
    expect_bool("true", PARSE_BOOL_YES_NO, -1, false);
    expect_bool("1", PARSE_BOOL_YES_NO, -1, false);
    expect_bool("", PARSE_BOOL_YES_NO, -1, false);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ll_plain),
        cmocka_unit_test(test_ll_range),
        cmocka_unit_test(test_ll_flags),
        cmocka_unit_test(test_bool),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
