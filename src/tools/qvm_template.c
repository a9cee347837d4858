/* qvm-template: make TemplateVMs from a recipe (templates/<recipe>/build.sh)
 * or from a directory or tarball, list and remove them. Upstream installs
 * RPM-packaged templates; Qubicle builds root trees locally instead and
 * imports them through the Admin API (template_import.h). */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "tools/batch_call.h"
#include "tools/cli.h"
#include "tools/template_import.h"
#include "tools/template_list.h"
#include "tools/template_meta.h"
#include "tools/tools.h"

static const char usage[] = "usage: qvm-template [--verbose] [--quiet] [--help]\n"
                            "                    {build,import,list,info,remove,recipes} ...";

static const char help[] =
    "\nBuild, import, list and remove templates\n\n"
    "commands:\n"
    "  build [--recipe RECIPE] [--label LABEL] [--pool POOL] NAME\n"
    "                        create the TemplateVM NAME with a root tree built by a\n"
    "                        recipe (default: minimal); needs root\n"
    "  import [--label LABEL] [--pool POOL] NAME DIR|TARBALL\n"
    "                        create the TemplateVM NAME (or replace the root of an\n"
    "                        existing one) from a directory or a .tar[.gz|.xz]; needs root\n"
    "  list [--installed|--extras|...] [--machine-readable[-json]] [TEMPLATESPEC...]\n"
    "                        list the templates qvm-template build made (upstream's format)\n"
    "  info [same options]   the same with every detail: version, build and install time,\n"
    "                        size, license, URL, summary, description\n"
    "  remove [--yes] NAME...\n"
    "                        remove templates\n"
    "  recipes               list the recipes build can use\n\n"
    "options:\n" CLI_HELP_COMMON_OPTIONS;

static const char build_usage[] =
    "usage: qvm-template build [--verbose] [--quiet] [--help] [--recipe RECIPE]\n"
    "                          [--label LABEL] [--pool POOL]\n"
    "                          NAME";
static const char build_help[] =
    "\nCreate a TemplateVM and build its root filesystem with a recipe\n\n"
    "positional arguments:\n"
    "  NAME                  name of the new template\n\n"
    "options:\n" CLI_HELP_COMMON_OPTIONS "  --recipe RECIPE, -r RECIPE\n"
    "                        recipe to build the root tree with (default: minimal;\n"
    "                        see qvm-template recipes)\n"
    "  --label LABEL, -l LABEL\n"
    "                        label of the template (default: black)\n"
    "  --pool POOL, -P POOL  storage pool for the template's volumes\n";

static const char import_usage[] =
    "usage: qvm-template import [--verbose] [--quiet] [--help] [--label LABEL]\n"
    "                           [--pool POOL]\n"
    "                           NAME SOURCE";
static const char import_help[] =
    "\nImport a root tree (a directory or a tar archive) as a template's root\n"
    "volume; a new TemplateVM is created unless NAME is one already\n\n"
    "positional arguments:\n"
    "  NAME                  name of the template\n"
    "  SOURCE                directory, or .tar, .tar.gz, .tar.xz archive\n\n"
    "options:\n" CLI_HELP_COMMON_OPTIONS "  --label LABEL, -l LABEL\n"
    "                        label of a new template (default: black)\n"
    "  --pool POOL, -P POOL  storage pool for a new template's volumes\n";

static const char remove_usage[] =
    "usage: qvm-template remove [--verbose] [--quiet] [--help] [--yes] NAME [NAME ...]";
static const char remove_help[] =
    "\nRemove templates\n\n"
    "positional arguments:\n"
    "  NAME                  template to remove\n\n"
    "options:\n" CLI_HELP_COMMON_OPTIONS "  --yes, -y             do not ask for confirmation\n";

static const char recipes_usage[] = "usage: qvm-template recipes [--verbose] [--quiet] [--help]";
static const char recipes_help[] =
    "\nList the recipes qvm-template build can use, and where they are\n\n"
    "options:\n" CLI_HELP_COMMON_OPTIONS;

/* Options shared by build and import. */
struct make_opts {
    const char *recipe;
    const char *label;
    struct cli_pools pools;
};

static int need_root(const struct cli *cli)
{
    if (geteuid() == 0)
        return 0;
    return cli_error(cli, "this needs root: mkfs.ext4 -d must copy root-owned files "
                          "(run qvm-template as root)");
}

/* Reports err, removes a template made by this run, cleans up; exit code. */
static int fail_make(const struct cli *cli, struct template_work *w, const char *name, bool created,
                     const struct qerror *err)
{
    cli_qerror(cli, err);
    if (created) {
        struct qerror rm_err = { 0 };
        if (qcall("admin.vm.Remove", "", name, "", 0, NULL, &rm_err) < 0)
            cli_error(cli, "could not remove the half-made template %s: %s", name, rm_err.message);
        else
            cli_info(cli, "removed the half-made template %s", name);
    }
    template_work_cleanup(w);
    return CLI_EXIT_FAIL;
}

