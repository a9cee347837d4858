/* qvm-ls: list qubes with selected columns. One admin.vm.List, then, only
 * when a column needs properties, one GetAll per qube, all concurrently. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <ctype.h>

#include "common/cleanup.h"
#include "tools/batch_call.h"
#include "tools/cli.h"
#include "tools/tools.h"

static const struct cli_format {
    const char *name;
    const char *columns;
} formats[] = {
    { "disk", "name,state,disk,priv-curr,priv-max,priv-used,root-curr,root-max,root-used" },
    { "full", "name,state,class,label,qid,xid,uuid" },
    { "kernel", "name,state,class,template,kernel,kernelopts" },
    { "network", "name,state,netvm,ip,ipback,gateway" },
    { "prefs", "name,label,template,netvm,vcpus,initialmem,maxmem,virt_mode" },
    { "simple", "name,state,class,label,template,netvm" },
};

/* Columns that are not plain properties, with their --help-columns text. */
static const struct builtin {
    const char *head;
    const char *doc;
} builtins[] = {
    { "CLASS", "Class of the qube." },
    { "DISK", "Total disk utilisation." },
    { "FLAGS", "Some fancy flags that describe general status of the domain." },
    { "GATEWAY", "Network gateway." },
    { "LABEL", "Label of the qube." },
    { "MEMORY", "Memory currently used by VM" },
    { "NAME", "Name of the qube." },
    { "NETVM", "The qube providing network to this qube." },
    { "PRIV-CURR", "Disk utilisation by private image (/home, /usr/local)." },
    { "PRIV-MAX", "Maximum available space for private image." },
    { "PRIV-USED", "Disk utilisation by private image as a percentage of available space." },
    { "ROOT-CURR", "Disk utilisation by root image (/usr, /lib, /etc, ...)." },
    { "ROOT-MAX", "Maximum available space for root image." },
    { "ROOT-USED", "Disk utilisation by root image as a percentage of available space." },
    { "STATE", "Current power state." },
    { "TEMPLATE", "The template the qube is based on." },
};

enum col_kind { COL_NAME, COL_STATE, COL_CLASS, COL_FLAGS, COL_GATEWAY, COL_NOVALUE, COL_PROP };

struct column {
    char *head; /* "NETVM", "VIRT-MODE" */
    char *prop; /* "netvm", "virt_mode" */
    enum col_kind kind;
};

/* Owns the parsed properties (none when they were not needed). */
struct row_ctx {
    const struct vm_entry *vm;
    struct qprop *props;
    size_t nprops;
};

/* The rows of every listed qube, indexed like the vm list. */
struct rows {
    struct row_ctx *v;
    size_t n;
};

static void rows_free(struct rows *r)
{
    for (size_t i = 0; i < r->n; i++)
        qprops_free(r->v[i].props, r->v[i].nprops);
    free(r->v);
    *r = (struct rows){ 0 };
}
#define _cleanup_rows_ __attribute__((cleanup(rows_free)))

static const char usage[] =
    "usage: qvm-ls [--verbose] [--quiet] [--help] [--all] [--exclude EXCLUDE]\n"
    "              [--help-columns] [--help-formats] [--format FORMAT | --fields FIELD,...]\n"
    "              [--tags TAG] [--class CLASS] [--label LABEL] [--running] [--paused]\n"
    "              [--halted] [--raw-data] [--raw-list] [--json] [--sort COLUMN]\n"
    "              [--reverse] [--spinner | --no-spinner]\n"
    "              [VMNAME ...]";

static const char help[] =
    "\nList Qubes domains and their parametres.\n\n"
    "positional arguments:\n"
    "  VMNAME                zero or more domain names\n\n"
    "options:\n"
    CLI_HELP_COMMON_OPTIONS
    CLI_HELP_TARGETS
    "  --help-columns        list all available columns with short descriptions and exit\n"
    "  --help-formats        list all available formats with their definitions and exit\n"
    "  --format, -o FORMAT   preset format\n"
    "  --fields, -O FIELD,...\n"
    "                        user specified format (see available columns below)\n"
    "  -n, -k, -d            same as --format network / kernel / disk\n"
    "  --tags TAG            show only VMs having specific tag(s)\n"
    "  --class CLASS         show only VMs of specific class(es)\n"
    "  --label LABEL         show only VMs with specific label(s)\n"
    "  --running, --paused, --halted\n"
    "                        show only VMs in this power state\n"
    "  --raw-data            Display specify data of specified VMs. Intended for bash-parsing.\n"
    "  --raw-list            Same as --raw-data --fields=name\n"
    "  --json                a JSON array of objects, one per VM, keyed by lower-case column\n"
    "  --sort COLUMN         sort by this column (default: NAME)\n"
    "  --reverse             reverse the sort order\n"
    "  --spinner, --no-spinner\n"
    "                        accepted for compatibility; no spinner is drawn\n\n"
    "available formats (see --help-formats):\n"
    "  disk, full, kernel, network, prefs, simple\n\n"
    "available columns (see --help-columns):\n"
    "  CLASS, DISK, FLAGS, GATEWAY, LABEL, MEMORY, NAME, NETVM, PRIV-CURR, PRIV-MAX,\n"
    "  PRIV-USED, ROOT-CURR, ROOT-MAX, ROOT-USED, STATE, TEMPLATE\n";

