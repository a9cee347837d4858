/* qvm-volume: list, inspect and change the volumes of qubes
 * (qubesadmin/tools/qvm_volume.py): list, info, config, resize, revert,
 * import, clone, clear. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/py_repr.h"
#include "tools/cli.h"
#include "tools/dom0_service.h"
#include "tools/tools.h"

static const char usage[] =
    "usage: qvm-volume [--verbose] [--quiet] [--help]\n"
    "                  {list,ls,l,info,i,config,c,set,s,resize,extend,revert,rv,r,import,"
    "clone,clear} ...";

static const char help[] =
    "\nQubes volume management\n\n"
    "options:\n" CLI_HELP_COMMON_OPTIONS "\n"
    "commands:\n"
    "  list (ls,l) [-p POOL_NAME] [--full] [VMNAME ...]\n"
    "                        list storage volumes\n"
    "  info (i) VM:VOLUME [PROPERTY]\n"
    "                        info about volume ('revisions' lists revisions)\n"
    "  config (c,set,s) VM:VOLUME PROPERTY VALUE\n"
    "                        set config option for a volume (rw, revisions_to_keep,\n"
    "                        ephemeral)\n"
    "  resize (extend) [--force] VM:VOLUME SIZE\n"
    "                        resize volume for domain\n"
    "  revert (rv,r) VM:VOLUME [REVISION]\n"
    "                        revert volume to previous revision\n"
    "  import [--size SIZE | --no-resize] VM:VOLUME PATH\n"
    "                        import volume data ('-' for standard input)\n"
    "  clone [--force] SRC_VM:VOLUME DST_VM:VOLUME\n"
    "                        replace a volume's data with a copy of another's\n"
    "  clear [--force] VM:VOLUME\n"
    "                        clear the volume (make it empty)\n";

/* A volume as Info reports it. */
struct vinfo {
    struct buf raw;
    char *vm;
    char *name;
    const char *keys[16];
    const char *values[16];
    size_t n;
};

static const char *vinfo_get(const struct vinfo *v, const char *key)
{
    for (size_t i = 0; i < v->n; i++)
        if (strcmp(v->keys[i], key) == 0)
            return v->values[i];
    return NULL;
}

static void vinfo_free(struct vinfo *v)
{
    buf_free(&v->raw);
    free(v->vm);
    free(v->name);
    memset(v, 0, sizeof(*v));
}

static int vinfo_fetch(const char *vm, const char *volume, struct vinfo *out, struct qerror *err)
{
    memset(out, 0, sizeof(*out));
    out->vm = xstrdup(vm);
    out->name = xstrdup(volume);
    if (qcall("admin.vm.volume.Info", volume, vm, "", 0, &out->raw, err) < 0)
        return -1;
    char *save = NULL;
    for (char *line = out->raw.data ? strtok_r(out->raw.data, "\n", &save) : NULL;
         line && out->n < 16; line = strtok_r(NULL, "\n", &save)) {
        char *eq = strchr(line, '=');
        if (!eq)
            continue;
        *eq = '\0';
        out->keys[out->n] = line;
        out->values[out->n++] = eq + 1;
    }
    return 0;
}

/* The revisions of a volume (lines point into content). */
static size_t fetch_revisions(const struct cli *cli, const char *vm, const char *volume,
                              struct buf *content, char ***lines)
{
    struct qerror err = { 0 };
    size_t n;
    buf_reset(content);
    if (qcall("admin.vm.volume.ListSnapshots", volume, vm, "", 0, content, &err) < 0)
        exit(cli_qerror(cli, &err));
    n = split_lines(content->data ? content->data : (char *)"", lines);
    return n;
}

