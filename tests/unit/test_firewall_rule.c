/* Tests of the firewall rule model: exact canonical strings in both forms,
 * the normalisations, and the exact words of every rejection. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/buf.h"
#include "net/firewall_rule.h"

/* Parses in, and checks the API form and the QubesDB form exactly; then
 * checks that the API form parses back to itself. */
static void check_rule(const char *in, const char *api, const char *qdb)
{
    struct fw_rule r, again;
    struct qerror err = { 0 };
    if (fw_rule_parse(in, strlen(in), &r, &err) < 0)
        fail_msg("rejected '%s': %s", in, err.message);

    struct buf b = BUF_INIT;
    fw_rule_format(&r, &b, true);
    assert_string_equal(b.data, api);
    buf_reset(&b);
    fw_rule_format(&r, &b, false);
    assert_string_equal(b.data, qdb);

    buf_reset(&b);
    assert_int_equal(fw_rule_parse(api, strlen(api), &again, &err), 0);
    fw_rule_format(&again, &b, true);
    assert_string_equal(b.data, api);
    buf_free(&b);
}

static void check_rejected_len(const char *in, size_t len, const char *fragment)
{
    struct fw_rule r;
    struct qerror err = { 0 };
    if (fw_rule_parse(in, len, &r, &err) == 0)
        fail_msg("accepted '%.*s'", (int)len, in);
    assert_int_not_equal(err.kind, ERR_NONE);
    assert_string_equal(qerror_kind_name(&err), "QubesValueError");
    if (!strstr(err.message, fragment))
        fail_msg("'%s': message '%s' lacks '%s'", in, err.message, fragment);
    /* out is left zeroed, not half-filled */
    assert_int_equal(r.dst_kind, FW_DST_NONE);
    assert_false(r.has_expire);
    assert_string_equal(r.comment, "");
}

static void check_rejected(const char *in, const char *fragment)
{
    check_rejected_len(in, strlen(in), fragment);
}

static void test_round_trips(void **state)
{
    (void)state;
    check_rule("action=accept", "action=accept", "action=accept");
    check_rule("action=drop", "action=drop", "action=drop");
    check_rule("action=accept dst4=192.168.0.0/16 proto=tcp dstports=443-443 comment=office LAN",
               "action=accept dst4=192.168.0.0/16 proto=tcp dstports=443-443 comment=office LAN",
               "action=accept dst4=192.168.0.0/16 proto=tcp dstports=443-443");
    check_rule("action=drop proto=udp dstports=1000-2000",
               "action=drop proto=udp dstports=1000-2000",
               "action=drop proto=udp dstports=1000-2000");
    check_rule("action=accept proto=icmp icmptype=8", "action=accept proto=icmp icmptype=8",
               "action=accept proto=icmp icmptype=8");
    check_rule("action=accept specialtarget=dns", "action=accept specialtarget=dns",
               "action=accept specialtarget=dns");
    check_rule("action=accept dsthost=www.qubes-os.org proto=tcp dstports=80-80",
               "action=accept dsthost=www.qubes-os.org proto=tcp dstports=80-80",
               "action=accept dsthost=www.qubes-os.org proto=tcp dstports=80-80");
    check_rule("action=accept dst6=2001:db8::/32", "action=accept dst6=2001:db8::/32",
               "action=accept dst6=2001:db8::/32");
    check_rule("action=accept expire=1700000000 dst4=10.0.0.1/32",
               "action=accept expire=1700000000 dst4=10.0.0.1/32",
               "action=accept dst4=10.0.0.1/32");
    check_rule("action=drop dsthost=my_host-1.example proto=tcp",
               "action=drop dsthost=my_host-1.example proto=tcp",
               "action=drop dsthost=my_host-1.example proto=tcp");
    check_rule("action=accept dst4=0.0.0.0/0", "action=accept dst4=0.0.0.0/0",
               "action=accept dst4=0.0.0.0/0");
    check_rule("action=accept proto=tcp dstports=0-65535",
               "action=accept proto=tcp dstports=0-65535",
               "action=accept proto=tcp dstports=0-65535");
    check_rule("action=accept proto=icmp icmptype=0", "action=accept proto=icmp icmptype=0",
               "action=accept proto=icmp icmptype=0");
    check_rule("action=accept proto=icmp icmptype=255", "action=accept proto=icmp icmptype=255",
               "action=accept proto=icmp icmptype=255");
    check_rule("action=accept proto=icmp", "action=accept proto=icmp", "action=accept proto=icmp");
}

