/* qvm-start: start qubes (admin.vm.Start answers once the qube's qrexec agent
 * is up). A running qube is an error unless --skip-if-running, as upstream. */
#include <string.h>

#include "tools/cli.h"
#include "tools/lifecycle_util.h"
#include "tools/tools.h"

static const char usage[] =
    "usage: qvm-start [--verbose] [--quiet] [--help] [--all] [--exclude EXCLUDE]\n"
    "                 [--skip-if-running]\n"
    "                 [--drive DRIVE | --hddisk IMAGE | --cdrom IMAGE | "
    "--install-windows-tools]\n"
    "                 [VMNAME ...]";

static const char help[] =
    "\nstart a domain\n\n"
    "positional arguments:\n"
    "  VMNAME                one or more domain names\n\n"
    "options:\n" CLI_HELP_COMMON_OPTIONS CLI_HELP_TARGETS
    "  --skip-if-running     Do not fail if the qube is already runnning\n"
    "  --drive DRIVE         temporarily attach specified drive as CD/DVD or hard disk (can\n"
    "                        be specified with prefix \"hd:\" or \"cdrom:\", default is cdrom)\n"
    "  --hddisk IMAGE        temporarily attach specified drive as hard disk\n"
    "  --cdrom IMAGE         temporarily attach specified drive as CD/DVD\n"
    "  --install-windows-tools\n"
    "                        temporarily attach Windows tools CDROM to the domain\n";

int qvm_start_main(int argc, char **argv)
{
    struct cli cli = { .prog = "qvm-start", .usage = usage, .help = help, .verbose = 1 };
    enum { OPT_SKIP = 0x100, OPT_DRIVE, OPT_HDDISK, OPT_CDROM, OPT_WINTOOLS };
    static const struct option longopts[] = {
        { "skip-if-running", no_argument, NULL, OPT_SKIP },
        { "drive", required_argument, NULL, OPT_DRIVE },
        { "hddisk", required_argument, NULL, OPT_HDDISK },
        { "cdrom", required_argument, NULL, OPT_CDROM },
        { "install-windows-tools", no_argument, NULL, OPT_WINTOOLS },
        CLI_TARGETS_LONGOPTS,
        CLI_COMMON_LONGOPTS,
    };
    static const char *const drive_opts[] = { "--drive", "--hddisk", "--cdrom",
                                              "--install-windows-tools" };
    _cleanup_targets_ struct cli_targets targets = { 0 };
    bool skip = false;
    int drive = -1;
    int c;
    while ((c = cli_getopt(&cli, argc, argv, CLI_COMMON_SHORTOPTS, longopts)) != -1) {
        switch (c) {
        case OPT_SKIP: skip = true; break;
        case OPT_DRIVE:
        case OPT_HDDISK:
        case OPT_CDROM:
        case OPT_WINTOOLS:
            if (drive >= 0 && drive != c - OPT_DRIVE)
                cli_usage_error(&cli, "argument %s: not allowed with argument %s",
                                drive_opts[c - OPT_DRIVE], drive_opts[drive]);
            drive = c - OPT_DRIVE;
            break;
        case CLI_OPT_ALL:
        case CLI_OPT_EXCLUDE: cli_targets_option(&targets, c, optarg); break;
        default: cli_usage_error(&cli, "unrecognized arguments: %s", argv[optind - 1]);
        }
    }
    cli_targets_resolve(&cli, &targets, argv + optind, (size_t)(argc - optind), NULL, NULL);
    if (drive >= 0) {
        /* there are no block devices to attach to a sandbox qube yet */
        print_plain_error("attaching a drive at start is not available yet");
        return 1;
    }

    int rc = 0;
    for (size_t i = 0; i < targets.nsel; i++) {
        const struct vm_entry *vm = &targets.vms[targets.sel[i]];
        if (power_state_is_running(vm->state)) {
            if (skip)
                continue;
            print_plain_error("domain %s is already running", vm->name);
            return 1;
        }
        struct qerror err = { 0 };
        if (qcall("admin.vm.Start", "", vm->name, "", 0, NULL, &err) < 0) {
            print_plain_error("%s", err.message);
            rc = 1;
        }
    }
    return rc;
}
