/* qvm-remove: remove qubes, after a confirmation unless --force. A qube still
 * in use is reported with the properties that refer to it. */
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "tools/batch_call.h"
#include "tools/cli.h"
#include "tools/tools.h"

static const char usage[] =
    "usage: qvm-remove [--verbose] [--quiet] [--help] [--all] [--exclude EXCLUDE]\n"
    "                  [--force]\n"
    "                  [VMNAME ...]";

static const char help[] =
    "\nRemove domains from the system\n\n"
    "positional arguments:\n"
    "  VMNAME                one or more domain names\n\n"
    "options:\n"
    "  --verbose, -v         increase verbosity\n"
    "  --quiet, -q           decrease verbosity\n"
    "  --help, -h            show this help message and exit\n"
    "  --all                 perform the action on all qubes\n"
    "  --exclude EXCLUDE     exclude the qube from --all\n"
    "  --force, -f           Do not prompt for confirmation\n";

/* Non-default vm-typed properties, global or of other qubes, naming vm
 * (qubesadmin.utils.vm_dependencies). */
static void print_dependencies(const struct vm_entry *vms, size_t nvms, const char *vm)
{
    struct batch_call *calls = xcalloc(nvms + 1, sizeof(*calls));
    calls[0].method = "admin.property.GetAll";
    calls[0].dest = "dom0";
    for (size_t i = 0; i < nvms; i++) {
        calls[i + 1].method = "admin.vm.property.GetAll";
        calls[i + 1].dest = vms[i].name;
    }
    batch_run(calls, nvms + 1);
    fprintf(stderr, "VM %s cannot be removed. It is in use as:\n", vm);
    for (size_t i = 0; i <= nvms; i++) {
        if (calls[i].status < 0 || (i && strcmp(vms[i - 1].name, vm) == 0))
            continue;
        struct qprop *props = NULL;
        size_t n = 0;
        struct qerror err = { 0 };
        if (qprops_parse(calls[i].content.data, calls[i].content.len, &props, &n, &err) < 0)
            continue;
        for (size_t j = 0; j < n; j++) {
            if (props[j].is_default || strcmp(props[j].type, "vm") != 0 ||
                strcmp(props[j].value, vm) != 0)
                continue;
            if (i)
                fprintf(stderr, " - %s for %s\n", props[j].name, vms[i - 1].name);
            else
                fprintf(stderr, " - global property %s\n", props[j].name);
        }
        qprops_free(props, n);
    }
    batch_free(calls, nvms + 1);
    free(calls);
}

int qvm_remove_main(int argc, char **argv)
{
    struct cli cli = { .prog = "qvm-remove", .usage = usage, .help = help, .verbose = 1 };
    enum { OPT_ALL = 0x100, OPT_EXCLUDE };
    static const struct option longopts[] = {
        { "force", no_argument, NULL, 'f' },
        { "all", no_argument, NULL, OPT_ALL },
        { "exclude", required_argument, NULL, OPT_EXCLUDE },
        CLI_COMMON_LONGOPTS,
    };
    bool force = false, all = false;
    char **excludes = NULL;
    size_t nexcludes = 0;
    int c;
    while ((c = cli_getopt(&cli, argc, argv, "f" CLI_COMMON_SHORTOPTS, longopts)) != -1) {
        switch (c) {
        case 'f':
            force = true;
            break;
        case OPT_ALL:
            all = true;
            break;
        case OPT_EXCLUDE:
            excludes = xrealloc(excludes, (nexcludes + 1) * sizeof(char *));
            excludes[nexcludes++] = optarg;
            break;
        default:
            cli_usage_error(&cli, "unrecognized arguments: %s", argv[optind - 1]);
        }
    }
    if (all && optind < argc)
        cli_usage_error(&cli, "argument VMNAME: not allowed with argument --all");
    if (!all && optind >= argc)
        cli_usage_error(&cli, "one of the arguments --all VMNAME is required");
    if (!all && nexcludes)
        cli_usage_error(&cli, "--exclude can only be used with --all");

    struct qerror err = { 0 };
    struct vm_entry *vms = NULL;
    size_t nvms = 0;
    if (vm_list("dom0", &vms, &nvms, &err) < 0)
        return cli_qerror(&cli, &err);
    size_t nsel = 0;
    _cleanup_free_ size_t *sel = NULL;
    if (all) {
        sel = xcalloc(nvms + 1, sizeof(size_t));
        for (size_t i = 0; i < nvms; i++) {
            bool excluded = strcmp(vms[i].klass, "AdminVM") == 0;
            for (size_t j = 0; j < nexcludes; j++)
                excluded = excluded || strcmp(excludes[j], vms[i].name) == 0;
            if (!excluded)
                sel[nsel++] = i;
        }
    } else {
        sel = cli_select_vms(&cli, vms, nvms, argv + optind, (size_t)(argc - optind), &nsel, NULL,
                             NULL);
    }
    for (size_t i = 0; i < nsel; i++) {
        if (strcmp(vms[sel[i]].name, "dom0") == 0) {
            fprintf(stderr, "Domain 'dom0' cannot be removed.\n");
            return 1;
        }
    }

    if (all && !(force || nexcludes)) {
        fprintf(stderr, "WARNING!!! Removing all domains may leave your system in an "
                        "unrecoverable state!\n");
        if (!cli_ask("Are you certain? [N/IKNOWWHATIAMDOING]", "IKNOWWHATIAMDOING")) {
            fprintf(stderr, "Remove cancelled.\n");
            return 1;
        }
    }
    if (!force) {
        fprintf(stderr, "This will completely remove the selected VM(s)...\n");
        for (size_t i = 0; i < nsel; i++)
            printf("  %s\n", vms[sel[i]].name);
        if (!cli_ask("Are you sure? [y/N] ", "Y")) {
            fprintf(stderr, "Remove cancelled.\n");
            return 1;
        }
    }
    for (size_t i = 0; i < nsel; i++) {
        const char *name = vms[sel[i]].name;
        if (qcall("admin.vm.Remove", "", name, "", 0, NULL, &err) < 0) {
            if (qerror_is(&err, "QubesVMInUseError"))
                print_dependencies(vms, nvms, name);
            return cli_qerror(&cli, &err);
        }
    }
    return 0;
}
