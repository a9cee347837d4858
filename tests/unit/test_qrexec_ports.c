/* Data ports of qrexec-daemon: calls qubes start never take dom0's reserved ports, one source
 * qube never more than its share, and released ports come back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "qrexec/ports.h"

static const struct qrexec_port_claim dom0 = { .by_qube = false };

static struct qrexec_port_claim qube(uint32_t domid)
{
    return (struct qrexec_port_claim){ .by_qube = true, .source = domid };
}

static uint32_t take_ok(struct qrexec_ports *p, struct qrexec_port_claim c)
{
    uint32_t port = 0;
    const char *why = NULL;
    assert_int_equal(qrexec_ports_take(p, &c, &port, &why), 0);
    assert_true(qrexec_port_valid(port));
    assert_true(qrexec_ports_in_use(p, port));
    return port;
}

static void take_refused(struct qrexec_ports *p, struct qrexec_port_claim c, const char *reason)
{
    uint32_t port = 0;
    const char *why = NULL;
    assert_int_equal(qrexec_ports_take(p, &c, &port, &why), -1);
    assert_string_equal(why, reason);
}

static void test_limits_are_consistent(void **state)
{
    (void)state;
    assert_true(QREXEC_DOM0_RESERVED_PORTS > 0);
    assert_true(QREXEC_MAX_CALLS_PER_SOURCE < QREXEC_QUBE_PORTS);
    assert_int_equal(QREXEC_QUBE_PORTS + QREXEC_DOM0_RESERVED_PORTS, QREXEC_MAX_CLIENTS);
}

static void test_per_source_cap(void **state)
{
    (void)state;
    struct qrexec_ports p = { 0 };
    uint32_t first = take_ok(&p, qube(5));
    assert_int_equal(first, QREXEC_BASE_DATA_PORT);
    for (uint32_t i = 1; i < QREXEC_MAX_CALLS_PER_SOURCE; i++)
        take_ok(&p, qube(5));
    assert_int_equal(qrexec_ports_held_by(&p, 5), QREXEC_MAX_CALLS_PER_SOURCE);
    take_refused(&p, qube(5), "the source qube holds its maximum of calls");
    /* other sources and dom0 are not affected */
    take_ok(&p, qube(6));
    uint32_t d = take_ok(&p, dom0);
    assert_int_equal(qrexec_ports_held_by(&p, 6), 1);
    /* one call of source 5 ends: it may start one more */
    assert_true(qrexec_ports_release(&p, first));
    assert_false(qrexec_ports_release(&p, first));
    assert_int_equal(take_ok(&p, qube(5)), first);
    take_refused(&p, qube(5), "the source qube holds its maximum of calls");
    /* dom0's ports count for no qube */
    assert_true(qrexec_ports_release(&p, d));
    assert_int_equal(p.n_by_qube, QREXEC_MAX_CALLS_PER_SOURCE + 1);
}

static void test_dom0_reserve(void **state)
{
    (void)state;
    struct qrexec_ports p = { 0 };
    uint32_t n = 0;
    for (uint32_t src = 1; n < QREXEC_QUBE_PORTS; src++)
        for (uint32_t i = 0; i < QREXEC_MAX_CALLS_PER_SOURCE && n < QREXEC_QUBE_PORTS; i++, n++)
            take_ok(&p, qube(src));
    assert_int_equal(p.n_by_qube, QREXEC_QUBE_PORTS);
    take_refused(&p, qube(100), "the ports left are dom0's");
    /* dom0 gets every port that is left, then none */
    uint32_t last = 0;
    for (uint32_t i = 0; i < QREXEC_DOM0_RESERVED_PORTS; i++)
        last = take_ok(&p, dom0);
    assert_int_equal(last, QREXEC_BASE_DATA_PORT + QREXEC_MAX_CLIENTS - 1);
    take_refused(&p, dom0, "no free data port");
    take_refused(&p, qube(100), "the ports left are dom0's");
    /* a port dom0 frees is for anyone under the limits; one a qube frees too */
    assert_true(qrexec_ports_release(&p, last));
    take_refused(&p, qube(100), "the ports left are dom0's");
    assert_int_equal(take_ok(&p, dom0), last);
    assert_true(qrexec_ports_release(&p, QREXEC_BASE_DATA_PORT));
    assert_int_equal(take_ok(&p, qube(100)), QREXEC_BASE_DATA_PORT);
}

static void test_dom0_alone_may_use_every_port(void **state)
{
    (void)state;
    struct qrexec_ports p = { 0 };
    for (uint32_t i = 0; i < QREXEC_MAX_CLIENTS; i++)
        assert_int_equal(take_ok(&p, dom0), QREXEC_BASE_DATA_PORT + i);
    take_refused(&p, dom0, "no free data port");
    take_refused(&p, qube(1), "no free data port");
}

static void test_release_of_invalid_ports(void **state)
{
    (void)state;
    struct qrexec_ports p = { 0 };
    assert_false(qrexec_ports_release(&p, 0));
    assert_false(qrexec_ports_release(&p, QREXEC_BASE_DATA_PORT - 1));
    assert_false(qrexec_ports_release(&p, QREXEC_BASE_DATA_PORT + QREXEC_MAX_CLIENTS));
    assert_false(qrexec_ports_release(&p, UINT32_MAX));
    assert_false(qrexec_ports_in_use(&p, UINT32_MAX));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_limits_are_consistent),
        cmocka_unit_test(test_per_source_cap),
        cmocka_unit_test(test_dom0_reserve),
        cmocka_unit_test(test_dom0_alone_may_use_every_port),
        cmocka_unit_test(test_release_of_invalid_ports),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
