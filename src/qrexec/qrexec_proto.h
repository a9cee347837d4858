/* The qrexec wire format, protocol 3 (Qubes R4.1-R4.2, upstream libqrexec/qrexec.h), byte
 * for byte, with its named limits and the one place that decides what a peer may send.
 *
 * Every integer is a native-endian uint32_t; every message is a struct msg_header followed by
 * exactly hdr.len bytes of payload. Structs have natural alignment and no padding.
 *
 * Transport mapping (Qubicle has no Xen vchan):
 *  - control channel daemon <-> agent: one connected AF_UNIX SOCK_STREAM socket inherited by
 *    both sides (port 512 upstream). Agent sends MSG_HELLO first, daemon answers with its own.
 *  - data connection ("vchan on port P", P >= 513): a socketpair made by qrexec-daemon. One end
 *    travels to the agent as SCM_RIGHTS attached to the MSG_EXEC_CMDLINE / MSG_JUST_EXEC that
 *    names P; the other end travels to the local qrexec-client, attached to the daemon's reply
 *    of the same type. Each side sends MSG_HELLO and reads the peer's; min() wins.
 *  - file descriptors only ever travel from dom0 to a qube, never back: any descriptor arriving
 *    at qrexec-daemon from the agent is a protocol violation that ends that daemon.
 *
 * Local client protocol (qrexec-client -> $QUBES_ROOT/run/qubes/qrexec.<name>), as upstream
 * R4.2 plus descriptor passing:
 *   daemon -> client  MSG_HELLO {3}
 *   client -> daemon  MSG_HELLO {3}                         (must be exactly 3)
 *   client -> daemon  MSG_EXEC_CMDLINE | MSG_JUST_EXEC, exec_params {D, 0} + "user:cmd\0"
 *                     (D: 0 for dom0's own call, else the domain id of the qube that asked
 *                     for it, as upstream's connect_domain; the daemon limits those calls)
 *   daemon -> client  same type, len 8, exec_params {0, P}  + SCM_RIGHTS: the data socket
 *   daemon closes the client socket when the agent reports MSG_CONNECTION_TERMINATED for P
 *   (this is what qrexec-client -W waits for); the client may also just hang up. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

#define QREXEC_PROTOCOL_V2 2u
#define QREXEC_PROTOCOL_V3 3u
#define QREXEC_PROTOCOL_VERSION QREXEC_PROTOCOL_V3 /* what this side advertises */
#define QREXEC_AGENT_MIN_VERSION 2u                /* daemon refuses older agents */
#define QREXEC_DATA_MIN_VERSION 2u
#define QREXEC_CLIENT_PROTOCOL_VERSION 3u /* local client <-> daemon, must match exactly */

#define QREXEC_MAX_DATA_CHUNK_V2 4096u
#define QREXEC_MAX_DATA_CHUNK_V3 65536u
#define QREXEC_MAX_SERVICE_NAME_LEN 65000u /* "svc+arg", without the NUL */
#define QREXEC_MAX_CMD_LEN 65535u          /* exec_params.cmdline, including the NUL */
#define QREXEC_MAX_CLIENTS 256u            /* data ports per daemon (MAX_FDS upstream) */
#define QREXEC_BASE_PORT 512u              /* the control channel */
#define QREXEC_BASE_DATA_PORT 513u
#define QREXEC_NAME_MAX 255u /* a service name, a file name in the service directory */

/* How much of a qube-supplied name dom0's logs keep (common/log_file.h log_cut marks the
 * rest). A service descriptor: the longest that can name a real service, i.e. the file
 * "svc+arg" or "svc" in a service directory, NAME_MAX; the protocol's own limit for the
 * descriptor (QREXEC_MAX_SERVICE_NAME_LEN, 65000) is what a flooding qube sends. A domain:
 * trigger_service_params3.target_domain[64] without its NUL. */
#define QREXEC_LOG_SERVICE_MAX QREXEC_NAME_MAX
#define QREXEC_LOG_DOMAIN_MAX 63u

