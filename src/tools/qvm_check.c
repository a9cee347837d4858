/* qvm-check: does a qube exist (and is it running, paused, halted, a template,
 * networked)? The answer is the exit code: 0 all, 3 some, 1 none. */
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "tools/cli.h"
#include "tools/tools.h"

static const char usage[] =
    "usage: qvm-check [--verbose] [--quiet] [--help] [--all] [--exclude EXCLUDE]\n"
    "                 [--running] [--paused] [--halted] [--template] [--networked]\n"
    "                 [VMNAME ...]";

static const char help[] =
    "\nExits sucessfull if the provided domain(s) exist, else returns failure\n\n"
    "positional arguments:\n"
    "  VMNAME                one or more domain names\n\n"
    "options:\n" CLI_HELP_COMMON_OPTIONS CLI_HELP_TARGETS
    "  --running             Determine if (any of given) VM is running\n"
    "  --paused              Determine if (any of given) VM is paused\n"
    "  --halted              Determine if (any of given) VM is halted\n"
    "  --template            Determine if (any of given) VM is a template\n"
    "  --networked           Determine if (any of given) VM can reach network\n";

enum check {
    CHECK_RUNNING,
    CHECK_PAUSED,
    CHECK_HALTED,
    CHECK_TEMPLATE,
    CHECK_NETWORKED,
    CHECK_COUNT
};
static const char *const check_names[] = { "running", "paused", "halted", "template", "networked" };

static bool networked(const struct vm_entry *vm)
{
    struct qerror err = { 0 };
    _cleanup_buf_ struct buf content = BUF_INIT;
    if (strcmp(vm->klass, "AdminVM") == 0)
        return false;
    if (qcall("admin.vm.property.GetAll", "", vm->name, "", 0, &content, &err) < 0)
        return false;
    _cleanup_qprops_ struct qprops props = { 0 };
    if (qprops_parse(content.data, content.len, &props.v, &props.n, &err) < 0)
        return false;
    const struct qprop *pn = qprops_find(props.v, props.n, "provides_network");
    const struct qprop *nv = qprops_find(props.v, props.n, "netvm");
    return (pn && strcmp(pn->value, "True") == 0) || (nv && nv->value[0]);
}

static bool check(enum check k, const struct vm_entry *vm)
{
    switch (k) {
    case CHECK_RUNNING: return strcmp(vm->state, "Halted") != 0;
    case CHECK_PAUSED:
        return strcmp(vm->state, "Paused") == 0 || strcmp(vm->state, "Suspended") == 0;
    case CHECK_HALTED: return strcmp(vm->state, "Halted") == 0;
    case CHECK_TEMPLATE: return strcmp(vm->klass, "TemplateVM") == 0;
    case CHECK_NETWORKED: return networked(vm);
    case CHECK_COUNT:
    default: return false;
    }
}

int qvm_check_main(int argc, char **argv)
{
    struct cli cli = { .prog = "qvm-check", .usage = usage, .help = help, .verbose = 1 };
    /* in the order of enum check */
    enum { OPT_RUNNING = 0x100, OPT_PAUSED, OPT_HALTED, OPT_TEMPLATE, OPT_NETWORKED };
    static const struct option longopts[] = {
        CLI_TARGETS_LONGOPTS,
        { "running", no_argument, NULL, OPT_RUNNING },
        { "paused", no_argument, NULL, OPT_PAUSED },
        { "halted", no_argument, NULL, OPT_HALTED },
        { "template", no_argument, NULL, OPT_TEMPLATE },
        { "networked", no_argument, NULL, OPT_NETWORKED },
        CLI_COMMON_LONGOPTS,
    };
    _cleanup_targets_ struct cli_targets targets = { 0 };
    bool want[CHECK_COUNT] = { false };
    int c;
    while ((c = cli_getopt(&cli, argc, argv, CLI_COMMON_SHORTOPTS, longopts)) != -1) {
        switch (c) {
        case CLI_OPT_ALL:
        case CLI_OPT_EXCLUDE: cli_targets_option(&targets, c, optarg); break;
        case OPT_RUNNING:
        case OPT_PAUSED:
        case OPT_HALTED:
        case OPT_TEMPLATE:
        case OPT_NETWORKED: want[c - OPT_RUNNING] = true; break;
        default: cli_usage_error(&cli, "unrecognized arguments: %s", argv[optind - 1]);
        }
    }
    size_t nmissing = 0;
    _cleanup_strv_ char **missing = NULL;
    cli_targets_resolve(&cli, &targets, argv + optind, (size_t)(argc - optind), &missing,
                        &nmissing);
    const struct vm_entry *vms = targets.vms;
    const size_t *sel = targets.sel;
    size_t nsel = targets.nsel;

    int rc = 0;
    _cleanup_buf_ struct buf status = BUF_INIT;
    bool any_filter = false;
    _cleanup_free_ bool *pass = xcalloc(nsel + 1, sizeof(bool));
    for (size_t i = 0; i < nsel; i++)
        pass[i] = true;
    for (int k = 0; k < CHECK_COUNT; k++) {
        if (!want[k])
            continue;
        if (any_filter)
            buf_append_str(&status, ", ");
        buf_append_str(&status, check_names[k]);
        any_filter = true;
        for (size_t i = 0; i < nsel; i++)
            pass[i] = pass[i] && check((enum check)k, &vms[sel[i]]);
    }
    if (any_filter) {
        size_t npass = 0;
        for (size_t i = 0; i < nsel; i++)
            npass += pass[i];
        if (npass != nsel)
            rc = npass ? 3 : 1;
        if (!npass)
            cli_info(&cli, "None of qubes: %s", status.data);
        for (size_t i = 0; i < nsel; i++)
            if (pass[i])
                cli_info(&cli, "%s: %s", vms[sel[i]].name, status.data);
    } else if (!nsel) {
        rc = 1;
    } else {
        for (size_t i = 0; i < nsel; i++)
            cli_info(&cli, "%s: exists", vms[sel[i]].name);
    }
    if (nmissing) {
        qsort(missing, nmissing, sizeof(char *), cmp_strp);
        for (size_t i = 0; i < nmissing; i++)
            cli_info(&cli, "%s: non-existent!", missing[i]);
        rc = 1;
    }
    return rc;
}