static void help_columns(void)
{
    size_t width = 0;
    for (size_t i = 0; i < ARRAY_SIZE(builtins); i++)
        if (strlen(builtins[i].head) > width)
            width = strlen(builtins[i].head);
    printf("Available columns:\n");
    for (size_t i = 0; i < ARRAY_SIZE(builtins); i++)
        printf("  %-*s  %s\n", (int)width, builtins[i].head, builtins[i].doc);
    printf("\nAdditionally any VM property may be used as a column, see qvm-prefs "
           "--help-properties for available values\n");
}

static void help_formats(void)
{
    printf("Available formats:\n");
    for (size_t i = 0; i < ARRAY_SIZE(formats); i++) {
        printf("  %-7s  ", formats[i].name);
        for (const char *p = formats[i].columns; *p; p++)
            putchar(toupper((unsigned char)*p));
        putchar('\n');
    }
}

static void column_init(struct column *c, const char *spec)
{
    size_t n = strlen(spec);
    c->head = xmalloc(n + 1);
    c->prop = xmalloc(n + 1);
    for (size_t i = 0; i <= n; i++) {
        char ch = spec[i];
        c->head[i] = ch == '_' ? '-' : (char)toupper((unsigned char)ch);
        c->prop[i] = ch == '-' ? '_' : (char)tolower((unsigned char)ch);
    }
    static const char *const novalue[] = { "MEMORY", "DISK", "PRIV-CURR", "PRIV-MAX",
                                           "PRIV-USED", "ROOT-CURR", "ROOT-MAX", "ROOT-USED" };
    c->kind = COL_PROP;
    if (strcmp(c->head, "NAME") == 0)
        c->kind = COL_NAME;
    else if (strcmp(c->head, "STATE") == 0)
        c->kind = COL_STATE;
    else if (strcmp(c->head, "CLASS") == 0)
        c->kind = COL_CLASS;
    else if (strcmp(c->head, "FLAGS") == 0)
        c->kind = COL_FLAGS;
    else if (strcmp(c->head, "GATEWAY") == 0)
        c->kind = COL_GATEWAY;
    for (size_t i = 0; i < ARRAY_SIZE(novalue); i++)
        if (strcmp(c->head, novalue[i]) == 0)
            c->kind = COL_NOVALUE; /* volume and memory statistics: not served yet */
}

static void column_clear(struct column *c)
{
    free(c->head);
    free(c->prop);
    c->head = c->prop = NULL;
}
#define _cleanup_column_ __attribute__((cleanup(column_clear)))

struct columns {
    struct column *v;
    size_t n;
};

static void columns_free(struct columns *cols)
{
    for (size_t i = 0; i < cols->n; i++)
        column_clear(&cols->v[i]);
    free(cols->v);
    *cols = (struct columns){ 0 };
}
#define _cleanup_columns_ __attribute__((cleanup(columns_free)))

static bool prop_true(const struct row_ctx *r, const char *name)
{
    const struct qprop *p = qprops_find(r->props, r->nprops, name);
    return p && strcmp(p->value, "True") == 0;
}

