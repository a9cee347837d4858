/* Encoding and strict decoding of qrexec protocol 3 messages; the only code that decides
 * which type and size a peer may send (see qrexec_proto.h). */
#include "qrexec/qrexec_proto.h"

#include <stdlib.h>
#include <string.h>

uint32_t qrexec_get_u32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

void qrexec_put_u32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, sizeof(v));
}

void qrexec_hdr_encode(uint8_t out[QREXEC_HDR_SIZE], uint32_t type, uint32_t len)
{
    qrexec_put_u32(out, type);
    qrexec_put_u32(out + 4, len);
}

struct msg_header qrexec_hdr_decode(const uint8_t in[QREXEC_HDR_SIZE])
{
    struct msg_header h = { qrexec_get_u32(in), qrexec_get_u32(in + 4) };
    return h;
}

size_t qrexec_max_chunk(uint32_t version)
{
    return version >= QREXEC_PROTOCOL_V3 ? QREXEC_MAX_DATA_CHUNK_V3 : QREXEC_MAX_DATA_CHUNK_V2;
}

size_t qrexec_role_max_len(enum qrexec_role role)
{
    switch (role) {
    case QREXEC_FROM_AGENT: return QREXEC_TRIGGER3_SIZE + QREXEC_MAX_SERVICE_NAME_LEN;
    case QREXEC_FROM_DAEMON:
    case QREXEC_FROM_CLIENT: return QREXEC_EXEC_PARAMS_SIZE + QREXEC_MAX_CMD_LEN;
    case QREXEC_FROM_DAEMON_LOCAL: return QREXEC_EXEC_PARAMS_SIZE;
    case QREXEC_DATA_TO_SERVICE:
    case QREXEC_DATA_TO_CLIENT: return QREXEC_MAX_DATA_CHUNK_V3;
    }
    return 0;
}

static int refuse(const char **why, const char *reason)
{
    if (why)
        *why = reason;
    return -1;
}

static int check_exec_len(uint32_t len, const char **why)
{
    if (len <= QREXEC_EXEC_PARAMS_SIZE)
        return refuse(why, "exec message without a command line");
    if (len > QREXEC_EXEC_PARAMS_SIZE + QREXEC_MAX_CMD_LEN)
        return refuse(why, "command line too long");
    return 0;
}

static int check_data(uint32_t len, uint32_t version, const char **why)
{
    if (len > qrexec_max_chunk(version))
        return refuse(why, "too big data chunk received");
    return 0;
}

int qrexec_check_header(enum qrexec_role role, const struct msg_header *untrusted_hdr,
                        uint32_t version, const char **why)
{
    uint32_t len = untrusted_hdr->len;
    switch (role) {
    case QREXEC_FROM_AGENT:
        switch (untrusted_hdr->type) {
        case MSG_CONNECTION_TERMINATED:
            return len == QREXEC_EXEC_PARAMS_SIZE
                       ? 0
                       : refuse(why, "wrong size of CONNECTION_TERMINATED");
        case MSG_TRIGGER_SERVICE3:
            if (version < QREXEC_PROTOCOL_V3)
                return refuse(why, "TRIGGER_SERVICE3 below protocol 3");
            if (len <= QREXEC_TRIGGER3_SIZE ||
                len > QREXEC_TRIGGER3_SIZE + QREXEC_MAX_SERVICE_NAME_LEN)
                return refuse(why, "wrong size of TRIGGER_SERVICE3");
            return 0;
        case MSG_TRIGGER_SERVICE:
            if (version >= QREXEC_PROTOCOL_V3)
                return refuse(why, "TRIGGER_SERVICE at protocol 3");
            return len == QREXEC_TRIGGER_SIZE ? 0 : refuse(why, "wrong size of TRIGGER_SERVICE");
        default: return refuse(why, "unexpected message type from agent");
        }
    case QREXEC_FROM_DAEMON:
        switch (untrusted_hdr->type) {
        case MSG_EXEC_CMDLINE:
        case MSG_JUST_EXEC: return check_exec_len(len, why);
        case MSG_SERVICE_CONNECT:
            return len == QREXEC_EXEC_PARAMS_SIZE + QREXEC_SERVICE_PARAMS_SIZE
                       ? 0
                       : refuse(why, "wrong size of SERVICE_CONNECT");
        case MSG_SERVICE_REFUSED:
            return len == QREXEC_SERVICE_PARAMS_SIZE ? 0
                                                     : refuse(why, "wrong size of SERVICE_REFUSED");
        default: return refuse(why, "unexpected message type from daemon");
        }
    case QREXEC_FROM_CLIENT:
        switch (untrusted_hdr->type) {
        case MSG_EXEC_CMDLINE:
        case MSG_JUST_EXEC: return check_exec_len(len, why);
        default: return refuse(why, "unexpected message type from client");
        }
    case QREXEC_FROM_DAEMON_LOCAL:
        switch (untrusted_hdr->type) {
        case MSG_EXEC_CMDLINE:
        case MSG_JUST_EXEC:
            return len == QREXEC_EXEC_PARAMS_SIZE ? 0 : refuse(why, "wrong size of daemon reply");
        default: return refuse(why, "unexpected message type from daemon");
        }
    case QREXEC_DATA_TO_SERVICE:
        switch (untrusted_hdr->type) {
        case MSG_DATA_STDIN:
        case MSG_DATA_STDOUT: /* tolerated as data, as upstream (qubes-issues#7917) */
            return check_data(len, version, why);
        default: return refuse(why, "unexpected data message type");
        }
    case QREXEC_DATA_TO_CLIENT:
        switch (untrusted_hdr->type) {
        case MSG_DATA_STDOUT:
        case MSG_DATA_STDIN:
        case MSG_DATA_STDERR: return check_data(len, version, why);
        case MSG_DATA_EXIT_CODE:
            return len <= QREXEC_EXIT_CODE_SIZE ? 0 : refuse(why, "wrong size of EXIT_CODE");
        default: return refuse(why, "unexpected data message type");
        }
    }
    return refuse(why, "unknown role");
}