/* The data ports of one qrexec-daemon are shared by dom0's own calls to its qube (qvm-run,
 * qrexec-client) and the calls qubes start (from another qube to this one, and from this
 * qube to a dom0 service). Calls qubes start may hold at most QREXEC_QUBE_PORTS of them, so
 * the last QREXEC_DOM0_RESERVED_PORTS stay dom0's, and one source qube at most
 * QREXEC_MAX_CALLS_PER_SOURCE, so one qube cannot take all of the shared ports either. */
#define QREXEC_DOM0_RESERVED_PORTS 32u
#define QREXEC_QUBE_PORTS (QREXEC_MAX_CLIENTS - QREXEC_DOM0_RESERVED_PORTS)
#define QREXEC_MAX_CALLS_PER_SOURCE 64u

#define QREXEC_RPC_PREFIX "QUBESRPC "
#define QREXEC_NOGUI_PREFIX "nogui:"
#define QREXEC_DEFAULT_PREFIX "DEFAULT:"
#define QREXEC_DEFAULT_SERVICE_PATH "/usr/local/etc/qubes-rpc:/etc/qubes-rpc"

#define QREXEC_EXIT_PROBLEM 125
#define QREXEC_EXIT_REQUEST_REFUSED 126
#define QREXEC_EXIT_SERVICE_NOT_FOUND 127

enum qrexec_msg_type {
    MSG_DATA_STDIN = 0x190,
    MSG_DATA_STDOUT = 0x191,
    MSG_DATA_STDERR = 0x192,
    MSG_DATA_EXIT_CODE = 0x193,
    MSG_EXEC_CMDLINE = 0x200,
    MSG_JUST_EXEC = 0x201,
    MSG_SERVICE_CONNECT = 0x202,
    MSG_SERVICE_REFUSED = 0x203,
    MSG_TRIGGER_SERVICE = 0x210,
    MSG_CONNECTION_TERMINATED = 0x211,
    MSG_TRIGGER_SERVICE3 = 0x212,
    MSG_HELLO = 0x300,
};

struct msg_header {
    uint32_t type;
    uint32_t len; /* payload bytes following the header */
};

struct peer_info {
    uint32_t version;
};

struct exec_params {
    uint32_t connect_domain;
    uint32_t connect_port;
    /* char cmdline[]: NUL-terminated, hdr.len - 8 bytes */
};

struct service_params {
    char ident[32];
};

struct trigger_service_params {
    char service_name[64];
    char target_domain[32];
    struct service_params request_id;
};

struct trigger_service_params3 {
    char target_domain[64];
    struct service_params request_id;
    /* char service_name[]: NUL-terminated, hdr.len - 96 bytes */
};

#define QREXEC_HDR_SIZE 8u
#define QREXEC_HELLO_SIZE 4u
#define QREXEC_EXEC_PARAMS_SIZE 8u
#define QREXEC_SERVICE_PARAMS_SIZE 32u
#define QREXEC_TRIGGER_SIZE 128u
#define QREXEC_TRIGGER3_SIZE 96u
#define QREXEC_EXIT_CODE_SIZE 4u

_Static_assert(sizeof(struct msg_header) == QREXEC_HDR_SIZE, "msg_header layout");
_Static_assert(sizeof(struct peer_info) == QREXEC_HELLO_SIZE, "peer_info layout");
_Static_assert(sizeof(struct exec_params) == QREXEC_EXEC_PARAMS_SIZE, "exec_params layout");
_Static_assert(sizeof(struct service_params) == QREXEC_SERVICE_PARAMS_SIZE, "service_params");
_Static_assert(sizeof(struct trigger_service_params) == QREXEC_TRIGGER_SIZE, "trigger layout");
_Static_assert(sizeof(struct trigger_service_params3) == QREXEC_TRIGGER3_SIZE, "trigger3");

/* Who sent a message decides which types and sizes are legal. */
enum qrexec_role {
    QREXEC_FROM_AGENT,        /* control channel, read by qrexec-daemon (hostile) */
    QREXEC_FROM_DAEMON,       /* control channel, read by qrexec-agent */
    QREXEC_FROM_CLIENT,       /* local socket, read by qrexec-daemon */
    QREXEC_FROM_DAEMON_LOCAL, /* local socket, read by qrexec-client */
    QREXEC_DATA_TO_SERVICE,   /* data connection, read by the side running the service */
    QREXEC_DATA_TO_CLIENT,    /* data connection, read by the side that asked for it */
};

