/* qubesdb-daemon's message handling without I/O: dom0's answer to the qube's one MULTIREAD,
 * forwarding both ways, the client protocol, and that every hostile channel message ends the
 * daemon with the database holding exactly what came before it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "qubesdb/qdb_daemon.h"

struct msg {
    uint8_t type;
    char path[QDB_MAX_PATH];
    char data[QDB_MAX_DATA];
    uint32_t len;
};

/* Takes every whole message out of b (asserting each is well framed). */
static size_t take(struct buf *b, struct msg *out, size_t max)
{
    size_t n = 0, pos = 0;
    while (b->len - pos >= QDB_HDR_SIZE) {
        struct qdb_hdr h;
        const char *why;
        assert_int_equal(qdb_hdr_decode((const uint8_t *)b->data + pos, &h, &why), 0);
        assert_true(b->len - pos - QDB_HDR_SIZE >= h.data_len);
        assert_true(n < max);
        out[n].type = h.type;
        memcpy(out[n].path, h.path, sizeof(h.path));
        memcpy(out[n].data, b->data + pos + QDB_HDR_SIZE, h.data_len);
        out[n].data[h.data_len] = '\0';
        out[n].len = h.data_len;
        n++;
        pos += QDB_HDR_SIZE + h.data_len;
    }
    assert_int_equal(pos, b->len);
    buf_reset(b);
    return n;
}

static void send_msg(struct buf *to, uint8_t type, const char *path, const char *data)
{
    qdb_msg_encode(to, type, path, data, data ? strlen(data) : 0);
}

/* A raw header, for what qdb_msg_encode would never produce. */
static void send_raw(struct buf *to, uint8_t type, const char *path, size_t path_len, uint32_t len)
{
    uint8_t h[QDB_HDR_SIZE] = { type };
    memcpy(h + 1, path, path_len);
    memcpy(h + 68, &len, 4);
    buf_append(to, h, sizeof(h));
}

static struct msg m[64];

static void control(struct qdb_daemon *d, struct qdb_conn *c, uint8_t type, const char *path,
                    const char *data, uint8_t want)
{
    send_msg(&c->in, type, path, data);
    qdb_daemon_conn_input(d, c);
    assert_int_equal(take(&c->out, m, 64), 1);
    assert_int_equal(m[0].type, want);
}

static const char *value(const struct qdb_daemon *d, const char *key)
{
    const struct qdb_entry *e = qdb_store_get(&d->store, key);
    return e ? e->value : NULL;
}

static int setup(void **state)
{
    (void)state;
    log_set_level(LOG_ERROR); /* refusals are warnings */
    return 0;
}

/* dom0 with the entries qubesd writes before the qube starts, and the qube synced. */
static struct qdb_conn *dom0_synced(struct qdb_daemon *d)
{
    qdb_daemon_init(d, QDB_MODE_DOM0, "work");
    struct qdb_conn *c = qdb_daemon_conn_add(d, -1, true);
    control(d, c, QDB_CMD_WRITE, "/name", "work", QDB_RESP_OK);
    control(d, c, QDB_CMD_WRITE, "/qubes-ip", "10.137.0.3", QDB_RESP_OK);
    control(d, c, QDB_CMD_WRITE, "/qubes-ip6", "fd09::3", QDB_RESP_OK);
    assert_int_equal(d->chan_out.len, 0); /* nothing reaches the qube before it asks */
    send_msg(&d->chan_in, QDB_CMD_MULTIREAD, "", NULL);
    assert_int_equal(qdb_daemon_channel_input(d), 0);
    assert_int_equal(take(&d->chan_out, m, 64), 4);
    return c;
}

