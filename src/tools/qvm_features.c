/* qvm-features: list, get, set and unset features of a qube. */
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "tools/cli.h"
#include "tools/feature_values.h"
#include "tools/tools.h"

static const char usage[] = "usage: qvm-features [--verbose] [--quiet] [--help] [--unset]\n"
                            "                    VMNAME [FEATURE] [VALUE]";

static const char help[] =
    "\nmanage domain's features\n\n"
    "positional arguments:\n"
    "  VMNAME                a domain name\n"
    "  FEATURE               name of the feature\n"
    "  VALUE                 new value of the feature\n\n"
    "options:\n" CLI_HELP_COMMON_OPTIONS "  --unset, --default, --delete, -D\n"
    "                        unset the feature\n";

static int list_features(const struct cli *cli, const char *vm)
{
    _cleanup_feature_values_ struct feature_values fv;
    int rc = feature_values_fetch(cli, vm, "", &fv);
    if (rc)
        return rc;
    _cleanup_table_ struct table t;
    table_init(&t, 2);
    for (size_t i = 0; i < fv.n; i++) {
        table_add(&t, fv.calls[i].arg);
        table_add(&t, fv.calls[i].content.data);
    }
    table_print(&t, stdout);
    return 0;
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
    const char *vm, *feature, *value;
    feature_args(&cli, argc, argv, &vm, &feature, &value);

    struct qerror err = { 0 };
    if (!feature) {
        if (del)
            cli_usage_error(&cli, "--unset requires a feature");
        return list_features(&cli, vm);
    }
    if (del) {
        if (value)
            cli_usage_error(&cli, "cannot both set and unset a value");
        return feature_remove(&cli, vm, feature);
    }
    if (!value) {
        _cleanup_buf_ struct buf content = BUF_INIT;
        int rc = feature_get(&cli, vm, feature, &content);
        if (!rc)
            printf("%s\n", content.data ? content.data : "");
        return rc;
    }
    if (qcall("admin.vm.feature.Set", feature, vm, value, strlen(value), NULL, &err) < 0)
        return cli_qerror(&cli, &err);
    return 0;
}
