/* qvm-pool: list, inspect, add, change and remove storage pools
 * (qubesadmin/tools/qvm_pool.py), with the legacy flags of
 * qvm_pool_legacy.py (-a/-i/-l/-r/--help-drivers). */
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/py_repr.h"
#include "tools/cli.h"
#include "tools/tools.h"

static const char usage[] =
    "usage: qvm-pool [--verbose] [--quiet] [--help]\n"
    "                {drivers,d,list,l,ls,info,i,add,a,remove,r,rm,set,s} ...";

static const char help[] =
    "\nManages Qubes pools and their options\n\n"
    "options:\n" CLI_HELP_COMMON_OPTIONS "\n"
    "commands:\n"
    "  For more information see qvm-pool <command> -h\n\n"
    "    drivers (d)         List all drivers with their options\n"
    "    list (l,ls)         List all available pools\n"
    "    info (i)            Print info about the specified pools\n"
    "    add (a)             Add a new pool: add POOL_NAME DRIVER [-o opt=value]...\n"
    "    remove (r,rm)       Remove the specified pools\n"
    "    set (s)             Modify driver options for a pool: set POOL_NAME -o opt=value\n\n"
    "legacy options: -l/--list, -i/--info POOLNAME, -a/--add NAME DRIVER, -r/--remove NAME,\n"
    "  --help-drivers, -o options (comma-separated)\n";

/* A pool's Info as key/value lines (pointing into content). */
struct pool_info {
    struct buf content;
    char **lines;
    size_t n;
};

static int fetch_info(const char *pool, struct pool_info *out, struct qerror *err)
{
    memset(out, 0, sizeof(*out));
    if (qcall("admin.pool.Info", pool, "dom0", "", 0, &out->content, err) < 0)
        return -1;
    out->n = split_lines(out->content.data ? out->content.data : (char *)"", &out->lines);
    return 0;
}

static void pool_info_free(struct pool_info *p)
{
    buf_free(&p->content);
    free(p->lines);
}

static const char *info_get(const struct pool_info *p, const char *key)
{
    size_t kl = strlen(key);
    for (size_t i = 0; i < p->n; i++)
        if (strncmp(p->lines[i], key, kl) == 0 && p->lines[i][kl] == '=')
            return p->lines[i] + kl + 1;
    return NULL;
}

static size_t fetch_pools(const struct cli *cli, struct buf *content, char ***names)
{
    struct qerror err = { 0 };
    size_t n;
    if (qcall_lines("admin.pool.List", "dom0", content, names, &n, &err) < 0)
        exit(cli_qerror(cli, &err));
    return n;
}

static int list_pools(const struct cli *cli)
{
    _cleanup_buf_ struct buf content = BUF_INIT;
    _cleanup_free_ char **names = NULL;
    size_t n = fetch_pools(cli, &content, &names);
    _cleanup_table_ struct table t;
    table_init(&t, 2);
    table_add(&t, "NAME");
    table_add(&t, "DRIVER");
    for (size_t i = 0; i < n; i++) {
        struct pool_info info;
        struct qerror err = { 0 };
        if (fetch_info(names[i], &info, &err) < 0) {
            pool_info_free(&info);
            return cli_qerror(cli, &err);
        }
        const char *driver = info_get(&info, "driver");
        table_add(&t, names[i]);
        table_add(&t, driver ? driver : "");
        pool_info_free(&info);
    }
    table_print(&t, stdout);
    return 0;
}

static int list_drivers(const struct cli *cli)
{
    _cleanup_buf_ struct buf content = BUF_INIT;
    _cleanup_free_ char **lines = NULL;
    size_t n;
    struct qerror err = { 0 };
    if (qcall_lines("admin.pool.ListDrivers", "dom0", &content, &lines, &n, &err) < 0)
        return cli_qerror(cli, &err);
    qsort(lines, n, sizeof(char *), cmp_strp);
    _cleanup_table_ struct table t;
    table_init(&t, 2);
    table_add(&t, "DRIVER");
    table_add(&t, "OPTIONS");
    for (size_t i = 0; i < n; i++) {
        char *sp = strchr(lines[i], ' ');
        _cleanup_buf_ struct buf opts = BUF_INIT;
        if (sp) {
            *sp = '\0';
            for (char *save = NULL, *o = strtok_r(sp + 1, " ", &save); o;
                 o = strtok_r(NULL, " ", &save))
                buf_printf(&opts, "%s%s", opts.len ? ", " : "", o);
        }
        table_add(&t, lines[i]);
        table_add(&t, opts.data ? opts.data : "");
    }
    table_print(&t, stdout);
    return 0;
}

