/* Shared plumbing of the qvm-* tools: option parsing with argparse's exit
 * codes and messages, Admin API answers parsed into simple structs. */
#include "tools/cli.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/admin_wire.h"
#include "common/cleanup.h"
#include "common/names.h"
#include "common/py_repr.h"
#include "config.h"

/* argparse's negative number: "-" then digits, with at most one '.' among them
 * ("-1", "-1.5", "-.5"). */
static bool negative_number_body(const char *s)
{
    size_t digits = strspn(s, "0123456789");
    if (s[digits] == '\0')
        return digits > 0;
    if (s[digits] != '.')
        return false;
    size_t fraction = strspn(s + digits + 1, "0123456789");
    return fraction > 0 && s[digits + 1 + fraction] == '\0';
}

/* getopt would take "-1" for the option '1': while it scans, the '-' of a
 * negative number is swapped for this mark (argv strings are writable). */
#define NEGATIVE_MARK '\x1f'

static void mask_negative_numbers(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (argv[i][0] == '-' && negative_number_body(argv[i] + 1))
            argv[i][0] = NEGATIVE_MARK;
}

static void unmask_negative_number(char *s)
{
    if (s && s[0] == NEGATIVE_MARK && negative_number_body(s + 1))
        s[0] = '-';
}

int cli_getopt(struct cli *cli, int argc, char **argv, const char *shortopts,
               const struct option *longopts)
{
    /* leading ':' so that a missing argument is told apart from an unknown option */
    char spec[128];
    snprintf(spec, sizeof(spec), ":%s", shortopts);
    opterr = 0;
    mask_negative_numbers(argc, argv);
    for (;;) {
        int prev = optind;
        int c = getopt_long(argc, argv, spec, longopts, NULL);
        switch (c) {
        case 'h': printf("%s\n%s", cli->usage, cli->help ? cli->help : ""); exit(0);
        case CLI_OPT_VERSION: printf("%s %s\n", cli->prog, QUBICLE_VERSION); exit(0);
        case 'v': cli->verbose++; continue;
        case 'q': cli->quiet++; continue;
        case CLI_OPT_FORCE_ROOT: /* accepted and ignored, as upstream */ continue;
        case ':': {
            const char *opt = argv[optind - 1] ? argv[optind - 1] : argv[prev];
            cli_usage_error(cli, "argument %s: expected one argument", opt);
        }
        case '?': {
            const char *opt = argv[optind - 1 >= prev ? optind - 1 : prev];
            if (optopt && !(opt[0] == '-' && opt[1] == '-'))
                cli_usage_error(cli, "unrecognized arguments: -%c", optopt);
            cli_usage_error(cli, "unrecognized arguments: %s", opt);
        }
        case -1:
            for (int i = 1; i < argc; i++)
                unmask_negative_number(argv[i]);
            return -1;
        default: unmask_negative_number(optarg); return c;
        }
    }
}

void cli_take_values(int argc, char **argv, char ***v, size_t *n)
{
    free(*v);
    *v = NULL;
    *n = 0;
    cli_strv_push(v, n, optarg);
    /* what follows, up to an option or "--"; getopt's permutation keeps working
     * because the taken arguments sit right after the option it returned */
    while (optind < argc && (argv[optind][0] != '-' || strcmp(argv[optind], "-") == 0)) {
        unmask_negative_number(argv[optind]);
        cli_strv_push(v, n, argv[optind++]);
    }
}

/* Every message goes to stderr after what stdout holds, so the two interleave
 * in order; usage is printed first for argparse's usage errors. */
static __attribute__((format(printf, 4, 0))) void
vreport(const struct cli *cli, const char *usage, const char *tag, const char *fmt, va_list ap)
{
    fflush(stdout);
    fprintf(stderr, "%s%s%s: %s", usage ? usage : "", usage ? "\n" : "", cli->prog, tag);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void cli_usage_error(const struct cli *cli, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport(cli, cli->usage, "error: ", fmt, ap);
    va_end(ap);
    exit(CLI_EXIT_USAGE);
}

int cli_error(const struct cli *cli, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport(cli, NULL, "error: ", fmt, ap);
    va_end(ap);
    return CLI_EXIT_FAIL;
}

int cli_qerror(const struct cli *cli, const struct qerror *err)
{
    return cli_error(cli, "%s", err->message);
}

bool cli_info_enabled(const struct cli *cli)
{
    return cli->verbose - cli->quiet >= 1;
}

void cli_info(const struct cli *cli, const char *fmt, ...)
{
    if (!cli_info_enabled(cli))
        return;
    va_list ap;
    va_start(ap, fmt);
    vreport(cli, NULL, "", fmt, ap);
    va_end(ap);
}

void cli_strv_push(char ***v, size_t *n, char *s)
{
    *v = xrealloc(*v, (*n + 2) * sizeof(char *));
    (*v)[(*n)++] = s;
    (*v)[*n] = NULL;
}

void cli_strv_free(char **v)
{
    for (char **p = v; p && *p; p++)
        free(*p);
    free(v);
}

bool cli_strv_contains(char *const *v, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i], s) == 0)
            return true;
    return false;
}

