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

static const char help[] = "\nRemove domains from the system\n\n"
                           "positional arguments:\n"
                           "  VMNAME                one or more domain names\n\n"
                           "options:\n" CLI_HELP_COMMON_OPTIONS CLI_HELP_TARGETS
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
        _cleanup_qprops_ struct qprops all = { 0 };
        struct qerror err = { 0 };
        if (qprops_parse(calls[i].content.data, calls[i].content.len, &all.v, &all.n, &err) < 0)
            continue;
        const struct qprop *props = all.v;
        for (size_t j = 0; j < all.n; j++) {
            if (props[j].is_default || strcmp(props[j].type, "vm") != 0 ||
                strcmp(props[j].value, vm) != 0)
                continue;
            if (i)
                fprintf(stderr, " - %s for %s\n", props[j].name, vms[i - 1].name);
            else
                fprintf(stderr, " - global property %s\n", props[j].name);
        }
    }
    batch_free(calls, nvms + 1);
    free(calls);
}

int qvm_remove_main(int argc, char **argv)
{
    struct cli cli = { .prog = "qvm-remove", .usage = usage, .help = help, .verbose = 1 };
    static const struct option longopts[] = {
        { "force", no_argument, NULL, 'f' },
        CLI_TARGETS_LONGOPTS,
        CLI_COMMON_LONGOPTS,
    };
    _cleanup_targets_ struct cli_targets targets = { 0 };
    bool force = false;
    int c;
    while ((c = cli_getopt(&cli, argc, argv, "f" CLI_COMMON_SHORTOPTS, longopts)) != -1) {
        switch (c) {
        case 'f': force = true; break;
        case CLI_OPT_ALL:
        case CLI_OPT_EXCLUDE: cli_targets_option(&targets, c, optarg); break;
        default: cli_usage_error(&cli, "unrecognized arguments: %s", argv[optind - 1]);
        }
    }
    cli_targets_resolve(&cli, &targets, argv + optind, (size_t)(argc - optind), NULL, NULL);
    const struct vm_entry *vms = targets.vms;
    const size_t *sel = targets.sel;
    size_t nvms = targets.nvms, nsel = targets.nsel;
    for (size_t i = 0; i < nsel; i++) {
        if (strcmp(vms[sel[i]].name, "dom0") == 0) {
            fprintf(stderr, "Domain 'dom0' cannot be removed.\n");
            return 1;
        }
    }

    if (targets.all && !(force || targets.nexcludes)) {
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
    struct qerror err = { 0 };
    for (size_t i = 0; i < nsel; i++) {
        const char *name = vms[sel[i]].name;
        if (qcall("admin.vm.Remove", "", name, "", 0, NULL, &err) < 0) {
            if (err.kind == ERR_QUBES_VM_IN_USE_ERROR)
                print_dependencies(vms, nvms, name);
            return cli_qerror(&cli, &err);
        }
    }
    return 0;
}