void qrexec_msg_encode(struct buf *out, uint32_t type, const void *payload, size_t len)
{
    uint8_t h[QREXEC_HDR_SIZE];
    qrexec_hdr_encode(h, type, (uint32_t)len);
    buf_append(out, h, sizeof(h));
    if (len)
        buf_append(out, payload, len);
}

void qrexec_hello_encode(struct buf *out, uint32_t version)
{
    uint8_t p[QREXEC_HELLO_SIZE];
    qrexec_put_u32(p, version);
    qrexec_msg_encode(out, MSG_HELLO, p, sizeof(p));
}

void qrexec_params_encode(struct buf *out, uint32_t type, uint32_t domain, uint32_t port)
{
    uint8_t p[QREXEC_EXEC_PARAMS_SIZE];
    qrexec_put_u32(p, domain);
    qrexec_put_u32(p + 4, port);
    qrexec_msg_encode(out, type, p, sizeof(p));
}

void qrexec_exec_encode(struct buf *out, uint32_t type, uint32_t domain, uint32_t port,
                        const char *cmdline)
{
    size_t n = strlen(cmdline) + 1;
    uint8_t h[QREXEC_HDR_SIZE + QREXEC_EXEC_PARAMS_SIZE];
    qrexec_hdr_encode(h, type, (uint32_t)(QREXEC_EXEC_PARAMS_SIZE + n));
    qrexec_put_u32(h + 8, domain);
    qrexec_put_u32(h + 12, port);
    buf_append(out, h, sizeof(h));
    buf_append(out, cmdline, n);
}

void qrexec_exit_code_encode(struct buf *out, int code)
{
    uint8_t p[QREXEC_EXIT_CODE_SIZE];
    memcpy(p, &code, sizeof(p));
    qrexec_msg_encode(out, MSG_DATA_EXIT_CODE, p, sizeof(p));
}

int qrexec_hello_decode(const struct msg_header *untrusted_hdr, const uint8_t *untrusted_payload,
                        uint32_t own, uint32_t min_version, uint32_t *version, const char **why)
{
    if (untrusted_hdr->type != MSG_HELLO)
        return refuse(why, "expected HELLO");
    if (untrusted_hdr->len != QREXEC_HELLO_SIZE)
        return refuse(why, "wrong size of HELLO");
    uint32_t untrusted_version = qrexec_get_u32(untrusted_payload);
    uint32_t v = untrusted_version < own ? untrusted_version : own;
    if (v < min_version)
        return refuse(why, "incompatible protocol version");
    *version = v;
    return 0;
}

int qrexec_exec_decode(const uint8_t *untrusted_payload, size_t len, struct qrexec_exec_req *out,
                       const char **why)
{
    if (len <= QREXEC_EXEC_PARAMS_SIZE)
        return refuse(why, "exec message without a command line");
    if (len > QREXEC_EXEC_PARAMS_SIZE + QREXEC_MAX_CMD_LEN)
        return refuse(why, "command line too long");
    const char *untrusted_cmd = (const char *)untrusted_payload + QREXEC_EXEC_PARAMS_SIZE;
    size_t n = len - QREXEC_EXEC_PARAMS_SIZE;
    if (untrusted_cmd[n - 1] != '\0')
        return refuse(why, "command line not NUL-terminated");
    if (strlen(untrusted_cmd) != n - 1)
        return refuse(why, "NUL inside the command line");
    if (n == 1)
        return refuse(why, "empty command line");
    out->connect_domain = qrexec_get_u32(untrusted_payload);
    out->connect_port = qrexec_get_u32(untrusted_payload + 4);
    out->cmdline = untrusted_cmd;
    out->cmdline_len = n - 1;
    return 0;
}