static void flags_cell(const struct row_ctx *r, char out[9])
{
    static const struct {
        const char *klass;
        char code;
    } types[] = { { "AdminVM", '0' }, { "TemplateVM", 't' }, { "AppVM", 'a' },
                  { "StandaloneVM", 's' }, { "DispVM", 'd' } };
    memset(out, '-', 8);
    out[8] = '\0';
    for (size_t i = 0; i < ARRAY_SIZE(types); i++) {
        if (strcmp(r->vm->klass, types[i].klass) == 0) {
            out[0] = types[i].code;
            const struct qprop *vm = qprops_find(r->props, r->nprops, "virt_mode");
            if (out[0] != '0' && vm && strcmp(vm->value, "hvm") == 0)
                out[0] = (char)toupper((unsigned char)out[0]);
        }
    }
    static const char *const powers[] = { "running", "transient", "paused", "suspended",
                                          "halting", "dying", "crashed" };
    if (strcasecmp(r->vm->state, "unknown") == 0)
        out[1] = '?';
    for (size_t i = 0; i < ARRAY_SIZE(powers); i++)
        if (strcasecmp(r->vm->state, powers[i]) == 0)
            out[1] = powers[i][0];
    static const struct {
        int field;
        char letter;
        const char *prop;
    } simple[] = { { 2, 'U', "updateable" }, { 3, 'N', "provides_network" },
                   { 4, 'R', "installed_by_rpm" }, { 5, 'i', "internal" },
                   { 6, 'D', "debug" }, { 7, 'A', "autostart" } };
    for (size_t i = 0; i < ARRAY_SIZE(simple); i++)
        if (prop_true(r, simple[i].prop))
            out[simple[i].field] = simple[i].letter;
}

/* The cell text, "-" when there is no value. */
static const char *cell(const struct column *c, const struct row_ctx *r, const struct row_ctx *all,
                        const struct vm_entry *vms, size_t nvms, char flags[9])
{
    const char *v = NULL;
    switch (c->kind) {
    case COL_NAME:
        v = r->vm->name;
        break;
    case COL_STATE:
        v = r->vm->state;
        break;
    case COL_CLASS:
        v = r->vm->klass;
        break;
    case COL_FLAGS:
        flags_cell(r, flags);
        v = flags;
        break;
    case COL_GATEWAY: {
        const struct qprop *net = qprops_find(r->props, r->nprops, "netvm");
        const struct vm_entry *nv = net && net->value[0] ? vm_list_find(vms, nvms, net->value)
                                                          : NULL;
        if (nv && all) {
            const struct row_ctx *nr = &all[nv - vms];
            const struct qprop *gw = qprops_find(nr->props, nr->nprops, "gateway");
            v = gw ? gw->value : NULL;
        }
        break;
    }
    case COL_NOVALUE:
        break;
    case COL_PROP: {
        const struct qprop *p = qprops_find(r->props, r->nprops, c->prop);
        if (p)
            v = p->value;
        /* identity properties are in the List line too */
        if ((!v || !*v) && strcmp(c->prop, "uuid") == 0)
            v = r->vm->uuid;
        break;
    }
    default:
        break;
    }
    return v && *v ? v : "-";
}

static void json_string(struct buf *b, const char *s)
{
    buf_append_char(b, '"');
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            buf_printf(b, "\\%c", ch);
        else if (ch == '\n')
            buf_append_str(b, "\\n");
        else if (ch < 0x20)
            buf_printf(b, "\\u%04x", ch);
        else
            buf_append_char(b, (char)ch);
    }
    buf_append_char(b, '"');
}

struct sort_ctx {
    const struct column *col;
    char **keys;
    bool numeric;
    bool reverse;
};
static struct sort_ctx *sort_state; /* qsort has no context argument */

static int row_cmp(const void *a, const void *b)
{
    size_t ia = *(const size_t *)a, ib = *(const size_t *)b;
    const char *ka = sort_state->keys[ia], *kb = sort_state->keys[ib];
    int r;
    if (sort_state->numeric)
        r = (strtod(ka, NULL) > strtod(kb, NULL)) - (strtod(ka, NULL) < strtod(kb, NULL));
    else
        r = strcmp(ka, kb);
    if (!r)
        r = (ia > ib) - (ia < ib);
    return sort_state->reverse ? -r : r;
}