static int parse_make_opts(struct cli *cli, int argc, char **argv, struct make_opts *o,
                           bool with_recipe)
{
    static const struct option longopts[] = {
        { "recipe", required_argument, NULL, 'r' },
        { "label", required_argument, NULL, 'l' },
        { "pool", required_argument, NULL, 'P' },
        CLI_COMMON_LONGOPTS,
    };
    int c;
    while ((c = cli_getopt(cli, argc, argv, "r:l:P:" CLI_COMMON_SHORTOPTS, longopts)) != -1) {
        switch (c) {
        case 'r':
            if (!with_recipe)
                cli_usage_error(cli, "unrecognized arguments: %s", argv[optind - 1]);
            o->recipe = optarg;
            break;
        case 'l': o->label = optarg; break;
        case 'P': o->pools.all = optarg; break;
        default: cli_usage_error(cli, "unrecognized arguments: %s", argv[optind - 1]);
        }
    }
    return optind;
}

static int cmd_build(int argc, char **argv, const struct cli *top)
{
    struct cli cli = {
        .prog = "qvm-template build", .usage = build_usage, .help = build_help, .verbose = 1
    };
    cli.verbose = top->verbose;
    cli.quiet = top->quiet;
    struct make_opts o = { .recipe = "minimal", .label = "black" };
    int i = parse_make_opts(&cli, argc, argv, &o, true);
    if (argc - i < 1)
        cli_usage_error(&cli, "the following arguments are required: NAME");
    if (argc - i > 1)
        cli_usage_error(&cli, "unrecognized arguments: %s", argv[i + 1]);
    const char *name = argv[i];
    if (need_root(&cli))
        return CLI_EXIT_FAIL;
    struct qerror err = { 0 };
    _cleanup_free_ char *script = NULL;
    if (template_recipe_find(o.recipe, &script, &err) < 0)
        return cli_qerror(&cli, &err);

    template_catch_signals();
    struct template_work w;
    if (template_work_init(&w, &err) < 0)
        return fail_make(&cli, &w, name, false, &err);
    /* the qube first: a taken name fails before a long build */
    if (qube_create("TemplateVM", name, o.label, NULL, &o.pools, &err) < 0)
        return fail_make(&cli, &w, name, false, &err);
    time_t built = template_build_time();
    if (template_run_recipe(&w, o.recipe, script, &err) < 0 ||
        template_import_tree(&w, name, w.tree, &err) < 0 ||
        template_meta_record(name, o.recipe, built, &err) < 0)
        return fail_make(&cli, &w, name, true, &err);
    template_work_cleanup(&w);
    cli_info(&cli, "template %s is ready", name);
    return 0;
}

static int cmd_import(int argc, char **argv, const struct cli *top)
{
    struct cli cli = {
        .prog = "qvm-template import", .usage = import_usage, .help = import_help, .verbose = 1
    };
    cli.verbose = top->verbose;
    cli.quiet = top->quiet;
    struct make_opts o = { .label = "black" };
    int i = parse_make_opts(&cli, argc, argv, &o, false);
    if (argc - i < 2)
        cli_usage_error(&cli, "the following arguments are required: %s",
                        argc - i ? "SOURCE" : "NAME, SOURCE");
    if (argc - i > 2)
        cli_usage_error(&cli, "unrecognized arguments: %s", argv[i + 2]);
    const char *name = argv[i], *source = argv[i + 1];
    struct stat st;
    if (stat(source, &st) < 0)
        return cli_error(&cli, "%s: %s", source, strerror(errno));
    if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
        return cli_error(&cli, "%s: neither a directory nor an archive", source);
    if (need_root(&cli))
        return CLI_EXIT_FAIL;

    struct qerror err = { 0 };
    _cleanup_vm_entry_ struct vm_entry existing = { 0 };
    {
        struct vm_entry *vms = NULL;
        size_t n = 0;
        if (vm_list("dom0", &vms, &n, &err) < 0)
            return cli_qerror(&cli, &err);
        const struct vm_entry *e = vm_list_find(vms, n, name);
        if (e) {
            existing.name = xstrdup(e->name);
            existing.klass = xstrdup(e->klass);
        }
        vm_list_free(vms, n);
    }
    if (existing.name && strcmp(existing.klass, "TemplateVM") != 0)
        return cli_error(&cli, "%s is a %s, not a TemplateVM", name, existing.klass);

    template_catch_signals();
    struct template_work w;
    if (template_work_init(&w, &err) < 0)
        return fail_make(&cli, &w, name, false, &err);
    bool created = false;
    if (!existing.name) {
        if (qube_create("TemplateVM", name, o.label, NULL, &o.pools, &err) < 0)
            return fail_make(&cli, &w, name, false, &err);
        created = true;
    } else {
        cli_info(&cli, "replacing the root volume of the existing template %s", name);
    }
    const char *tree = source;
    if (S_ISREG(st.st_mode)) {
        if (template_unpack(&w, source, &err) < 0)
            return fail_make(&cli, &w, name, created, &err);
        tree = w.tree;
    }
    if (template_import_tree(&w, name, tree, &err) < 0)
        return fail_make(&cli, &w, name, created, &err);
    template_work_cleanup(&w);
    cli_info(&cli, "template %s is ready", name);
    return 0;
}

