/* mono_ns, mono_ms and mono_ms_left: one clock, consistent units, deadlines that pass. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "common/mono_time.h"

static void test_units_agree(void **state)
{
    (void)state;
    int64_t ms = mono_ms();
    int64_t ns = mono_ns();
    int64_t ms2 = mono_ms();
    assert_true(ms > 0);
    assert_true(ms <= ns / 1000000 && ns / 1000000 <= ms2);
    for (int i = 0; i < 1000; i++) {
        int64_t next = mono_ns();
        assert_true(next >= ns);
        ns = next;
    }
}

static void test_deadline(void **state)
{
    (void)state;
    int64_t deadline = mono_ms() + 30;
    int64_t left = mono_ms_left(deadline);
    assert_true(left > 0 && left <= 30);
    struct timespec ts = { .tv_nsec = 40 * 1000000 };
    nanosleep(&ts, NULL);
    assert_true(mono_ms_left(deadline) <= -10);
    assert_true(mono_ms_left(mono_ms() - 5) <= -5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_units_agree),
        cmocka_unit_test(test_deadline),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