static void test_dom0_dump_and_forward(void **state)
{
    (void)state;
    struct qdb_daemon d;
    struct qdb_conn *c = dom0_synced(&d);
    assert_true(d.synced);
    /* the dump above: every entry ascending, then the end marker (redo to look at it) */
    qdb_daemon_free(&d);
    qdb_daemon_init(&d, QDB_MODE_DOM0, "work");
    c = qdb_daemon_conn_add(&d, -1, true);
    control(&d, c, QDB_CMD_WRITE, "/b", "2", QDB_RESP_OK);
    control(&d, c, QDB_CMD_WRITE, "/a", "1", QDB_RESP_OK);
    send_msg(&d.chan_in, QDB_CMD_MULTIREAD, "", NULL);
    assert_int_equal(qdb_daemon_channel_input(&d), 0);
    assert_int_equal(take(&d.chan_out, m, 64), 3);
    assert_int_equal(m[0].type, QDB_RESP_MULTIREAD);
    assert_string_equal(m[0].path, "/a");
    assert_string_equal(m[0].data, "1");
    assert_string_equal(m[1].path, "/b");
    assert_int_equal(m[2].type, QDB_RESP_MULTIREAD);
    assert_string_equal(m[2].path, "");
    assert_int_equal(m[2].len, 0);

    /* from now on every control change goes to the qube, which answers each */
    control(&d, c, QDB_CMD_WRITE, "/c", "3", QDB_RESP_OK);
    control(&d, c, QDB_CMD_RM, "/a", NULL, QDB_RESP_OK);
    control(&d, c, QDB_CMD_RM, "/a", NULL, QDB_RESP_ERROR_NOENT); /* nothing: not forwarded */
    assert_int_equal(take(&d.chan_out, m, 64), 2);
    assert_int_equal(m[0].type, QDB_CMD_WRITE);
    assert_string_equal(m[0].path, "/c");
    assert_string_equal(m[0].data, "3");
    assert_int_equal(m[1].type, QDB_CMD_RM);
    assert_string_equal(m[1].path, "/a");
    assert_int_equal(d.acks_due, 2);
    send_msg(&d.chan_in, QDB_RESP_OK, "/c", NULL);
    send_msg(&d.chan_in, QDB_RESP_ERROR, "/a", NULL);
    assert_int_equal(qdb_daemon_channel_input(&d), 0);
    assert_int_equal(d.acks_due, 0);
    qdb_daemon_free(&d);
}

static void test_dom0_mirrors_qube_writes(void **state)
{
    (void)state;
    struct qdb_daemon d;
    struct qdb_conn *c = dom0_synced(&d);
    control(&d, c, QDB_CMD_WATCH, "/qubes-firewall-handled/", NULL, QDB_RESP_OK);
    send_msg(&d.chan_in, QDB_CMD_WRITE, "/qubes-firewall-handled/10.137.0.5", "1");
    send_msg(&d.chan_in, QDB_CMD_WRITE, "/empty", NULL);
    assert_int_equal(qdb_daemon_channel_input(&d), 0);
    assert_string_equal(value(&d, "/qubes-firewall-handled/10.137.0.5"), "1");
    assert_string_equal(value(&d, "/empty"), "");
    assert_int_equal(take(&d.chan_out, m, 64), 2);
    assert_int_equal(m[0].type, QDB_RESP_OK);
    assert_int_equal(m[1].type, QDB_RESP_OK);
    /* dom0's watchers see the qube's change; it is not sent back */
    assert_int_equal(take(&c->out, m, 64), 1);
    assert_int_equal(m[0].type, QDB_RESP_WATCH);
    assert_string_equal(m[0].path, "/qubes-firewall-handled/10.137.0.5");
    send_msg(&d.chan_in, QDB_CMD_RM, "/qubes-firewall-handled/", NULL);
    assert_int_equal(qdb_daemon_channel_input(&d), 0);
    assert_null(value(&d, "/qubes-firewall-handled/10.137.0.5"));
    assert_int_equal(take(&c->out, m, 64), 1);
    assert_string_equal(m[0].path, "/qubes-firewall-handled/");
    assert_int_equal(take(&d.chan_out, m, 64), 1);
    assert_int_equal(m[0].type, QDB_RESP_OK);
    qdb_daemon_free(&d);
}

