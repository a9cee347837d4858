/* qvm-pause and qvm-unpause: freeze a qube's processes and thaw them
 * (admin.vm.Pause / Unpause); each failure is reported, exit code 1. */
#include "tools/cli.h"
#include "tools/lifecycle_util.h"
#include "tools/tools.h"

static const char pause_usage[] =
    "usage: qvm-pause [--verbose] [--quiet] [--help] [--all] [--exclude EXCLUDE]\n"
    "                 [VMNAME ...]";
static const char pause_help[] = "\npause a domain\n\n"
                                 "positional arguments:\n"
                                 "  VMNAME                one or more domain names\n\n"
                                 "options:\n" CLI_HELP_COMMON_OPTIONS CLI_HELP_TARGETS;

static const char unpause_usage[] =
    "usage: qvm-unpause [--verbose] [--quiet] [--help] [--all] [--exclude EXCLUDE]\n"
    "                   [VMNAME ...]";
static const char unpause_help[] = "\nunpause a domain\n\n"
                                   "positional arguments:\n"
                                   "  VMNAME                one or more domain names\n\n"
                                   "options:\n" CLI_HELP_COMMON_OPTIONS CLI_HELP_TARGETS;

static int pause_tool(struct cli *cli, const char *method, int argc, char **argv)
{
    static const struct option longopts[] = {
        CLI_TARGETS_LONGOPTS,
        CLI_COMMON_LONGOPTS,
    };
    _cleanup_targets_ struct cli_targets targets = { 0 };
    int c;
    while ((c = cli_getopt(cli, argc, argv, CLI_COMMON_SHORTOPTS, longopts)) != -1) {
        switch (c) {
        case CLI_OPT_ALL:
        case CLI_OPT_EXCLUDE: cli_targets_option(&targets, c, optarg); break;
        default: cli_usage_error(cli, "unrecognized arguments: %s", argv[optind - 1]);
        }
    }
    cli_targets_resolve(cli, &targets, argv + optind, (size_t)(argc - optind), NULL, NULL);
    int rc = 0;
    for (size_t i = 0; i < targets.nsel; i++) {
        struct qerror err = { 0 };
        if (qcall(method, "", targets.vms[targets.sel[i]].name, "", 0, NULL, &err) < 0) {
            print_plain_error("%s", err.message);
            rc = 1;
        }
    }
    return rc;
}

int qvm_pause_main(int argc, char **argv)
{
    struct cli cli = {
        .prog = "qvm-pause", .usage = pause_usage, .help = pause_help, .verbose = 1
    };
    return pause_tool(&cli, "admin.vm.Pause", argc, argv);
}

int qvm_unpause_main(int argc, char **argv)
{
    struct cli cli = {
        .prog = "qvm-unpause", .usage = unpause_usage, .help = unpause_help, .verbose = 1
    };
    return pause_tool(&cli, "admin.vm.Unpause", argc, argv);
}
