/* qvm-kill: stop qubes at once (admin.vm.Kill answers once a qube is gone).
 * The kills run concurrently; a qube already halted is not an error. */
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "tools/batch_call.h"
#include "tools/cli.h"
#include "tools/lifecycle_util.h"
#include "tools/tools.h"

static const char usage[] =
    "usage: qvm-kill [--verbose] [--quiet] [--help] [--all] [--exclude EXCLUDE]\n"
    "                [VMNAME ...]";

static const char help[] = "\nforceful shutdown of a domain\n\n"
                           "positional arguments:\n"
                           "  VMNAME                one or more domain names\n\n"
                           "options:\n" CLI_HELP_COMMON_OPTIONS CLI_HELP_TARGETS;

int qvm_kill_main(int argc, char **argv)
{
    struct cli cli = { .prog = "qvm-kill", .usage = usage, .help = help, .verbose = 1 };
    static const struct option longopts[] = {
        CLI_TARGETS_LONGOPTS,
        CLI_COMMON_LONGOPTS,
    };
    _cleanup_targets_ struct cli_targets targets = { 0 };
    int c;
    while ((c = cli_getopt(&cli, argc, argv, CLI_COMMON_SHORTOPTS, longopts)) != -1) {
        switch (c) {
        case CLI_OPT_ALL:
        case CLI_OPT_EXCLUDE: cli_targets_option(&targets, c, optarg); break;
        default: cli_usage_error(&cli, "unrecognized arguments: %s", argv[optind - 1]);
        }
    }
    cli_targets_resolve(&cli, &targets, argv + optind, (size_t)(argc - optind), NULL, NULL);
    size_t n = targets.nsel;
    struct batch_call *calls = xcalloc(n + 1, sizeof(*calls));
    for (size_t i = 0; i < n; i++) {
        calls[i].method = "admin.vm.Kill";
        calls[i].dest = targets.vms[targets.sel[i]].name;
    }
    batch_run(calls, n);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        if (calls[i].status == 0 || (calls[i].err->kind == ERR_QUBES_VM_NOT_STARTED_ERROR))
            continue;
        print_plain_error("Failed to kill '%s': %s", calls[i].dest, calls[i].err->message);
        rc = 1;
    }
    batch_free(calls, n);
    free(calls);
    return rc;
}
