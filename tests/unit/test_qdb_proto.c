/* qubesdb wire format: the exact bytes of a header, the framing every role shares, the path
 * rules, and which message each sender may send. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "qubesdb/qdb_proto.h"

static void raw_hdr(uint8_t out[QDB_HDR_SIZE], uint8_t type, const char *path, size_t path_len,
                    uint32_t len)
{
    memset(out, 0, QDB_HDR_SIZE);
    out[0] = type;
    memcpy(out + 1, path, path_len);
    memcpy(out + 68, &len, 4);
}

static void test_layout(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    qdb_msg_encode(&b, QDB_CMD_WRITE, "/name", "work", 4);
    assert_int_equal(b.len, 72 + 4);
    uint8_t want[76] = { 1, '/', 'n', 'a', 'm', 'e' };
    want[68] = 4; /* little-endian data_len after 3 padding bytes */
    memcpy(want + 72, "work", 4);
    assert_memory_equal(b.data, want, sizeof(want));
    buf_reset(&b);

    /* the end marker of a dump: empty path, no data */
    qdb_msg_encode(&b, QDB_RESP_MULTIREAD, "", NULL, 0);
    uint8_t end[72] = { 11 };
    assert_int_equal(b.len, 72);
    assert_memory_equal(b.data, end, 72);
    buf_free(&b);
    assert_int_equal(QDB_MSG_MAX, 72 + 3071);
}

static void test_decode_framing(void **state)
{
    (void)state;
    uint8_t raw[QDB_HDR_SIZE];
    struct qdb_hdr h;
    const char *why = NULL;

    raw_hdr(raw, QDB_CMD_READ, "/a", 2, 0);
    raw[70] = 0; /* bytes after the path's NUL and the padding are ignored */
    raw[10] = 'x';
    raw[65] = 0xff;
    assert_int_equal(qdb_hdr_decode(raw, &h, &why), 0);
    assert_string_equal(h.path, "/a");
    assert_int_equal(h.type, QDB_CMD_READ);

    /* the longest path: 63 characters and the NUL in the last byte */
    char p63[64];
    memset(p63, 'a', 63);
    p63[0] = '/';
    p63[63] = '\0';
    raw_hdr(raw, QDB_CMD_READ, p63, 64, 0);
    assert_int_equal(qdb_hdr_decode(raw, &h, &why), 0);
    assert_int_equal(strlen(h.path), 63);
    /* 64 characters: no NUL */
    memset(raw + 1, 'a', 64);
    assert_int_equal(qdb_hdr_decode(raw, &h, &why), -1);
    assert_string_equal(why, "path without NUL in its 64 bytes");

    /* data_len 3071 is the most, 3072 is refused before any data is awaited */
    raw_hdr(raw, QDB_CMD_WRITE, "/a", 2, 3071);
    assert_int_equal(qdb_hdr_decode(raw, &h, &why), 0);
    assert_int_equal(h.data_len, 3071);
    raw_hdr(raw, QDB_CMD_WRITE, "/a", 2, 3072);
    assert_int_equal(qdb_hdr_decode(raw, &h, &why), -1);
    raw_hdr(raw, QDB_CMD_WRITE, "/a", 2, 0xffffffffu);
    assert_int_equal(qdb_hdr_decode(raw, &h, &why), -1);

    /* types 0..13 exist, 14 and up do not */
    raw_hdr(raw, QDB_RESP_WATCH, "/a", 2, 0);
    assert_int_equal(qdb_hdr_decode(raw, &h, &why), 0);
    raw_hdr(raw, 14, "/a", 2, 0);
    assert_int_equal(qdb_hdr_decode(raw, &h, &why), -1);
    assert_string_equal(why, "unknown message type");
    raw_hdr(raw, 255, "/a", 2, 0);
    assert_int_equal(qdb_hdr_decode(raw, &h, &why), -1);
}

