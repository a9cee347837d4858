/* qrexec-client-vm: a call from inside a qube (upstream qrexec-client-vm). The request goes to
 * this qube's qrexec-agent as MSG_TRIGGER_SERVICE3; dom0 checks it against the policy and, if
 * it is allowed, the agent hands back the data socket of the call. Then the data phase runs
 * as the calling side: our stdin (or LOCAL_PROGRAM's stdout) is the service's stdin. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/parse.h"
#include "common/unix_socket.h"
#include "qrexec/exec.h"
#include "qrexec/pump.h"
#include "qrexec/qrexec_proto.h"
#include "qrexec/transport.h"

#define TRIGGER_PATH "/run/qubes/qrexec-agent"
#define TARGET_MAX 63 /* target_domain[64] with its NUL */

static void usage(FILE *f)
{
    fprintf(
        f, "usage: qrexec-client-vm [options] [--] TARGET SERVICE[+ARG] [LOCAL_PROGRAM [ARGS...]]\n"
           "Calls SERVICE in the qube TARGET (a name, dom0, @default or @dispvm[:NAME]) as\n"
           "dom0's qrexec policy allows. Without LOCAL_PROGRAM our stdin and stdout are the\n"
           "service's; with it, LOCAL_PROGRAM's stdout goes to the service and the service's\n"
           "stdout to LOCAL_PROGRAM's stdin.\n"
           "  -t, --filter-escape-chars-stdout     replace unsafe bytes in the service's stdout\n"
           "  -T, --filter-escape-chars-stderr     ... and in its stderr\n"
           "      --no-filter-escape-chars-stdout  never for stdout (default: if it is a tty)\n"
           "      --no-filter-escape-chars-stderr  never for stderr (default: if it is a tty)\n"
           "      --prefix-data=DATA               send DATA before the input\n"
           "      --buffer-size=BYTES              accepted for compatibility\n"
           "  -h, --help                           this text\n"
           "Exit status: the service's, or LOCAL_PROGRAM's if the service's is 0;\n"
           "126 refused by policy, 127 no such service, 125 a qrexec problem.\n");
}

static int connect_agent(void)
{
    const char *path = getenv("QREXEC_AGENT_TRIGGER_PATH");
    if (!path || !*path)
        path = TRIGGER_PATH;
    return unix_connect(path, 0, NULL);
}

/* Sends the request; returns the data socket, -1 when refused (or the agent failed). */
static int request_call(const char *target, const char *service)
{
    int sock = connect_agent();
    if (sock < 0) {
        fprintf(stderr, "qrexec-client-vm: cannot connect to the qrexec agent: %s\n",
                strerror(errno));
        return -2;
    }
    struct trigger_service_params3 params;
    memset(&params, 0, sizeof(params));
    memcpy(params.target_domain, target, strlen(target));
    memcpy(params.request_id.ident, "SOCKET", 6);
    size_t svc_len = strlen(service) + 1;
    struct buf m = BUF_INIT;
    uint8_t h[QREXEC_HDR_SIZE];
    qrexec_hdr_encode(h, MSG_TRIGGER_SERVICE3, (uint32_t)(sizeof(params) + svc_len));
    buf_append(&m, h, sizeof(h));
    buf_append(&m, &params, sizeof(params));
    buf_append(&m, service, svc_len);
    int rc = qrexec_send_all(sock, m.data, m.len, -1);
    buf_free(&m);
    if (rc < 0) {
        fprintf(stderr, "qrexec-client-vm: cannot send the request: %s\n", strerror(errno));
        close(sock);
        return -2;
    }
    uint8_t params_reply[QREXEC_EXEC_PARAMS_SIZE];
    struct qrexec_fds fds = { .n = 0 };
    rc = qrexec_recv_all(sock, params_reply, sizeof(params_reply), &fds);
    close(sock);
    if (rc < 0 || fds.n != 1 || fds.overflow) {
        qrexec_fds_close(&fds);
        return -1; /* the agent hung up: refused */
    }
    return fds.fd[0];
}