static void test_dom0_qube_share(void **state)
{
    (void)state;
    struct qdb_daemon d;
    struct qdb_conn *c = dom0_synced(&d);
    char key[32];
    /* the qube fills its share; past it its writes are refused, and it may go on */
    unsigned i = 0;
    for (; d.store.n < QDB_QUBE_MAX_ENTRIES; i++) {
        snprintf(key, sizeof(key), "/q/%u", i);
        send_msg(&d.chan_in, QDB_CMD_WRITE, key, "");
        assert_int_equal(qdb_daemon_channel_input(&d), 0);
    }
    buf_reset(&d.chan_out);
    send_msg(&d.chan_in, QDB_CMD_WRITE, "/q/more", "x");
    assert_int_equal(qdb_daemon_channel_input(&d), 0);
    assert_int_equal(take(&d.chan_out, m, 64), 1);
    assert_int_equal(m[0].type, QDB_RESP_ERROR);
    assert_null(value(&d, "/q/more"));
    assert_int_equal(d.refused, 1);
    /* dom0's own writes still fit, up to the whole database */
    control(&d, c, QDB_CMD_WRITE, "/qubes-firewall/10.137.0.5/policy", "drop", QDB_RESP_OK);
    for (; d.store.n < QDB_MAX_ENTRIES; i++) {
        snprintf(key, sizeof(key), "/d/%u", i);
        control(&d, c, QDB_CMD_WRITE, key, "", QDB_RESP_OK);
    }
    control(&d, c, QDB_CMD_WRITE, "/d/more", "", QDB_RESP_ERROR);
    assert_int_equal(d.store.n, QDB_MAX_ENTRIES);
    qdb_daemon_free(&d);
}

/* The database of a synced dom0 daemon after one valid write, then `hostile` on the channel:
 * the daemon must fail with a reason containing `why` and the database must be as before. */
static void expect_fatal(void (*hostile)(struct buf *), const char *why)
{
    struct qdb_daemon d;
    dom0_synced(&d);
    send_msg(&d.chan_in, QDB_CMD_WRITE, "/valid", "yes");
    hostile(&d.chan_in);
    send_msg(&d.chan_in, QDB_CMD_WRITE, "/after", "no"); /* never reached */
    size_t watches_before = d.store.nwatches;
    assert_int_equal(qdb_daemon_channel_input(&d), -1);
    if (!strstr(d.why, why))
        fail_msg("reason \"%s\" lacks \"%s\"", d.why, why);
    assert_string_equal(value(&d, "/valid"), "yes");
    assert_null(value(&d, "/after"));
    assert_int_equal(d.store.n, 4);
    assert_string_equal(value(&d, "/name"), "work");
    assert_int_equal(d.store.nwatches, watches_before);
    qdb_daemon_free(&d);
}