static int cmd_list(int argc, char **argv, const struct cli *top)
{
    return template_list_main(argc, argv, top, false);
}

static int cmd_info(int argc, char **argv, const struct cli *top)
{
    return template_list_main(argc, argv, top, true);
}

static int cmd_remove(int argc, char **argv, const struct cli *top)
{
    struct cli cli = {
        .prog = "qvm-template remove", .usage = remove_usage, .help = remove_help, .verbose = 1
    };
    cli.verbose = top->verbose;
    cli.quiet = top->quiet;
    static const struct option longopts[] = {
        { "yes", no_argument, NULL, 'y' },
        CLI_COMMON_LONGOPTS,
    };
    bool yes = false;
    int c;
    while ((c = cli_getopt(&cli, argc, argv, "y" CLI_COMMON_SHORTOPTS, longopts)) != -1) {
        if (c != 'y')
            cli_usage_error(&cli, "unrecognized arguments: %s", argv[optind - 1]);
        yes = true;
    }
    if (optind >= argc)
        cli_usage_error(&cli, "the following arguments are required: NAME");
    _cleanup_vm_entries_ struct vm_entries all = { 0 };
    cli_list_qubes(&cli, &all.v, &all.n);
    for (int i = optind; i < argc; i++) {
        const struct vm_entry *vm = vm_list_find(all.v, all.n, argv[i]);
        if (!vm)
            return cli_error(&cli, "no such template: %s", argv[i]);
        if (strcmp(vm->klass, "TemplateVM") != 0)
            return cli_error(&cli, "%s is a %s, not a TemplateVM", argv[i], vm->klass);
    }
    if (!yes) {
        fprintf(stderr, "This will completely remove the selected VM(s)...\n");
        for (int i = optind; i < argc; i++)
            printf("  %s\n", argv[i]);
        fflush(stdout);
        if (!cli_ask("Are you sure? [y/N] ", "Y")) {
            fprintf(stderr, "Remove cancelled.\n");
            return 1;
        }
    }
    int rc = 0;
    for (int i = optind; i < argc; i++) {
        struct qerror err = { 0 };
        if (qcall("admin.vm.Remove", "", argv[i], "", 0, NULL, &err) < 0)
            rc = cli_error(&cli, "%s: %s", argv[i], err.message);
    }
    return rc;
}

static int cmd_recipes(int argc, char **argv, const struct cli *top)
{
    struct cli cli = {
        .prog = "qvm-template recipes", .usage = recipes_usage, .help = recipes_help, .verbose = 1
    };
    cli.verbose = top->verbose;
    cli.quiet = top->quiet;
    static const struct option longopts[] = { CLI_COMMON_LONGOPTS };
    while (cli_getopt(&cli, argc, argv, CLI_COMMON_SHORTOPTS, longopts) != -1)
        cli_usage_error(&cli, "unrecognized arguments: %s", argv[optind - 1]);
    _cleanup_free_ char *dir = template_recipes_dir();
    DIR *d = opendir(dir);
    if (!d)
        return cli_error(&cli, "%s: %s", dir, strerror(errno));
    char **names = NULL;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        _cleanup_free_ char *script = xasprintf("%s/%s/build.sh", dir, e->d_name);
        if (access(script, R_OK) == 0)
            cli_strv_push(&names, &n, xstrdup(e->d_name));
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof(char *), cmp_strp);
    for (size_t i = 0; i < n; i++)
        printf("%s\n", names[i]);
    cli_info(&cli, "(recipes in %s)", dir);
    cli_strv_free(names);
    return 0;
}

int qvm_template_main(int argc, char **argv)
{
    struct cli cli = { .prog = "qvm-template", .usage = usage, .help = help, .verbose = 1 };
    static const struct option longopts[] = { CLI_COMMON_LONGOPTS };
    /* options up to the command are ours; the command parses the rest */
    setenv("POSIXLY_CORRECT", "1", 1);
    while (cli_getopt(&cli, argc, argv, CLI_COMMON_SHORTOPTS, longopts) != -1)
        cli_usage_error(&cli, "unrecognized arguments: %s", argv[optind - 1]);
    unsetenv("POSIXLY_CORRECT");
    if (optind >= argc)
        cli_usage_error(&cli, "the following arguments are required: command");
    static const struct {
        const char *name;
        int (*run)(int argc, char **argv, const struct cli *top);
    } commands[] = {
        { "build", cmd_build }, { "import", cmd_import }, { "list", cmd_list },
        { "info", cmd_info },   { "remove", cmd_remove }, { "recipes", cmd_recipes },
    };
    const char *name = argv[optind];
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(commands[i].name, name) == 0) {
            int sub_argc = argc - optind;
            char **sub_argv = argv + optind;
            optind = 0; /* a fresh getopt scan over the command's arguments */
            return commands[i].run(sub_argc, sub_argv, &cli);
        }
    }
    cli_usage_error(&cli,
                    "argument command: invalid choice: '%s' (choose from 'build', 'import', "
                    "'list', 'info', 'remove', 'recipes')",
                    name);
}