void cli_json_string(struct buf *b, const char *s)
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

int qcall(const char *method, const char *arg, const char *dest, const void *payload,
          size_t payload_len, struct buf *content, struct qerror *err)
{
    /* a space or control byte in a user-typed argument would break the
     * request header; refuse it with the argument named */
    for (const char *p = arg ? arg : ""; *p; p++) {
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f) {
            _cleanup_free_ char *r = py_repr_dup(arg);
            return qerror_set(err, ERR_QUBES_VALUE_ERROR, "Invalid argument: %s", r);
        }
    }
    return qubesd_call(method, arg ? arg : "", dest, payload ? payload : "",
                       payload ? payload_len : 0, content, err);
}

size_t split_lines(char *s, char ***lines)
{
    size_t n = 0, cap = 0;
    char **v = NULL;
    while (s && *s) {
        char *nl = strchr(s, '\n');
        if (nl)
            *nl = '\0';
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            v = xrealloc(v, cap * sizeof(*v));
        }
        v[n++] = s;
        if (!nl)
            break;
        s = nl + 1;
    }
    *lines = v;
    return n;
}

int qcall_lines(const char *method, const char *dest, struct buf *content, char ***lines, size_t *n,
                struct qerror *err)
{
    *lines = NULL;
    *n = 0;
    if (qcall(method, "", dest, "", 0, content, err) < 0)
        return -1;
    *n = split_lines(content->data, lines);
    return 0;
}

/* ---- admin.vm.List ---- */

static int vm_entry_cmp(const void *a, const void *b)
{
    return strcmp(((const struct vm_entry *)a)->name, ((const struct vm_entry *)b)->name);
}

static char *kv_field(const char *line, const char *key)
{
    size_t klen = strlen(key);
    for (const char *p = line; (p = strstr(p, key)); p += klen) {
        if ((p == line || p[-1] == ' ') && p[klen] == '=') {
            const char *v = p + klen + 1;
            return xstrndup(v, strcspn(v, " "));
        }
    }
    return xstrdup("");
}

int vm_list(const char *dest, struct vm_entry **vms, size_t *n, struct qerror *err)
{
    _cleanup_buf_ struct buf content = BUF_INIT;
    _cleanup_free_ char **lines = NULL;
    size_t nl;
    if (qcall_lines("admin.vm.List", dest, &content, &lines, &nl, err) < 0)
        return -1;
    struct vm_entry *v = xcalloc(nl ? nl : 1, sizeof(*v));
    size_t count = 0;
    for (size_t i = 0; i < nl; i++) {
        size_t namelen = strcspn(lines[i], " ");
        if (!namelen)
            continue;
        v[count].name = xstrndup(lines[i], namelen);
        v[count].klass = kv_field(lines[i] + namelen, "class");
        v[count].state = kv_field(lines[i] + namelen, "state");
        v[count].uuid = kv_field(lines[i] + namelen, "uuid");
        count++;
    }
    qsort(v, count, sizeof(*v), vm_entry_cmp);
    *vms = v;
    *n = count;
    return 0;
}

void vm_entry_clear(struct vm_entry *vm)
{
    free(vm->name);
    free(vm->klass);
    free(vm->state);
    free(vm->uuid);
    *vm = (struct vm_entry){ 0 };
}

void vm_list_free(struct vm_entry *vms, size_t n)
{
    for (size_t i = 0; i < n; i++)
        vm_entry_clear(&vms[i]);
    free(vms);
}

const struct vm_entry *vm_list_find(const struct vm_entry *vms, size_t n, const char *name)
{
    struct vm_entry key = { .name = (char *)name };
    return bsearch(&key, vms, n, sizeof(*vms), vm_entry_cmp);
}

