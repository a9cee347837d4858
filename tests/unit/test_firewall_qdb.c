/* A client's rules as its firewall qube reads them from qubesdb (upstream
 * test_firewall.py: test_read_rules, test_is_blocked), and /connected-ips. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <string.h>

#include "common/cleanup.h"
#include "net/firewall_match.h"
#include "net/firewall_qdb.h"

#define E(k, v) \
    { \
        k, v, sizeof(v) - 1 \
    }

static int read_rules(const struct fw_qdb_entry *e, size_t n, struct fw_rule **rules, size_t *nr,
                      char *why)
{
    struct qerror err = { 0 };
    int rc = fw_qdb_client_rules(e, n, rules, nr, &err);
    if (why)
        strcpy(why, rc < 0 ? err.message : "");
    return rc;
}

static void test_rules_in_order_then_the_policy(void **state)
{
    (void)state;
    /* out of order on purpose: the numbers decide */
    const struct fw_qdb_entry e[] = {
        E("0002", "action=drop proto=udp"),
        E("policy", "accept"),
        E("0000", "action=drop proto=tcp dstports=80-80"),
        E("0001", "action=accept proto=udp specialtarget=dns"),
    };
    struct fw_rule *rules;
    size_t n;
    assert_int_equal(read_rules(e, 4, &rules, &n, NULL), 0);
    assert_int_equal(n, 4);
    assert_int_equal(rules[0].proto, FW_PROTO_TCP);
    assert_int_equal(rules[0].port_first, 80);
    assert_true(rules[1].specialtarget_dns);
    assert_int_equal(rules[2].action, FW_ACTION_DROP);
    assert_int_equal(rules[3].action, FW_ACTION_ACCEPT);
    assert_int_equal(rules[3].proto, FW_PROTO_NONE);
    fw_rules_free(rules, n);

    const struct fw_qdb_entry only[] = { E("policy", "drop") };
    assert_int_equal(read_rules(only, 1, &rules, &n, NULL), 0);
    assert_int_equal(n, 1);
    assert_int_equal(rules[0].action, FW_ACTION_DROP);
    fw_rules_free(rules, n);
}

static void test_what_blocks_the_client(void **state)
{
    (void)state;
    static const struct {
        struct fw_qdb_entry e[2];
        const char *why;
    } bad[] = {
        { { E("0000", "action=accept proto=tcp"), E("0001", "action=drop") },
          "no 'policy' defined" },
        { { E("policy", "drop"), E("0000", "proto=tcp") }, "rule 0000: missing action" },
        { { E("policy", "drop"), E("000", "action=accept") }, "unexpected non-rule found: 000" },
        { { E("policy", "drop"), E("0000/x", "action=accept") },
          "unexpected non-rule found: 0000/x" },
        { { E("policy", "allow"), E("0000", "action=accept") },
          "invalid policy (expected accept or drop)" },
        { { E("policy", "drop"), E("0000", "action=accept expire=1") },
          "rule 0000: unsupported rule option 'expire'" },
        { { E("policy", "drop"), E("0000", "action=accept comment=a b") },
          "rule 0000: unsupported rule option 'comment'" },
        { { E("policy", "drop"), E("0000", "action=accept dstname=a.b") },
          "rule 0000: unsupported rule option 'dstname'" },
        { { E("policy", "drop"), E("0000", "action=accept  proto=tcp") },
          "rule 0000: unsupported rule option ''" },
        { { E("policy", "drop"), E("0000", "action=accept dst6=::1") },
          "rule 0000: dst6 rule found for IPv4 address" },
        { { E("policy", "drop"), E("0000", "action=accept dst4=::1") },
          "rule 0000: dst6 rule found for IPv4 address" },
        { { E("policy", "drop"), E("0000", "action=accept dst4=a.example") },
          "rule 0000: a hostname as dst4 or dst6" },
        { { E("policy", "drop"), E("0000", "action=accept proto=sctp") },
          "rule 0000: invalid proto 'sctp' (expected tcp, udp or icmp)" },
        { { E("policy", "drop"), E("0000", "action=drop") }, NULL }, /* fine */
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        struct fw_rule *rules = NULL;
        size_t n = 0;
        char why[QERROR_MAX];
        int rc = read_rules(bad[i].e, 2, &rules, &n, why);
        if (!bad[i].why) {
            assert_int_equal(rc, 0);
            fw_rules_free(rules, n);
            continue;
        }
        assert_int_equal(rc, -1);
        assert_null(rules);
        assert_string_equal(why, bad[i].why);
    }
    /* a NUL inside a value, and the same number twice */
    const struct fw_qdb_entry nul[] = { E("policy", "drop"), { "0000", "action=drop\0x", 13 } };
    struct fw_rule *rules;
    size_t n;
    char why[QERROR_MAX];
    assert_int_equal(read_rules(nul, 2, &rules, &n, why), -1);
    assert_string_equal(why, "rule 0000: a NUL byte in the rule");
    const struct fw_qdb_entry twice[] = { E("policy", "drop"), E("0007", "action=drop"),
                                          E("0007", "action=accept") };
    assert_int_equal(read_rules(twice, 3, &rules, &n, why), -1);
    assert_string_equal(why, "rule 0007 given twice");
}