/* Whatever order the options come in, the output has upstream's. */
static void test_canonical_order(void **state)
{
    (void)state;
    check_rule("dstports=22 proto=tcp specialtarget=dns dsthost=10.1.2.3 expire=5 action=drop "
               "comment=all of it",
               "action=drop expire=5 dst4=10.1.2.3/32 proto=tcp specialtarget=dns dstports=22-22 "
               "comment=all of it",
               "action=drop dst4=10.1.2.3/32 proto=tcp specialtarget=dns dstports=22-22");
    check_rule("icmptype=3 proto=icmp dst6=::1 action=accept",
               "action=accept dst6=::1/128 proto=icmp icmptype=3",
               "action=accept dst6=::1/128 proto=icmp icmptype=3");
}

static void test_normalisation(void **state)
{
    (void)state;
    /* bare addresses get a full-length prefix; the value picks the key */
    check_rule("action=accept dsthost=1.2.3.4", "action=accept dst4=1.2.3.4/32",
               "action=accept dst4=1.2.3.4/32");
    check_rule("action=accept dstname=1.2.3.4/24", "action=accept dst4=1.2.3.4/24",
               "action=accept dst4=1.2.3.4/24");
    check_rule("action=accept dst4=fe80::1", "action=accept dst6=fe80::1/128",
               "action=accept dst6=fe80::1/128");
    check_rule("action=accept dst6=example.com", "action=accept dsthost=example.com",
               "action=accept dsthost=example.com");
    /* a single port is a one-port range; leading zeros go */
    check_rule("action=accept proto=tcp dstports=443", "action=accept proto=tcp dstports=443-443",
               "action=accept proto=tcp dstports=443-443");
    check_rule("action=accept proto=udp dstports=053-00080",
               "action=accept proto=udp dstports=53-80", "action=accept proto=udp dstports=53-80");
    check_rule("action=accept proto=icmp icmptype=008", "action=accept proto=icmp icmptype=8",
               "action=accept proto=icmp icmptype=8");
    check_rule("action=accept dst4=10.0.0.0/08", "action=accept dst4=10.0.0.0/8",
               "action=accept dst4=10.0.0.0/8");
    check_rule("action=accept expire=0001", "action=accept expire=1", "action=accept");
    /* IPv6 as Python's ipaddress prints it */
    check_rule("action=accept dst6=2001:0DB8:0000:0000:0000:0000:0000:0001/64",
               "action=accept dst6=2001:db8::1/64", "action=accept dst6=2001:db8::1/64");
    check_rule("action=accept dst6=2001:db8:0:0:1:0:0:1",
               "action=accept dst6=2001:db8::1:0:0:1/128",
               "action=accept dst6=2001:db8::1:0:0:1/128");
    check_rule("action=accept dst6=2001:db8:0:1:0:0:0:1", "action=accept dst6=2001:db8:0:1::1/128",
               "action=accept dst6=2001:db8:0:1::1/128");
    check_rule("action=accept dst6=1:0:2:3:4:5:6:7", "action=accept dst6=1:0:2:3:4:5:6:7/128",
               "action=accept dst6=1:0:2:3:4:5:6:7/128");
    check_rule("action=accept dst6=::/0", "action=accept dst6=::/0", "action=accept dst6=::/0");
    check_rule("action=accept dst6=1::", "action=accept dst6=1::/128",
               "action=accept dst6=1::/128");
    check_rule("action=accept dst6=::ffff:1.2.3.4", "action=accept dst6=::ffff:102:304/128",
               "action=accept dst6=::ffff:102:304/128");
    /* host bits stay, as upstream keeps them (no strict network check) */
    check_rule("action=accept dst6=2001:db8::1/32", "action=accept dst6=2001:db8::1/32",
               "action=accept dst6=2001:db8::1/32");
    /* surrounding whitespace of the options goes, as str.strip() does */
    check_rule("  action=accept\t", "action=accept", "action=accept");
    check_rule("action=accept   comment=x", "action=accept comment=x", "action=accept");
    /* glibc's inet_pton refuses these, so they are hostnames (as upstream) */
    check_rule("action=accept dsthost=1.2.3", "action=accept dsthost=1.2.3",
               "action=accept dsthost=1.2.3");
    check_rule("action=accept dsthost=010.0.0.1", "action=accept dsthost=010.0.0.1",
               "action=accept dsthost=010.0.0.1");
}

