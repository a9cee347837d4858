/* libFuzzer target for what qrexec-agent and qrexec-client parse: control messages from the
 * daemon with their command lines ("user:QUBESRPC svc+arg src"), and the data stream. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "qrexec/qrexec_cmdline.h"
#include "qrexec/qrexec_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_cmd(const char *cmdline)
{
    struct qrexec_cmd c;
    struct qerror err = { 0 };
    if (qrexec_cmd_parse(cmdline, &c, &err) < 0) {
        if (c.user || !err.message[0])
            abort();
        return;
    }
    if (!c.user[0] || strchr(c.user, ':'))
        abort();
    if (c.is_rpc) {
        /* a service name or argument never reaches outside its directory */
        if (strchr(c.service_full, '/') || !strcmp(c.service_name, "..") ||
            !strcmp(c.service_name, ".") || !c.service_name[0] || !c.source[0])
            abort();
        if (strlen(c.service_name) > QREXEC_NAME_MAX)
            abort();
    }
    qrexec_cmd_free(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    static const enum qrexec_role roles[] = { QREXEC_FROM_DAEMON, QREXEC_FROM_DAEMON_LOCAL,
                                              QREXEC_DATA_TO_SERVICE, QREXEC_DATA_TO_CLIENT };
    enum qrexec_role role = roles[data[0] & 3];
    uint32_t version = (data[0] & 4) ? 2 : 3;
    if (data[0] & 8) {
        /* the rest is one command line */
        char *s = malloc(size);
        if (!s)
            return 0;
        memcpy(s, data + 1, size - 1);
        s[size - 1] = 0;
        check_cmd(s);
        free(s);
        return 0;
    }
    size_t off = 1;
    while (size - off >= QREXEC_HDR_SIZE) {
        struct msg_header hdr = qrexec_hdr_decode(data + off);
        off += QREXEC_HDR_SIZE;
        size_t len = hdr.len;
        if (len > size - off)
            break;
        const char *why = NULL;
        if (qrexec_check_header(role, &hdr, version, &why) == 0) {
            if (len > qrexec_role_max_len(role))
                abort();
            uint8_t *p = malloc(len ? len : 1);
            if (!p)
                return 0;
            memcpy(p, data + off, len);
            struct qrexec_exec_req req;
            uint32_t d, port;
            switch (hdr.type) {
            case MSG_EXEC_CMDLINE:
            case MSG_JUST_EXEC:
                if (role == QREXEC_FROM_DAEMON_LOCAL) {
                    if (qrexec_params_decode(p, len, &d, &port, &why) < 0)
                        abort();
                } else if (qrexec_exec_decode(p, len, &req, &why) == 0) {
                    check_cmd(req.cmdline);
                }
                break;
            case MSG_DATA_EXIT_CODE: (void)qrexec_exit_code_decode(p, len); break;
            default:
                if ((hdr.type == MSG_DATA_STDOUT || hdr.type == MSG_DATA_STDIN ||
                     hdr.type == MSG_DATA_STDERR) &&
                    len > qrexec_max_chunk(version))
                    abort();
                break;
            }
            free(p);
        }
        off += len;
    }
    return 0;
}