static void test_client_addresses(void **state)
{
    (void)state;
    assert_true(fw_qdb_ip_ok("10.137.0.3", 10));
    assert_false(fw_qdb_ip_ok("10.137.0.03", 11));
    assert_false(fw_qdb_ip_ok("10.137.0", 8));
    assert_false(fw_qdb_ip_ok("fd09::3", 7));
    assert_false(fw_qdb_ip_ok("", 0));
    assert_false(fw_qdb_ip_ok("10.137.0.3\0", 11));

    char(*ips)[FW_QDB_IP_MAX];
    size_t n;
    struct qerror err = { 0 };
    const char list[] = " 10.137.0.1  10.137.0.2\n";
    assert_int_equal(fw_qdb_connected_ips(list, sizeof(list) - 1, &ips, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(ips[0], "10.137.0.1");
    assert_string_equal(ips[1], "10.137.0.2");
    free(ips);
    assert_int_equal(fw_qdb_connected_ips("", 0, &ips, &n, &err), 0);
    assert_int_equal(n, 0);
    free(ips);
    assert_int_equal(fw_qdb_connected_ips("10.137.0.1 x", 12, &ips, &n, &err), -1);
    assert_string_equal(err.message, "/connected-ips: not an IPv4 address at byte 11");
    assert_int_equal(fw_qdb_connected_ips("10.137.0.1\0", 11, &ips, &n, &err), -1);
}

static struct fw_flow flow(int proto, const char *dst, int dport)
{
    struct fw_flow f = { .proto = (uint8_t)proto };
    inet_pton(AF_INET, dst, &f.dst);
    if (dport >= 0) {
        f.has_dport = true;
        f.dport = (uint16_t)dport;
    }
    return f;
}

static bool blocked(const struct fw_rule *rules, const struct fw_resolved *resolved, size_t n,
                    const struct in_addr *dns, struct fw_flow f)
{
    return fw_flow_blocked(rules, resolved, n, dns, 2, &f);
}

/* upstream's test_is_blocked, for IPv4 */
static void test_which_flows_the_rules_block(void **state)
{
    (void)state;
    const struct fw_qdb_entry e[] = {
        E("0000", "action=drop proto=tcp dstports=80-80"),
        E("0001", "action=drop proto=tcp dstports=90-92"),
        E("0002", "action=drop proto=tcp dsthost=example.com"),
        E("0003", "action=drop dst4=3.3.3.3/32"),
        E("0004", "action=drop dst4=4.4.4.4/24"),
        E("0005", "action=drop proto=udp specialtarget=dns"),
        E("0006", "action=drop proto=icmp icmptype=8"),
        E("policy", "accept"),
    };
    struct fw_rule *rules;
    size_t n;
    assert_int_equal(read_rules(e, ARRAY_SIZE(e), &rules, &n, NULL), 0);
    struct in_addr example[2], dns[2];
    inet_pton(AF_INET, "1.2.3.4", &example[0]);
    inet_pton(AF_INET, "4.3.2.1", &example[1]);
    inet_pton(AF_INET, "10.139.1.1", &dns[0]);
    inet_pton(AF_INET, "10.139.1.2", &dns[1]);
    struct fw_resolved resolved[8] = { [2] = { example, 2 } };
#define BLOCKED(p, d, port) blocked(rules, resolved, n, dns, flow(p, d, port))
    assert_false(BLOCKED(IPPROTO_TCP, "10.0.0.1", 443));
    assert_false(BLOCKED(IPPROTO_UDP, "10.0.0.1", 80));
    assert_true(BLOCKED(IPPROTO_TCP, "10.0.0.1", 80));
    assert_true(BLOCKED(IPPROTO_TCP, "10.0.0.1", 91));
    assert_false(BLOCKED(IPPROTO_TCP, "10.0.0.1", 100)); /* upstream compares text: '100' < '92' */
    assert_true(BLOCKED(IPPROTO_TCP, "1.2.3.4", 123));
    assert_true(BLOCKED(IPPROTO_TCP, "4.3.2.1", 123));
    assert_false(BLOCKED(IPPROTO_UDP, "4.3.2.1", 123));
    assert_true(BLOCKED(IPPROTO_TCP, "3.3.3.3", 123));
    assert_true(BLOCKED(IPPROTO_TCP, "4.4.4.8", 123));
    assert_false(BLOCKED(IPPROTO_TCP, "4.4.5.8", 123));
    assert_true(BLOCKED(IPPROTO_UDP, "10.139.1.1", 53));
    assert_true(BLOCKED(IPPROTO_UDP, "10.139.1.2", 53));
    assert_false(BLOCKED(IPPROTO_TCP, "10.139.1.2", 53));
    assert_false(BLOCKED(IPPROTO_UDP, "10.139.1.3", 53));
    struct fw_flow ping = flow(IPPROTO_ICMP, "9.9.9.9", -1);
    ping.has_icmptype = true;
    ping.icmptype = 8;
    assert_true(fw_flow_blocked(rules, resolved, n, dns, 2, &ping));
    ping.icmptype = 0;
    assert_false(fw_flow_blocked(rules, resolved, n, dns, 2, &ping));
    /* no rule at all: the forward chain's policy */
    assert_true(fw_flow_blocked(rules, resolved, 0, dns, 2, &ping));
#undef BLOCKED
    fw_rules_free(rules, n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rules_in_order_then_the_policy),
        cmocka_unit_test(test_what_blocks_the_client),
        cmocka_unit_test(test_client_addresses),
        cmocka_unit_test(test_which_flows_the_rules_block),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