void cli_require_vm(const struct cli *cli, const char *name, struct vm_entry *out)
{
    struct qerror err = { 0 };
    struct qerror ignored = { 0 };
    struct vm_entry *vms = NULL;
    size_t n = 0;
    bool plausible = validate_qube_name(name, NULL, &ignored) == 0 || strcmp(name, "dom0") == 0;
    /* dest dom0 lists every qube, so look the name up in the answer */
    const struct vm_entry *e = NULL;
    if (plausible && vm_list(name, &vms, &n, &err) == 0)
        e = vm_list_find(vms, n, name);
    if (!e) {
        vm_list_free(vms, n);
        if (plausible && err.kind && !(err.kind == ERR_QUBES_VM_NOT_FOUND_ERROR))
            exit(cli_qerror(cli, &err));
        _cleanup_free_ char *r = py_repr_dup(name);
        cli_usage_error(cli, "no such domain: %s", r);
    }
    if (out) {
        out->name = xstrdup(e->name);
        out->klass = xstrdup(e->klass);
        out->state = xstrdup(e->state);
        out->uuid = xstrdup(e->uuid);
    }
    vm_list_free(vms, n);
}

size_t *cli_select_vms(const struct cli *cli, const struct vm_entry *vms, size_t nvms, char **names,
                       size_t nnames, size_t *nsel, char ***missing, size_t *nmissing)
{
    bool *picked = xcalloc(nvms ? nvms : 1, sizeof(bool));
    for (size_t i = 0; i < nnames; i++) {
        if (strpbrk(names[i], "*?[!]")) {
            for (size_t j = 0; j < nvms; j++)
                if (fnmatch(names[i], vms[j].name, 0) == 0)
                    picked[j] = true;
            continue;
        }
        const struct vm_entry *e = vm_list_find(vms, nvms, names[i]);
        if (e) {
            picked[e - vms] = true;
        } else if (missing) {
            cli_strv_push(missing, nmissing, xstrdup(names[i]));
        } else {
            free(picked);
            _cleanup_free_ char *r = py_repr_dup(names[i]);
            cli_usage_error(cli, "no such domain: %s", r);
        }
    }
    size_t *sel = xcalloc(nvms ? nvms : 1, sizeof(size_t));
    size_t k = 0;
    for (size_t j = 0; j < nvms; j++)
        if (picked[j])
            sel[k++] = j;
    free(picked);
    *nsel = k;
    return sel;
}

void cli_list_qubes(const struct cli *cli, struct vm_entry **vms, size_t *n)
{
    struct qerror err = { 0 };
    *vms = NULL;
    *n = 0;
    if (vm_list("dom0", vms, n, &err) < 0)
        exit(cli_qerror(cli, &err));
}

void cli_targets_option(struct cli_targets *t, int c, char *arg)
{
    if (c == CLI_OPT_ALL)
        t->all = true;
    else
        cli_strv_push(&t->excludes, &t->nexcludes, arg);
}

void cli_targets_free(struct cli_targets *t)
{
    free(t->excludes);
    vm_list_free(t->vms, t->nvms);
    free(t->sel);
    t->excludes = NULL;
    t->nexcludes = 0;
    t->vms = NULL;
    t->nvms = 0;
    t->sel = NULL;
    t->nsel = 0;
}

void cli_targets_resolve(const struct cli *cli, struct cli_targets *t, char **names, size_t nnames,
                         char ***missing, size_t *nmissing)
{
    /* the usage errors come before any call, as argparse's do */
    if (t->all && nnames)
        cli_usage_error(cli, "argument VMNAME: not allowed with argument --all");
    if (!t->all && !nnames)
        cli_usage_error(cli, "one of the arguments --all VMNAME is required");
    if (!t->all && t->nexcludes)
        cli_usage_error(cli, "--exclude can only be used with --all");
    cli_list_qubes(cli, &t->vms, &t->nvms);
    t->nsel = 0;
    if (!t->all) {
        t->sel = cli_select_vms(cli, t->vms, t->nvms, names, nnames, &t->nsel, missing, nmissing);
        return;
    }
    t->sel = xcalloc(t->nvms + 1, sizeof(size_t));
    for (size_t i = 0; i < t->nvms; i++) {
        if (strcmp(t->vms[i].klass, "AdminVM") != 0 &&
            !cli_strv_contains(t->excludes, t->nexcludes, t->vms[i].name))
            t->sel[t->nsel++] = i;
    }
}

void cli_vm_command(const struct cli *cli, int argc, char **argv, const char *dflt,
                    struct cli_vm_command *out)
{
    int npos = argc - optind;
    if (npos < 1)
        cli_usage_error(cli, "the following arguments are required: VMNAME");
    out->vm = argv[optind];
    out->cmd = npos > 1 ? argv[optind + 1] : dflt;
    out->words = argv + optind + 2;
    out->nwords = npos > 2 ? (size_t)(npos - 2) : 0;
}

