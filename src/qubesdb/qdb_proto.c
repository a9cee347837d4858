/* Encoding and strict decoding of qubesdb messages, and the path rules; the only code that
 * decides which message a peer may send (see qdb_proto.h). */
#include "qubesdb/qdb_proto.h"

#include <string.h>

bool qdb_path_chars_ok(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
            continue;
        switch (c) {
        case '_':
        case '-':
        case '/':
        case '.':
        case ':':
        case '@': continue;
        default: return false;
        }
    }
    return true;
}

/* The length of a path if it is below QDB_MAX_PATH, else QDB_MAX_PATH. */
static size_t path_len(const char *path)
{
    return strnlen(path, QDB_MAX_PATH);
}

bool qdb_key_ok(const char *path)
{
    size_t n = path_len(path);
    return n > 0 && n < QDB_MAX_PATH && path[0] == '/' && path[n - 1] != '/' &&
           qdb_path_chars_ok(path, n);
}

bool qdb_dir_ok(const char *path)
{
    size_t n = path_len(path);
    return n > 0 && n < QDB_MAX_PATH && path[0] == '/' && path[n - 1] == '/' &&
           qdb_path_chars_ok(path, n);
}

bool qdb_key_or_dir_ok(const char *path)
{
    return qdb_key_ok(path) || qdb_dir_ok(path);
}

bool qdb_prefix_ok(const char *path)
{
    size_t n = path_len(path);
    return n < QDB_MAX_PATH && qdb_path_chars_ok(path, n);
}

bool qdb_value_ok(const char *data, size_t len)
{
    return len < QDB_MAX_DATA && memchr(data, '\0', len) == NULL;
}

bool qdb_watch_matches(const char *watch_path, const char *changed_path)
{
    size_t n = strlen(watch_path);
    if (n > 0 && watch_path[n - 1] == '/')
        return strncmp(watch_path, changed_path, n) == 0;
    return strcmp(watch_path, changed_path) == 0;
}

void qdb_hdr_encode(uint8_t out[QDB_HDR_SIZE], enum qdb_msg_type type, const char *path,
                    uint32_t data_len)
{
    memset(out, 0, QDB_HDR_SIZE);
    out[0] = (uint8_t)type;
    size_t n = strnlen(path, QDB_MAX_PATH - 1);
    memcpy(out + QDB_HDR_PATH_OFFSET, path, n);
    memcpy(out + QDB_HDR_LEN_OFFSET, &data_len, sizeof(data_len));
}

void qdb_msg_encode(struct buf *out, enum qdb_msg_type type, const char *path, const void *data,
                    size_t len)
{
    uint8_t hdr[QDB_HDR_SIZE];
    if (len >= QDB_MAX_DATA)
        len = 0; /* callers pass checked values; never frame a message the peer must refuse */
    qdb_hdr_encode(hdr, type, path, (uint32_t)len);
    buf_append(out, hdr, sizeof(hdr));
    if (len)
        buf_append(out, data, len);
}

static int refuse(const char **why, const char *reason)
{
    if (why)
        *why = reason;
    return -1;
}

int qdb_hdr_decode(const uint8_t untrusted_in[QDB_HDR_SIZE], struct qdb_hdr *untrusted_out,
                   const char **why)
{
    const uint8_t untrusted_type = untrusted_in[0];
    uint32_t untrusted_len;
    memcpy(&untrusted_len, untrusted_in + QDB_HDR_LEN_OFFSET, sizeof(untrusted_len));
    const char *untrusted_path = (const char *)untrusted_in + QDB_HDR_PATH_OFFSET;
    size_t n = strnlen(untrusted_path, QDB_MAX_PATH);

    if (untrusted_type >= QDB_MSG_TYPE_COUNT)
        return refuse(why, "unknown message type");
    if (n >= QDB_MAX_PATH)
        return refuse(why, "path without NUL in its 64 bytes");
    if (untrusted_len >= QDB_MAX_DATA)
        return refuse(why, "data length of 3072 bytes or more");

    untrusted_out->type = untrusted_type;
    memset(untrusted_out->path, 0, sizeof(untrusted_out->path));
    memcpy(untrusted_out->path, untrusted_path, n);
    untrusted_out->data_len = untrusted_len;
    return 0;
}

static int no_data(const struct qdb_hdr *untrusted_hdr, const char **why)
{
    if (untrusted_hdr->data_len != 0)
        return refuse(why, "data on a message that takes none");
    return 0;
}

/* A channel message both directions share: forwarded changes and the answers to them. */
static int check_channel_common(const struct qdb_hdr *untrusted_hdr, const char **why)
{
    switch ((enum qdb_msg_type)untrusted_hdr->type) {
    case QDB_CMD_WRITE:
        if (!qdb_key_ok(untrusted_hdr->path))
            return refuse(why, "write of an invalid key");
        return 0;
    case QDB_CMD_RM:
        if (!qdb_key_or_dir_ok(untrusted_hdr->path))
            return refuse(why, "rm of an invalid path");
        return no_data(untrusted_hdr, why);
    case QDB_RESP_OK:
    case QDB_RESP_ERROR:
        /* the path of an answer echoes the request's and means nothing */
        return no_data(untrusted_hdr, why);
    case QDB_CMD_READ:
    case QDB_CMD_MULTIREAD:
    case QDB_CMD_LIST:
    case QDB_CMD_WATCH:
    case QDB_CMD_UNWATCH:
    case QDB_RESP_ERROR_NOENT:
    case QDB_RESP_READ:
    case QDB_RESP_MULTIREAD:
    case QDB_RESP_LIST:
    case QDB_RESP_WATCH: break;
    }
    return refuse(why, "message type not allowed on the channel");
}