static void second_multiread(struct buf *b)
{
    send_msg(b, QDB_CMD_MULTIREAD, "", NULL);
}
static void partial_multiread(struct buf *b)
{
    send_msg(b, QDB_CMD_MULTIREAD, "/", NULL);
}
static void bad_path_chars(struct buf *b)
{
    send_msg(b, QDB_CMD_WRITE, "/name x", "evil");
}
static void relative_path(struct buf *b)
{
    send_msg(b, QDB_CMD_WRITE, "name", "evil");
}
static void dir_write(struct buf *b)
{
    send_msg(b, QDB_CMD_WRITE, "/name/", "evil");
}
static void unterminated_path(struct buf *b)
{
    char p[64];
    memset(p, 'a', sizeof(p));
    p[0] = '/';
    send_raw(b, QDB_CMD_WRITE, p, sizeof(p), 1);
    buf_append(b, "x", 1);
}
static void oversize(struct buf *b)
{
    send_raw(b, QDB_CMD_WRITE, "/name", 5, 3072);
}
static void huge(struct buf *b)
{
    send_raw(b, QDB_CMD_WRITE, "/name", 5, 0xfffffff0u);
}
static void unknown_type(struct buf *b)
{
    send_raw(b, 14, "/name", 5, 0);
}
static void type_255(struct buf *b)
{
    send_raw(b, 255, "", 0, 0);
}
static void local_only_type(struct buf *b)
{
    send_msg(b, QDB_CMD_READ, "/name", NULL);
}
static void watch_type(struct buf *b)
{
    send_msg(b, QDB_CMD_WATCH, "/", NULL);
}
static void noent_answer(struct buf *b)
{
    send_msg(b, QDB_RESP_ERROR_NOENT, "/x", NULL);
}
static void dump_entry(struct buf *b)
{
    send_msg(b, QDB_RESP_MULTIREAD, "/name", "evil");
}
static void watch_event(struct buf *b)
{
    send_msg(b, QDB_RESP_WATCH, "/name", NULL);
}
static void nul_in_value(struct buf *b)
{
    qdb_msg_encode(b, QDB_CMD_WRITE, "/name", "ev\0l", 4);
}
static void rm_with_data(struct buf *b)
{
    qdb_msg_encode(b, QDB_CMD_RM, "/name", "x", 1);
}
static void rm_missing(struct buf *b)
{
    send_msg(b, QDB_CMD_RM, "/not-there", NULL);
}
static void rm_empty(struct buf *b)
{
    send_msg(b, QDB_CMD_RM, "", NULL);
}
static void unsolicited_ok(struct buf *b)
{
    send_msg(b, QDB_RESP_OK, "", NULL);
}
static void ok_with_data(struct buf *b)
{
    qdb_msg_encode(b, QDB_RESP_OK, "", "x", 1);
}

static void test_dom0_hostile_channel(void **state)
{
    (void)state;
    expect_fatal(second_multiread, "second CMD_MULTIREAD");
    expect_fatal(partial_multiread, "multiread of a part");
    expect_fatal(bad_path_chars, "invalid key");
    expect_fatal(relative_path, "invalid key");
    expect_fatal(dir_write, "invalid key");
    expect_fatal(unterminated_path, "without NUL");
    expect_fatal(oversize, "3072");
    expect_fatal(huge, "3072");
    expect_fatal(unknown_type, "unknown message type");
    expect_fatal(type_255, "unknown message type");
    expect_fatal(local_only_type, "not allowed on the channel");
    expect_fatal(watch_type, "not allowed on the channel");
    expect_fatal(noent_answer, "not allowed on the channel");
    expect_fatal(dump_entry, "not allowed on the channel");
    expect_fatal(watch_event, "not allowed on the channel");
    expect_fatal(nul_in_value, "NUL byte");
    expect_fatal(rm_with_data, "data on a message that takes none");
    expect_fatal(rm_missing, "out of sync");
    expect_fatal(rm_empty, "invalid path");
    expect_fatal(unsolicited_ok, "answers nothing");
    expect_fatal(ok_with_data, "data on a message that takes none");
}

static void test_dom0_oversize_fails_before_data(void **state)
{
    (void)state;
    struct qdb_daemon d;
    dom0_synced(&d);
    /* the header alone ends it: the daemon does not wait for 4 GiB */
    send_raw(&d.chan_in, QDB_CMD_WRITE, "/name", 5, 0xffffffffu);
    assert_int_equal(qdb_daemon_channel_input(&d), -1);
    /* the rm of a missing key is answered NOENT as upstream, then the daemon ends */
    qdb_daemon_free(&d);
    dom0_synced(&d);
    send_msg(&d.chan_in, QDB_CMD_RM, "/nothing", NULL);
    assert_int_equal(qdb_daemon_channel_input(&d), -1);
    assert_int_equal(take(&d.chan_out, m, 64), 1);
    assert_int_equal(m[0].type, QDB_RESP_ERROR_NOENT);
    qdb_daemon_free(&d);
}