static void test_comment(void **state)
{
    (void)state;
    /* everything after comment= is the comment, spaces included */
    check_rule("action=accept comment=my  comment: [a,b;c] ./-_ ",
               "action=accept comment=my  comment: [a,b;c] ./-_ ", "action=accept");
    check_rule("action=accept comment= leading space", "action=accept comment= leading space",
               "action=accept");
    /* an empty comment is no comment */
    check_rule("action=accept comment=", "action=accept", "action=accept");
    /* the options before comment= may come in any order */
    check_rule("proto=tcp action=drop comment=a b", "action=drop proto=tcp comment=a b",
               "action=drop proto=tcp");
}

static void test_rejections(void **state)
{
    (void)state;
    check_rejected("", "empty firewall rule");
    check_rejected("   ", "empty firewall rule");
    check_rejected("comment=only", "missing action");
    check_rejected("proto=tcp", "missing action");
    check_rejected("action=allow", "invalid action 'allow' (expected accept or drop)");
    check_rejected("action=", "invalid action ''");
    check_rejected("action=accept action=drop", "firewall option 'action' given twice");
    check_rejected("action=accept proto=tcp proto=udp", "firewall option 'proto' given twice");
    check_rejected("action=accept dst4=1.2.3.4 dsthost=a.b", "destination given twice");
    check_rejected("action=accept dstname=a dst6=::1", "destination given twice");
    check_rejected("action=accept port=80", "unknown firewall option 'port'");
    check_rejected("action=accept Action=drop", "unknown firewall option 'Action'");
    check_rejected("action=accept bad\x01key=1", "unknown firewall option");
    check_rejected("action=accept dsthost", "firewall option 'dsthost' is not key=value");
    check_rejected("action=accept  proto=tcp", "empty firewall option (two spaces in a row?)");
    check_rejected("action=accept proto=TCP", "invalid proto 'TCP' (expected tcp, udp or icmp)");
    check_rejected("action=accept proto=any", "invalid proto 'any'");
    check_rejected("action=accept specialtarget=ntp", "invalid specialtarget 'ntp' (expected dns)");
    check_rejected("action=accept proto=tcp dstports=80-79", "invalid dstports '80-79'");
    check_rejected("action=accept proto=tcp dstports=65536",
                   "invalid dstports '65536' (expected N or N-M with 0 <= N <= M <= 65535)");
    check_rejected("action=accept proto=tcp dstports=1-2-3", "invalid dstports '1-2-3'");
    check_rejected("action=accept proto=tcp dstports=-80", "invalid dstports '-80'");
    check_rejected("action=accept proto=tcp dstports=80-", "invalid dstports '80-'");
    check_rejected("action=accept proto=tcp dstports=", "invalid dstports ''");
    check_rejected("action=accept proto=tcp dstports=000080", "invalid dstports '000080'");
    check_rejected("action=accept dstports=80", "dstports valid only with proto tcp or udp");
    check_rejected("action=accept proto=icmp dstports=80",
                   "dstports valid only with proto tcp or udp");
    check_rejected("action=accept proto=tcp icmptype=8", "icmptype valid only with proto icmp");
    check_rejected("action=accept icmptype=8", "icmptype valid only with proto icmp");
    check_rejected("action=accept proto=icmp icmptype=256",
                   "invalid icmptype '256' (expected 0..255)");
    check_rejected("action=accept proto=icmp icmptype=-1", "invalid icmptype '-1'");
    check_rejected("action=accept proto=icmp icmptype=0008", "invalid icmptype '0008'");
    check_rejected("action=accept expire=-5",
                   "invalid expire '-5' (expected a UNIX timestamp in seconds)");
    check_rejected("action=accept expire=soon", "invalid expire 'soon'");
    check_rejected("action=accept expire=253402300800", "invalid expire '253402300800'");
    check_rejected("action=accept expire=", "invalid expire ''");
    check_rejected("action=accept dsthost=", "invalid dsthost '': empty host");
    check_rejected("action=accept dsthost=/24", "invalid dsthost '/24': empty host");
    check_rejected("action=accept dst4=1.2.3.4/24/8",
                   "invalid dsthost '1.2.3.4/24/8': too many '/'");
    check_rejected("action=accept dst4=1.2.3.4/33",
                   "invalid dsthost '1.2.3.4/33': netmask for IPv4 must be 0..32");
    check_rejected("action=accept dst6=::1/129",
                   "invalid dsthost '::1/129': netmask for IPv6 must be 0..128");
    check_rejected("action=accept dst4=1.2.3.4/", "netmask for IPv4 must be 0..32");
    check_rejected("action=accept dst4=1.2.3.4/-0", "netmask for IPv4 must be 0..32");
    check_rejected("action=accept dst4=1.2.3.4/1_6", "netmask for IPv4 must be 0..32");
    check_rejected("action=accept dst4=example.com/24",
                   "invalid dsthost 'example.com/24': invalid IP address 'example.com'");
    check_rejected("action=accept dst4=1.2.3/24", "invalid IP address '1.2.3'");
    check_rejected("action=accept dsthost=Example.com",
                   "invalid dsthost 'Example.com': not an IP address, and a hostname may only use "
                   "a-z 0-9 - . _");
    check_rejected("action=accept dsthost=dead:beef:xyz", "not an IP address");
    check_rejected("action=accept dsthost=a+b", "invalid character in value of 'dsthost'");
    check_rejected("action=accept dst4=a b", "firewall option 'b' is not key=value");
    check_rejected("action=accept proto=tcp=udp",
                   "invalid character in value of 'proto' (allowed: A-Z a-z 0-9 :;,./-_[])");
    check_rejected("action=accept dsthost=xcomment=y", "invalid character in value of 'dsthost'");
    check_rejected("action=accept comment=caf\xc3\xa9",
                   "invalid character in comment (allowed: A-Z a-z 0-9 space :;,./-_[])");
    check_rejected("action=accept comment=a\tb", "invalid character in comment");
    check_rejected("action=accept comment=a=b", "invalid character in comment");
    check_rejected("action=accept\ncomment=x", "invalid character in value of 'action'");
    check_rejected_len("action=accept\0", 14, "invalid character in value of 'action'");
    check_rejected_len("action=accept comment=a\0b", 25, "invalid character in comment");
}

