/* libFuzzer target for what qrexec-daemon parses: a stream of control messages from a
 * hostile agent (first byte: negotiated version 2 or 3), and client requests; with the
 * data port accounting those messages drive and the cut service names the daemon logs. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/log_file.h"
#include "qrexec/ports.h"
#include "qrexec/qrexec_cmdline.h"
#include "qrexec/qrexec_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What the daemon's ports look like across the messages of one input. */
static void check_ports(const struct qrexec_ports *p)
{
    uint32_t by_qube = 0;
    for (uint32_t i = 0; i < QREXEC_MAX_CLIENTS; i++)
        by_qube += p->used[i] && p->by_qube[i];
    if (by_qube != p->n_by_qube || by_qube > QREXEC_QUBE_PORTS)
        abort();
}

static void one_message(enum qrexec_role role, uint32_t version, const struct msg_header *hdr,
                        const uint8_t *payload, struct qrexec_ports *ports)
{
    const char *why = NULL;
    if (qrexec_check_header(role, hdr, version, &why) < 0) {
        if (!why)
            abort();
        return;
    }
    switch (hdr->type) {
    case MSG_CONNECTION_TERMINATED: {
        uint32_t d, p;
        if (qrexec_params_decode(payload, hdr->len, &d, &p, &why) < 0)
            abort(); /* the header check guaranteed the size */
        bool used = qrexec_ports_in_use(ports, p);
        if (used && !qrexec_port_valid(p))
            abort();
        if (qrexec_ports_release(ports, p) != used || qrexec_ports_in_use(ports, p))
            abort();
        check_ports(ports);
        break;
    }
    case MSG_TRIGGER_SERVICE3: {
        struct qrexec_trigger3 t;
        if (qrexec_trigger3_decode(payload, hdr->len, &t, &why) == 0) {
            if (strlen(t.target_domain) >= 64 || strlen(t.ident) >= 32 || !t.service_name[0])
                abort();
            for (const char *c = t.service_name; *c; c++)
                if (*c == '/' || *c == ' ')
                    abort();
            char *cut = log_cut(t.service_name, QREXEC_LOG_SERVICE_MAX);
            if (strlen(cut) > QREXEC_LOG_SERVICE_MAX + sizeof(LOG_CUT_MARK "65000 bytes)"))
                abort();
            free(cut);
            free(t.service_name);
        }
        break;
    }
    case MSG_EXEC_CMDLINE:
    case MSG_JUST_EXEC: {
        struct qrexec_exec_req req;
        if (qrexec_exec_decode(payload, hdr->len, &req, &why) == 0) {
            if (strlen(req.cmdline) != req.cmdline_len)
                abort();
            /* a client's call takes a port as start_call does, for dom0 or a source qube */
            struct qrexec_port_claim claim = { .by_qube = req.connect_domain != 0,
                                               .source = req.connect_domain };
            uint32_t port;
            const char *refused;
            if (qrexec_ports_take(ports, &claim, &port, &refused) == 0 &&
                (!qrexec_ports_in_use(ports, port) ||
                 (claim.by_qube &&
                  qrexec_ports_held_by(ports, claim.source) > QREXEC_MAX_CALLS_PER_SOURCE)))
                abort();
            check_ports(ports);
            char *e = qrexec_cmdline_expand_default(req.cmdline, "user");
            free(e);
        }
        break;
    }
    default: break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint32_t version = (data[0] & 1) ? 3 : 2;
    enum qrexec_role role = (data[0] & 2) ? QREXEC_FROM_CLIENT : QREXEC_FROM_AGENT;
    size_t off = 1;
    struct qrexec_ports ports = { .n_by_qube = 0 };
    while (size - off >= QREXEC_HDR_SIZE) {
        struct msg_header hdr = qrexec_hdr_decode(data + off);
        off += QREXEC_HDR_SIZE;
        if (hdr.type == MSG_HELLO) {
            if (size - off < QREXEC_HELLO_SIZE)
                break;
            uint32_t v;
            const char *why;
            struct msg_header h = { hdr.type, hdr.len > 4 ? 5 : hdr.len };
            if (qrexec_hello_decode(&h, data + off, 3, 2, &v, &why) == 0 && (v < 2 || v > 3))
                abort();
            off += QREXEC_HELLO_SIZE;
            continue;
        }
        size_t len = hdr.len;
        if (len > qrexec_role_max_len(role) || len > size - off)
            break;
        /* an exact-size copy, so ASan sees any read past the payload */
        uint8_t *p = malloc(len ? len : 1);
        if (!p)
            return 0;
        memcpy(p, data + off, len);
        one_message(role, version, &hdr, p, &ports);
        free(p);
        off += len;
    }
    return 0;
}
