/* qvm-firewall rules as the nftables text Qubes' agent writes for them
 * (qubesagent/firewall.py and its test_002), and the table around them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>

#include "common/cleanup.h"
#include "net/firewall_nft.h"

static int resolve(void *ctx, const char *host, struct buf *out, struct qerror *err)
{
    (void)ctx;
    if (strcmp(host, "yum.qubes-os.org") == 0) {
        buf_append_str(out, "193.219.28.150/32");
        return 0;
    }
    return qerror_set(err, ERR_QUBES_EXCEPTION, "cannot resolve %s", host);
}

static void parse(const char *const *lines, size_t n, struct fw_rule *rules)
{
    for (size_t i = 0; i < n; i++) {
        struct qerror err = { 0 };
        assert_int_equal(fw_rule_parse(lines[i], strlen(lines[i]), &rules[i], &err), 0);
    }
}

static void test_rules_as_qubes_writes_them(void **state)
{
    (void)state;
    static const char *const lines[] = {
        "action=accept dst4=1.2.3.0/24 proto=tcp dstports=80-80",
        "action=accept dsthost=yum.qubes-os.org proto=udp dstports=443-1024",
        "action=accept specialtarget=dns",
        "action=drop proto=udp specialtarget=dns",
        "action=drop proto=icmp",
        "action=drop",
    };
    struct fw_rule rules[ARRAY_SIZE(lines)];
    parse(lines, ARRAY_SIZE(lines), rules);
    _cleanup_buf_ struct buf out = BUF_INIT;
    struct qerror err = { 0 };
    assert_int_equal(
        fwnft_client("10.137.0.3", rules, ARRAY_SIZE(rules), resolve, NULL, &out, &err), 0);
    assert_string_equal(
        out.data,
        "table ip qubes-firewall {\n"
        "    chain qbs-10-137-0-3 {\n"
        "    }\n"
        "}\n"
        "flush chain ip qubes-firewall qbs-10-137-0-3\n"
        "table ip qubes-firewall {\n"
        "    chain qbs-10-137-0-3 {\n"
        "        ip protocol tcp ip daddr 1.2.3.0/24 tcp dport 80 accept\n"
        "        ip protocol udp ip daddr { 193.219.28.150/32 } udp dport 443-1024 accept\n"
        "        ip protocol tcp ip daddr @dns-addr tcp dport 53 accept\n"
        "        ip protocol udp ip daddr @dns-addr udp dport 53 accept\n"
        "        ip protocol udp ip daddr @dns-addr udp dport 53 reject with icmp type "
        "admin-prohibited\n"
        "        ip protocol icmp reject with icmp type admin-prohibited\n"
        "        reject with icmp type admin-prohibited\n"
        "    }\n"
        "}\n");
}

static void test_dns_ports_and_ipv6(void **state)
{
    (void)state;
    static const char *const lines[] = {
        "action=accept dst4=10.0.0.0/8 proto=tcp dstports=22-22",
        "action=accept proto=tcp specialtarget=dns dstports=80-80", /* no DNS on 80: left out */
        "action=accept dst6=2001:db8::/32",                         /* no IPv6 qubes: left out */
        "action=accept proto=icmp icmptype=8",
        "action=accept",
    };
    struct fw_rule rules[ARRAY_SIZE(lines)];
    parse(lines, ARRAY_SIZE(lines), rules);
    _cleanup_buf_ struct buf out = BUF_INIT;
    struct qerror err = { 0 };
    assert_int_equal(
        fwnft_client("10.138.1.2", rules, ARRAY_SIZE(rules), resolve, NULL, &out, &err), 0);
    assert_non_null(strstr(out.data,
                           "    chain qbs-10-138-1-2 {\n"
                           "        ip protocol tcp ip daddr 10.0.0.0/8 tcp dport 22 accept\n"
                           "        ip protocol icmp icmp type 8 accept\n"
                           "        accept\n"
                           "    }\n"));
}