static void test_length_limits(void **state)
{
    (void)state;
    char line[FW_LINE_MAX + 2];
    const char *head = "action=accept comment=";
    size_t head_len = strlen(head);

    /* exactly FW_LINE_MAX bytes is fine */
    memcpy(line, head, head_len);
    memset(line + head_len, 'c', FW_LINE_MAX - head_len);
    line[FW_LINE_MAX] = '\0';
    struct fw_rule r;
    struct qerror err = { 0 };
    assert_int_equal(fw_rule_parse(line, FW_LINE_MAX, &r, &err), 0);
    assert_int_equal(strlen(r.comment), FW_LINE_MAX - head_len);

    line[FW_LINE_MAX] = 'c';
    line[FW_LINE_MAX + 1] = '\0';
    check_rejected(line, "firewall rule too long (1025 bytes, at most 1024)");

    /* "dstports=1" grows to "dstports=1-1": the canonical form must fit too */
    const char *head2 = "action=accept proto=tcp dstports=1 comment=";
    size_t head2_len = strlen(head2);
    memcpy(line, head2, head2_len);
    memset(line + head2_len, 'c', FW_LINE_MAX - head2_len);
    line[FW_LINE_MAX] = '\0';
    check_rejected(line, "firewall rule too long once normalised (1026 bytes, at most 1024)");

    /* hostnames are DNS names */
    char host[FW_HOSTNAME_MAX + 40];
    strcpy(host, "action=accept dsthost=");
    size_t hl = strlen(host);
    memset(host + hl, 'a', FW_HOSTNAME_MAX);
    host[hl + FW_HOSTNAME_MAX] = '\0';
    check_rule(host, host, host);
    strcat(host, "a");
    check_rejected(host, "invalid dsthost: longer than 253 characters");
}