/* ---- properties ---- */

/* "default=<b> type=<t> <value>": fills p but its value, which starts at *value. */
static int parse_value_at(const char *s, struct qprop *p, const char **value, struct qerror *err)
{
    const char *t;
    if (strncmp(s, "default=True ", 13) == 0) {
        p->is_default = true;
        t = s + 13;
    } else if (strncmp(s, "default=False ", 14) == 0) {
        p->is_default = false;
        t = s + 14;
    } else {
        return qerror_set(err, ERR_QUBES_DAEMON_COMMUNICATION_ERROR, "Invalid property format");
    }
    if (strncmp(t, "type=", 5) != 0)
        return qerror_set(err, ERR_QUBES_DAEMON_COMMUNICATION_ERROR,
                          "Invalid type prefix received");
    t += 5;
    size_t tl = strcspn(t, " ");
    if (tl >= sizeof(p->type))
        return qerror_set(err, ERR_QUBES_DAEMON_COMMUNICATION_ERROR, "Received invalid value type");
    memcpy(p->type, t, tl);
    p->type[tl] = '\0';
    t += tl;
    *value = *t == ' ' ? t + 1 : t;
    return 0;
}

int qprop_parse_value(const char *s, struct qprop *p, struct qerror *err)
{
    const char *value;
    if (parse_value_at(s, p, &value, err) < 0)
        return -1;
    p->value = xstrdup(value);
    return 0;
}

int global_prop_get(const char *prop, struct qprop *p, struct qerror *err)
{
    _cleanup_buf_ struct buf content = BUF_INIT;
    if (qcall("admin.property.Get", prop, "dom0", "", 0, &content, err) < 0)
        return -1;
    return qprop_parse_value(content.data ? content.data : "", p, err);
}

static int qprop_cmp(const void *a, const void *b)
{
    return strcmp(((const struct qprop *)a)->name, ((const struct qprop *)b)->name);
}

int qprops_parse(const char *s, size_t len, struct qprop **props, size_t *n, struct qerror *err)
{
    size_t lines = 1;
    for (const char *p = s; (p = memchr(p, '\n', (size_t)(s + len - p))); p++)
        lines++;
    /* parsed in a scratch block, then kept in one exact block: the array, then the names and
     * values only (qvm-ls keeps one per qube, and fresh pages cost) */
    _cleanup_free_ struct qprop *v = xmalloc(lines * sizeof(*v) + len + 1);
    char *text = (char *)(v + lines);
    size_t count = 0;
    const char *end = s + len;
    while (s < end) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        const char *le = nl ? nl : end;
        /* undo the \\ and \n escapes of GetAll */
        char *line = text;
        for (const char *p = s; p < le; p++) {
            if (*p == '\\' && p + 1 < le) {
                p++;
                *text++ = *p == 'n' ? '\n' : *p;
            } else {
                *text++ = *p;
            }
        }
        *text++ = '\0';
        s = le + 1;
        if (!*line)
            continue;
        char *sp = strchr(line, ' ');
        if (!sp)
            return qerror_set(err, ERR_QUBES_DAEMON_COMMUNICATION_ERROR, "Invalid GetAll line");
        *sp = '\0';
        struct qprop *p = &v[count];
        memset(p, 0, sizeof(*p));
        const char *value;
        if (parse_value_at(sp + 1, p, &value, err) < 0)
            return -1;
        p->name = line;
        p->value = (char *)value; /* in the scratch block */
        count++;
    }
    size_t kept = 0;
    for (size_t i = 0; i < count; i++)
        kept += strlen(v[i].name) + strlen(v[i].value) + 2;
    struct qprop *out = xmalloc(count * sizeof(*out) + kept + 1);
    char *at = (char *)(out + count);
    for (size_t i = 0; i < count; i++) {
        out[i] = v[i];
        out[i].name = at;
        at = stpcpy(at, v[i].name) + 1;
        out[i].value = at;
        at = stpcpy(at, v[i].value) + 1;
    }
    qsort(out, count, sizeof(*out), qprop_cmp);
    *props = out;
    *n = count;
    return 0;
}

const struct qprop *qprops_find(const struct qprop *props, size_t n, const char *name)
{
    if (!props)
        return NULL;
    struct qprop key = { .name = (char *)name };
    return bsearch(&key, props, n, sizeof(*props), qprop_cmp);
}