/* The largest payload a role may ever receive, to bound buffers before the full check. */
size_t qrexec_role_max_len(enum qrexec_role role);

uint32_t qrexec_get_u32(const uint8_t *p);
void qrexec_put_u32(uint8_t *p, uint32_t v);

void qrexec_hdr_encode(uint8_t out[QREXEC_HDR_SIZE], uint32_t type, uint32_t len);
struct msg_header qrexec_hdr_decode(const uint8_t in[QREXEC_HDR_SIZE]);

/* 0 if a message of this header may be received by this role at the negotiated version,
 * else -1 with a static reason. MSG_HELLO is only legal in the handshake, checked by
 * qrexec_hello_decode. */
int qrexec_check_header(enum qrexec_role role, const struct msg_header *untrusted_hdr,
                        uint32_t version, const char **why);

size_t qrexec_max_chunk(uint32_t version);

/* Appends a whole message (header + payload) to out. */
void qrexec_msg_encode(struct buf *out, uint32_t type, const void *payload, size_t len);
void qrexec_hello_encode(struct buf *out, uint32_t version);
/* Header + exec_params + cmdline + NUL. */
void qrexec_exec_encode(struct buf *out, uint32_t type, uint32_t domain, uint32_t port,
                        const char *cmdline);
/* Header + exec_params with no cmdline (daemon replies, MSG_CONNECTION_TERMINATED). */
void qrexec_params_encode(struct buf *out, uint32_t type, uint32_t domain, uint32_t port);
void qrexec_exit_code_encode(struct buf *out, int code);

/* A MSG_HELLO: exact size and type; *version = min(peer, own), refused below min_version. */
int qrexec_hello_decode(const struct msg_header *untrusted_hdr, const uint8_t *untrusted_payload,
                        uint32_t own, uint32_t min_version, uint32_t *version, const char **why);

/* exec_params + cmdline: exactly NUL-terminated at the end, no NUL inside, not empty,
 * at most QREXEC_MAX_CMD_LEN. cmdline points into the payload. */
struct qrexec_exec_req {
    uint32_t connect_domain;
    uint32_t connect_port;
    const char *cmdline;
    size_t cmdline_len; /* without the NUL */
};
int qrexec_exec_decode(const uint8_t *untrusted_payload, size_t len, struct qrexec_exec_req *out,
                       const char **why);

/* Exactly 8 bytes of exec_params (replies, MSG_CONNECTION_TERMINATED). */
int qrexec_params_decode(const uint8_t *untrusted_payload, size_t len, uint32_t *domain,
                         uint32_t *port, const char **why);

/* MSG_DATA_EXIT_CODE payload; shorter than 4 bytes means 255 as upstream. */
int qrexec_exit_code_decode(const uint8_t *untrusted_payload, size_t len);

/* True for a data port this daemon may hand out: 513 <= port < 513 + QREXEC_MAX_CLIENTS. */
bool qrexec_port_valid(uint32_t port);

/* MSG_TRIGGER_SERVICE3 from an agent, sanitized as upstream does (sanitize_message_from_agent):
 * target domain chars outside [A-Za-z0-9_.:@-] become '_'; the service name must be exactly
 * NUL-terminated, non-empty, not start with '+', and chars outside [A-Za-z0-9_.+-] become '_';
 * ident_ok is false when the ident has other chars than [A-Za-z0-9_. -] before its NUL padding
 * (the request is then refused). The ident and target are filled before the service name is
 * checked, so a well-framed request with a bad name (-1) can still be refused by ident. */
struct qrexec_trigger3 {
    char target_domain[64];
    char ident[32];
    bool ident_ok;
    char *service_name; /* heap, caller frees */
};
int qrexec_trigger3_decode(const uint8_t *untrusted_payload, size_t len,
                           struct qrexec_trigger3 *out, const char **why);

const char *qrexec_msg_type_name(uint32_t type);