int qrexec_params_decode(const uint8_t *untrusted_payload, size_t len, uint32_t *domain,
                         uint32_t *port, const char **why)
{
    if (len != QREXEC_EXEC_PARAMS_SIZE)
        return refuse(why, "wrong size of exec_params");
    *domain = qrexec_get_u32(untrusted_payload);
    *port = qrexec_get_u32(untrusted_payload + 4);
    return 0;
}

int qrexec_exit_code_decode(const uint8_t *untrusted_payload, size_t len)
{
    if (len < QREXEC_EXIT_CODE_SIZE)
        return 255;
    int code;
    memcpy(&code, untrusted_payload, sizeof(code));
    return code;
}

bool qrexec_port_valid(uint32_t port)
{
    return port >= QREXEC_BASE_DATA_PORT && port < QREXEC_BASE_DATA_PORT + QREXEC_MAX_CLIENTS;
}

static bool alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

int qrexec_trigger3_decode(const uint8_t *untrusted_payload, size_t len,
                           struct qrexec_trigger3 *out, const char **why)
{
    memset(out, 0, sizeof(*out));
    if (len <= QREXEC_TRIGGER3_SIZE || len > QREXEC_TRIGGER3_SIZE + QREXEC_MAX_SERVICE_NAME_LEN)
        return refuse(why, "wrong size of TRIGGER_SERVICE3");
    /* target: forced NUL, characters outside the set replaced */
    memcpy(out->target_domain, untrusted_payload, sizeof(out->target_domain));
    out->target_domain[sizeof(out->target_domain) - 1] = '\0';
    for (char *c = out->target_domain; *c; c++)
        if (!alnum(*c) && !strchr("_-.@:", *c))
            *c = '_';

    /* ident: allowed chars, then only NUL padding */
    const char *untrusted_ident = (const char *)untrusted_payload + 64;
    out->ident_ok = true;
    size_t i = 0;
    while (i < 32 && untrusted_ident[i]) {
        char c = untrusted_ident[i];
        if (!alnum(c) && !strchr("_-. ", c))
            out->ident_ok = false;
        i++;
    }
    if (i == 32)
        out->ident_ok = false;
    for (; i < 32; i++)
        if (untrusted_ident[i])
            out->ident_ok = false;
    memcpy(out->ident, untrusted_ident, sizeof(out->ident));
    out->ident[sizeof(out->ident) - 1] = '\0';

    const char *untrusted_name = (const char *)untrusted_payload + QREXEC_TRIGGER3_SIZE;
    size_t n = len - QREXEC_TRIGGER3_SIZE;
    if (untrusted_name[n - 1] != '\0' || strlen(untrusted_name) != n - 1)
        return refuse(why, "service name not exactly NUL-terminated");
    if (n == 1)
        return refuse(why, "empty service name");
    if (untrusted_name[0] == '+')
        return refuse(why, "service name starts with '+'");

    char *name = malloc(n);
    if (!name)
        abort();
    for (size_t k = 0; k < n - 1; k++) {
        char c = untrusted_name[k];
        name[k] = (alnum(c) || strchr("_-.+", c)) ? c : '_';
    }
    name[n - 1] = '\0';
    out->service_name = name;
    return 0;
}

const char *qrexec_msg_type_name(uint32_t type)
{
    switch (type) {
    case MSG_DATA_STDIN: return "DATA_STDIN";
    case MSG_DATA_STDOUT: return "DATA_STDOUT";
    case MSG_DATA_STDERR: return "DATA_STDERR";
    case MSG_DATA_EXIT_CODE: return "DATA_EXIT_CODE";
    case MSG_EXEC_CMDLINE: return "EXEC_CMDLINE";
    case MSG_JUST_EXEC: return "JUST_EXEC";
    case MSG_SERVICE_CONNECT: return "SERVICE_CONNECT";
    case MSG_SERVICE_REFUSED: return "SERVICE_REFUSED";
    case MSG_TRIGGER_SERVICE: return "TRIGGER_SERVICE";
    case MSG_CONNECTION_TERMINATED: return "CONNECTION_TERMINATED";
    case MSG_TRIGGER_SERVICE3: return "TRIGGER_SERVICE3";
    case MSG_HELLO: return "HELLO";
    default: return "unknown";
    }
}
