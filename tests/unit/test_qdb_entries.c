/* A provider's firewall entries of one client (qdb_entries_firewall): Qubes'
 * key names and order, rule numbers kept across expired rules, the next
 * expiry, and the trigger written last. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/buf.h"
#include "qubesd/qdb_entries.h"

static char *joined(const struct qdb_entries *e)
{
    struct buf b = BUF_INIT;
    for (size_t i = 0; i < e->n; i++)
        buf_printf(&b, "%s=%s\n", e->v[i].key, e->v[i].value);
    return buf_steal(&b);
}

static void test_no_rules_is_qubes_default_accept(void **state)
{
    (void)state;
    struct qube q = { 0 };
    struct qdb_entries e;
    long long next;
    qdb_entries_firewall(&q, "10.137.0.3", 1000, &e, &next);
    char *text = joined(&e);
    assert_string_equal(text, "/qubes-firewall/10.137.0.3/policy=drop\n"
                              "/qubes-firewall/10.137.0.3/0000=action=accept\n"
                              "/qubes-firewall/10.137.0.3=\n");
    assert_int_equal(next, 0);
    free(text);
    qdb_entries_free(&e);
}

static void test_expired_rules_leave_their_numbers(void **state)
{
    (void)state;
    struct qube q = { .firewall = "action=accept proto=tcp dstports=22 expire=900\n"
                                  "action=accept proto=tcp dstports=80 expire=2000\n"
                                  "action=accept proto=tcp dstports=443 expire=1500\n"
                                  "action=drop\n" };
    struct qdb_entries e;
    long long next;
    qdb_entries_firewall(&q, "10.137.0.9", 1000, &e, &next);
    char *text = joined(&e);
    assert_string_equal(text,
                        "/qubes-firewall/10.137.0.9/policy=drop\n"
                        "/qubes-firewall/10.137.0.9/0001=action=accept proto=tcp dstports=80-80\n"
                        "/qubes-firewall/10.137.0.9/0002=action=accept proto=tcp dstports=443-443\n"
                        "/qubes-firewall/10.137.0.9/0003=action=drop\n"
                        "/qubes-firewall/10.137.0.9=\n");
    assert_int_equal(next, 1500); /* the soonest of those still to come */
    free(text);
    qdb_entries_free(&e);
}

static void test_a_rule_expires_after_its_second(void **state)
{
    (void)state;
    struct qube q = { .firewall = "action=accept expire=1000\naction=drop\n" };
    struct qdb_entries e;
    long long next;
    qdb_entries_firewall(&q, "10.137.0.3", 1000, &e, &next);
    assert_int_equal(e.n, 4); /* policy, 0000, 0001, trigger: still there at 1000 */
    assert_int_equal(next, 1000);
    qdb_entries_free(&e);
    qdb_entries_firewall(&q, "10.137.0.3", 1001, &e, &next);
    assert_int_equal(e.n, 3);
    assert_int_equal(next, 0);
    qdb_entries_free(&e);
}

/* the tree is the client's IPv4 address's: Qubes' qdb_entries(addr_family=4) */
static void test_dst6_rules_stay_out_of_the_ipv4_tree(void **state)
{
    (void)state;
    struct qube q = { .firewall = "action=accept dst6=2001:db8::/32\n"
                                  "action=accept dst4=10.0.0.0/8\n"
                                  "action=drop\n" };
    struct qdb_entries e;
    long long next;
    qdb_entries_firewall(&q, "10.137.0.3", 1000, &e, &next);
    char *text = joined(&e);
    assert_string_equal(text, "/qubes-firewall/10.137.0.3/policy=drop\n"
                              "/qubes-firewall/10.137.0.3/0001=action=accept dst4=10.0.0.0/8\n"
                              "/qubes-firewall/10.137.0.3/0002=action=drop\n"
                              "/qubes-firewall/10.137.0.3=\n");
    free(text);
    qdb_entries_free(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_rules_is_qubes_default_accept),
        cmocka_unit_test(test_expired_rules_leave_their_numbers),
        cmocka_unit_test(test_a_rule_expires_after_its_second),
        cmocka_unit_test(test_dst6_rules_stay_out_of_the_ipv4_tree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