/* VMVolumeAction: "VM:VOLUME" naming an existing volume. */
static void parse_vm_volume(const struct cli *cli, const char *arg, char **vm, char **volume)
{
    const char *colon = strchr(arg, ':');
    if (!colon) {
        _cleanup_free_ char *r = py_repr_dup(arg);
        cli_usage_error(cli, "expected a domain & volume pair VM:VOLUME, got %s", r);
    }
    *vm = xstrndup(arg, (size_t)(colon - arg));
    *volume = xstrdup(colon + 1);
    cli_require_vm(cli, *vm, NULL);
    _cleanup_buf_ struct buf content = BUF_INIT;
    _cleanup_free_ char **names = NULL;
    size_t n;
    struct qerror err = { 0 };
    if (qcall_lines("admin.vm.volume.List", *vm, &content, &names, &n, &err) < 0)
        exit(cli_qerror(cli, &err));
    if (!cli_strv_contains(names, n, *volume)) {
        _cleanup_free_ char *rv = py_repr_dup(*volume), *rd = py_repr_dup(*vm);
        cli_usage_error(cli, "no volume %s in domain %s", rv, rd);
    }
}

/* ---- list ---- */

struct vrow {
    char *pool_vid; /* "pool:vid" */
    char *pool;
    char *vid;
    bool revisions;
    char **domains; /* "vm\tvolume" */
    size_t ndomains;
};

static int vrow_cmp(const void *a, const void *b)
{
    const struct vrow *x = a, *y = b;
    int c = strcmp(x->pool, y->pool);
    return c ? c : strcmp(x->vid, y->vid);
}

static int cmd_list(const struct cli *cli, char **names, size_t nnames, char **pools, size_t npools)
{
    struct vm_entry *vms;
    size_t nvms;
    cli_list_qubes(cli, &vms, &nvms);
    size_t nsel = nvms;
    _cleanup_free_ size_t *sel = NULL;
    if (nnames)
        sel = cli_select_vms(cli, vms, nvms, names, nnames, &nsel, NULL, NULL);
    struct vrow *rows = NULL;
    size_t nrows = 0;
    struct qerror err = { 0 };
    int rc = 0;
    for (size_t s = 0; s < nsel && rc == 0; s++) {
        const char *vm = vms[sel ? sel[s] : s].name;
        _cleanup_buf_ struct buf content = BUF_INIT;
        _cleanup_free_ char **vols = NULL;
        size_t nvols;
        if (qcall_lines("admin.vm.volume.List", vm, &content, &vols, &nvols, &err) < 0) {
            rc = cli_qerror(cli, &err);
            break;
        }
        for (size_t j = 0; j < nvols; j++) {
            struct vinfo info;
            if (vinfo_fetch(vm, vols[j], &info, &err) < 0) {
                vinfo_free(&info);
                rc = cli_qerror(cli, &err);
                break;
            }
            const char *pool = vinfo_get(&info, "pool"), *vid = vinfo_get(&info, "vid");
            pool = pool ? pool : "";
            vid = vid ? vid : "";
            bool wanted = npools == 0 || cli_strv_contains(pools, npools, pool);
            _cleanup_free_ char *key = xasprintf("%s:%s", pool, vid);
            struct vrow *row = NULL;
            for (size_t r = 0; r < nrows && !row; r++)
                if (strcmp(rows[r].pool_vid, key) == 0 && strcmp(rows[r].pool, pool) == 0)
                    row = &rows[r];
            if (wanted && !row) {
                rows = xrealloc(rows, (nrows + 1) * sizeof(*rows));
                row = &rows[nrows++];
                memset(row, 0, sizeof(*row));
                row->pool_vid = steal_pointer(&key);
                row->pool = xstrdup(pool);
                row->vid = xstrdup(vid);
                _cleanup_buf_ struct buf revs = BUF_INIT;
                _cleanup_free_ char **rev = NULL;
                row->revisions = fetch_revisions(cli, vm, vols[j], &revs, &rev) > 0;
            }
            if (row)
                cli_strv_push(&row->domains, &row->ndomains, xasprintf("%s\t%s", vm, vols[j]));
            vinfo_free(&info);
        }
    }
    if (rc == 0) {
        qsort(rows, nrows, sizeof(*rows), vrow_cmp);
        _cleanup_table_ struct table t;
        table_init(&t, 4);
        table_add(&t, "POOL:VOLUME");
        table_add(&t, "VMNAME");
        table_add(&t, "VOLUME_NAME");
        table_add(&t, "REVERT_POSSIBLE");
        bool tty = isatty(1);
        for (size_t r = 0; r < nrows; r++) {
            /* upstream pops the last domain first, then the others in order */
            for (size_t k = 0; k < rows[r].ndomains; k++) {
                size_t d = k == 0 ? rows[r].ndomains - 1 : k - 1;
                char *tab = strchr(rows[r].domains[d], '\t');
                *tab = '\0';
                table_add(&t, k > 0 && tty ? "" : rows[r].pool_vid);
                table_add(&t, rows[r].domains[d]);
                table_add(&t, tab + 1);
                table_add(&t, rows[r].revisions ? "Yes" : "No");
                *tab = '\t';
            }
        }
        table_print(&t, stdout);
    }
    for (size_t r = 0; r < nrows; r++) {
        free(rows[r].pool_vid);
        free(rows[r].pool);
        free(rows[r].vid);
        cli_strv_free(rows[r].domains);
    }
    free(rows);
    vm_list_free(vms, nvms);
    return rc;
}

