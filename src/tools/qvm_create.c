/* qvm-create: create a qube, then set the requested properties; a qube
 * whose property cannot be set is removed again (tools/undo.h), so nothing half-made stays. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/admin_wire.h"
#include "common/cleanup.h"
#include "common/py_repr.h"
#include "tools/cli.h"
#include "tools/dom0_service.h"
#include "tools/tools.h"
#include "tools/undo.h"

static const char usage[] =
    "usage: qvm-create [--verbose] [--quiet] [--help] [--class CLS]\n"
    "                  [--property NAME=VALUE] [--pool VOLUME_NAME=POOL_NAME]\n"
    "                  [-P POOL_NAME] [--template VALUE] [--label VALUE]\n"
    "                  [--standalone] [--disp] [--help-classes]\n"
    "                  [--root-copy-from FILENAME | --root-move-from FILENAME]\n"
    "                  [VMNAME]";

static const char help[] =
    "\npositional arguments:\n"
    "  VMNAME                name of the domain to create\n\n"
    "options:\n" CLI_HELP_COMMON_OPTIONS
    "  --class, -C CLS       specify the class of the new domain (default: AppVM)\n"
    "  --standalone          shortcut for --class StandaloneVM\n"
    "  --disp                shortcut for --class DispVM --label red\n"
    "  --property, --prop NAME=VALUE\n"
    "                        set domain's property, like \"internal\", \"memory\" or \"vcpus\"\n"
    "  --pool, -p VOLUME_NAME=POOL_NAME\n"
    "                        specify the pool to use for a volume\n"
    "  -P POOL_NAME          change all volume pools to specified pool\n"
    "  --template, -t VALUE  specify the TemplateVM to use\n"
    "  --label, -l VALUE     specify the label to use for the new domain (e.g. red, yellow,\n"
    "                        green, ...)\n"
    "  --help-classes        List available classes and exit\n"
    "  --root-copy-from, -r FILENAME\n"
    "                        use provided root.img instead of default/empty one (file will be\n"
    "                        COPIED)\n"
    "  --root-move-from, -R FILENAME\n"
    "                        use provided root.img instead of default/empty one (file will be\n"
    "                        MOVED)\n";

/* A list answer (one name per line) as an array; content keeps the strings. */
static size_t fetch_names(const struct cli *cli, const char *method, struct buf *content,
                          char ***names)
{
    struct qerror err = { 0 };
    size_t n;
    if (qcall_lines(method, "dom0", content, names, &n, &err) < 0)
        exit(cli_qerror(cli, &err));
    return n;
}

/* The new qube's root volume gets the image's data (admin.vm.volume.ImportWithSize through
 * dom0's service) and keeps its own size if that is larger. */
