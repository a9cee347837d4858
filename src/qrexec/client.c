/* qrexec-client: dom0's way to run a command or service in a qube through its qrexec-daemon.
 * A thin main over qrexec_client_call (client_call.c); exits with the remote exit code, 125 on
 * a qrexec problem. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "qrexec/client_call.h"
#include "qrexec/qrexec_proto.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: qrexec-client -d NAME [-l LOCAL_PROGRAM | -e] [-W] [-w SECONDS] USER:COMMAND\n"
            "Runs COMMAND (or \"QUBESRPC service+arg source\") as USER in qube NAME through\n"
            "its qrexec-daemon ($QUBES_ROOT/run/qubes/qrexec.NAME).\n"
            "  -d NAME        the target qube (required)\n"
            "  -l PROGRAM     connect the remote's stdin/stdout to PROGRAM (run by /bin/sh -c)\n"
            "  -e             only start the command (stdio on /dev/null); exit 0 once accepted\n"
            "  -W             also wait until the daemon reports the call's end\n"
            "  -w SECONDS     how long to wait for the daemon (default 10)\n"
            "  -h, --help     this text\n"
            "Exit status: the remote exit code; 125 qrexec problem; 126 refused; 127 service\n"
            "not found.\n");
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct qrexec_client_opts o = {
        .timeout = QREXEC_CLIENT_DEFAULT_TIMEOUT,
        /* our stdio is the call's: closing stdout when the remote's ends tells our reader */
        .in_fd = 0, .out_fd = 1, .err_fd = 2, .give_fds = true,
    };
    int opt;
    while ((opt = getopt_long(argc, argv, "+d:l:eWw:h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'd': o.qube = optarg; break;
        case 'l': o.local_program = optarg; break;
        case 'e': o.just_exec = true; break;
        case 'W': o.wait_end = true; break;
        case 'w': {
            char *end;
            o.timeout = strtol(optarg, &end, 10);
            if (*optarg == '\0' || *end || o.timeout <= 0 || o.timeout > 86400) {
                fprintf(stderr, "qrexec-client: invalid timeout '%s'\n", optarg);
                return 2;
            }
            break;
        }
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!o.qube || optind + 1 != argc || (o.just_exec && o.local_program)) {
        usage(stderr);
        return 2;
    }
    o.cmdline = argv[optind];
    signal(SIGPIPE, SIG_IGN);
    struct qerror err = { 0 };
    int code = qrexec_client_call(&o, &err);
    if (code < 0) {
        fprintf(stderr, "qrexec-client: %s\n", err.message);
        return QREXEC_EXIT_PROBLEM;
    }
    return code;
}
