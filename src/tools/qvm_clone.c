/* qvm-clone: create a qube like another (qubesadmin clone_vm): same class,
 * label and template, then non-default properties, tags, features, notes,
 * firewall and persistent volumes. A failure removes the new qube again. */
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "tools/cli.h"
#include "tools/tools.h"

static const char usage[] =
    "usage: qvm-clone [--verbose] [--quiet] [--help] [--class CLS] [-P POOL]\n"
    "                 [--pool VOLUME_NAME=POOL_NAME] [--ignore-errors]\n"
    "                 VMNAME NAME";

static const char help[] =
    "\nClone a domain\n\n"
    "positional arguments:\n"
    "  VMNAME                source qube\n"
    "  NAME                  name of the domain to create\n\n"
    "options:\n" CLI_HELP_COMMON_OPTIONS
    "  --class, -C CLS       specify the class of the new domain (default: same as source)\n"
    "  -P POOL               pool to use for the new domain\n"
    "  --pool, -p VOLUME_NAME=POOL_NAME\n"
    "                        specify the pool to use for the specific volume\n"
    "  --ignore-errors       log errors encountered during setting metadata but continue\n"
    "                        clone operation\n";

struct clone_ctx {
    const struct cli *cli;
    const char *src;
    const char *dst;
    bool ignore_errors;
};

/* Reports a failed step; returns true when the clone must be abandoned. */
static bool step_failed(const struct clone_ctx *cx, const char *what, const struct qerror *err)
{
    cli_info(cx->cli, "Failed to %s: %s", what, err->message);
    return !cx->ignore_errors;
}

static int copy_metadata(const struct clone_ctx *cx, const struct qprop *props, size_t nprops,
                         struct qerror *err)
{
    static const char *const skip[] = { "name",  "qid",  "template",
                                        "label", "uuid", "installed_by_rpm" };
    for (size_t i = 0; i < nprops; i++) {
        const struct qprop *p = &props[i];
        bool skipped = p->is_default;
        for (size_t j = 0; j < ARRAY_SIZE(skip); j++)
            skipped = skipped || strcmp(p->name, skip[j]) == 0;
        bool typed = strcmp(p->type, "int") == 0 || strcmp(p->type, "bool") == 0;
        if (skipped || (typed && !p->value[0]))
            continue;
        if (qcall("admin.vm.property.Set", p->name, cx->dst, p->value, strlen(p->value), NULL,
                  err) < 0) {
            _cleanup_free_ char *what = xasprintf("set %s property", p->name);
            if (step_failed(cx, what, err))
                return -1;
        }
    }

    _cleanup_buf_ struct buf tags = BUF_INIT;
    size_t n;
    _cleanup_free_ char **tag = NULL;
    if (qcall_lines("admin.vm.tag.List", cx->src, &tags, &tag, &n, err) < 0 &&
        step_failed(cx, "list tags", err))
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (strncmp(tag[i], "created-by-", 11) == 0)
            continue;
        if (qcall("admin.vm.tag.Set", tag[i], cx->dst, "", 0, NULL, err) < 0) {
            _cleanup_free_ char *what = xasprintf("add %s tag", tag[i]);
            if (step_failed(cx, what, err))
                return -1;
        }
    }

    _cleanup_buf_ struct buf feats = BUF_INIT;
    _cleanup_free_ char **feat = NULL;
    if (qcall_lines("admin.vm.feature.List", cx->src, &feats, &feat, &n, err) < 0 &&
        step_failed(cx, "list features", err))
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (strncmp(feat[i], "preload-dispvm", 14) == 0 && strcmp(feat[i], "preload-dispvm-max"))
            continue;
        _cleanup_buf_ struct buf value = BUF_INIT;
        if (qcall("admin.vm.feature.Get", feat[i], cx->src, "", 0, &value, err) < 0 ||
            qcall("admin.vm.feature.Set", feat[i], cx->dst, value.data ? value.data : "", value.len,
                  NULL, err) < 0) {
            _cleanup_free_ char *what = xasprintf("set %s feature", feat[i]);
            if (step_failed(cx, what, err))
                return -1;
        }
    }

    _cleanup_buf_ struct buf notes = BUF_INIT;
    if (qcall("admin.vm.notes.Get", "", cx->src, "", 0, &notes, err) < 0) {
        if (!(err->kind == ERR_PROTOCOL_ERROR) && step_failed(cx, "get notes", err))
            return -1;
    } else if (notes.len &&
               qcall("admin.vm.notes.Set", "", cx->dst, notes.data, notes.len, NULL, err) < 0 &&
               step_failed(cx, "set notes", err)) {
        return -1;
    }

    _cleanup_buf_ struct buf rules = BUF_INIT;
    if (qcall("admin.vm.firewall.Get", "", cx->src, "", 0, &rules, err) < 0) {
        if (step_failed(cx, "set firewall", err))
            return -1;
    } else if (rules.len &&
               qcall("admin.vm.firewall.Set", "", cx->dst, rules.data, rules.len, NULL, err) < 0 &&
               step_failed(cx, "set firewall", err)) {
        return -1;
    }
    return 0;
}