static int import_root(const char *name, const char *image, struct qerror *err)
{
    _cleanup_close_ int in = open(image, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (in < 0 || fstat(in, &st) < 0)
        return qerror_errno(err, errno, "%s", image);
    _cleanup_buf_ struct buf info = BUF_INIT;
    if (qcall("admin.vm.volume.Info", "root", name, "", 0, &info, err) < 0)
        return -1;
    const char *size_line = info.data ? strstr(info.data, "\nsize=") : NULL;
    unsigned long long own = size_line ? strtoull(size_line + 6, NULL, 10) : 0;
    _cleanup_free_ char *size = xasprintf("%llu\n", (unsigned long long)st.st_size);
    if (dom0_service_call("admin.vm.volume.ImportWithSize", "root", name, size, in, NULL, err) < 0)
        return -1;
    if (own <= (unsigned long long)st.st_size)
        return 0;
    _cleanup_free_ char *grow = xasprintf("%llu", own);
    return qcall("admin.vm.volume.Resize", "root", name, grow, strlen(grow), NULL, err);
}

int qvm_create_main(int argc, char **argv)
{
    struct cli cli = { .prog = "qvm-create", .usage = usage, .help = help, .verbose = 1 };
    enum { OPT_PROPERTY = 0x100, OPT_STANDALONE, OPT_DISP, OPT_HELP_CLASSES, OPT_NO_ROOT };
    static const struct option longopts[] = {
        { "class", required_argument, NULL, 'C' },
        { "property", required_argument, NULL, OPT_PROPERTY },
        { "prop", required_argument, NULL, OPT_PROPERTY },
        { "pool", required_argument, NULL, 'p' },
        { "template", required_argument, NULL, 't' },
        { "label", required_argument, NULL, 'l' },
        { "standalone", no_argument, NULL, OPT_STANDALONE },
        { "disp", no_argument, NULL, OPT_DISP },
        { "help-classes", no_argument, NULL, OPT_HELP_CLASSES },
        { "root-copy-from", required_argument, NULL, 'r' },
        { "root-move-from", required_argument, NULL, 'R' },
        { "no-root", no_argument, NULL, OPT_NO_ROOT },
        CLI_COMMON_LONGOPTS,
    };
    const char *klass = "AppVM", *template_name = NULL, *label = NULL;
    _cleanup_pools_ struct cli_pools pools = { 0 };
    bool help_classes = false, disp = false;
    const char *root_copy = NULL, *root_move = NULL;
    _cleanup_free_ char **props = NULL; /* items belong to argv */
    size_t nprops = 0;
    int c;
    while ((c = cli_getopt(&cli, argc, argv, "C:p:P:t:l:r:R:" CLI_COMMON_SHORTOPTS, longopts)) !=
           -1) {
        switch (c) {
        case 'C': klass = optarg; break;
        case OPT_STANDALONE: klass = "StandaloneVM"; break;
        case OPT_DISP:
            klass = "DispVM";
            disp = true;
            break;
        case OPT_PROPERTY: {
            if (!strchr(optarg, '=')) {
                _cleanup_free_ char *r = py_repr_dup(optarg);
                cli_usage_error(&cli, "invalid property token: %s", r);
            }
            cli_strv_push(&props, &nprops, optarg);
            break;
        }
        case 'p': cli_pools_add_volume(&cli, &pools, optarg); break;
        case 'P': pools.all = optarg; break;
        case 't': template_name = optarg; break;
        case 'l': label = optarg; break;
        case OPT_HELP_CLASSES: help_classes = true; break;
        case 'r':
        case 'R':
        case OPT_NO_ROOT: /* silently ignored, as upstream */
            if ((c == 'r' && root_move) || (c == 'R' && root_copy))
                cli_usage_error(&cli, "argument %s: not allowed with argument %s",
                                c == 'r' ? "--root-copy-from/-r" : "--root-move-from/-R",
                                c == 'r' ? "--root-move-from/-R" : "--root-copy-from/-r");
            if (c == 'r')
                root_copy = optarg;
            else if (c == 'R')
                root_move = optarg;
            break;
        default: cli_usage_error(&cli, "unrecognized arguments: %s", argv[optind - 1]);
        }
    }
    if (argc - optind > 1)
        cli_usage_error(&cli, "unrecognized arguments: %s", argv[optind + 1]);
    const char *name = optind < argc ? argv[optind] : NULL;

    if (help_classes) {
        _cleanup_buf_ struct buf content = BUF_INIT;
        _cleanup_free_ char **classes = NULL;
        size_t n = fetch_names(&cli, "admin.vmclass.List", &content, &classes);
        qsort(classes, n, sizeof(char *), cmp_strp);
        for (size_t i = 0; i < n; i++)
            printf("%s\n", classes[i]);
        return 0;
    }
    if (!label && disp)
        label = "red";
    if (!label)
        cli_usage_error(&cli, "--label option is mandatory");
    if (!name)
        cli_usage_error(&cli, "VMNAME is mandatory");
    cli_pools_check(&cli, &pools);
    const char *root_image = root_copy ? root_copy : root_move;
    if (root_image && access(root_image, F_OK) != 0)
        cli_usage_error(&cli, "File pointed by --root-copy-from/--root-move-from does not exist");
    if (root_image && (strcmp(klass, "AppVM") == 0 || strcmp(klass, "DispVM") == 0))
        cli_usage_error(&cli, "--root-copy-from/--root-move-from used but this qube does not "
                              "have own 'root' volume (uses template's one)");

    {
        _cleanup_buf_ struct buf content = BUF_INIT;
        _cleanup_free_ char **labels = NULL;
        size_t n = fetch_names(&cli, "admin.label.List", &content, &labels);
        if (!cli_strv_contains(labels, n, label)) {
            _cleanup_buf_ struct buf avail = BUF_INIT;
            for (size_t i = 0; i < n; i++) {
                if (i)
                    buf_append_str(&avail, ", ");
                py_repr(&avail, labels[i], strlen(labels[i]));
            }
            _cleanup_free_ char *r = py_repr_dup(label);
            cli_usage_error(&cli, "no such label: %s; available: %s", r,
                            avail.data ? avail.data : "");
        }
    }
    {
        _cleanup_buf_ struct buf content = BUF_INIT;
        _cleanup_free_ char **classes = NULL;
        size_t n = fetch_names(&cli, "admin.vmclass.List", &content, &classes);
        if (!cli_strv_contains(classes, n, klass)) {
            _cleanup_free_ char *r = py_repr_dup(klass);
            cli_usage_error(&cli, "no such domain class: %s", r);
        }
    }

    struct qerror err = { 0 };
    /* a StandaloneVM has no template: it starts as a copy of one's root
     * (the given one, else default_template) */
    _cleanup_buf_ struct buf source = BUF_INIT;
    bool standalone = strcmp(klass, "StandaloneVM") == 0;
    if (standalone) {
        if (template_name) {
            buf_append_str(&source, template_name);
        } else {
            struct qprop p = { 0 };
            if (global_prop_get("default_template", &p, &err) == 0)
                buf_append_str(&source, p.value);
            free(p.value);
        }
        template_name = NULL;
    }
    if (qube_create(klass, name, label, template_name, &pools, &err) < 0)
        return cli_qerror(&cli, &err);
    _cleanup_undo_ struct undo undo = { 0 };
    undo_created_qube(&undo, name);
    if (standalone && source.len) {
        _cleanup_buf_ struct buf token = BUF_INIT;
        if (qcall("admin.vm.volume.CloneFrom", "root", source.data, "", 0, &token, &err) < 0 ||
            qcall("admin.vm.volume.CloneTo", "root", name, token.data, token.len, NULL, &err) < 0) {
            _cleanup_free_ char *what = xasprintf("Cannot copy the root of %s", source.data);
            return undo_fail(&cli, &undo, what, &err);
        }
    }

    for (size_t i = 0; i < nprops; i++) {
        char *eq = strchr(props[i], '=');
        _cleanup_free_ char *prop = xstrndup(props[i], (size_t)(eq - props[i]));
        const char *value = eq + 1;
        if (qcall("admin.vm.property.Set", prop, name, value, strlen(value), NULL, &err) < 0) {
            _cleanup_free_ char *what = xasprintf("Error setting property %s", prop);
            return undo_fail(&cli, &undo, what, &err);
        }
    }
    if (root_image) {
        if (import_root(name, root_image, &err) < 0)
            return undo_fail(&cli, &undo, "Error importing root volume", &err);
        if (root_move && unlink(root_move) < 0)
            return cli_error(&cli, "%s: %s", root_move, strerror(errno));
    }
    return 0;
}