/* PoolsAction: every name must be a pool. */
static void require_pools(const struct cli *cli, char **pools, size_t n)
{
    _cleanup_buf_ struct buf content = BUF_INIT;
    _cleanup_free_ char **names = NULL;
    size_t npools = fetch_pools(cli, &content, &names);
    for (size_t i = 0; i < n; i++) {
        if (!cli_strv_contains(names, npools, pools[i])) {
            _cleanup_free_ char *r = py_repr_dup(pools[i]);
            cli_usage_error(cli, "no such pool: %s", r);
        }
    }
}

static int info_pools(const struct cli *cli, char **pools, size_t n)
{
    require_pools(cli, pools, n);
    _cleanup_table_ struct table t;
    table_init(&t, 2);
    for (size_t i = 0; i < n; i++) {
        struct pool_info info;
        struct qerror err = { 0 };
        if (fetch_info(pools[i], &info, &err) < 0) {
            pool_info_free(&info);
            return cli_qerror(cli, &err);
        }
        if (i > 0) {
            table_add(&t, "");
            table_add(&t, "");
        }
        table_add(&t, "name");
        table_add(&t, pools[i]);
        qsort(info.lines, info.n, sizeof(char *), cmp_strp);
        for (size_t j = 0; j < info.n; j++) {
            char *eq = strchr(info.lines[j], '=');
            if (!eq || strncmp(info.lines[j], "name=", 5) == 0)
                continue;
            *eq = '\0';
            table_add(&t, info.lines[j]);
            table_add(&t, eq + 1);
        }
        pool_info_free(&info);
    }
    table_print(&t, stdout);
    return 0;
}

static int add_pool(const char *name, const char *driver, char **options, size_t nopts,
                    struct qerror *err)
{
    _cleanup_buf_ struct buf payload = BUF_INIT;
    buf_printf(&payload, "name=%s\n", name);
    for (size_t i = 0; i < nopts; i++)
        buf_printf(&payload, "%s\n", options[i]);
    return qcall("admin.pool.Add", driver, "dom0", payload.data, payload.len, NULL, err);
}

static int set_pool(const struct cli *cli, const char *pool, char **options, size_t nopts)
{
    require_pools(cli, &(char *){ (char *)pool }, 1);
    _cleanup_buf_ struct buf errors = BUF_INIT;
    for (size_t i = 0; i < nopts; i++) {
        char *eq = strchr(options[i], '=');
        _cleanup_free_ char *opt = xstrndup(options[i], (size_t)(eq - options[i]));
        if (strcmp(opt, "revisions_to_keep") && strcmp(opt, "ephemeral_volatile")) {
            buf_printf(&errors, "%sSetting option %s is not supported for pool %s\n",
                       errors.len ? "\n" : "", opt, pool);
            continue;
        }
        _cleanup_free_ char *method = xasprintf("admin.pool.Set.%s", opt);
        struct qerror err = { 0 };
        if (qcall(method, pool, "dom0", eq + 1, strlen(eq + 1), NULL, &err) < 0)
            buf_printf(&errors, "%sFailed to set option %s for pool %s: %s\n",
                       errors.len ? "\n" : "", opt, pool, err.message);
    }
    if (errors.len) {
        errors.data[--errors.len] = '\0';
        return cli_error(cli, "%s", errors.data);
    }
    return 0;
}