/* Every byte that is not a valid target character: the daemon would replace it anyway. */
static bool target_ok(const char *t)
{
    size_t n = strlen(t);
    if (n == 0 || n > TARGET_MAX)
        return false;
    return strspn(t, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.@:") == n;
}

int main(int argc, char **argv)
{
    enum { NO_FILTER_OUT = 256, NO_FILTER_ERR, PREFIX_DATA, BUFFER_SIZE };
    static const struct option longopts[] = {
        { "filter-escape-chars-stdout", no_argument, NULL, 't' },
        { "filter-escape-chars-stderr", no_argument, NULL, 'T' },
        { "no-filter-escape-chars-stdout", no_argument, NULL, NO_FILTER_OUT },
        { "no-filter-escape-chars-stderr", no_argument, NULL, NO_FILTER_ERR },
        { "prefix-data", required_argument, NULL, PREFIX_DATA },
        { "buffer-size", required_argument, NULL, BUFFER_SIZE },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int filter_out = -1, filter_err = -1;
    const char *prefix = NULL;
    int opt;
    /* '+': options end at TARGET, so LOCAL_PROGRAM's own options stay its own */
    while ((opt = getopt_long(argc, argv, "+tTh", longopts, NULL)) != -1) {
        switch (opt) {
        case 't': filter_out = 1; break;
        case 'T': filter_err = 1; break;
        case NO_FILTER_OUT: filter_out = 0; break;
        case NO_FILTER_ERR: filter_err = 0; break;
        case PREFIX_DATA: prefix = optarg; break;
        case BUFFER_SIZE: {
            long long v;
            if (parse_ll(optarg, 1, 1L << 30, 0, &v) < 0) {
                fprintf(stderr, "qrexec-client-vm: invalid --buffer-size '%s'\n", optarg);
                return 2;
            }
            break;
        }
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (argc - optind < 2) {
        usage(stderr);
        return 2;
    }
    char *target = argv[optind];
    const char *service = argv[optind + 1];
    char **local_argv = argc - optind > 2 ? &argv[optind + 2] : NULL;
    for (char *p = target; *p; p++) /* the legacy "$keyword" spelling */
        if (*p == '$')
            *p = '@';
    if (!target_ok(target)) {
        fprintf(stderr, "qrexec-client-vm: invalid target '%s'\n", target);
        return 2;
    }
    size_t svc_len = strlen(service);
    if (svc_len == 0 || svc_len > QREXEC_MAX_SERVICE_NAME_LEN || service[0] == '+') {
        fprintf(stderr, "qrexec-client-vm: invalid service '%s'\n", service);
        return 2;
    }
    if (filter_out < 0)
        filter_out = !local_argv && isatty(STDOUT_FILENO);
    if (filter_err < 0)
        filter_err = isatty(STDERR_FILENO);
    signal(SIGPIPE, SIG_IGN);

    int data_fd = request_call(target, service);
    if (data_fd == -2)
        return QREXEC_EXIT_PROBLEM;
    if (data_fd < 0) {
        fprintf(stderr, "Request refused\n");
        return QREXEC_EXIT_REQUEST_REFUSED;
    }
    const char *why = NULL;
    uint32_t version;
    if (qrexec_data_handshake(data_fd, QREXEC_DATA_TO_CLIENT, &version, &why) < 0) {
        fprintf(stderr, "qrexec-client-vm: data connection: %s\n", why);
        return QREXEC_EXIT_PROBLEM;
    }
    if (prefix && *prefix) {
        struct buf m = BUF_INIT;
        size_t chunk = qrexec_max_chunk(version), n = strlen(prefix);
        for (const char *p = prefix; n;) {
            size_t k = n < chunk ? n : chunk;
            qrexec_msg_encode(&m, MSG_DATA_STDIN, p, k);
            p += k;
            n -= k;
        }
        int rc = qrexec_send_all(data_fd, m.data, m.len, -1);
        buf_free(&m);
        if (rc < 0) {
            fprintf(stderr, "qrexec-client-vm: cannot send the prefix data\n");
            return QREXEC_EXIT_PROBLEM;
        }
    }
    int local_code = 0;
    struct qrexec_pump_cfg cfg = {
        .remote_fd = data_fd,
        .version = version,
        .is_service = false,
        .in_fd = STDIN_FILENO,
        .out_fd = STDOUT_FILENO,
        .err_fd = STDERR_FILENO,
        .child = -1,
        .filter_stdout = filter_out,
        .filter_stderr = filter_err,
        .local_code = &local_code,
    };
    if (local_argv) {
        struct qrexec_spawn_opts opts = {
            .path = local_argv[0], .argv = local_argv, .stderr_inherit = true, .search_path = true
        };
        struct qrexec_child child;
        struct qerror err = { 0 };
        int code = qrexec_spawn(&opts, &child, &err);
        if (code != 0) {
            fprintf(stderr, "qrexec-client-vm: cannot start %s%s%s\n", local_argv[0],
                    code < 0 ? ": " : "", code < 0 ? err.message : "");
            return code < 0 ? QREXEC_EXIT_PROBLEM : code;
        }
        cfg.in_fd = child.stdout_fd;
        cfg.out_fd = child.stdin_fd;
        cfg.child = child.pid;
    }
    int code = qrexec_pump_run(&cfg, &why);
    close(data_fd);
    if (code < 0) {
        fprintf(stderr, "qrexec-client-vm: %s\n", why ? why : "the call failed");
        return QREXEC_EXIT_PROBLEM;
    }
    if (code == 0 && local_argv)
        code = local_code < 0 ? QREXEC_EXIT_PROBLEM : local_code;
    return code;
}
