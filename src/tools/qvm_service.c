/* qvm-service: the services of a qube, which are its features "service.<name>"
 * (upstream qubesadmin/tools/qvm_service.py): "1" is on, "" is off, no feature
 * means the qube's own default. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/cleanup.h"
#include "common/parse.h"
#include "common/py_repr.h"
#include "tools/cli.h"
#include "tools/feature_values.h"
#include "tools/tools.h"

#define SERVICE_PREFIX "service."

static const char usage[] =
    "usage: qvm-service [--verbose] [--quiet] [--help] [--unset] [--list] [--enable]\n"
    "                   [--disable]\n"
    "                   VMNAME [SERVICE] [VALUE]";

static const char help[] =
    "\nmanage domain's services\n\n"
    "positional arguments:\n"
    "  VMNAME                a domain name\n"
    "  SERVICE               name of the feature\n"
    "  VALUE                 new value of the service (on/off)\n\n"
    "options:\n" CLI_HELP_COMMON_OPTIONS "  --unset, --default, --delete, -D\n"
    "                        unset service (default to VM preference)\n"
    "  --list, -l            list services (default action)\n"
    "  --enable, -e          enable service (same as setting \"on\" value)\n"
    "  --disable, -d         disable service (same as setting \"off\" value)\n";

/* The feature value of a boolean word (upstream parse_bool); NULL when it is none. */
static const char *feature_value(const char *word)
{
    bool b;
    if (parse_bool(word, 0, &b) < 0)
        return NULL;
    return b ? "1" : "";
}

static int list_services(const struct cli *cli, const char *vm)
{
    _cleanup_feature_values_ struct feature_values fv;
    int rc = feature_values_fetch(cli, vm, SERVICE_PREFIX, &fv);
    if (rc)
        return rc;
    _cleanup_table_ struct table t;
    table_init(&t, 2);
    for (size_t i = 0; i < fv.n; i++) {
        table_add(&t, fv.calls[i].arg + strlen(SERVICE_PREFIX));
        table_add(&t, fv.calls[i].content.len ? "on" : "off");
    }
    table_print(&t, stdout);
    return 0;
}

int qvm_service_main(int argc, char **argv)
{
    struct cli cli = { .prog = "qvm-service", .usage = usage, .help = help, .verbose = 1 };
    static const struct option longopts[] = {
        { "unset", no_argument, NULL, 'D' },
        { "default", no_argument, NULL, 'D' },
        { "delete", no_argument, NULL, 'D' },
        { "list", no_argument, NULL, 'l' },
        { "enable", no_argument, NULL, 'e' },
        { "disable", no_argument, NULL, 'd' },
        CLI_COMMON_LONGOPTS,
    };
    bool del = false;
    const char *switched = NULL; /* --enable / --disable */
    int c;
    while ((c = cli_getopt(&cli, argc, argv, "Dled" CLI_COMMON_SHORTOPTS, longopts)) != -1) {
        switch (c) {
        case 'D': del = true; break;
        case 'l': break; /* listing is what happens without a service */
        case 'e': switched = "1"; break;
        case 'd': switched = "0"; break;
        default: cli_usage_error(&cli, "unrecognized arguments: %s", argv[optind - 1]);
        }
    }
    const char *vm, *service, *value;
    feature_args(&cli, argc, argv, &vm, &service, &value);
    if (!value)
        value = switched;

    if (!service) {
        if (del)
            cli_usage_error(&cli, "--unset requires a feature");
        return list_services(&cli, vm);
    }
    _cleanup_free_ char *feature = xasprintf(SERVICE_PREFIX "%s", service);
    struct qerror err = { 0 };
    if (del) {
        if (value)
            cli_usage_error(&cli, "cannot both set and unset a value");
        return feature_remove(&cli, vm, feature);
    }
    if (value) {
        const char *v = feature_value(value);
        if (!v) {
            _cleanup_free_ char *r = py_repr_dup(value);
            return cli_error(&cli, "Invalid literal for boolean value: %s", r);
        }
        if (qcall("admin.vm.feature.Set", feature, vm, v, strlen(v), NULL, &err) < 0)
            return cli_qerror(&cli, &err);
        return 0;
    }
    _cleanup_buf_ struct buf content = BUF_INIT;
    int rc = feature_get(&cli, vm, feature, &content);
    if (!rc)
        printf("%s\n", content.len ? "on" : "off");
    return rc;
}
