/* libFuzzer target for the qubesdb client library's handling of what a daemon answers: the
 * input is everything the "daemon" ever sends (then it hangs up); the client makes request
 * after request (first byte: which one first) until a call fails. Every call must end (no
 * assert, no hang), and what a call returns must keep the library's promises: paths within
 * QDB_MAX_PATH, values NUL-terminated at their length and without NUL before it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "qubesdb/qdb_client.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Small enough that neither side's socket buffer fills: the requests stay unread. */
#define MAX_INPUT (16u * 1024u)

static void check_items(const struct qdb_items *items, bool values)
{
    for (size_t i = 0; i < items->n; i++) {
        const struct qdb_item *it = &items->items[i];
        if (!qdb_key_ok(it->path))
            abort();
        if (values && (!it->value || it->value[it->len] != '\0' || strlen(it->value) != it->len))
            abort();
        if (!values && it->value)
            abort();
    }
}

static int one_call(struct qdb_client *c, unsigned op)
{
    struct qerror err = { 0 };
    struct qdb_items items;
    char path[QDB_MAX_PATH];
    char *value = NULL;
    uint32_t len = 0;
    int rc;
    switch (op % 8) {
    case 0:
        rc = qdb_read(c, "/name", &value, &len, &err);
        if (rc == 1 && (value[len] != '\0' || strlen(value) != len))
            abort();
        free(value);
        return rc < 0 ? -1 : 0;
    case 1:
        rc = qdb_multiread(c, "/qubes-", &items, &err);
        if (rc == 0) {
            check_items(&items, true);
            qdb_items_free(&items);
        }
        return rc;
    case 2:
        rc = qdb_list(c, "/", &items, &err);
        if (rc == 0) {
            check_items(&items, false);
            qdb_items_free(&items);
        }
        return rc;
    case 3: return qdb_write(c, "/qubes-firewall-handled/10.137.0.3", "1", 1, &err);
    case 4: return qdb_rm(c, "/qubes-firewall/", &err);
    case 5: return qdb_watch(c, "/qubes-firewall/", &err);
    case 6: return qdb_unwatch(c, "/qubes-ip", &err);
    default:
        rc = qdb_read_watch(c, path, &err);
        if (rc == 0 && (memchr(path, '\0', QDB_MAX_PATH) == NULL || !qdb_key_or_dir_ok(path)))
            abort();
        return rc;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > MAX_INPUT)
        return 0;
    unsigned op = data[0];
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        abort();
    if (size > 1 && write(sv[1], data + 1, size - 1) != (ssize_t)(size - 1))
        abort();
    shutdown(sv[1], SHUT_WR);
    struct qdb_client *c = qdb_open_fd(sv[0]);
    /* each call reads at least one header or fails, so this ends */
    for (unsigned i = 0; i < MAX_INPUT / QDB_HDR_SIZE + 2; i++) {
        if (one_call(c, op + i) < 0)
            break;
    }
    qdb_close(c);
    close(sv[1]);
    return 0;
}