static void test_dom0_byte_by_byte(void **state)
{
    (void)state;
    struct qdb_daemon d;
    qdb_daemon_init(&d, QDB_MODE_DOM0, "work");
    struct buf whole = BUF_INIT;
    send_msg(&whole, QDB_CMD_MULTIREAD, "", NULL);
    send_msg(&whole, QDB_CMD_WRITE, "/k", "value");
    for (size_t i = 0; i < whole.len; i++) {
        buf_append(&d.chan_in, whole.data + i, 1);
        assert_int_equal(qdb_daemon_channel_input(&d), 0);
    }
    assert_true(d.synced);
    assert_string_equal(value(&d, "/k"), "value");
    assert_int_equal(d.chan_in.len, 0);
    buf_free(&whole);
    qdb_daemon_free(&d);
}

static void test_qube_sync_and_updates(void **state)
{
    (void)state;
    struct qdb_daemon d;
    qdb_daemon_init(&d, QDB_MODE_QUBE, NULL);
    qdb_daemon_request_sync(&d);
    assert_int_equal(take(&d.chan_out, m, 64), 1);
    assert_int_equal(m[0].type, QDB_CMD_MULTIREAD);
    assert_string_equal(m[0].path, "");
    /* the dump, in any order */
    send_msg(&d.chan_in, QDB_RESP_MULTIREAD, "/qubes-ip", "10.137.0.3");
    send_msg(&d.chan_in, QDB_RESP_MULTIREAD, "/name", "work");
    assert_int_equal(qdb_daemon_channel_input(&d), 0);
    assert_false(d.synced);
    send_msg(&d.chan_in, QDB_RESP_MULTIREAD, "", NULL);
    assert_int_equal(qdb_daemon_channel_input(&d), 0);
    assert_true(d.synced);
    assert_int_equal(d.store.n, 2);
    assert_int_equal(d.chan_out.len, 0);

    struct qdb_conn *c = qdb_daemon_conn_add(&d, -1, false);
    control(&d, c, QDB_CMD_READ, "/name", NULL, QDB_RESP_READ);
    assert_string_equal(m[0].data, "work");
    control(&d, c, QDB_CMD_WATCH, "/qubes-ip", NULL, QDB_RESP_OK);
    /* dom0's change: applied, answered, the watch fires */
    send_msg(&d.chan_in, QDB_CMD_WRITE, "/qubes-ip", "10.137.0.9");
    send_msg(&d.chan_in, QDB_CMD_WRITE, "/qubes-ip6", "fd09::9");
    assert_int_equal(qdb_daemon_channel_input(&d), 0);
    assert_int_equal(take(&d.chan_out, m, 64), 2);
    assert_int_equal(m[0].type, QDB_RESP_OK);
    assert_int_equal(take(&c->out, m, 64), 1);
    assert_int_equal(m[0].type, QDB_RESP_WATCH);
    assert_string_equal(m[0].path, "/qubes-ip");
    /* a local change goes to dom0 */
    control(&d, c, QDB_CMD_WRITE, "/qubes-firewall-handled/x", "1", QDB_RESP_OK);
    assert_int_equal(take(&d.chan_out, m, 64), 1);
    assert_int_equal(m[0].type, QDB_CMD_WRITE);
    assert_string_equal(m[0].data, "1");
    /* a second dump nobody asked for ends it */
    send_msg(&d.chan_in, QDB_RESP_OK, "", NULL);
    send_msg(&d.chan_in, QDB_RESP_MULTIREAD, "/evil", "x");
    assert_int_equal(qdb_daemon_channel_input(&d), -1);
    assert_non_null(strstr(d.why, "not asked for"));
    assert_null(value(&d, "/evil"));
    qdb_daemon_free(&d);
}

