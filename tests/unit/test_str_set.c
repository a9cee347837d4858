/* str_set: a sorted set of strings; sorted_lower_bound, the search under it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/str_set.h"

static void expect_items(const struct str_set *s, const char *const *want, size_t n)
{
    assert_int_equal(s->n, n);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(s->items[i], want[i]);
}

static void test_add_has_del(void **state)
{
    (void)state;
    struct str_set s = { 0 };
    assert_false(str_set_has(&s, "a"));
    assert_false(str_set_del(&s, "a"));
    const char *in[] = { "work", "@dispvm", "dom0", "sys-net", "b", "a", "work", "dom0" };
    for (size_t i = 0; i < 8; i++)
        assert_int_equal(str_set_add(&s, in[i]), i < 6);
    const char *sorted[] = { "@dispvm", "a", "b", "dom0", "sys-net", "work" };
    expect_items(&s, sorted, 6);
    assert_true(str_set_has(&s, "dom0"));
    assert_false(str_set_has(&s, "dom"));
    assert_true(str_set_del(&s, "a"));
    assert_false(str_set_del(&s, "a"));
    const char *after[] = { "@dispvm", "b", "dom0", "sys-net", "work" };
    expect_items(&s, after, 5);
    /* an item of the set itself can name what to remove */
    while (s.n)
        assert_true(str_set_del(&s, s.items[s.n / 2]));
    str_set_free(&s);
    assert_null(s.items);
    assert_int_equal(s.n, 0);
}

static void test_many(void **state)
{
    (void)state;
    struct str_set s = { 0 };
    char name[16];
    for (int i = 999; i >= 0; i--) {
        snprintf(name, sizeof(name), "q%03d", (i * 7) % 1000);
        assert_true(str_set_add(&s, name));
    }
    assert_int_equal(s.n, 1000);
    for (size_t i = 1; i < s.n; i++)
        assert_true(strcmp(s.items[i - 1], s.items[i]) < 0);
    str_set_free(&s);
}

static const char *at(const void *array, size_t i)
{
    return ((const char *const *)array)[i];
}

static void test_lower_bound(void **state)
{
    (void)state;
    const char *a[] = { "b", "d", "f" };
    bool found;
    assert_int_equal(sorted_lower_bound(a, 0, 3, "a", at, &found), 0);
    assert_false(found);
    assert_int_equal(sorted_lower_bound(a, 0, 3, "d", at, &found), 1);
    assert_true(found);
    assert_int_equal(sorted_lower_bound(a, 0, 3, "e", at, &found), 2);
    assert_false(found);
    assert_int_equal(sorted_lower_bound(a, 0, 3, "g", at, &found), 3);
    assert_false(found);
    /* a sub-range: entries before lo are not looked at */
    assert_int_equal(sorted_lower_bound(a, 1, 3, "b", at, &found), 1);
    assert_false(found);
    assert_int_equal(sorted_lower_bound(a, 0, 0, "b", at, &found), 0);
    assert_false(found);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_has_del),
        cmocka_unit_test(test_many),
        cmocka_unit_test(test_lower_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