static int remove_pools(const struct cli *cli, char **pools, size_t n)
{
    _cleanup_buf_ struct buf content = BUF_INIT;
    _cleanup_free_ char **names = NULL;
    size_t npools = fetch_pools(cli, &content, &names);
    _cleanup_buf_ struct buf errors = BUF_INIT;
    for (size_t i = 0; i < n; i++) {
        struct qerror err = { 0 };
        if (!cli_strv_contains(names, npools, pools[i]))
            buf_printf(&errors, "%sNo such pool %s\n", errors.len ? "\n" : "", pools[i]);
        else if (qcall("admin.pool.Remove", pools[i], "dom0", "", 0, NULL, &err) < 0)
            buf_printf(&errors, "%sFailed to remove pool %s: %s\n", errors.len ? "\n" : "",
                       pools[i], err.message);
    }
    if (errors.len) {
        errors.data[--errors.len] = '\0';
        return cli_error(cli, "%s", errors.data);
    }
    return 0;
}

static void check_options(const struct cli *cli, char **options, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!strchr(options[i], '='))
            cli_usage_error(cli, "invalid option %s: expected opt=value", options[i]);
}

/* qvm-pool-legacy: one action chosen by a flag. */
static int legacy_main(struct cli *cli, int argc, char **argv)
{
    enum { OPT_HELP_DRIVERS = 0x100 };
    static const struct option longopts[] = {
        { "list", no_argument, NULL, 'l' },
        { "info", required_argument, NULL, 'i' },
        { "add", required_argument, NULL, 'a' },
        { "remove", required_argument, NULL, 'r' },
        { "help-drivers", no_argument, NULL, OPT_HELP_DRIVERS },
        CLI_COMMON_LONGOPTS,
    };
    char cmd = 0;
    const char *name = NULL, *driver = NULL;
    char *opts = NULL;
    char **info = NULL;
    size_t ninfo = 0;
    int c;
    optind = 1;
    while ((c = cli_getopt(cli, argc, argv, "li:a:r:o:" CLI_COMMON_SHORTOPTS, longopts)) != -1) {
        char this = c == OPT_HELP_DRIVERS ? 'd' : (char)c;
        if (this != 'o' && cmd && !(cmd == 'i' && this == 'i'))
            cli_usage_error(cli, "argument %s: not allowed with another action", argv[optind - 1]);
        switch (c) {
        case 'l':
        case OPT_HELP_DRIVERS: cmd = this; break;
        case 'i':
            cmd = 'i';
            cli_strv_push(&info, &ninfo, optarg);
            break;
        case 'a':
            cmd = 'a';
            name = optarg;
            if (optind >= argc)
                cli_usage_error(cli, "argument -a/--add: expected 2 arguments");
            driver = argv[optind++];
            break;
        case 'r':
            cmd = 'r';
            name = optarg;
            break;
        case 'o': opts = optarg; break;
        default: cli_usage_error(cli, "unrecognized arguments: %s", argv[optind - 1]);
        }
    }
    if (optind < argc)
        cli_usage_error(cli, "unrecognized arguments: %s", argv[optind]);
    int rc = 0;
    if (cmd == 0 || cmd == 'l') {
        rc = list_pools(cli);
    } else if (cmd == 'd') {
        rc = list_drivers(cli);
    } else if (cmd == 'i') {
        rc = info_pools(cli, info, ninfo);
    } else if (cmd == 'a') {
        char **options = NULL;
        size_t nopts = 0;
        _cleanup_free_ char *copy = opts ? xstrdup(opts) : NULL;
        for (char *save = NULL, *o = copy ? strtok_r(copy, ",", &save) : NULL; o;
             o = strtok_r(NULL, ",", &save))
            cli_strv_push(&options, &nopts, o);
        check_options(cli, options, nopts);
        struct qerror err = { 0 };
        if (add_pool(name, driver, options, nopts, &err) < 0) {
            free(options);
            free(info);
            cli_usage_error(cli, "failed to add pool %s: %s\n", name, err.message);
        }
        free(options);
    } else if (cmd == 'r') {
        struct qerror err = { 0 };
        _cleanup_buf_ struct buf content = BUF_INIT;
        _cleanup_free_ char **names = NULL;
        size_t n = fetch_pools(cli, &content, &names);
        if (!cli_strv_contains(names, n, name))
            cli_error(cli, "no such pool %s\n", name);
        else if (qcall("admin.pool.Remove", name, "dom0", "", 0, NULL, &err) < 0)
            rc = cli_qerror(cli, &err);
    }
    free(info);
    return rc;
}