static void test_qube_strict_before_sync(void **state)
{
    (void)state;
    struct qdb_daemon d;
    qdb_daemon_init(&d, QDB_MODE_QUBE, NULL);
    qdb_daemon_request_sync(&d);
    send_msg(&d.chan_in, QDB_CMD_WRITE, "/x", "1");
    assert_int_equal(qdb_daemon_channel_input(&d), -1);
    assert_non_null(strstr(d.why, "before the dump was complete"));
    qdb_daemon_free(&d);
    /* a multiread from dom0 is not a thing */
    qdb_daemon_init(&d, QDB_MODE_QUBE, NULL);
    qdb_daemon_request_sync(&d);
    send_msg(&d.chan_in, QDB_CMD_MULTIREAD, "", NULL);
    assert_int_equal(qdb_daemon_channel_input(&d), -1);
    qdb_daemon_free(&d);
}

static void test_client_protocol(void **state)
{
    (void)state;
    struct qdb_daemon d;
    qdb_daemon_init(&d, QDB_MODE_QUBE, NULL);
    qdb_daemon_request_sync(&d);
    send_msg(&d.chan_in, QDB_RESP_MULTIREAD, "", NULL);
    assert_int_equal(qdb_daemon_channel_input(&d), 0);
    buf_reset(&d.chan_out);
    struct qdb_conn *c = qdb_daemon_conn_add(&d, -1, false);
    struct qdb_conn *w = qdb_daemon_conn_add(&d, -1, false);

    control(&d, c, QDB_CMD_READ, "/nothing", NULL, QDB_RESP_ERROR_NOENT);
    control(&d, c, QDB_CMD_WRITE, "/qubes-ip", "1", QDB_RESP_OK);
    control(&d, c, QDB_CMD_WRITE, "/qubes-ip6", "2", QDB_RESP_OK);
    control(&d, c, QDB_CMD_WRITE, "/x/a", "3", QDB_RESP_OK);
    control(&d, c, QDB_CMD_WRITE, "/x/b", "", QDB_RESP_OK);
    /* bad requests are refused, the client stays */
    control(&d, c, QDB_CMD_WRITE, "/x/", "v", QDB_RESP_ERROR);
    control(&d, c, QDB_CMD_WRITE, "/a b", "v", QDB_RESP_ERROR);
    control(&d, c, QDB_CMD_READ, "/a b", NULL, QDB_RESP_ERROR);
    control(&d, c, QDB_RESP_OK, "/x", NULL, QDB_RESP_ERROR);
    send_raw(&c->in, QDB_CMD_WRITE, "/nul", 4, 3);
    buf_append(&c->in, "a\0b", 3);
    qdb_daemon_conn_input(&d, c);
    assert_int_equal(take(&c->out, m, 64), 1);
    assert_int_equal(m[0].type, QDB_RESP_ERROR);
    assert_false(c->dead);
    assert_int_equal(take(&d.chan_out, m, 64), 4); /* only the good writes went to dom0 */

    /* multiread and list: string prefix, ascending, end marker */
    send_msg(&c->in, QDB_CMD_MULTIREAD, "/qubes-ip", NULL);
    qdb_daemon_conn_input(&d, c);
    assert_int_equal(take(&c->out, m, 64), 3);
    assert_string_equal(m[0].path, "/qubes-ip");
    assert_string_equal(m[1].path, "/qubes-ip6");
    assert_string_equal(m[1].data, "2");
    assert_string_equal(m[2].path, "");
    send_msg(&c->in, QDB_CMD_LIST, "/x/", NULL);
    qdb_daemon_conn_input(&d, c);
    assert_int_equal(take(&c->out, m, 64), 3);
    assert_int_equal(m[0].type, QDB_RESP_LIST);
    assert_string_equal(m[0].path, "/x/a");
    assert_int_equal(m[0].len, 0);

    /* watches: subtree, exact, unwatch */
    control(&d, w, QDB_CMD_WATCH, "/x/", NULL, QDB_RESP_OK);
    control(&d, w, QDB_CMD_WATCH, "/qubes-ip", NULL, QDB_RESP_OK);
    control(&d, c, QDB_CMD_WRITE, "/qubes-ip6", "3", QDB_RESP_OK);
    control(&d, c, QDB_CMD_RM, "/x/", NULL, QDB_RESP_OK);
    control(&d, c, QDB_CMD_RM, "/x/", NULL, QDB_RESP_ERROR_NOENT);
    assert_int_equal(take(&w->out, m, 64), 1);
    assert_string_equal(m[0].path, "/x/");
    control(&d, w, QDB_CMD_UNWATCH, "/x/", NULL, QDB_RESP_OK);
    control(&d, w, QDB_CMD_UNWATCH, "/x/", NULL, QDB_RESP_ERROR_NOENT);
    control(&d, c, QDB_CMD_WRITE, "/x/c", "", QDB_RESP_OK);
    assert_int_equal(w->out.len, 0);
    take(&d.chan_out, m, 64);

    /* a broken frame ends the client, not the daemon */
    send_raw(&c->in, QDB_CMD_WRITE, "/x", 2, 5000);
    qdb_daemon_conn_input(&d, c);
    assert_true(c->dead);
    qdb_daemon_conn_drop(&d, c);
    assert_int_equal(d.nconns, 1);
    qdb_daemon_conn_drop(&d, w);
    assert_int_equal(d.store.nwatches, 0);
    qdb_daemon_free(&d);
}