static bool no_such_method(const struct qerror *err)
{
    return err->kind == ERR_PROTOCOL_ERROR && strstr(err->message, "no such method");
}

/* CloneFrom/CloneTo of every save_on_stop volume; skipped while qubesd does
 * not serve the volume methods yet. */
static int clone_volumes(const struct clone_ctx *cx, struct qerror *err)
{
    _cleanup_buf_ struct buf vols = BUF_INIT;
    size_t n;
    _cleanup_free_ char **vol = NULL;
    if (qcall_lines("admin.vm.volume.List", cx->dst, &vols, &vol, &n, err) < 0)
        return no_such_method(err) ? 0 : -1;
    for (size_t i = 0; i < n; i++) {
        _cleanup_buf_ struct buf info = BUF_INIT;
        if (qcall("admin.vm.volume.Info", vol[i], cx->dst, "", 0, &info, err) < 0)
            return no_such_method(err) ? 0 : -1;
        if (!info.data || !strstr(info.data, "save_on_stop=True"))
            continue;
        cli_info(cx->cli, "Cloning %s volume", vol[i]);
        _cleanup_buf_ struct buf token = BUF_INIT;
        if (qcall("admin.vm.volume.CloneFrom", vol[i], cx->src, "", 0, &token, err) < 0)
            return no_such_method(err) ? 0 : -1;
        if (qcall("admin.vm.volume.CloneTo", vol[i], cx->dst, token.data, token.len, NULL, err) < 0)
            return -1;
    }
    return 0;
}

int qvm_clone_main(int argc, char **argv)
{
    struct cli cli = { .prog = "qvm-clone", .usage = usage, .help = help, .verbose = 1 };
    enum { OPT_IGNORE_ERRORS = 0x100 };
    static const struct option longopts[] = {
        { "class", required_argument, NULL, 'C' },
        { "pool", required_argument, NULL, 'p' },
        { "ignore-errors", no_argument, NULL, OPT_IGNORE_ERRORS },
        CLI_COMMON_LONGOPTS,
    };
    const char *klass = NULL;
    _cleanup_pools_ struct cli_pools pools = { 0 };
    bool ignore_errors = false;
    int c;
    while ((c = cli_getopt(&cli, argc, argv, "C:p:P:" CLI_COMMON_SHORTOPTS, longopts)) != -1) {
        switch (c) {
        case 'C': klass = optarg; break;
        case 'P': pools.all = optarg; break;
        case 'p': cli_pools_add_volume(&cli, &pools, optarg); break;
        case OPT_IGNORE_ERRORS: ignore_errors = true; break;
        default: cli_usage_error(&cli, "unrecognized arguments: %s", argv[optind - 1]);
        }
    }
    if (argc - optind < 2)
        cli_usage_error(&cli, "the following arguments are required: %s",
                        argc - optind < 1 ? "VMNAME, NAME" : "NAME");
    if (argc - optind > 2)
        cli_usage_error(&cli, "unrecognized arguments: %s", argv[optind + 2]);
    cli_pools_check(&cli, &pools);
    _cleanup_vm_entry_ struct vm_entry src = { 0 };
    cli_require_vm(&cli, argv[optind], &src);
    struct clone_ctx cx = { &cli, src.name, argv[optind + 1], ignore_errors };

    struct qerror err = { 0 };
    _cleanup_buf_ struct buf content = BUF_INIT;
    _cleanup_qprops_ struct qprops props = { 0 };
    if (qcall("admin.vm.property.GetAll", "", src.name, "", 0, &content, &err) < 0 ||
        qprops_parse(content.data, content.len, &props.v, &props.n, &err) < 0)
        return cli_qerror(&cli, &err);
    const struct qprop *label = qprops_find(props.v, props.n, "label");
    const struct qprop *tmpl = qprops_find(props.v, props.n, "template");
    if (qube_create(klass ? klass : src.klass, cx.dst, label ? label->value : "red",
                    tmpl && tmpl->value[0] ? tmpl->value : NULL, &pools, &err) < 0)
        return cli_qerror(&cli, &err);

    if (copy_metadata(&cx, props.v, props.n, &err) < 0 || clone_volumes(&cx, &err) < 0) {
        struct qerror rm_err = { 0 };
        if (qcall("admin.vm.Remove", "", cx.dst, "", 0, NULL, &rm_err) < 0)
            cli_error(&cli, "failed to remove %s again: %s", cx.dst, rm_err.message);
        return cli_qerror(&cli, &err);
    }
    return 0;
}