static void test_path_rules(void **state)
{
    (void)state;
    /* keys */
    assert_true(qdb_key_ok("/name"));
    assert_true(qdb_key_ok("/qubes-firewall/10.137.0.3/0000"));
    assert_true(qdb_key_ok("/a_b-c.d:e@f/G9"));
    assert_false(qdb_key_ok(""));
    assert_false(qdb_key_ok("/"));
    assert_false(qdb_key_ok("name"));
    assert_false(qdb_key_ok("/dir/"));
    assert_false(qdb_key_ok("/a b"));
    assert_false(qdb_key_ok("/a\n"));
    assert_false(qdb_key_ok("/a*"));
    assert_false(qdb_key_ok("/\xc3\xa9"));
    char p[80];
    memset(p, 'a', sizeof(p));
    p[0] = '/';
    p[63] = '\0';
    assert_true(qdb_key_ok(p)); /* 63 characters */
    p[63] = 'a';
    p[64] = '\0';
    assert_false(qdb_key_ok(p)); /* 64 */

    /* subtrees: '/'-terminated */
    assert_true(qdb_dir_ok("/"));
    assert_true(qdb_dir_ok("/qubes-firewall/"));
    assert_false(qdb_dir_ok("/qubes-firewall"));
    assert_false(qdb_dir_ok("qubes/"));
    assert_false(qdb_dir_ok("/a b/"));
    assert_true(qdb_key_or_dir_ok("/a"));
    assert_true(qdb_key_or_dir_ok("/a/"));
    assert_false(qdb_key_or_dir_ok(""));

    /* prefixes for multiread and list: any legal characters, empty is everything */
    assert_true(qdb_prefix_ok(""));
    assert_true(qdb_prefix_ok("/qubes-ip"));
    assert_true(qdb_prefix_ok("/qubes-"));
    assert_false(qdb_prefix_ok("/a b"));

    /* values */
    assert_true(qdb_value_ok("", 0));
    assert_true(qdb_value_ok("a\nb\x01\xff", 5));
    assert_false(qdb_value_ok("a\0b", 3));
    static char big[3072];
    memset(big, 'x', sizeof(big));
    assert_true(qdb_value_ok(big, 3071));
    assert_false(qdb_value_ok(big, 3072));
}

static void test_watch_matching(void **state)
{
    (void)state;
    /* without a trailing '/', only the exact key */
    assert_true(qdb_watch_matches("/qubes-ip", "/qubes-ip"));
    assert_false(qdb_watch_matches("/qubes-ip", "/qubes-ip6"));
    assert_false(qdb_watch_matches("/qubes-ip", "/qubes-ip/x"));
    assert_false(qdb_watch_matches("/a/b", "/a/"));
    /* with one, everything under it, and a rm of the subtree itself */
    assert_true(qdb_watch_matches("/qubes-firewall/", "/qubes-firewall/10.137.0.3/policy"));
    assert_true(qdb_watch_matches("/qubes-firewall/", "/qubes-firewall/"));
    assert_false(qdb_watch_matches("/qubes-firewall/", "/qubes-firewall"));
    assert_false(qdb_watch_matches("/qubes-firewall/", "/qubes-firewall-handled/1"));
    assert_true(qdb_watch_matches("/", "/anything"));
    assert_true(qdb_watch_matches("/a/", "/a/b/"));
}

static struct qdb_hdr hdr(uint8_t type, const char *path, uint32_t len)
{
    struct qdb_hdr h = { .type = type, .data_len = len };
    strncpy(h.path, path, sizeof(h.path) - 1);
    return h;
}

static int check(enum qdb_role role, uint8_t type, const char *path, uint32_t len)
{
    struct qdb_hdr h = hdr(type, path, len);
    const char *why = NULL;
    int rc = qdb_check_msg(role, &h, &why);
    if (rc < 0)
        assert_non_null(why);
    return rc;
}

static void test_roles_channel(void **state)
{
    (void)state;
    /* what the qube may send dom0 */
    assert_int_equal(check(QDB_FROM_QUBE, QDB_CMD_MULTIREAD, "", 0), 0);
    assert_int_equal(check(QDB_FROM_QUBE, QDB_CMD_MULTIREAD, "/", 0), -1);
    assert_int_equal(check(QDB_FROM_QUBE, QDB_CMD_MULTIREAD, "", 1), -1);
    assert_int_equal(check(QDB_FROM_QUBE, QDB_CMD_WRITE, "/a", 3071), 0);
    assert_int_equal(check(QDB_FROM_QUBE, QDB_CMD_WRITE, "/a", 3072), -1);
    assert_int_equal(check(QDB_FROM_QUBE, QDB_CMD_WRITE, "/a/", 1), -1);
    assert_int_equal(check(QDB_FROM_QUBE, QDB_CMD_WRITE, "a", 1), -1);
    assert_int_equal(check(QDB_FROM_QUBE, QDB_CMD_WRITE, "/a b", 1), -1);
    assert_int_equal(check(QDB_FROM_QUBE, QDB_CMD_RM, "/a", 0), 0);
    assert_int_equal(check(QDB_FROM_QUBE, QDB_CMD_RM, "/a/", 0), 0);
    assert_int_equal(check(QDB_FROM_QUBE, QDB_CMD_RM, "/a", 1), -1);
    assert_int_equal(check(QDB_FROM_QUBE, QDB_CMD_RM, "", 0), -1);
    assert_int_equal(check(QDB_FROM_QUBE, QDB_RESP_OK, "any thing", 0), 0);
    assert_int_equal(check(QDB_FROM_QUBE, QDB_RESP_OK, "", 1), -1);
    assert_int_equal(check(QDB_FROM_QUBE, QDB_RESP_ERROR, "", 0), 0);
    /* upstream's vchan takes no other type */
    const uint8_t never[] = { QDB_CMD_READ,
                              QDB_CMD_LIST,
                              QDB_CMD_WATCH,
                              QDB_CMD_UNWATCH,
                              QDB_RESP_ERROR_NOENT,
                              QDB_RESP_READ,
                              QDB_RESP_MULTIREAD,
                              QDB_RESP_LIST,
                              QDB_RESP_WATCH,
                              14,
                              200 };
    for (size_t i = 0; i < sizeof(never); i++)
        assert_int_equal(check(QDB_FROM_QUBE, never[i], "/a", 0), -1);

    /* what dom0 may send the qube: the dump, changes and answers */
    assert_int_equal(check(QDB_FROM_DOM0, QDB_RESP_MULTIREAD, "/a", 10), 0);
    assert_int_equal(check(QDB_FROM_DOM0, QDB_RESP_MULTIREAD, "", 0), 0);
    assert_int_equal(check(QDB_FROM_DOM0, QDB_RESP_MULTIREAD, "", 1), -1);
    assert_int_equal(check(QDB_FROM_DOM0, QDB_RESP_MULTIREAD, "/a/", 0), -1);
    assert_int_equal(check(QDB_FROM_DOM0, QDB_CMD_MULTIREAD, "", 0), -1);
    assert_int_equal(check(QDB_FROM_DOM0, QDB_CMD_WRITE, "/a", 1), 0);
    assert_int_equal(check(QDB_FROM_DOM0, QDB_CMD_RM, "/a/", 0), 0);
    assert_int_equal(check(QDB_FROM_DOM0, QDB_RESP_WATCH, "/a", 0), -1);
}