static int check_from_qube(const struct qdb_hdr *untrusted_hdr, const char **why)
{
    if (untrusted_hdr->type == QDB_CMD_MULTIREAD) {
        if (untrusted_hdr->path[0] != '\0')
            return refuse(why, "multiread of a part: the qube's daemon asks for everything");
        return no_data(untrusted_hdr, why);
    }
    return check_channel_common(untrusted_hdr, why);
}

static int check_from_dom0(const struct qdb_hdr *untrusted_hdr, const char **why)
{
    if (untrusted_hdr->type == QDB_RESP_MULTIREAD) {
        if (untrusted_hdr->path[0] == '\0')
            return no_data(untrusted_hdr, why); /* the end of the dump */
        if (!qdb_key_ok(untrusted_hdr->path))
            return refuse(why, "dump entry with an invalid key");
        return 0;
    }
    return check_channel_common(untrusted_hdr, why);
}

static int check_from_client(const struct qdb_hdr *untrusted_hdr, const char **why)
{
    const char *path = untrusted_hdr->path;
    switch ((enum qdb_msg_type)untrusted_hdr->type) {
    case QDB_CMD_READ:
    case QDB_CMD_MULTIREAD:
    case QDB_CMD_LIST:
        /* as upstream: any legal characters; a read of a non-key just finds nothing */
        if (!qdb_prefix_ok(path))
            return refuse(why, "invalid path");
        return no_data(untrusted_hdr, why);
    case QDB_CMD_WRITE:
        if (!qdb_key_ok(path))
            return refuse(why, "write of an invalid key");
        return 0;
    case QDB_CMD_RM:
    case QDB_CMD_WATCH:
    case QDB_CMD_UNWATCH:
        if (!qdb_key_or_dir_ok(path))
            return refuse(why, "invalid path");
        return no_data(untrusted_hdr, why);
    case QDB_RESP_OK:
    case QDB_RESP_ERROR_NOENT:
    case QDB_RESP_ERROR:
    case QDB_RESP_READ:
    case QDB_RESP_MULTIREAD:
    case QDB_RESP_LIST:
    case QDB_RESP_WATCH: break;
    }
    return refuse(why, "not a request");
}

static int check_from_daemon(const struct qdb_hdr *untrusted_hdr, const char **why)
{
    const char *path = untrusted_hdr->path;
    switch ((enum qdb_msg_type)untrusted_hdr->type) {
    case QDB_RESP_OK:
    case QDB_RESP_ERROR_NOENT:
    case QDB_RESP_ERROR: return no_data(untrusted_hdr, why);
    case QDB_RESP_READ: return 0;
    case QDB_RESP_MULTIREAD:
        if (path[0] != '\0' && !qdb_key_ok(path))
            return refuse(why, "multiread entry with an invalid key");
        if (path[0] == '\0')
            return no_data(untrusted_hdr, why);
        return 0;
    case QDB_RESP_LIST:
        if (path[0] != '\0' && !qdb_key_ok(path))
            return refuse(why, "list entry with an invalid key");
        return no_data(untrusted_hdr, why);
    case QDB_RESP_WATCH:
        if (!qdb_key_or_dir_ok(path))
            return refuse(why, "watch event with an invalid path");
        return no_data(untrusted_hdr, why);
    case QDB_CMD_READ:
    case QDB_CMD_WRITE:
    case QDB_CMD_MULTIREAD:
    case QDB_CMD_LIST:
    case QDB_CMD_RM:
    case QDB_CMD_WATCH:
    case QDB_CMD_UNWATCH: break;
    }
    return refuse(why, "not a response");
}

int qdb_check_msg(enum qdb_role role, const struct qdb_hdr *untrusted_hdr, const char **why)
{
    if (untrusted_hdr->type >= QDB_MSG_TYPE_COUNT)
        return refuse(why, "unknown message type");
    if (untrusted_hdr->data_len >= QDB_MAX_DATA)
        return refuse(why, "data length of 3072 bytes or more");
    switch (role) {
    case QDB_FROM_QUBE: return check_from_qube(untrusted_hdr, why);
    case QDB_FROM_DOM0: return check_from_dom0(untrusted_hdr, why);
    case QDB_FROM_CLIENT: return check_from_client(untrusted_hdr, why);
    case QDB_FROM_DAEMON: return check_from_daemon(untrusted_hdr, why);
    }
    return refuse(why, "unknown role");
}

const char *qdb_msg_type_name(unsigned type)
{
    static const char *const names[QDB_MSG_TYPE_COUNT] = {
        [QDB_CMD_READ] = "CMD_READ",
        [QDB_CMD_WRITE] = "CMD_WRITE",
        [QDB_CMD_MULTIREAD] = "CMD_MULTIREAD",
        [QDB_CMD_LIST] = "CMD_LIST",
        [QDB_CMD_RM] = "CMD_RM",
        [QDB_CMD_WATCH] = "CMD_WATCH",
        [QDB_CMD_UNWATCH] = "CMD_UNWATCH",
        [QDB_RESP_OK] = "RESP_OK",
        [QDB_RESP_ERROR_NOENT] = "RESP_ERROR_NOENT",
        [QDB_RESP_ERROR] = "RESP_ERROR",
        [QDB_RESP_READ] = "RESP_READ",
        [QDB_RESP_MULTIREAD] = "RESP_MULTIREAD",
        [QDB_RESP_LIST] = "RESP_LIST",
        [QDB_RESP_WATCH] = "RESP_WATCH",
    };
    return type < QDB_MSG_TYPE_COUNT ? names[type] : "unknown";
}