static void test_client_that_does_not_read(void **state)
{
    (void)state;
    struct qdb_daemon d;
    qdb_daemon_init(&d, QDB_MODE_DOM0, "work");
    struct qdb_conn *c = qdb_daemon_conn_add(&d, -1, true);
    struct qdb_conn *w = qdb_daemon_conn_add(&d, -1, false);
    control(&d, w, QDB_CMD_WATCH, "/", NULL, QDB_RESP_OK);
    /* events pile up in w's output until the cap, then w is dropped; the writer goes on */
    size_t n = QDB_CONN_OUT_MAX / QDB_HDR_SIZE + 1;
    for (size_t i = 0; i < n; i++) {
        send_msg(&c->in, QDB_CMD_WRITE, "/k", "v");
        qdb_daemon_conn_input(&d, c);
        buf_reset(&c->out);
    }
    assert_true(w->dead);
    assert_true(w->out.len <= QDB_CONN_OUT_MAX);
    assert_false(c->dead);
    /* a client's requests wait while its own answers are unread */
    qdb_daemon_conn_drop(&d, w);
    static char big[3000];
    memset(big, 'b', sizeof(big) - 1);
    for (int i = 0; i < 40; i++) {
        char key[16];
        snprintf(key, sizeof(key), "/big%d", i);
        control(&d, c, QDB_CMD_WRITE, key, big, QDB_RESP_OK);
    }
    send_msg(&c->in, QDB_CMD_MULTIREAD, "/big", NULL);
    send_msg(&c->in, QDB_CMD_MULTIREAD, "/big", NULL);
    qdb_daemon_conn_input(&d, c);
    assert_true(c->out.len > QDB_CONN_OUT_PAUSE);
    assert_int_equal(c->in.len, QDB_HDR_SIZE); /* the second waits for the first's answer */
    buf_reset(&c->out);
    qdb_daemon_conn_input(&d, c);
    assert_int_equal(c->in.len, 0);
    qdb_daemon_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dom0_dump_and_forward),
        cmocka_unit_test(test_dom0_mirrors_qube_writes),
        cmocka_unit_test(test_dom0_qube_share),
        cmocka_unit_test(test_dom0_hostile_channel),
        cmocka_unit_test(test_dom0_oversize_fails_before_data),
        cmocka_unit_test(test_dom0_byte_by_byte),
        cmocka_unit_test(test_qube_sync_and_updates),
        cmocka_unit_test(test_qube_strict_before_sync),
        cmocka_unit_test(test_client_protocol),
        cmocka_unit_test(test_client_that_does_not_read),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
