/* qvm-features: list, get, set and unset features of a qube. */
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "tools/batch_call.h"
#include "tools/cli.h"
#include "tools/tools.h"

static const char usage[] =
    "usage: qvm-features [--verbose] [--quiet] [--help] [--unset]\n"
    "                    VMNAME [FEATURE] [VALUE]";

static const char help[] =
    "\nmanage domain's features\n\n"
    "positional arguments:\n"
    "  VMNAME                a domain name\n"
    "  FEATURE               name of the feature\n"
    "  VALUE                 new value of the feature\n\n"
    "options:\n"
    CLI_HELP_COMMON_OPTIONS
    "  --unset, --default, --delete, -D\n"
    "                        unset the feature\n";

static int list_features(const struct cli *cli, const char *vm)
{
    struct qerror err = { 0 };
    _cleanup_buf_ struct buf content = BUF_INIT;
    _cleanup_free_ char **names = NULL;
    size_t n;
    if (qcall_lines("admin.vm.feature.List", vm, &content, &names, &n, &err) < 0)
        return cli_qerror(cli, &err);
    struct batch_call *calls = xcalloc(n + 1, sizeof(*calls));
    for (size_t i = 0; i < n; i++) {
        calls[i].method = "admin.vm.feature.Get";
        calls[i].arg = names[i];
        calls[i].dest = vm;
    }
    batch_run(calls, n);
    struct table t;
    table_init(&t, 2);
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        if (calls[i].status < 0) {
            rc = cli_qerror(cli, &calls[i].err);
            break;
        }
        table_add(&t, names[i]);
        table_add(&t, calls[i].content.data);
    }
    if (!rc)
        table_print(&t, stdout);
    table_free(&t);
    batch_free(calls, n);
    free(calls);
    return rc;
}

int qvm_features_main(int argc, char **argv)
{
    struct cli cli = { .prog = "qvm-features", .usage = usage, .help = help, .verbose = 1 };
    static const struct option longopts[] = {
        { "unset", no_argument, NULL, 'D' },
        { "default", no_argument, NULL, 'D' },
        { "delete", no_argument, NULL, 'D' },
        CLI_COMMON_LONGOPTS,
    };
    bool del = false;
    int c;
    while ((c = cli_getopt(&cli, argc, argv, "D" CLI_COMMON_SHORTOPTS, longopts)) != -1) {
        if (c == 'D')
            del = true;
        else
            cli_usage_error(&cli, "unrecognized arguments: %s", argv[optind - 1]);
    }
    int npos = argc - optind;
    if (npos < 1)
        cli_usage_error(&cli, "the following arguments are required: VMNAME");
    if (npos > 3)
        cli_usage_error(&cli, "unrecognized arguments: %s", argv[optind + 3]);
    const char *vm = argv[optind];
    const char *feature = npos > 1 ? argv[optind + 1] : NULL;
    const char *value = npos > 2 ? argv[optind + 2] : NULL;
    cli_require_vm(&cli, vm, NULL);

    struct qerror err = { 0 };
    if (!feature) {
        if (del)
            cli_usage_error(&cli, "--unset requires a feature");
        return list_features(&cli, vm);
    }
    if (del) {
        if (value)
            cli_usage_error(&cli, "cannot both set and unset a value");
        if (qcall("admin.vm.feature.Remove", feature, vm, "", 0, NULL, &err) < 0 &&
            !qerror_is(&err, "QubesFeatureNotFoundError"))
            return cli_qerror(&cli, &err);
        return 0;
    }
    if (!value) {
        _cleanup_buf_ struct buf content = BUF_INIT;
        if (qcall("admin.vm.feature.Get", feature, vm, "", 0, &content, &err) < 0) {
            if (qerror_is(&err, "QubesFeatureNotFoundError"))
                return 1;
            return cli_qerror(&cli, &err);
        }
        printf("%s\n", content.data ? content.data : "");
        return 0;
    }
    if (qcall("admin.vm.feature.Set", feature, vm, value, strlen(value), NULL, &err) < 0)
        return cli_qerror(&cli, &err);
    return 0;
}
