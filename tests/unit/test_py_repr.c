/* py_repr: Python's repr() of a str, quote choice and escapes as CPython writes them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/py_repr.h"

static void expect_repr(const char *s, size_t len, const char *want)
{
    struct buf b = BUF_INIT;
    py_repr(&b, s, len);
    assert_string_equal(b.data, want);
    buf_free(&b);
}

static void test_quotes(void **state)
{
    (void)state;
    expect_repr("abc", 3, "'abc'");
    expect_repr("", 0, "''");
    expect_repr("it's", 4, "\"it's\"");
    expect_repr("say \"hi\"", 8, "'say \"hi\"'");
    /* both quotes: single quotes, the single one escaped */
    expect_repr("a'\"b", 4, "'a\\'\"b'");
}

static void test_escapes(void **state)
{
    (void)state;
    expect_repr("a'\"\\\x01\n", 6, "'a\\'\"\\\\\\x01\\n'");
    expect_repr("\t\r\n", 3, "'\\t\\r\\n'");
    expect_repr("\x7f\x80\xff", 3, "'\\x7f\\x80\\xff'");
    expect_repr("a\0b", 3, "'a\\x00b'");
    expect_repr(" ~", 2, "' ~'");
}

static void test_dup(void **state)
{
    (void)state;
    char *r = py_repr_dup("maybe");
    assert_string_equal(r, "'maybe'");
    free(r);
    r = py_repr_dup("");
    assert_string_equal(r, "''");
    free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quotes),
        cmocka_unit_test(test_escapes),
        cmocka_unit_test(test_dup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