void qprops_free(struct qprop *props, size_t n)
{
    (void)n; /* names and values are in the array's block */
    free(props);
}

/* ---- tables ---- */

void table_init(struct table *t, size_t ncols)
{
    memset(t, 0, sizeof(*t));
    t->ncols = ncols;
}

void table_add(struct table *t, const char *cell)
{
    if (t->ncells == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 64;
        t->cells = xrealloc(t->cells, t->cap * sizeof(char *));
    }
    t->cells[t->ncells++] = xstrdup(cell ? cell : "");
}

/* Columns a cell takes on a terminal: UTF-8 characters (qvm-ls --tree's "└─"), not bytes. */
static size_t display_width(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xc0) != 0x80;
    return n;
}

void table_print(const struct table *t, FILE *out)
{
    if (!t->ncols)
        return;
    _cleanup_free_ size_t *width = xcalloc(t->ncols, sizeof(size_t));
    for (size_t i = 0; i < t->ncells; i++) {
        size_t l = display_width(t->cells[i]);
        if (l > width[i % t->ncols])
            width[i % t->ncols] = l;
    }
    _cleanup_buf_ struct buf b = BUF_INIT;
    for (size_t i = 0; i < t->ncells; i++) {
        size_t col = i % t->ncols;
        buf_append_str(&b, t->cells[i]);
        if (col + 1 == t->ncols || i + 1 == t->ncells) {
            while (b.len && b.data[b.len - 1] == ' ')
                b.len--;
            buf_append_char(&b, '\n');
        } else {
            for (size_t k = display_width(t->cells[i]); k < width[col] + 2; k++)
                buf_append_char(&b, ' ');
        }
    }
    if (b.len)
        fwrite(b.data, 1, b.len, out);
}

void table_free(struct table *t)
{
    for (size_t i = 0; i < t->ncells; i++)
        free(t->cells[i]);
    free(t->cells);
    memset(t, 0, sizeof(*t));
}

int read_all_fd(int fd, struct buf *out)
{
    for (;;) {
        buf_reserve(out, 65536);
        ssize_t n = read(fd, out->data + out->len, out->cap - out->len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            return 0;
        out->len += (size_t)n;
        out->data[out->len] = '\0';
    }
}

bool cli_ask(const char *prompt, const char *yes)
{
    fputs(prompt, stdout);
    fflush(stdout);
    char line[256];
    if (!fgets(line, sizeof(line), stdin))
        return false;
    line[strcspn(line, "\n")] = '\0';
    if (strcmp(yes, "Y") == 0)
        return strcasecmp(line, "y") == 0;
    return strcmp(line, yes) == 0;
}

void cli_pools_add_volume(const struct cli *cli, struct cli_pools *p, char *arg)
{
    const char *eq = strchr(arg, '=');
    if (!eq || strchr(eq + 1, '='))
        cli_usage_error(cli, "Pool argument must be of form: -P volume_name=pool_name");
    cli_strv_push(&p->volumes, &p->nvolumes, arg);
}

void cli_pools_free(struct cli_pools *p)
{
    free(p->volumes);
    p->volumes = NULL;
    p->nvolumes = 0;
}

void cli_pools_check(const struct cli *cli, const struct cli_pools *p)
{
    if (p->all && p->nvolumes)
        cli_usage_error(cli, "only one of -P and --pool can be used");
}

int qube_create(const char *klass, const char *name, const char *label, const char *template_name,
                const struct cli_pools *pools, struct qerror *err)
{
    if (strchr(name, ' '))
        return qerror_set(err, ERR_QUBES_VALUE_ERROR, "Invalid VM name");
    _cleanup_buf_ struct buf payload = BUF_INIT;
    buf_printf(&payload, "name=%s label=%s", name, label);
    bool one_pool = pools->all && *pools->all;
    if (one_pool)
        buf_printf(&payload, " pool=%s", pools->all);
    for (size_t i = 0; i < pools->nvolumes; i++) {
        const char *v = pools->volumes[i];
        const char *eq = strchr(v, '=');
        buf_printf(&payload, " pool:%.*s=%s", (int)(eq - v), v, eq + 1);
    }
    _cleanup_free_ char *method =
        xasprintf("admin.vm.%s.%s", one_pool || pools->nvolumes ? "CreateInPool" : "Create", klass);
    return qcall(method, template_name ? template_name : "", "dom0", payload.data, payload.len,
                 NULL, err);
}

int cmp_strp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}