static void test_expired(void **state)
{
    (void)state;
    struct fw_rule r;
    struct qerror err = { 0 };
    const char *s = "action=accept expire=1000";
    assert_int_equal(fw_rule_parse(s, strlen(s), &r, &err), 0);
    assert_false(fw_rule_expired(&r, 999));
    assert_false(fw_rule_expired(&r, 1000));
    assert_true(fw_rule_expired(&r, 1001));
    s = "action=accept";
    assert_int_equal(fw_rule_parse(s, strlen(s), &r, &err), 0);
    assert_false(fw_rule_expired(&r, 1LL << 40));
}

/* Parses a payload and returns the rules joined by "|" in API form. */
static int parse_list(const char *payload, size_t len, struct buf *joined, struct qerror *err)
{
    struct fw_rule *rules = NULL;
    size_t n = 12345;
    if (fw_rules_parse(payload, len, &rules, &n, err) < 0) {
        assert_null(rules);
        assert_int_equal(n, 0);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (i)
            buf_append_char(joined, '|');
        fw_rule_format(&rules[i], joined, true);
    }
    fw_rules_free(rules, n);
    return (int)n;
}

static void check_list(const char *payload, int n_expected, const char *joined_expected)
{
    struct buf joined = BUF_INIT;
    struct qerror err = { 0 };
    int n = parse_list(payload, strlen(payload), &joined, &err);
    if (n < 0)
        fail_msg("rejected list: %s", err.message);
    assert_int_equal(n, n_expected);
    assert_string_equal(joined.data ? joined.data : "", joined_expected);
    buf_free(&joined);
}

static void check_list_rejected(const char *payload, const char *fragment)
{
    struct buf joined = BUF_INIT;
    struct qerror err = { 0 };
    assert_int_equal(parse_list(payload, strlen(payload), &joined, &err), -1);
    assert_string_equal(qerror_kind_name(&err), "QubesValueError");
    if (!strstr(err.message, fragment))
        fail_msg("message '%s' lacks '%s'", err.message, fragment);
    buf_free(&joined);
}

static void test_list(void **state)
{
    (void)state;
    check_list("", 0, "");
    check_list("action=accept", 1, "action=accept");
    check_list("action=accept\n", 1, "action=accept");
    check_list("action=drop proto=icmp\naction=accept dsthost=a.b comment=x y\n", 2,
               "action=drop proto=icmp|action=accept dsthost=a.b comment=x y");
    /* the boundaries of str.splitlines() */
    check_list("action=drop\r\naction=accept\rspecialtarget=dns action=drop\n", 3,
               "action=drop|action=accept|action=drop specialtarget=dns");
    check_list("action=drop\vaction=accept\f", 2, "action=drop|action=accept");

    check_list_rejected("\n", "line 1: empty firewall rule");
    check_list_rejected("action=accept\n\naction=drop\n", "line 2: empty firewall rule");
    check_list_rejected("action=accept\n\n", "line 2: empty firewall rule");
    check_list_rejected("action=accept\r\n\r\n", "line 2: empty firewall rule");
    check_list_rejected("action=accept\naction=accept\naction=maybe\n",
                        "line 3: invalid action 'maybe'");
    check_list_rejected("action=accept\n\x80\n", "line 2: firewall option is not key=value");
    check_list_rejected("action=accept\n\x80=1\n", "line 2: unknown firewall option");
}

static void test_list_limit(void **state)
{
    (void)state;
    struct buf payload = BUF_INIT;
    for (int i = 0; i < FW_RULES_MAX; i++)
        buf_append_str(&payload, "action=drop\n");
    struct fw_rule *rules;
    size_t n;
    struct qerror err = { 0 };
    assert_int_equal(fw_rules_parse(payload.data, payload.len, &rules, &n, &err), 0);
    assert_int_equal(n, FW_RULES_MAX);
    assert_int_equal(rules[FW_RULES_MAX - 1].action, FW_ACTION_DROP);
    fw_rules_free(rules, n);

    buf_append_str(&payload, "action=drop\n");
    assert_int_equal(fw_rules_parse(payload.data, payload.len, &rules, &n, &err), -1);
    assert_non_null(strstr(err.message, "too many firewall rules (at most 4096)"));
    buf_free(&payload);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trips),   cmocka_unit_test(test_canonical_order),
        cmocka_unit_test(test_normalisation), cmocka_unit_test(test_comment),
        cmocka_unit_test(test_rejections),    cmocka_unit_test(test_length_limits),
        cmocka_unit_test(test_expired),       cmocka_unit_test(test_list),
        cmocka_unit_test(test_list_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
