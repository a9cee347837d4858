/* The event loop: a watch removed while a batch is dispatched is never
 * called again in that batch, however many are removed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/loop.h"

#define N_READY LOOP_BATCH
#define N_OTHER 1000 /* removed too, beyond any fixed list */

struct fixture {
    struct loop loop;
    struct loop_watch ready[N_READY];
    struct loop_watch other[N_OTHER];
    int calls;
};

static void on_ready(struct loop_watch *w, uint32_t events)
{
    (void)events;
    struct fixture *f = w->ctx;
    f->calls++;
    /* the first one called removes every other watch */
    for (int i = 0; i < N_OTHER; i++)
        loop_del(&f->loop, &f->other[i]);
    for (int i = 0; i < N_READY; i++)
        if (&f->ready[i] != w)
            loop_del(&f->loop, &f->ready[i]);
}

static void test_removed_watches_are_not_called(void **state)
{
    (void)state;
    static struct fixture f;
    assert_int_equal(loop_init(&f.loop), 0);
    for (int i = 0; i < N_OTHER; i++)
        f.other[i] = (struct loop_watch){ .fd = -1 };
    for (int i = 0; i < N_READY; i++) {
        int fd = eventfd(1, EFD_CLOEXEC); /* readable at once */
        assert_true(fd >= 0);
        f.ready[i] = (struct loop_watch){ .fd = fd, .fn = on_ready, .ctx = &f };
        assert_int_equal(loop_add(&f.loop, &f.ready[i], EPOLLIN), 0);
    }
    assert_int_equal(loop_run_once(&f.loop, 1000), 0);
    assert_int_equal(f.calls, 1);
    for (int i = 0; i < N_READY; i++)
        close(f.ready[i].fd);
    loop_close(&f.loop);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_removed_watches_are_not_called),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
