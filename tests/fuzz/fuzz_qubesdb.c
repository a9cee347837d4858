/* libFuzzer target for what qubesdb-daemon reads from its channel: a stream from a hostile
 * qube to dom0's daemon (or, first byte odd, from dom0 to a qube's daemon, after its
 * MULTIREAD), cut into pieces at lengths the input chooses, with dom0's own writes between
 * them so that forwards and their answers happen. After every piece the database must be
 * sorted, within its bounds and counted right; once the daemon says the peer broke the
 * protocol, it must have a reason and nothing more is fed. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "qubesdb/qdb_daemon.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_store(const struct qdb_store *s)
{
    size_t bytes = 0;
    if (s->n > QDB_MAX_ENTRIES || s->bytes > QDB_MAX_BYTES)
        abort();
    for (size_t i = 0; i < s->n; i++) {
        const struct qdb_entry *e = &s->entries[i];
        if (!qdb_key_ok(e->path) || !qdb_value_ok(e->value, e->len) || e->value[e->len] != '\0')
            abort();
        if (i > 0 && strcmp(s->entries[i - 1].path, e->path) >= 0)
            abort();
        bytes += strlen(e->path) + e->len;
    }
    if (bytes != s->bytes)
        abort();
}

/* What the daemon sent must itself be well framed. */
static void check_out(struct buf *b)
{
    size_t pos = 0;
    while (b->len - pos >= QDB_HDR_SIZE) {
        struct qdb_hdr h;
        const char *why;
        if (qdb_hdr_decode((const uint8_t *)b->data + pos, &h, &why) < 0)
            abort();
        pos += QDB_HDR_SIZE + h.data_len;
    }
    if (pos != b->len)
        abort();
    buf_reset(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool quiet;
    if (!quiet) {
        log_set_level(LOG_ERROR);
        quiet = true;
    }
    if (size < 2)
        return 0;
    bool qube_mode = data[0] & 1;
    size_t piece = data[1] % 128 + 1; /* 128 and up: whole */
    bool whole = data[1] >= 128;
    data += 2;
    size -= 2;

    struct qdb_daemon d;
    qdb_daemon_init(&d, qube_mode ? QDB_MODE_QUBE : QDB_MODE_DOM0, qube_mode ? NULL : "work");
    struct qdb_conn *control = qdb_daemon_conn_add(&d, -1, true);
    struct qdb_conn *watcher = qdb_daemon_conn_add(&d, -1, false);
    /* what qubesd writes before the qube starts, and what it watches */
    static const char *const keys[] = { "/name", "/qubes-ip", "/qubes-ip6",
                                        "/qubes-firewall/10.137.0.3/policy" };
    for (size_t i = 0; i < 4 && !qube_mode; i++)
        qdb_msg_encode(&control->in, QDB_CMD_WRITE, keys[i], "v", 1);
    qdb_msg_encode(&watcher->in, QDB_CMD_WATCH, "/", NULL, 0);
    qdb_msg_encode(&watcher->in, QDB_CMD_WATCH, "/qubes-firewall/", NULL, 0);
    qdb_daemon_conn_input(&d, control);
    qdb_daemon_conn_input(&d, watcher);
    if (qube_mode)
        qdb_daemon_request_sync(&d);

    size_t pos = 0, round = 0;
    while (pos < size) {
        size_t n = whole ? size - pos : (size - pos < piece ? size - pos : piece);
        buf_append(&d.chan_in, data + pos, n);
        pos += n;
        int rc = qdb_daemon_channel_input(&d);
        check_store(&d.store);
        check_out(&d.chan_out);
        check_out(&watcher->out);
        if (rc < 0) {
            if (!d.why[0])
                abort();
            break;
        }
        if (d.why[0])
            abort();
        /* dom0 (or a qube's client) changes something: forwarded once synced */
        char key[32];
        snprintf(key, sizeof(key), "/k%zu", round++ % 8);
        qdb_msg_encode(&control->in, round % 3 ? QDB_CMD_WRITE : QDB_CMD_RM, key, NULL, 0);
        qdb_daemon_conn_input(&d, control);
        check_out(&control->out);
        check_store(&d.store);
    }
    qdb_daemon_free(&d);
    return 0;
}