static bool uses_legacy_options(int argc, char **argv)
{
    static const char *const legacy[] = {
        "-a",       "--add", "-i",    "--info",        "-l", "--list", "-r",
        "--remove", "-s",    "--set", "--help-drivers"
    };
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            break;
        for (size_t j = 0; j < ARRAY_SIZE(legacy); j++) {
            size_t l = strlen(legacy[j]);
            if (strncmp(argv[i], legacy[j], l) == 0 &&
                (argv[i][l] == '\0' || (argv[i][1] != '-' && l == 2) ||
                 (argv[i][1] == '-' && argv[i][l] == '=')))
                return true;
        }
    }
    return false;
}

int qvm_pool_main(int argc, char **argv)
{
    struct cli cli = { .prog = "qvm-pool", .usage = usage, .help = help, .verbose = 1 };
    if (uses_legacy_options(argc, argv))
        return legacy_main(&cli, argc, argv);
    static const struct option longopts[] = {
        { "option", required_argument, NULL, 'o' },
        CLI_COMMON_LONGOPTS,
    };
    _cleanup_free_ char **options = NULL;
    size_t nopts = 0;
    int c;
    while ((c = cli_getopt(&cli, argc, argv, "o:" CLI_COMMON_SHORTOPTS, longopts)) != -1) {
        if (c == 'o')
            cli_strv_push(&options, &nopts, optarg);
        else
            cli_usage_error(&cli, "unrecognized arguments: %s", argv[optind - 1]);
    }
    char **args = argv + optind;
    size_t nargs = (size_t)(argc - optind);
    const char *cmd = nargs ? args[0] : "list";
    if (nargs) {
        args++;
        nargs--;
    }
    check_options(&cli, options, nopts);
    if (!strcmp(cmd, "list") || !strcmp(cmd, "l") || !strcmp(cmd, "ls")) {
        if (nargs)
            cli_usage_error(&cli, "unrecognized arguments: %s", args[0]);
        return list_pools(&cli);
    }
    if (!strcmp(cmd, "drivers") || !strcmp(cmd, "d")) {
        if (nargs)
            cli_usage_error(&cli, "unrecognized arguments: %s", args[0]);
        return list_drivers(&cli);
    }
    if (!strcmp(cmd, "info") || !strcmp(cmd, "i")) {
        if (!nargs)
            cli_usage_error(&cli, "the following arguments are required: POOL_NAME");
        return info_pools(&cli, args, nargs);
    }
    if (!strcmp(cmd, "add") || !strcmp(cmd, "a")) {
        if (nargs < 2)
            cli_usage_error(&cli, "the following arguments are required: %s",
                            nargs ? "DRIVER" : "POOL_NAME, DRIVER");
        if (nargs > 2)
            cli_usage_error(&cli, "unrecognized arguments: %s", args[2]);
        struct qerror err = { 0 };
        if (add_pool(args[0], args[1], options, nopts, &err) < 0)
            return cli_error(&cli, "Failed to add pool %s: %s", args[0], err.message);
        return 0;
    }
    if (!strcmp(cmd, "remove") || !strcmp(cmd, "r") || !strcmp(cmd, "rm")) {
        if (!nargs)
            cli_usage_error(&cli, "the following arguments are required: POOL_NAME");
        return remove_pools(&cli, args, nargs);
    }
    if (!strcmp(cmd, "set") || !strcmp(cmd, "s")) {
        if (nargs < 1)
            cli_usage_error(&cli, "the following arguments are required: POOL_NAME");
        if (nargs > 1)
            cli_usage_error(&cli, "unrecognized arguments: %s", args[1]);
        return set_pool(&cli, args[0], options, nopts);
    }
    _cleanup_free_ char *r = py_repr_dup(cmd);
    cli_usage_error(&cli,
                    "argument command: invalid choice: %s (choose from 'drivers', 'd', 'list', "
                    "'l', 'ls', 'info', 'i', 'add', 'a', 'remove', 'r', 'rm', 'set', 's')",
                    r);
}