/* ---- info / config ---- */

static const char *const info_items[] = { "pool",
                                          "vid",
                                          "rw",
                                          "source",
                                          "save_on_stop",
                                          "snap_on_start",
                                          "size",
                                          "usage",
                                          "revisions_to_keep",
                                          "ephemeral",
                                          NULL };

static int cmd_info(const struct cli *cli, const char *vm, const char *volume, const char *property)
{
    struct qerror err = { 0 };
    struct vinfo info;
    if (vinfo_fetch(vm, volume, &info, &err) < 0) {
        vinfo_free(&info);
        return cli_qerror(cli, &err);
    }
    _cleanup_buf_ struct buf revs = BUF_INIT;
    _cleanup_free_ char **rev = NULL;
    int rc = 0;
    if (property) {
        bool known = false;
        for (const char *const *k = info_items; *k; k++)
            known = known || strcmp(*k, property) == 0;
        if (strcmp(property, "revisions") == 0) {
            size_t n = fetch_revisions(cli, vm, volume, &revs, &rev);
            for (size_t i = 0; i < n; i++)
                printf("%s\n", rev[i]);
        } else if (strcmp(property, "is_outdated") == 0 || known) {
            const char *v = vinfo_get(&info, property);
            printf("%s\n", v ? v : strcmp(property, "is_outdated") == 0 ? "False" : "");
        } else {
            rc = cli_error(cli, "No such property: %s", property);
        }
        vinfo_free(&info);
        return rc;
    }
    _cleanup_table_ struct table t;
    table_init(&t, 2);
    for (const char *const *k = info_items; *k; k++) {
        const char *v = vinfo_get(&info, *k);
        table_add(&t, *k);
        table_add(&t, v ? v : "");
    }
    const char *outdated = vinfo_get(&info, "is_outdated");
    table_add(&t, "is_outdated");
    table_add(&t, outdated ? outdated : "False");
    table_print(&t, stdout);
    size_t n = fetch_revisions(cli, vm, volume, &revs, &rev);
    if (n) {
        printf("List of available revisions (for revert):\n");
        for (size_t i = 0; i < n; i++)
            printf("  %s\n", rev[i]);
    } else {
        printf("List of available revisions (for revert): none\n");
    }
    vinfo_free(&info);
    return 0;
}

static int cmd_config(const struct cli *cli, const char *vm, const char *volume,
                      const char *property, const char *value)
{
    if (strcmp(property, "rw") && strcmp(property, "revisions_to_keep") &&
        strcmp(property, "ephemeral"))
        return cli_error(cli, "Invalid property: %s", property);
    _cleanup_free_ char *method = xasprintf("admin.vm.volume.Set.%s", property);
    struct qerror err = { 0 };
    if (qcall(method, volume, vm, value, strlen(value), NULL, &err) < 0)
        return cli_qerror(cli, &err);
    return 0;
}

