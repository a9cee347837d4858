/* qrexec-client: dom0's way to run a command or service in a qube through its qrexec-daemon,
 * with upstream's options (qubes-core-qrexec daemon/qrexec-client.c). A thin main over
 * qrexec_client_call (client_call.c); exits with the remote exit code, 125 on a qrexec
 * problem, 1 on a usage error as upstream. */
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/qubesd_client.h"
#include "common/parse.h"
#include "qrexec/client_call.h"
#include "qrexec/qrexec_proto.h"

#define USAGE_EXIT 1

static void usage(FILE *f)
{
    fprintf(f,
            "usage: qrexec-client [options] -d NAME [-l LOCAL_PROGRAM | -e |\n"
            "                     -c REQUEST_ID,SOURCE,SOURCE_ID] USER:COMMAND\n"
            "Runs COMMAND (or \"QUBESRPC service+arg source\") as USER in qube NAME through\n"
            "its qrexec-daemon ($QUBES_ROOT/run/qubes/qrexec.NAME).\n"
            "  -d NAME             the target qube (required)\n"
            "  -l PROGRAM          connect the remote's stdin/stdout to PROGRAM (sh -c)\n"
            "  -e                  only start the command; exit 0 once it was accepted\n"
            "  -E, --no-exit-code  exit 0 once the command ended, whatever its exit code\n"
            "  -c ID,SOURCE,SOURCE_ID\n"
            "                      connect a qube's waiting call (done by qrexec-daemon\n"
            "                      itself in Qubicle: refused)\n"
            "  -p, --prefix-data DATA\n"
            "                      send DATA to the remote's stdin before our stdin\n"
            "  -t                  replace unsafe bytes of the remote's stdout with '_'\n"
            "  -T                  the same for its stderr\n"
            "  -w SECONDS          connection timeout (default %d; 0: none)\n"
            "  -W                  also wait until the daemon reports the call's end\n"
            "  -k                  kill the qube right before exiting\n"
            "  -h, --help          this text\n"
            "Exit status: the remote exit code; 125 qrexec problem; 126 refused; 127 service\n"
            "not found; 1 usage error.\n",
            QREXEC_CLIENT_DEFAULT_TIMEOUT);
}

/* message (or NULL), then the usage, on stderr */
static _Noreturn void usage_error(const char *message)
{
    if (message)
        fprintf(stderr, "%s\n", message);
    usage(stderr);
    exit(USAGE_EXIT);
}

/* "-c request_id,src_domain_name,src_domain_id", checked as upstream's parse_connect. */
static void check_connect(const char *arg)
{
    const char *comma = strchr(arg, ',');
    if (!comma || !strchr(comma + 1, ',')) {
        fprintf(stderr, "Invalid -c parameter (should be: \"-c request_id,src_domain_name,"
                        "src_domain_id\")\n");
        exit(USAGE_EXIT);
    }
    if ((size_t)(comma - arg) >= QREXEC_SERVICE_PARAMS_SIZE) {
        fprintf(stderr, "qrexec-client: Invalid -c parameter (request_id too long, max %u)\n",
                QREXEC_SERVICE_PARAMS_SIZE - 1);
        exit(USAGE_EXIT);
    }
}

static long parse_timeout(const char *arg)
{
    long long v;
    if (parse_ll(arg, 0, INT_MAX, 0, &v) < 0) {
        fprintf(stderr, "qrexec-client: Invalid connection timeout: %s\n", arg);
        exit(USAGE_EXIT);
    }
    return v ? v : QREXEC_CLIENT_NO_TIMEOUT;
}

int main(int argc, char **argv)
{
    enum { PREFIX_DATA = 256 };
    static const struct option longopts[] = {
        { "help", no_argument, NULL, 'h' },
        { "no-exit-code", no_argument, NULL, 'E' },
        { "prefix-data", required_argument, NULL, 'p' },
        { NULL, 0, NULL, 0 },
    };
    struct qrexec_client_opts o = {
        .timeout = QREXEC_CLIENT_DEFAULT_TIMEOUT,
        /* our stdio is the call's: closing stdout when the remote's ends tells our reader */
        .in_fd = 0,
        .out_fd = 1,
        .err_fd = 2,
        .give_fds = true,
    };
    const char *connect = NULL;
    bool exit_code = true, kill = false;
    int opt;
    while ((opt = getopt_long(argc, argv, "d:l:eEc:p:tTw:Wkh", longopts, NULL)) != -1) {
        switch (opt) {
        case 'd': o.qube = optarg; break;
        case 'l': o.local_program = optarg; break;
        case 'e': o.just_exec = true; break;
        case 'E': exit_code = false; break;
        case 'c':
            if (connect) {
                fprintf(stderr, "qrexec-client: ERROR: -c passed more than once\n");
                usage_error(NULL);
            }
            check_connect(optarg);
            connect = optarg;
            break;
        case 'p':
            o.stdin_prefix = optarg;
            o.stdin_prefix_len = strlen(optarg);
            break;
        case 't': o.filter_stdout = true; break;
        case 'T': o.filter_stderr = true; break;
        case 'w': o.timeout = parse_timeout(optarg); break;
        case 'W': o.wait_end = true; break;
        case 'k': kill = true; break;
        case 'h': usage(stdout); return 0;
        default: usage_error(NULL);
        }
    }
    if (optind >= argc || !o.qube)
        usage_error(NULL);
    o.cmdline = argv[optind];
    if (o.just_exec + (connect != NULL) + (o.local_program != NULL) > 1)
        usage_error("ERROR: only one of -e, -l, -c can be specified");
    bool to_dom0 = strcmp(o.qube, "dom0") == 0 || strcmp(o.qube, "@adminvm") == 0;
    if (to_dom0 && !connect)
        usage_error("ERROR: when target domain is 'dom0', -c must be specified");
    if (connect) {
        /* the daemon that holds a qube's call connects it itself; it takes no
         * MSG_SERVICE_CONNECT from a local client */
        fprintf(stderr, "qrexec-client: -c: Qubicle's qrexec-daemon connects a qube's call "
                        "itself; it takes no connection from qrexec-client\n");
        return QREXEC_EXIT_PROBLEM;
    }
    signal(SIGPIPE, SIG_IGN);
    struct qerror err = { 0 };
    int code = qrexec_client_call(&o, &err);
    if (code < 0)
        fprintf(stderr, "qrexec-client: %s\n", err.message);
    if (kill) {
        struct qerror kill_err = { 0 };
        qubesd_call("admin.vm.Kill", "", o.qube, "", 0, NULL, &kill_err);
    }
    if (code < 0)
        return QREXEC_EXIT_PROBLEM;
    return exit_code ? code : 0;
}
