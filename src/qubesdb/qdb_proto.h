/* The qubesdb wire format (upstream qubes-core-qubesdb include/qubesdb.h), byte for byte, with
 * its named limits, the path rules, and the one place that decides what a peer may send.
 *
 * A message is a 72-byte header followed by exactly data_len bytes of value (no NUL at the end):
 *
 *   offset 0   uint8_t  type        enum qdb_msg_type
 *   offset 1   char     path[64]    NUL-terminated; bytes after the NUL are ignored
 *   offset 65  3 bytes  padding     (upstream's struct is not packed; ignored, sent as 0)
 *   offset 68  uint32_t data_len    native byte order, < QDB_MAX_DATA
 *
 * The same format runs on three links, and who sends decides what is legal (enum qdb_role):
 *  - the channel between dom0's per-qube daemon and the qube's daemon (upstream: vchan port
 *    111). The qube sends one MULTIREAD with an empty path; dom0 answers with the whole
 *    database (one RESP_MULTIREAD per entry, then one with an empty path and no data); from
 *    then on each side forwards every WRITE and RM of its local clients, and the other side
 *    answers RESP_OK (RESP_ERROR if it refused a write).
 *  - a daemon's local clients (qubesdb-read, qubes-init, qubesd's control descriptor): the
 *    seven CMD_ types, answered with RESP_ types; RESP_WATCH events may arrive between them.
 *
 * Everything received is untrusted_ until qdb_check_msg() said yes for the sender's role. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

#define QDB_MAX_PATH 64u   /* a path with its NUL: at most 63 characters */
#define QDB_MAX_DATA 3072u /* a value is shorter than this: at most 3071 bytes */
#define QDB_HDR_SIZE 72u
#define QDB_MSG_MAX (QDB_HDR_SIZE + QDB_MAX_DATA - 1u) /* the longest legal message */
#define QDB_MAX_CLIENTS 256u                           /* local clients per daemon */

#define QDB_HDR_PATH_OFFSET 1u
#define QDB_HDR_LEN_OFFSET 68u

/* Where a qube's daemon serves its clients, and where dom0's per-qube daemon serves dom0's
 * (both under $QUBES_ROOT, "/" in a qube). */
#define QDB_LOCAL_SOCKET "run/qubes/qubesdb.sock"
#define QDB_DOM0_SOCKET_FMT "run/qubes/qubesdb.%s.sock"

enum qdb_msg_type {
    QDB_CMD_READ = 0,
    QDB_CMD_WRITE = 1,
    QDB_CMD_MULTIREAD = 2,
    QDB_CMD_LIST = 3,
    QDB_CMD_RM = 4,
    QDB_CMD_WATCH = 5,
    QDB_CMD_UNWATCH = 6,
    QDB_RESP_OK = 7,
    QDB_RESP_ERROR_NOENT = 8,
    QDB_RESP_ERROR = 9,
    QDB_RESP_READ = 10,
    QDB_RESP_MULTIREAD = 11,
    QDB_RESP_LIST = 12,
    QDB_RESP_WATCH = 13,
};
#define QDB_MSG_TYPE_COUNT 14u

/* A decoded header. After qdb_hdr_decode, path is NUL-terminated within QDB_MAX_PATH and
 * data_len < QDB_MAX_DATA; nothing else is known until qdb_check_msg. */
struct qdb_hdr {
    uint8_t type;
    char path[QDB_MAX_PATH];
    uint32_t data_len;
};

/* Who sent a message decides which types, paths and lengths are legal. */
enum qdb_role {
    QDB_FROM_QUBE,   /* channel, read by dom0's daemon (hostile) */
    QDB_FROM_DOM0,   /* channel, read by the qube's daemon */
    QDB_FROM_CLIENT, /* local socket or control descriptor, read by a daemon */
    QDB_FROM_DAEMON, /* local socket, read by the client library */
};

/* [A-Za-z0-9_-/.:@]* over len bytes */
bool qdb_path_chars_ok(const char *s, size_t len);
/* A key: '/' first, not '/' last, legal characters, at most 63 of them. */
bool qdb_key_ok(const char *path);
/* A subtree: '/' first and last, legal characters, at most 63 ("/" is every key). */
bool qdb_dir_ok(const char *path);
/* What rm and watch take: a key or a subtree. */
bool qdb_key_or_dir_ok(const char *path);
/* What multiread and list take: a string prefix (empty: everything), legal characters. */
bool qdb_prefix_ok(const char *path);
/* A value: shorter than QDB_MAX_DATA, no NUL byte. */
bool qdb_value_ok(const char *data, size_t len);

/* Whether a watch on watch_path fires for a change of changed_path (a key written, or the key
 * or subtree a rm named): a watch ending in '/' fires for every path under it, any other only
 * for its exact path. */
bool qdb_watch_matches(const char *watch_path, const char *changed_path);

void qdb_hdr_encode(uint8_t out[QDB_HDR_SIZE], enum qdb_msg_type type, const char *path,
                    uint32_t data_len);
/* Appends header and data. path must be shorter than QDB_MAX_PATH, len below QDB_MAX_DATA. */
void qdb_msg_encode(struct buf *out, enum qdb_msg_type type, const char *path, const void *data,
                    size_t len);

/* The framing every role shares: a known type, a NUL within the 64 path bytes, a length below
 * QDB_MAX_DATA. 0, or -1 with a static reason. Needs only the header, so an oversize length is
 * refused before its data is awaited. */
int qdb_hdr_decode(const uint8_t untrusted_in[QDB_HDR_SIZE], struct qdb_hdr *untrusted_out,
                   const char **why);

/* 0 if a message with this header may come from this sender, else -1 with a static reason.
 * The value itself is checked by qdb_value_ok where a message carries one. */
int qdb_check_msg(enum qdb_role role, const struct qdb_hdr *untrusted_hdr, const char **why);

const char *qdb_msg_type_name(unsigned type);