/* ---- resize / revert ---- */

/* qubesadmin.utils.parse_size: bytes, or a number with a K/M/G/T (1000)
 * or Ki/Mi/Gi/Ti (1024) unit, optionally followed by B. */
static int parse_human_size(const char *text, uint64_t *out)
{
    static const struct {
        const char *unit;
        uint64_t mult;
    } units[] = {
        { "KIB", 1ull << 10 },     { "MIB", 1ull << 20 },   { "GIB", 1ull << 30 },
        { "TIB", 1ull << 40 },     { "KI", 1ull << 10 },    { "MI", 1ull << 20 },
        { "GI", 1ull << 30 },      { "TI", 1ull << 40 },    { "KB", 1000ull },
        { "MB", 1000000ull },      { "GB", 1000000000ull }, { "TB", 1000000000000ull },
        { "K", 1000ull },          { "M", 1000000ull },     { "G", 1000000000ull },
        { "T", 1000000000000ull },
    };
    _cleanup_free_ char *s = xstrdup(text);
    size_t len = strlen(s);
    while (len && s[len - 1] == ' ')
        s[--len] = '\0';
    char *p = s;
    while (*p == ' ')
        p++;
    uint64_t mult = 1;
    for (size_t i = 0; i < ARRAY_SIZE(units); i++) {
        size_t ul = strlen(units[i].unit), pl = strlen(p);
        if (pl > ul && strcasecmp(p + pl - ul, units[i].unit) == 0) {
            p[pl - ul] = '\0';
            mult = units[i].mult;
            break;
        }
    }
    size_t pl = strlen(p);
    while (pl && p[pl - 1] == ' ')
        p[--pl] = '\0';
    if (!*p || strspn(p, "0123456789") != pl || pl > 19)
        return -1;
    unsigned long long v = strtoull(p, NULL, 10);
    if (mult > 1 && v > UINT64_MAX / mult)
        return -1;
    *out = v * mult;
    return 0;
}

static int cmd_resize(const struct cli *cli, const char *vm, const char *volume,
                      const char *size_text, bool force)
{
    uint64_t size;
    if (parse_human_size(size_text, &size) < 0)
        return cli_error(cli, "Invalid size: %s.", size_text);
    struct qerror err = { 0 };
    struct vinfo info;
    if (vinfo_fetch(vm, volume, &info, &err) < 0) {
        vinfo_free(&info);
        return cli_qerror(cli, &err);
    }
    const char *cur_text = vinfo_get(&info, "size");
    unsigned long long cur = cur_text ? strtoull(cur_text, NULL, 10) : 0;
    vinfo_free(&info);
    if (!force && size < cur)
        return cli_error(cli,
                         "For your own safety, shrinking of %s is disabled (%llu < %llu). If "
                         "you really know what you are doing, resize filesystem manually "
                         "first, then use `-f` option.",
                         volume, (unsigned long long)size, cur);
    char num[32];
    snprintf(num, sizeof(num), "%llu", (unsigned long long)size);
    if (qcall("admin.vm.volume.Resize", volume, vm, num, strlen(num), NULL, &err) < 0)
        return cli_qerror(cli, &err);
    return 0;
}

static int cmd_revert(const struct cli *cli, const char *vm, const char *volume,
                      const char *revision)
{
    _cleanup_buf_ struct buf revs = BUF_INIT;
    _cleanup_free_ char **rev = NULL;
    if (!revision) {
        size_t n = fetch_revisions(cli, vm, volume, &revs, &rev);
        if (n == 0)
            return cli_error(cli, "No snapshots available");
        revision = rev[n - 1];
    }
    struct qerror err = { 0 };
    if (qcall("admin.vm.volume.Revert", volume, vm, revision, strlen(revision), NULL, &err) < 0)
        return cli_qerror(cli, &err);
    return 0;
}

/* ---- import ---- */