static void test_an_unresolvable_host_fails_and_drops_everything(void **state)
{
    (void)state;
    static const char *const lines[] = { "action=accept dsthost=nowhere.example" };
    struct fw_rule rules[1];
    parse(lines, 1, rules);
    _cleanup_buf_ struct buf out = BUF_INIT;
    struct qerror err = { 0 };
    assert_int_equal(fwnft_client("10.137.0.3", rules, 1, resolve, NULL, &out, &err), -1);
    assert_string_equal(err.message, "cannot resolve nowhere.example");
    _cleanup_buf_ struct buf drop = BUF_INIT;
    fwnft_client_drop("10.137.0.3", &drop);
    assert_non_null(strstr(drop.data, "    chain qbs-10-137-0-3 {\n"
                                      "        reject with icmp type admin-prohibited\n"
                                      "    }\n"));
}

static void test_the_table_and_its_jumps(void **state)
{
    (void)state;
    _cleanup_buf_ struct buf out = BUF_INIT;
    fwnft_init(&out);
    assert_non_null(strstr(out.data, "add table ip qubes-firewall\n"
                                     "delete table ip qubes-firewall\n"));
    assert_non_null(
        strstr(out.data, "        type filter hook forward priority 0; policy drop;\n"));
    assert_non_null(strstr(out.data, "        ct state established,related accept\n"
                                     "        meta iifname != \"vif*\" accept\n"
                                     "        jump qubes-forward\n"));
    assert_non_null(strstr(out.data, "    chain prerouting {\n"
                                     "        type filter hook prerouting priority -300; "
                                     "policy accept;\n"));
    _cleanup_buf_ struct buf dns = BUF_INIT;
    const char *servers[] = { "10.139.1.1", "10.139.1.2" };
    fwnft_dns(servers, 2, &dns);
    assert_string_equal(dns.data, "flush set ip qubes-firewall dns-addr\n"
                                  "add element ip qubes-firewall dns-addr { 10.139.1.1 }\n"
                                  "add element ip qubes-firewall dns-addr { 10.139.1.2 }\n");
    _cleanup_buf_ struct buf fwd = BUF_INIT;
    const char *ips[] = { "10.137.0.3", "10.137.0.5" };
    fwnft_forward(ips, 2, &fwd);
    assert_string_equal(
        fwd.data,
        "flush chain ip qubes-firewall qubes-forward\n"
        "add rule ip qubes-firewall qubes-forward ip saddr 10.137.0.3 jump qbs-10-137-0-3\n"
        "add rule ip qubes-firewall qubes-forward ip saddr 10.137.0.5 jump qbs-10-137-0-5\n");
    _cleanup_buf_ struct buf gone = BUF_INIT;
    fwnft_client_remove("10.137.0.5", &gone);
    assert_string_equal(gone.data, "flush chain ip qubes-firewall qbs-10-137-0-5\n"
                                   "delete chain ip qubes-firewall qbs-10-137-0-5\n");
    _cleanup_buf_ struct buf end = BUF_INIT;
    fwnft_cleanup(&end);
    assert_string_equal(end.data, "delete table ip qubes-firewall\n");
}

/* upstream's test_008 and test_009: the connected clients' anti-spoofing */
static void test_anti_spoofing_of_the_connected_ips(void **state)
{
    (void)state;
    _cleanup_buf_ struct buf out = BUF_INIT;
    const char *ips[] = { "10.137.0.1", "10.137.0.2" };
    fwnft_antispoof(ips, 2, &out);
    assert_string_equal(out.data,
                        "flush chain ip qubes-firewall prerouting\n"
                        "flush chain ip qubes-firewall postrouting\n"
                        "table ip qubes-firewall {\n"
                        "    chain prerouting {\n"
                        "        iifname != \"vif*\" ip saddr {10.137.0.1, 10.137.0.2} drop\n"
                        "    }\n"
                        "    chain postrouting {\n"
                        "        oifname != \"vif*\" ip daddr {10.137.0.1, 10.137.0.2} drop\n"
                        "    }\n"
                        "}\n");
    _cleanup_buf_ struct buf none = BUF_INIT;
    fwnft_antispoof(NULL, 0, &none);
    assert_string_equal(none.data, "flush chain ip qubes-firewall prerouting\n"
                                   "flush chain ip qubes-firewall postrouting\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rules_as_qubes_writes_them),
        cmocka_unit_test(test_dns_ports_and_ipv6),
        cmocka_unit_test(test_an_unresolvable_host_fails_and_drops_everything),
        cmocka_unit_test(test_the_table_and_its_jumps),
        cmocka_unit_test(test_anti_spoofing_of_the_connected_ips),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
