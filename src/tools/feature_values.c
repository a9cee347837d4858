/* Reading and removing features of a qube for qvm-features and qvm-service
 * (feature_values.h). */
#include "tools/feature_values.h"

#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"

void feature_args(const struct cli *cli, int argc, char **argv, const char **vm, const char **name,
                  const char **value)
{
    int npos = argc - optind;
    if (npos < 1)
        cli_usage_error(cli, "the following arguments are required: VMNAME");
    if (npos > 3)
        cli_usage_error(cli, "unrecognized arguments: %s", argv[optind + 3]);
    *vm = argv[optind];
    *name = npos > 1 ? argv[optind + 1] : NULL;
    *value = npos > 2 ? argv[optind + 2] : NULL;
    cli_require_vm(cli, *vm, NULL);
}

int feature_values_fetch(const struct cli *cli, const char *vm, const char *prefix,
                         struct feature_values *fv)
{
    struct qerror err = { 0 };
    *fv = (struct feature_values){ .list = BUF_INIT };
    size_t n;
    if (qcall_lines("admin.vm.feature.List", vm, &fv->list, &fv->names, &n, &err) < 0)
        return cli_qerror(cli, &err);
    fv->calls = xcalloc(n + 1, sizeof(*fv->calls));
    for (size_t i = 0; i < n; i++) {
        if (strncmp(fv->names[i], prefix, strlen(prefix)) != 0)
            continue;
        fv->calls[fv->n].method = "admin.vm.feature.Get";
        fv->calls[fv->n].arg = fv->names[i];
        fv->calls[fv->n].dest = vm;
        fv->n++;
    }
    batch_run(fv->calls, fv->n);
    for (size_t i = 0; i < fv->n; i++)
        if (fv->calls[i].status < 0)
            return cli_qerror(cli, fv->calls[i].err);
    return 0;
}

void feature_values_free(struct feature_values *fv)
{
    batch_free(fv->calls, fv->n);
    free(fv->calls);
    free(fv->names);
    buf_free(&fv->list);
    *fv = (struct feature_values){ .list = BUF_INIT };
}

int feature_remove(const struct cli *cli, const char *vm, const char *feature)
{
    struct qerror err = { 0 };
    if (qcall("admin.vm.feature.Remove", feature, vm, "", 0, NULL, &err) < 0 &&
        !(err.kind == ERR_QUBES_FEATURE_NOT_FOUND_ERROR))
        return cli_qerror(cli, &err);
    return 0;
}

int feature_get(const struct cli *cli, const char *vm, const char *feature, struct buf *value)
{
    struct qerror err = { 0 };
    if (qcall("admin.vm.feature.Get", feature, vm, "", 0, value, &err) < 0)
        return err.kind == ERR_QUBES_FEATURE_NOT_FOUND_ERROR ? 1 : cli_qerror(cli, &err);
    return 0;
}