static void test_roles_local(void **state)
{
    (void)state;
    assert_int_equal(check(QDB_FROM_CLIENT, QDB_CMD_READ, "/a", 0), 0);
    assert_int_equal(check(QDB_FROM_CLIENT, QDB_CMD_READ, "/a/", 0), 0);
    assert_int_equal(check(QDB_FROM_CLIENT, QDB_CMD_READ, "/a", 1), -1);
    assert_int_equal(check(QDB_FROM_CLIENT, QDB_CMD_READ, "/a b", 0), -1);
    assert_int_equal(check(QDB_FROM_CLIENT, QDB_CMD_WRITE, "/a", 5), 0);
    assert_int_equal(check(QDB_FROM_CLIENT, QDB_CMD_WRITE, "/a/", 5), -1);
    assert_int_equal(check(QDB_FROM_CLIENT, QDB_CMD_MULTIREAD, "", 0), 0);
    assert_int_equal(check(QDB_FROM_CLIENT, QDB_CMD_LIST, "/qubes-", 0), 0);
    assert_int_equal(check(QDB_FROM_CLIENT, QDB_CMD_RM, "/", 0), 0);
    assert_int_equal(check(QDB_FROM_CLIENT, QDB_CMD_WATCH, "/a/", 0), 0);
    assert_int_equal(check(QDB_FROM_CLIENT, QDB_CMD_WATCH, "a", 0), -1);
    assert_int_equal(check(QDB_FROM_CLIENT, QDB_CMD_UNWATCH, "/a", 0), 0);
    assert_int_equal(check(QDB_FROM_CLIENT, QDB_RESP_OK, "", 0), -1);

    assert_int_equal(check(QDB_FROM_DAEMON, QDB_RESP_OK, "/echo of anything?", 0), 0);
    assert_int_equal(check(QDB_FROM_DAEMON, QDB_RESP_ERROR_NOENT, "", 0), 0);
    assert_int_equal(check(QDB_FROM_DAEMON, QDB_RESP_READ, "/a", 3071), 0);
    assert_int_equal(check(QDB_FROM_DAEMON, QDB_RESP_LIST, "/a", 0), 0);
    assert_int_equal(check(QDB_FROM_DAEMON, QDB_RESP_LIST, "/a", 1), -1);
    assert_int_equal(check(QDB_FROM_DAEMON, QDB_RESP_MULTIREAD, "bad", 1), -1);
    assert_int_equal(check(QDB_FROM_DAEMON, QDB_RESP_WATCH, "/a/", 0), 0);
    assert_int_equal(check(QDB_FROM_DAEMON, QDB_RESP_WATCH, "", 0), -1);
    assert_int_equal(check(QDB_FROM_DAEMON, QDB_CMD_WRITE, "/a", 0), -1);
    assert_string_equal(qdb_msg_type_name(QDB_RESP_WATCH), "RESP_WATCH");
    assert_string_equal(qdb_msg_type_name(99), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout),        cmocka_unit_test(test_decode_framing),
        cmocka_unit_test(test_path_rules),    cmocka_unit_test(test_watch_matching),
        cmocka_unit_test(test_roles_channel), cmocka_unit_test(test_roles_local),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