static void add_list(char ***v, size_t *n, const char *arg)
{
    _cleanup_free_ char *copy = xstrdup(arg);
    for (char *save = NULL, *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
        cli_strv_push(v, n, xstrdup(t));
}

enum {
    OPT_HELP_COLUMNS = 0x100, OPT_HELP_FORMATS, OPT_RAW_DATA, OPT_RAW_LIST, OPT_JSON,
    OPT_RUNNING, OPT_HALTED, OPT_PAUSED, OPT_TAGS, OPT_CLASS, OPT_LABEL, OPT_ALL, OPT_EXCLUDE,
    OPT_SORT, OPT_REVERSE, OPT_SPINNER
};

int qvm_ls_main(int argc, char **argv)
{
    struct cli cli = { .prog = "qvm-ls", .usage = usage, .help = help, .verbose = 1 };
    static const struct option longopts[] = {
        { "help-columns", no_argument, NULL, OPT_HELP_COLUMNS },
        { "help-formats", no_argument, NULL, OPT_HELP_FORMATS },
        { "format", required_argument, NULL, 'o' },
        { "fields", required_argument, NULL, 'O' },
        { "raw-data", no_argument, NULL, OPT_RAW_DATA },
        { "raw-list", no_argument, NULL, OPT_RAW_LIST },
        { "json", no_argument, NULL, OPT_JSON },
        { "running", no_argument, NULL, OPT_RUNNING },
        { "halted", no_argument, NULL, OPT_HALTED },
        { "paused", no_argument, NULL, OPT_PAUSED },
        { "tags", required_argument, NULL, OPT_TAGS },
        { "class", required_argument, NULL, OPT_CLASS },
        { "label", required_argument, NULL, OPT_LABEL },
        { "all", no_argument, NULL, OPT_ALL },
        { "exclude", required_argument, NULL, OPT_EXCLUDE },
        { "sort", required_argument, NULL, OPT_SORT },
        { "reverse", no_argument, NULL, OPT_REVERSE },
        { "spinner", no_argument, NULL, OPT_SPINNER },
        { "no-spinner", no_argument, NULL, OPT_SPINNER },
        CLI_COMMON_LONGOPTS,
    };
    const char *format = NULL, *fields = NULL, *sort_col = "NAME";
    bool raw_data = false, raw_list = false, json = false, reverse = false;
    bool want_running = false, want_halted = false, want_paused = false;
    _cleanup_strv_ char **tags = NULL, **classes = NULL, **labels = NULL, **excludes = NULL;
    size_t ntags = 0, nclasses = 0, nlabels = 0, nexcludes = 0;
    int c;
    while ((c = cli_getopt(&cli, argc, argv, "o:O:nkd" CLI_COMMON_SHORTOPTS, longopts)) != -1) {
        switch (c) {
        case OPT_HELP_COLUMNS:
            help_columns();
            return 0;
        case OPT_HELP_FORMATS:
            help_formats();
            return 0;
        case 'o':
            format = optarg;
            break;
        case 'n':
            format = "network";
            break;
        case 'k':
            format = "kernel";
            break;
        case 'd':
            format = "disk";
            break;
        case 'O':
            fields = optarg;
            break;
        case OPT_RAW_DATA:
            raw_data = true;
            break;
        case OPT_RAW_LIST:
            raw_list = true;
            break;
        case OPT_JSON:
            json = true;
            break;
        case OPT_RUNNING:
            want_running = true;
            break;
        case OPT_HALTED:
            want_halted = true;
            break;
        case OPT_PAUSED:
            want_paused = true;
            break;
        case OPT_TAGS:
            add_list(&tags, &ntags, optarg);
            break;
        case OPT_CLASS:
            add_list(&classes, &nclasses, optarg);
            break;
        case OPT_LABEL:
            add_list(&labels, &nlabels, optarg);
            break;
        case OPT_EXCLUDE:
            add_list(&excludes, &nexcludes, optarg);
            break;
        case OPT_SORT:
            sort_col = optarg;
            break;
        case OPT_REVERSE:
            reverse = true;
            break;
        case OPT_ALL:
        case OPT_SPINNER:
            break;
        default:
            cli_usage_error(&cli, "unrecognized arguments: %s", argv[optind - 1]);
        }
    }
    if (format && fields)
        cli_usage_error(&cli, "argument --fields/-O: not allowed with argument --format/-o");
    const char *colspec = NULL;
    if (raw_list) {
        raw_data = true;
        colspec = "name";
    } else if (fields) {
        colspec = fields;
    } else {
        const char *f = format ? format : "simple";
        for (size_t i = 0; i < ARRAY_SIZE(formats); i++)
            if (strcmp(formats[i].name, f) == 0)
                colspec = formats[i].columns;
        if (!colspec) {
            _cleanup_free_ char *r = cli_repr(f);
            cli_usage_error(&cli,
                            "argument --format/-o: invalid choice: %s (choose from 'simple', "
                            "'network', 'kernel', 'full', 'prefs', 'disk')",
                            r);
        }
    }

    /* columns */
    _cleanup_columns_ struct columns columns = { 0 };
    bool need_props = nlabels > 0;
    bool need_all_props = false;
    {
        _cleanup_free_ char *copy = xstrdup(colspec);
        for (char *save = NULL, *t = strtok_r(copy, ",", &save); t;
             t = strtok_r(NULL, ",", &save)) {
            while (isspace((unsigned char)*t))
                t++;
            size_t l = strlen(t);
            while (l && isspace((unsigned char)t[l - 1]))
                t[--l] = '\0';
            if (!l)
                continue;
            columns.v = xrealloc(columns.v, (columns.n + 1) * sizeof(*columns.v));
            struct column *col = &columns.v[columns.n++];
            column_init(col, t);
            if (col->kind == COL_PROP || col->kind == COL_FLAGS)
                need_props = true;
            if (col->kind == COL_GATEWAY)
                need_props = need_all_props = true;
        }
    }
    const struct column *cols = columns.v;
    size_t ncols = columns.n;

    struct qerror err = { 0 };
    _cleanup_vm_entries_ struct vm_entries listed = { 0 };
    cli_list_qubes(&cli, &listed.v, &listed.n);
    const struct vm_entry *vms = listed.v;
    size_t nvms = listed.n;

    /* selection */
    size_t nsel = 0;
    _cleanup_free_ size_t *sel = NULL;
    if (optind < argc) {
        sel = cli_select_vms(&cli, vms, nvms, argv + optind, (size_t)(argc - optind), &nsel, NULL,
                             NULL);
    } else {
        sel = xcalloc(nvms ? nvms : 1, sizeof(size_t));
        for (size_t i = 0; i < nvms; i++)
            sel[nsel++] = i;
    }
    size_t k = 0;
    for (size_t i = 0; i < nsel; i++) {
        const struct vm_entry *v = &vms[sel[i]];
        if (cli_strv_contains(excludes, nexcludes, v->name))
            continue;
        if (want_running || want_halted || want_paused) {
            bool ok = (want_running && strcmp(v->state, "Running") == 0) ||
                      (want_halted && strcmp(v->state, "Halted") == 0) ||
                      (want_paused && strcmp(v->state, "Paused") == 0);
            if (!ok)
                continue;
        }
        if (nclasses && !cli_strv_contains(classes, nclasses, v->klass))
            continue;
        sel[k++] = sel[i];
    }
    nsel = k;

    /* properties, all GetAll calls at once */
    _cleanup_rows_ struct rows all_rows = { xcalloc(nvms ? nvms : 1, sizeof(struct row_ctx)),
                                             nvms };
    struct row_ctx *rows = all_rows.v;
    for (size_t i = 0; i < nvms; i++)
        rows[i].vm = &vms[i];
    if (need_props) {
        size_t ncalls = need_all_props ? nvms : nsel;
        struct batch_call *calls = xcalloc(ncalls ? ncalls : 1, sizeof(*calls));
        for (size_t i = 0; i < ncalls; i++) {
            calls[i].method = "admin.vm.property.GetAll";
            calls[i].dest = vms[need_all_props ? i : sel[i]].name;
        }
        batch_run(calls, ncalls);
        int rc = 0;
        for (size_t i = 0; i < ncalls && !rc; i++) {
            struct row_ctx *r = &rows[need_all_props ? i : sel[i]];
            if (calls[i].status < 0) {
                if (qerror_is(&calls[i].err, "QubesVMNotFoundError"))
                    continue; /* removed meanwhile: its cells are "-" */
                rc = cli_qerror(&cli, &calls[i].err);
            } else if (qprops_parse(calls[i].content.data, calls[i].content.len, &r->props,
                                    &r->nprops, &err) < 0) {
                rc = cli_qerror(&cli, &err);
            }
        }
        batch_free(calls, ncalls);
        free(calls);
        if (rc)
            return rc;
    }
    if (nlabels) {
        k = 0;
        for (size_t i = 0; i < nsel; i++) {
            const struct qprop *l = qprops_find(rows[sel[i]].props, rows[sel[i]].nprops, "label");
            if (l && cli_strv_contains(labels, nlabels, l->value))
                sel[k++] = sel[i];
        }
        nsel = k;
    }
    if (ntags) {
        struct batch_call *calls = xcalloc(nsel ? nsel : 1, sizeof(*calls));
        for (size_t i = 0; i < nsel; i++) {
            calls[i].method = "admin.vm.tag.List";
            calls[i].dest = vms[sel[i]].name;
        }
        batch_run(calls, nsel);
        k = 0;
        for (size_t i = 0; i < nsel; i++) {
            if (calls[i].status < 0)
                continue;
            char **lines = NULL;
            size_t nl = split_lines(calls[i].content.data, &lines);
            bool hit = false;
            for (size_t j = 0; j < nl && !hit; j++)
                hit = cli_strv_contains(tags, ntags, lines[j]);
            free(lines);
            if (hit)
                sel[k++] = sel[i];
        }
        batch_free(calls, nsel);
        free(calls);
        nsel = k;
    }

    /* cells */
    /* every cell is set, so the vector is NULL-terminated */
    _cleanup_strv_ char **cells = xcalloc(nsel * ncols + 1, sizeof(char *));
    char flags[9];
    for (size_t i = 0; i < nsel; i++)
        for (size_t j = 0; j < ncols; j++)
            cells[i * ncols + j] =
                xstrdup(cell(&cols[j], &rows[sel[i]], rows, vms, nvms, flags));

    /* order */
    _cleanup_column_ struct column sortc = { 0 };
    column_init(&sortc, sort_col);
    size_t sortidx = ncols;
    for (size_t j = 0; j < ncols; j++)
        if (strcmp(cols[j].head, sortc.head) == 0)
            sortidx = j;
    if (sortidx == ncols && strcmp(sortc.head, "NAME") != 0) {
        _cleanup_free_ char *r = cli_repr(sort_col);
        cli_usage_error(&cli, "Invalid sort column: %s (must be among the displayed columns)", r);
    }
    _cleanup_free_ size_t *order = xcalloc(nsel + 1, sizeof(size_t));
    _cleanup_free_ char **keys = xcalloc(nsel + 1, sizeof(char *));
    for (size_t i = 0; i < nsel; i++) {
        order[i] = i;
        keys[i] = sortidx < ncols ? cells[i * ncols + sortidx] : vms[sel[i]].name;
    }
    static const char *const numeric_heads[] = { "MEMORY", "DISK", "PRIV-CURR", "PRIV-MAX",
                                                 "PRIV-USED", "ROOT-CURR", "ROOT-MAX",
                                                 "ROOT-USED", "XID", "MAXMEM", "QREXEC-TIMEOUT",
                                                 "SHUTDOWN-TIMEOUT", "VCPUS", "QID" };
    struct sort_ctx sctx = { .keys = keys, .reverse = reverse };
    for (size_t i = 0; i < ARRAY_SIZE(numeric_heads); i++)
        if (strcmp(sortc.head, numeric_heads[i]) == 0)
            sctx.numeric = true;
    sort_state = &sctx;
    qsort(order, nsel, sizeof(size_t), row_cmp);
    sort_state = NULL;

    /* output */
    _cleanup_buf_ struct buf out = BUF_INIT;
    if (json) {
        buf_append_char(&out, '[');
        for (size_t i = 0; i < nsel; i++) {
            buf_append_str(&out, i ? ",\n {" : "{");
            for (size_t j = 0; j < ncols; j++) {
                _cleanup_free_ char *key = xstrdup(cols[j].head);
                for (char *p = key; *p; p++)
                    *p = (char)tolower((unsigned char)*p);
                if (j)
                    buf_append_str(&out, ", ");
                json_string(&out, key);
                buf_append_str(&out, ": ");
                json_string(&out, cells[order[i] * ncols + j]);
            }
            buf_append_char(&out, '}');
        }
        buf_append_str(&out, "]\n");
        fwrite(out.data, 1, out.len, stdout);
    } else if (raw_data) {
        for (size_t i = 0; i < nsel; i++) {
            for (size_t j = 0; j < ncols; j++) {
                if (j)
                    buf_append_char(&out, '|');
                buf_append_str(&out, cells[order[i] * ncols + j]);
            }
            buf_append_char(&out, '\n');
        }
        if (out.len)
            fwrite(out.data, 1, out.len, stdout);
    } else {
        struct table t;
        table_init(&t, ncols);
        for (size_t j = 0; j < ncols; j++)
            table_add(&t, cols[j].head);
        for (size_t i = 0; i < nsel; i++)
            for (size_t j = 0; j < ncols; j++)
                table_add(&t, cells[order[i] * ncols + j]);
        table_print(&t, stdout);
        table_free(&t);
    }
    return fflush(stdout) == 0 ? 0 : 1;
}