/* As upstream: the data goes through dom0's admin.vm.volume.ImportWithSize service (the
 * size first: the volume takes it), or admin.vm.volume.Import with --no-resize (exactly the
 * volume's size). */
static int cmd_import(const struct cli *cli, const char *vm, const char *volume,
                      const char *input_path, const char *size_opt, bool no_resize)
{
    bool is_stdin = strcmp(input_path, "-") == 0;
    _cleanup_close_ int in = is_stdin ? dup(0) : open(input_path, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return cli_error(cli, "%s: %s", input_path, strerror(errno));
    _cleanup_free_ char *size_line = NULL;
    if (!no_resize) {
        uint64_t size;
        struct stat st;
        if (size_opt) {
            if (parse_human_size(size_opt, &size) < 0)
                return cli_error(cli, "argument --size: invalid int value: '%s'", size_opt);
        } else if (!is_stdin && fstat(in, &st) == 0) {
            size = (uint64_t)st.st_size;
        } else {
            return cli_error(cli,
                             "Failed to get %s file size, specify it explicitly with "
                             "--size, or use --no-resize option",
                             input_path);
        }
        size_line = xasprintf("%llu\n", (unsigned long long)size);
    }
    struct qerror err = { 0 };
    if (dom0_service_call(size_line ? "admin.vm.volume.ImportWithSize" : "admin.vm.volume.Import",
                          volume, vm, size_line, in, NULL, &err) < 0)
        return cli_qerror(cli, &err);
    return 0;
}

static int cmd_clone(const struct cli *cli, const char *src_vm, const char *src_vol,
                     const char *dst_vm, const char *dst_vol)
{
    struct qerror err = { 0 };
    _cleanup_buf_ struct buf token = BUF_INIT;
    if (qcall("admin.vm.volume.CloneFrom", src_vol, src_vm, "", 0, &token, &err) < 0 ||
        qcall("admin.vm.volume.CloneTo", dst_vol, dst_vm, token.data ? token.data : "", token.len,
              NULL, &err) < 0)
        return cli_qerror(cli, &err);
    return 0;
}

static int cmd_clear(const struct cli *cli, const char *vm, const char *volume)
{
    struct qerror err = { 0 };
    if (qcall("admin.vm.volume.Clear", volume, vm, "", 0, NULL, &err) < 0)
        return cli_qerror(cli, &err);
    return 0;
}

static bool is_one_of(const char *s, const char *const *names)
{
    for (; *names; names++)
        if (strcmp(s, *names) == 0)
            return true;
    return false;
}

static void need_args(const struct cli *cli, size_t have, size_t min, size_t max,
                      const char *missing, char **args)
{
    if (have < min)
        cli_usage_error(cli, "the following arguments are required: %s", missing);
    if (have > max)
        cli_usage_error(cli, "unrecognized arguments: %s", args[max]);
}

int qvm_volume_main(int argc, char **argv)
{
    struct cli cli = { .prog = "qvm-volume", .usage = usage, .help = help, .verbose = 1 };
    enum { OPT_FULL = 0x100, OPT_SIZE, OPT_NO_RESIZE };
    static const struct option longopts[] = {
        { "pool", required_argument, NULL, 'p' },
        { "full", no_argument, NULL, OPT_FULL },
        { "force", no_argument, NULL, 'f' },
        { "size", required_argument, NULL, OPT_SIZE },
        { "no-resize", no_argument, NULL, OPT_NO_RESIZE },
        CLI_COMMON_LONGOPTS,
    };
    char **pools = NULL;
    size_t npools = 0;
    bool force = false, no_resize = false;
    const char *size_opt = NULL;
    int c;
    while ((c = cli_getopt(&cli, argc, argv, "p:f" CLI_COMMON_SHORTOPTS, longopts)) != -1) {
        switch (c) {
        case 'p': cli_strv_push(&pools, &npools, optarg); break;
        case OPT_FULL: break; /* every line is full when stdout is not a terminal */
        case 'f': force = true; break;
        case OPT_SIZE: size_opt = optarg; break;
        case OPT_NO_RESIZE: no_resize = true; break;
        default: cli_usage_error(&cli, "unrecognized arguments: %s", argv[optind - 1]);
        }
    }
    char **args = argv + optind;
    size_t nargs = (size_t)(argc - optind);
    const char *cmd = nargs ? args[0] : "list";
    if (nargs) {
        args++;
        nargs--;
    }
    static const char *const list_names[] = { "list", "ls", "l", NULL };
    static const char *const info_names[] = { "info", "i", NULL };
    static const char *const config_names[] = { "config", "c", "set", "s", NULL };
    static const char *const resize_names[] = { "resize", "extend", NULL };
    static const char *const revert_names[] = { "revert", "rv", "r", NULL };
    int rc;
    if (is_one_of(cmd, list_names)) {
        rc = cmd_list(&cli, args, nargs, pools, npools);
        free(pools);
        return rc;
    }
    free(pools);
    _cleanup_free_ char *vm = NULL, *volume = NULL;
    if (is_one_of(cmd, info_names)) {
        need_args(&cli, nargs, 1, 2, "VM:VOLUME", args);
        parse_vm_volume(&cli, args[0], &vm, &volume);
        return cmd_info(&cli, vm, volume, nargs > 1 ? args[1] : NULL);
    }
    if (is_one_of(cmd, config_names)) {
        need_args(&cli, nargs, 3, 3,
                  nargs < 2   ? "VM:VOLUME, property, value"
                  : nargs < 3 ? "value"
                              : "",
                  args);
        parse_vm_volume(&cli, args[0], &vm, &volume);
        return cmd_config(&cli, vm, volume, args[1], args[2]);
    }
    if (is_one_of(cmd, resize_names)) {
        need_args(&cli, nargs, 2, 2, nargs < 1 ? "VM:VOLUME, size" : "size", args);
        parse_vm_volume(&cli, args[0], &vm, &volume);
        return cmd_resize(&cli, vm, volume, args[1], force);
    }
    if (is_one_of(cmd, revert_names)) {
        need_args(&cli, nargs, 1, 2, "VM:VOLUME", args);
        parse_vm_volume(&cli, args[0], &vm, &volume);
        return cmd_revert(&cli, vm, volume, nargs > 1 ? args[1] : NULL);
    }
    if (strcmp(cmd, "import") == 0) {
        need_args(&cli, nargs, 2, 2, nargs < 1 ? "VM:VOLUME, PATH" : "PATH", args);
        if (size_opt && no_resize)
            cli_usage_error(&cli, "argument --no-resize: not allowed with argument --size");
        parse_vm_volume(&cli, args[0], &vm, &volume);
        return cmd_import(&cli, vm, volume, args[1], size_opt, no_resize);
    }
    if (strcmp(cmd, "clone") == 0) {
        need_args(&cli, nargs, 2, 2, nargs < 1 ? "SRC_VM:VOLUME, DST_VM:VOLUME" : "DST_VM:VOLUME",
                  args);
        _cleanup_free_ char *dvm = NULL, *dvol = NULL;
        parse_vm_volume(&cli, args[0], &vm, &volume);
        parse_vm_volume(&cli, args[1], &dvm, &dvol);
        (void)force;
        return cmd_clone(&cli, vm, volume, dvm, dvol);
    }
    if (strcmp(cmd, "clear") == 0) {
        need_args(&cli, nargs, 1, 1, "VM:VOLUME", args);
        parse_vm_volume(&cli, args[0], &vm, &volume);
        return cmd_clear(&cli, vm, volume);
    }
    _cleanup_free_ char *r = py_repr_dup(cmd);
    cli_usage_error(&cli,
                    "argument command: invalid choice: %s (choose from 'list', 'ls', 'l', "
                    "'info', 'i', 'config', 'c', 'set', 's', 'resize', 'extend', 'revert', "
                    "'rv', 'r', 'import', 'clone', 'clear')",
                    r);
}
