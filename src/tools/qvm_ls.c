/* qvm-ls: list qubes with selected columns (upstream qubesadmin/tools/qvm_ls.py): one
 * admin.vm.List, then only what the columns and filters need, each kind in one batch of
 * concurrent calls (ls_data.h). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/cleanup.h"
#include "common/py_repr.h"
#include "tools/cli.h"
#include "tools/ls_data.h"
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

enum col_kind {
    COL_PROP,
    COL_NAME,
    COL_STATE,
    COL_CLASS,
    COL_FLAGS,
    COL_GATEWAY,
    COL_MEMORY,
    COL_DISK,
    COL_VOL_CURR,
    COL_VOL_MAX,
    COL_VOL_POOL,
    COL_VOL_USED
};

/* Columns that are not plain properties, with their --help-columns text. */
static const struct builtin {
    const char *head;
    enum col_kind kind;
    const char *volume;
    const char *doc;
} builtins[] = {
    { "CLASS", COL_CLASS, NULL, "Class of the qube." },
    { "DISK", COL_DISK, NULL, "Total disk utilisation." },
    { "FLAGS", COL_FLAGS, NULL, "Some fancy flags that describe general status of the domain." },
    { "GATEWAY", COL_GATEWAY, NULL, "Network gateway." },
    { "LABEL", COL_PROP, NULL, "Label of the qube." },
    { "MEMORY", COL_MEMORY, NULL, "Memory currently used by VM" },
    { "NAME", COL_NAME, NULL, "Name of the qube." },
    { "NETVM", COL_PROP, NULL, "The qube providing network to this qube." },
    { "PRIV-CURR", COL_VOL_CURR, "private",
      "Disk utilisation by private image (/home, /usr/local)." },
    { "PRIV-MAX", COL_VOL_MAX, "private", "Maximum available space for private image." },
    { "PRIV-POOL", COL_VOL_POOL, "private", "Storage pool of private volume." },
    { "PRIV-USED", COL_VOL_USED, "private",
      "Disk utilisation by private image as a percentage of available space." },
    { "ROOT-CURR", COL_VOL_CURR, "root",
      "Disk utilisation by root image (/usr, /lib, /etc, ...)." },
    { "ROOT-MAX", COL_VOL_MAX, "root", "Maximum available space for root image." },
    { "ROOT-POOL", COL_VOL_POOL, "root", "Storage pool of root volume." },
    { "ROOT-USED", COL_VOL_USED, "root",
      "Disk utilisation by root image as a percentage of available space." },
    { "STATE", COL_STATE, NULL, "Current power state." },
    { "TEMPLATE", COL_PROP, NULL, "The template the qube is based on." },
};

/* Columns sorted as numbers (upstream SORT_NUMERIC); others as strings. */
static const char *const numeric_heads[] = {
    "MEMORY", "DISK",           "PRIV-CURR",        "PRIV-MAX", "ROOT-CURR", "XID",      "ROOT-MAX",
    "MAXMEM", "QREXEC-TIMEOUT", "SHUTDOWN-TIMEOUT", "VCPUS",    "PRIV-USED", "ROOT-USED"
};

struct column {
    char *head;                    /* "NETVM", "VIRT-MODE" */
    char *prop;                    /* "netvm", "virt_mode" */
    const struct builtin *builtin; /* NULL: a property */
};

struct columns {
    struct column *v;
    size_t n;
};

static void columns_free(struct columns *cols)
{
    for (size_t i = 0; i < cols->n; i++) {
        free(cols->v[i].head);
        free(cols->v[i].prop);
    }
    free(cols->v);
    *cols = (struct columns){ 0 };
}
#define _cleanup_columns_ __attribute__((cleanup(columns_free)))

static enum col_kind kind_of(const struct column *c)
{
    return c->builtin ? c->builtin->kind : COL_PROP;
}

static const char usage[] =
    "usage: qvm-ls [--verbose] [--quiet] [--help] [--all] [--exclude EXCLUDE]\n"
    "              [--format FORMAT | --fields FIELD,... | --disk | --network | --kernel]\n"
    "              [--tree] [--raw-data] [--raw-list] [--json] [--help-formats]\n"
    "              [--help-columns] [--class CLASS [CLASS ...]] [--label LABEL [LABEL ...]]\n"
    "              [--tags TAG [TAG ...]] [--exclude-tags TAG [TAG ...]] [--running]\n"
    "              [--paused] [--halted] [--template-source TEMPLATE [TEMPLATE ...]]\n"
    "              [--netvm-is NETVM [NETVM ...]] [--internal <y|n>] [--servicevm <y|n>]\n"
    "              [--pending-update] [--features FEATURE=VALUE [FEATURE=VALUE ...]]\n"
    "              [--prefs PREFERENCE=VALUE [PREFERENCE=VALUE ...]] [--sort COLUMN]\n"
    "              [--reverse] [--ignore-case] [--spinner] [--no-spinner]\n"
    "              [VMNAME ...]";

static const char help[] =
    "\nList Qubes domains and their parameters.\n\n"
    "positional arguments:\n"
    "  VMNAME                zero or more domain names\n\n"
    "options:\n" CLI_HELP_COMMON_OPTIONS CLI_HELP_TARGETS
    "  --spinner             reenable spinner\n"
    "  --no-spinner          disable spinner\n\n"
    "formatting options:\n"
    "  --format, -o FORMAT   preset format\n"
    "  --fields, -O FIELD,...\n"
    "                        user specified format (see available columns below)\n"
    "  --tree, -t            sort domain list as network tree\n"
    "  --raw-data            Display specify data of specified VMs. Intended for bash-parsing.\n"
    "  --raw-list            Same as --raw-data --fields=name\n"
    "  --json                a JSON array of objects, one per VM, keyed by lower-case column\n"
    "  --disk, -d            Same as --format=disk\n"
    "  --network, -n         Same as --format=network\n"
    "  --kernel, -k          Same as --format=kernel\n"
    "  --help-formats        list all available formats with their definitions and exit\n"
    "  --help-columns        list all available columns with short descriptions and exit\n\n"
    "filtering options:\n"
    "  --class CLASS [CLASS ...]\n"
    "                        show only qubes of specific class(es)\n"
    "  --label LABEL [LABEL ...]\n"
    "                        show only qubes with specific label(s)\n"
    "  --tags TAG [TAG ...]  show only qubes having specific tag(s)\n"
    "  --exclude-tags TAG [TAG ...]\n"
    "                        exclude qubes having specific tag(s)\n"
    "  --running             show running VMs\n"
    "  --paused              show paused VMs\n"
    "  --halted              show halted VMs\n"
    "  --template-source TEMPLATE [TEMPLATE ...]\n"
    "                        filter results to the qubes based on the TEMPLATE. \"\" means None\n"
    "  --netvm-is NETVM [NETVM ...]\n"
    "                        filter results to the qubes connecting via NETVM\n"
    "  --internal <y|n>      show only internal qubes or option to hide them\n"
    "  --servicevm <y|n>     show only ServiceVMs or option to hide them\n"
    "  --pending-update      filter results to qubes pending for update\n"
    "  --features FEATURE=VALUE [FEATURE=VALUE ...]\n"
    "                        filter results to qubes that matches all specified features.\n"
    "                        omitted VALUE means None (unset). Empty value means \"\" (blank)\n"
    "  --prefs PREFERENCE=VALUE [PREFERENCE=VALUE ...]\n"
    "                        filter results to qubes that matches all specified preferences.\n"
    "                        omitted VALUE means None (unset). Empty value means \"\" (blank)\n\n"
    "sorting options:\n"
    "  --sort COLUMN         sort based on provided column rather than NAME\n"
    "  --reverse             reverse sort\n"
    "  --ignore-case         ignore case distinctions when sorting\n\n"
    "available formats (see --help-formats):\n"
    "  disk, full, kernel, network, prefs, simple\n\n"
    "available columns (see --help-columns):\n"
    "  CLASS, DISK, FLAGS, GATEWAY, LABEL, MEMORY, NAME, NETVM, PRIV-CURR, PRIV-MAX,\n"
    "  PRIV-POOL, PRIV-USED, ROOT-CURR, ROOT-MAX, ROOT-POOL, ROOT-USED, STATE, TEMPLATE\n";

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

static void column_add(struct columns *cols, const char *spec)
{
    cols->v = xrealloc(cols->v, (cols->n + 1) * sizeof(*cols->v));
    struct column *c = &cols->v[cols->n++];
    size_t n = strlen(spec);
    c->head = xmalloc(n + 1);
    c->prop = xmalloc(n + 1);
    for (size_t i = 0; i <= n; i++) {
        char ch = spec[i];
        c->head[i] = ch == '_' ? '-' : (char)toupper((unsigned char)ch);
        c->prop[i] = ch == '-' ? '_' : (char)tolower((unsigned char)ch);
    }
    c->builtin = NULL;
    for (size_t i = 0; i < ARRAY_SIZE(builtins); i++)
        if (strcmp(c->head, builtins[i].head) == 0)
            c->builtin = &builtins[i];
}

static bool prop_true(const struct ls_qube *q, const char *name)
{
    const struct qprop *p = ls_prop(q, name);
    return p && strcmp(p->value, "True") == 0;
}

static void flags_cell(const struct ls_qube *q, char out[9])
{
    static const struct {
        const char *klass;
        char code;
    } types[] = { { "AdminVM", '0' },
                  { "TemplateVM", 't' },
                  { "AppVM", 'a' },
                  { "StandaloneVM", 's' },
                  { "DispVM", 'd' } };
    memset(out, '-', 8);
    out[8] = '\0';
    for (size_t i = 0; i < ARRAY_SIZE(types); i++) {
        if (strcmp(q->vm->klass, types[i].klass) == 0) {
            out[0] = types[i].code;
            const struct qprop *vm = ls_prop(q, "virt_mode");
            if (out[0] != '0' && vm && strcmp(vm->value, "hvm") == 0)
                out[0] = (char)toupper((unsigned char)out[0]);
        }
    }
    static const char *const powers[] = { "running", "transient", "paused", "suspended",
                                          "halting", "dying",     "crashed" };
    if (strcasecmp(q->vm->state, "unknown") == 0)
        out[1] = '?';
    for (size_t i = 0; i < ARRAY_SIZE(powers); i++)
        if (strcasecmp(q->vm->state, powers[i]) == 0)
            out[1] = powers[i][0];
    static const struct {
        int field;
        char letter;
        const char *prop;
    } simple[] = { { 2, 'U', "updateable" },
                   { 3, 'N', "provides_network" },
                   { 4, 'R', "installed_by_rpm" },
                   { 5, 'i', "internal" },
                   { 6, 'D', "debug" },
                   { 7, 'A', "autostart" } };
    for (size_t i = 0; i < ARRAY_SIZE(simple); i++)
        if (prop_true(q, simple[i].prop))
            out[simple[i].field] = simple[i].letter;
}

#define MIB (1024 * 1024)

/* Upstream calc_usage / calc_size / calc_used: MiB, 0 when there is no such volume. */
static void volume_cell(const struct column *c, const struct ls_qube *q, char *out, size_t size)
{
    const struct ls_volume *v = ls_volume(q, c->builtin->volume);
    unsigned long long mib_size = v ? v->size / MIB : 0, mib_usage = v ? v->usage / MIB : 0;
    switch (c->builtin->kind) {
    case COL_VOL_CURR: snprintf(out, size, "%llu", mib_usage); break;
    case COL_VOL_MAX: snprintf(out, size, "%llu", mib_size); break;
    case COL_VOL_USED:
        if (mib_size)
            snprintf(out, size, "%llu%%", mib_usage * 100 / mib_size);
        else
            snprintf(out, size, "0");
        break;
    case COL_VOL_POOL: snprintf(out, size, "%s", v ? v->pool : ""); break;
    case COL_PROP:
    case COL_NAME:
    case COL_STATE:
    case COL_CLASS:
    case COL_FLAGS:
    case COL_GATEWAY:
    case COL_MEMORY:
    case COL_DISK:
    default: out[0] = '\0';
    }
}

/* The cell text, "-" when there is no value; qubes is every listed qube (GATEWAY reads
 * the netvm's own gateway). */
static char *cell(const struct column *c, const struct ls_qube *q, const struct ls_qubes *qubes,
                  const struct vm_entry *vms)
{
    char text[64] = "";
    const char *v = text;
    switch (kind_of(c)) {
    case COL_NAME: v = q->vm->name; break;
    case COL_STATE: v = q->vm->state; break;
    case COL_CLASS: v = q->vm->klass; break;
    case COL_FLAGS: flags_cell(q, text); break;
    case COL_GATEWAY: {
        const struct qprop *net = ls_prop(q, "netvm");
        const struct vm_entry *nv =
            net && net->value[0] ? vm_list_find(vms, qubes->n, net->value) : NULL;
        const struct qprop *gw = nv ? ls_prop(&qubes->v[nv - vms], "gateway") : NULL;
        v = gw ? gw->value : NULL;
        break;
    }
    case COL_MEMORY:
        if (q->have_mem)
            snprintf(text, sizeof(text), "%llu", (unsigned long long)(q->mem_kib / 1024));
        break;
    case COL_DISK: {
        uint64_t total = 0;
        for (size_t i = 0; i < q->nvolumes; i++)
            total += q->volumes[i].usage;
        snprintf(text, sizeof(text), "%llu", (unsigned long long)(total / MIB));
        break;
    }
    case COL_VOL_CURR:
    case COL_VOL_MAX:
    case COL_VOL_POOL:
    case COL_VOL_USED: volume_cell(c, q, text, sizeof(text)); break;
    case COL_PROP: {
        const struct qprop *p = ls_prop(q, c->prop);
        v = p ? p->value : NULL;
        /* identity properties are in the List line too */
        if ((!v || !*v) && strcmp(c->prop, "uuid") == 0)
            v = q->vm->uuid;
        break;
    }
    default: break;
    }
    return xstrdup(v && *v ? v : "-");
}

/* ---- filters ---- */

/* The values of nargs='+' options; the strings belong to argv. */
struct ls_filters {
    char **classes, **labels, **tags, **exclude_tags, **template_source, **netvm_is, **features,
        **prefs;
    size_t nclasses, nlabels, ntags, nexclude_tags, ntemplate_source, nnetvm_is, nfeatures, nprefs;
    int internal;  /* -1 both, 1 only, 0 none */
    int servicevm; /* the same */
    bool pending_update;
    bool running, paused, halted;
};

static void filters_free(struct ls_filters *f)
{
    free(f->classes);
    free(f->labels);
    free(f->tags);
    free(f->exclude_tags);
    free(f->template_source);
    free(f->netvm_is);
    free(f->features);
    free(f->prefs);
}
#define _cleanup_filters_ __attribute__((cleanup(filters_free)))

static int yes_no(const struct cli *cli, const char *opt, const char *value)
{
    if (strcmp(value, "y") == 0 || strcmp(value, "yes") == 0)
        return 1;
    if (strcmp(value, "n") == 0 || strcmp(value, "no") == 0)
        return 0;
    _cleanup_free_ char *r = py_repr_dup(value);
    cli_usage_error(cli, "argument %s: invalid choice: %s (choose from 'y', 'yes', 'n', 'no')", opt,
                    r);
}

/* "KEY=VALUE" of --features/--prefs: VALUE "" means unset (NULL), '' or "" blank. */
static void key_value(const struct cli *cli, const char *opt, const char *item, char **key,
                      const char **value)
{
    const char *eq = strchr(item, '=');
    if (!eq || eq == item)
        cli_usage_error(cli, "Invalid argument: %s %s", opt, item);
    *key = xstrndup(item, (size_t)(eq - item));
    const char *v = eq + 1;
    if (!*v)
        *value = NULL;
    else if (strcmp(v, "''") == 0 || strcmp(v, "\"\"") == 0)
        *value = "";
    else
        *value = v;
}

static bool truthy_feature(const char *v)
{
    return v && (strcmp(v, "1") == 0 || strcasecmp(v, "true") == 0);
}

/* A vm-valued property as upstream's getattr(vm, name, ''): "" when the qube has no such
 * property, NULL when it is None, else the name. */
static const char *vm_prop(const struct ls_qube *q, const char *name)
{
    const struct qprop *p = ls_prop(q, name);
    if (!p)
        return "";
    return p->value[0] ? p->value : NULL;
}

/* str(getattr(vm, key, None)) == value */
static bool pref_matches(const struct ls_qube *q, const char *key, const char *value)
{
    if (!value)
        return false; /* str(...) is never None */
    const struct qprop *p = ls_prop(q, key);
    const char *s = p ? p->value : "None";
    if (p && !p->value[0] && strcmp(p->type, "str") != 0)
        s = "None";
    return strcmp(s, value) == 0;
}

static bool power_matches(const struct ls_filters *f, const char *state)
{
    if (!f->running && !f->paused && !f->halted)
        return true;
    return (f->running && strcasecmp(state, "running") == 0) ||
           (f->paused && strcasecmp(state, "paused") == 0) ||
           (f->halted && strcasecmp(state, "halted") == 0);
}

static bool any_of(const char *v, char *const *list, size_t n)
{
    return v && cli_strv_contains(list, n, v);
}

/* Keeps the qubes of sel that pass every filter (upstream's order of filters). */
static size_t apply_filters(const struct cli *cli, const struct ls_filters *f,
                            const struct ls_qubes *qubes, size_t *sel, size_t nsel)
{
    size_t k = 0;
    for (size_t i = 0; i < nsel; i++) {
        const struct ls_qube *q = &qubes->v[sel[i]];
        bool keep = true;
        if (f->nclasses && !any_of(q->vm->klass, f->classes, f->nclasses))
            keep = false;
        if (keep && f->nlabels) {
            const struct qprop *l = ls_prop(q, "label");
            keep = l && any_of(l->value, f->labels, f->nlabels);
        }
        if (keep && f->ntags) {
            bool hit = false;
            for (size_t t = 0; t < f->ntags && !hit; t++)
                hit = ls_has_tag(q, f->tags[t]);
            keep = hit;
        }
        for (size_t t = 0; keep && t < f->nexclude_tags; t++)
            keep = !ls_has_tag(q, f->exclude_tags[t]);
        if (keep && f->ntemplate_source)
            keep = any_of(vm_prop(q, "template"), f->template_source, f->ntemplate_source);
        if (keep && f->nnetvm_is)
            keep = any_of(vm_prop(q, "netvm"), f->netvm_is, f->nnetvm_is);
        if (keep && f->internal >= 0)
            keep = truthy_feature(ls_feature(q, "internal")) == (f->internal == 1);
        if (keep && f->servicevm >= 0)
            keep = truthy_feature(ls_feature(q, "servicevm")) == (f->servicevm == 1);
        if (keep && f->pending_update) {
            const char *u = ls_feature(q, "updates-available");
            keep = u && *u;
        }
        for (size_t t = 0; keep && t < f->nfeatures; t++) {
            _cleanup_free_ char *key = NULL;
            const char *want;
            key_value(cli, "--features", f->features[t], &key, &want);
            const char *have = ls_feature(q, key);
            keep = want ? have && strcmp(have, want) == 0 : !have;
        }
        for (size_t t = 0; keep && t < f->nprefs; t++) {
            _cleanup_free_ char *key = NULL;
            const char *want;
            key_value(cli, "--prefs", f->prefs[t], &key, &want);
            keep = pref_matches(q, key, want);
        }
        if (keep && !power_matches(f, q->vm->state))
            keep = false;
        if (keep)
            sel[k++] = sel[i];
    }
    return k;
}

/* The feature names the filters read. */
static void filter_feature_names(const struct cli *cli, const struct ls_filters *f, char ***names,
                                 size_t *n)
{
    if (f->internal >= 0)
        cli_strv_push(names, n, xstrdup("internal"));
    if (f->servicevm >= 0)
        cli_strv_push(names, n, xstrdup("servicevm"));
    if (f->pending_update)
        cli_strv_push(names, n, xstrdup("updates-available"));
    for (size_t t = 0; t < f->nfeatures; t++) {
        char *key;
        const char *value;
        key_value(cli, "--features", f->features[t], &key, &value);
        cli_strv_push(names, n, key);
    }
}

/* ---- network tree (upstream Table.sort_to_tree) ---- */

struct tree_row {
    size_t qube;
    int level;
};

static bool in_selection(const size_t *sel, size_t nsel, size_t qube)
{
    for (size_t i = 0; i < nsel; i++)
        if (sel[i] == qube)
            return true;
    return false;
}

/* The qubes whose netvm is parent (all qubes, by name), the listed ones at level, and
 * below each that provides network its own. */
static void tree_children(const struct ls_qubes *qubes, const size_t *sel, size_t nsel,
                          size_t parent, int level, struct tree_row *rows, size_t *nrows)
{
    for (size_t c = 0; c < qubes->n; c++) {
        const char *netvm = vm_prop(&qubes->v[c], "netvm");
        if (!netvm || strcmp(netvm, qubes->v[parent].vm->name) != 0 || !in_selection(sel, nsel, c))
            continue;
        rows[(*nrows)++] = (struct tree_row){ c, level };
        if (prop_true(&qubes->v[c], "provides_network"))
            tree_children(qubes, sel, nsel, c, level + 1, rows, nrows);
    }
}

static size_t tree_order(const struct ls_qubes *qubes, const size_t *sel, size_t nsel,
                         struct tree_row *rows)
{
    size_t n = 0;
    /* first the qubes without network that give none, then each network root with its tree */
    for (size_t i = 0; i < nsel; i++) {
        const struct ls_qube *q = &qubes->v[sel[i]];
        const struct qprop *netvm = ls_prop(q, "netvm");
        if (!netvm || (!netvm->value[0] && !prop_true(q, "provides_network")))
            rows[n++] = (struct tree_row){ sel[i], 0 };
    }
    for (size_t i = 0; i < nsel; i++) {
        const struct ls_qube *q = &qubes->v[sel[i]];
        const struct qprop *netvm = ls_prop(q, "netvm");
        if (netvm && !netvm->value[0] && prop_true(q, "provides_network")) {
            rows[n++] = (struct tree_row){ sel[i], 0 };
            tree_children(qubes, sel, nsel, sel[i], 1, rows, &n);
        }
    }
    return n;
}

/* "└─name" indented by level */
static char *tree_name(const char *name, int level)
{
    struct buf b = BUF_INIT;
    for (int i = 1; i < level; i++)
        buf_append_str(&b, "  ");
    buf_append_str(&b, "\u2514\u2500");
    buf_append_str(&b, name);
    return buf_steal(&b);
}

/* ---- sorting (upstream Table.write_table) ---- */

struct sort_key {
    const char *text;
    long number;
    size_t order; /* the by-name position: ties keep it, also when reversed */
};

struct sort_how {
    bool numeric;
    bool reverse;
    bool ignore_case; /* compare upper-cased, as Python's str.upper() */
};

static int upper_cmp(const char *a, const char *b)
{
    for (;; a++, b++) {
        int ca = toupper((unsigned char)*a), cb = toupper((unsigned char)*b);
        if (ca != cb || !ca)
            return ca - cb;
    }
}

static int key_cmp(const void *a, const void *b, void *ctx)
{
    const struct sort_key *ka = a, *kb = b;
    const struct sort_how *how = ctx;
    int r;
    if (how->numeric)
        r = (ka->number > kb->number) - (ka->number < kb->number);
    else
        r = how->ignore_case ? upper_cmp(ka->text, kb->text) : strcmp(ka->text, kb->text);
    if (how->reverse)
        r = -r;
    return r ? r : (ka->order > kb->order) - (ka->order < kb->order);
}

/* int() of the cell without a trailing '%', 0 when it is no number */
static long numeric_value(const char *s)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || (*end && !(end[0] == '%' && !end[1])))
        return 0;
    return v;
}

/* ---- output ---- */

static void print_json(char **cells, size_t nrows, const struct column *cols, size_t ncols)
{
    _cleanup_buf_ struct buf out = BUF_INIT;
    buf_append_char(&out, '[');
    for (size_t i = 0; i < nrows; i++) {
        buf_append_str(&out, i ? ",\n {" : "{");
        for (size_t j = 0; j < ncols; j++) {
            _cleanup_free_ char *key = xstrdup(cols[j].head);
            for (char *p = key; *p; p++)
                *p = (char)tolower((unsigned char)*p);
            if (j)
                buf_append_str(&out, ", ");
            cli_json_string(&out, key);
            buf_append_str(&out, ": ");
            cli_json_string(&out, cells[i * ncols + j]);
        }
        buf_append_char(&out, '}');
    }
    buf_append_str(&out, "]\n");
    fwrite(out.data, 1, out.len, stdout);
}

static void print_raw(char **cells, size_t nrows, size_t ncols)
{
    _cleanup_buf_ struct buf out = BUF_INIT;
    for (size_t i = 0; i < nrows; i++) {
        for (size_t j = 0; j < ncols; j++) {
            if (j)
                buf_append_char(&out, '|');
            buf_append_str(&out, cells[i * ncols + j]);
        }
        buf_append_char(&out, '\n');
    }
    if (out.len)
        fwrite(out.data, 1, out.len, stdout);
}

static void print_table(char **cells, size_t nrows, const struct column *cols, size_t ncols)
{
    _cleanup_table_ struct table t;
    table_init(&t, ncols);
    for (size_t j = 0; j < ncols; j++)
        table_add(&t, cols[j].head);
    for (size_t i = 0; i < nrows * ncols; i++)
        table_add(&t, cells[i]);
    table_print(&t, stdout);
}

/* Sorts the rows of cells (nrows x ncols) in place by column sortidx. */
static void sort_rows(char **cells, size_t nrows, size_t ncols, size_t sortidx, struct sort_how how)
{
    _cleanup_free_ struct sort_key *keys = xcalloc(nrows + 1, sizeof(*keys));
    for (size_t i = 0; i < nrows; i++) {
        keys[i].text = cells[i * ncols + sortidx];
        keys[i].number = numeric_value(keys[i].text);
        keys[i].order = i;
    }
    qsort_r(keys, nrows, sizeof(*keys), key_cmp, &how);
    _cleanup_free_ char **sorted = xcalloc(nrows * ncols + 1, sizeof(char *));
    for (size_t i = 0; i < nrows; i++)
        memcpy(&sorted[i * ncols], &cells[keys[i].order * ncols], ncols * sizeof(char *));
    memcpy(cells, sorted, nrows * ncols * sizeof(char *));
}

enum {
    OPT_HELP_COLUMNS = 0x100,
    OPT_HELP_FORMATS,
    OPT_RAW_DATA,
    OPT_RAW_LIST,
    OPT_JSON,
    OPT_RUNNING,
    OPT_HALTED,
    OPT_PAUSED,
    OPT_TAGS,
    OPT_EXCLUDE_TAGS,
    OPT_CLASS,
    OPT_LABEL,
    OPT_TEMPLATE_SOURCE,
    OPT_NETVM_IS,
    OPT_INTERNAL,
    OPT_SERVICEVM,
    OPT_PENDING_UPDATE,
    OPT_FEATURES,
    OPT_PREFS,
    OPT_SORT,
    OPT_REVERSE,
    OPT_IGNORE_CASE,
    OPT_SPINNER
};

int qvm_ls_main(int argc, char **argv)
{
    struct cli cli = { .prog = "qvm-ls", .usage = usage, .help = help, .verbose = 1 };
    static const struct option longopts[] = {
        { "help-columns", no_argument, NULL, OPT_HELP_COLUMNS },
        { "help-formats", no_argument, NULL, OPT_HELP_FORMATS },
        { "format", required_argument, NULL, 'o' },
        { "fields", required_argument, NULL, 'O' },
        { "tree", no_argument, NULL, 't' },
        { "disk", no_argument, NULL, 'd' },
        { "network", no_argument, NULL, 'n' },
        { "kernel", no_argument, NULL, 'k' },
        { "raw-data", no_argument, NULL, OPT_RAW_DATA },
        { "raw-list", no_argument, NULL, OPT_RAW_LIST },
        { "json", no_argument, NULL, OPT_JSON },
        { "running", no_argument, NULL, OPT_RUNNING },
        { "halted", no_argument, NULL, OPT_HALTED },
        { "paused", no_argument, NULL, OPT_PAUSED },
        { "tags", required_argument, NULL, OPT_TAGS },
        { "exclude-tags", required_argument, NULL, OPT_EXCLUDE_TAGS },
        { "class", required_argument, NULL, OPT_CLASS },
        { "label", required_argument, NULL, OPT_LABEL },
        { "template-source", required_argument, NULL, OPT_TEMPLATE_SOURCE },
        { "netvm-is", required_argument, NULL, OPT_NETVM_IS },
        { "internal", required_argument, NULL, OPT_INTERNAL },
        { "servicevm", required_argument, NULL, OPT_SERVICEVM },
        { "pending-update", no_argument, NULL, OPT_PENDING_UPDATE },
        { "features", required_argument, NULL, OPT_FEATURES },
        { "prefs", required_argument, NULL, OPT_PREFS },
        { "sort", required_argument, NULL, OPT_SORT },
        { "reverse", no_argument, NULL, OPT_REVERSE },
        { "ignore-case", no_argument, NULL, OPT_IGNORE_CASE },
        { "spinner", no_argument, NULL, OPT_SPINNER },
        { "no-spinner", no_argument, NULL, OPT_SPINNER },
        CLI_TARGETS_LONGOPTS,
        CLI_COMMON_LONGOPTS,
    };
    const char *format = NULL, *fields = NULL, *sort_col = "NAME";
    bool raw_data = false, raw_list = false, json = false, reverse = false, tree = false;
    bool ignore_case = false, all = false;
    _cleanup_filters_ struct ls_filters f = { .internal = -1, .servicevm = -1 };
    _cleanup_free_ char **excludes = NULL; /* items belong to argv */
    size_t nexcludes = 0;
    int c;
    while ((c = cli_getopt(&cli, argc, argv, "o:O:tnkd" CLI_COMMON_SHORTOPTS, longopts)) != -1) {
        switch (c) {
        case OPT_HELP_COLUMNS: help_columns(); return 0;
        case OPT_HELP_FORMATS: help_formats(); return 0;
        case 'o': format = optarg; break;
        case 'n': format = "network"; break;
        case 'k': format = "kernel"; break;
        case 'd': format = "disk"; break;
        case 'O': fields = optarg; break;
        case 't': tree = true; break;
        case OPT_RAW_DATA: raw_data = true; break;
        case OPT_RAW_LIST: raw_list = true; break;
        case OPT_JSON: json = true; break;
        case OPT_RUNNING: f.running = true; break;
        case OPT_HALTED: f.halted = true; break;
        case OPT_PAUSED: f.paused = true; break;
        case OPT_TAGS: cli_take_values(argc, argv, &f.tags, &f.ntags); break;
        case OPT_EXCLUDE_TAGS:
            cli_take_values(argc, argv, &f.exclude_tags, &f.nexclude_tags);
            break;
        case OPT_CLASS: cli_take_values(argc, argv, &f.classes, &f.nclasses); break;
        case OPT_LABEL: cli_take_values(argc, argv, &f.labels, &f.nlabels); break;
        case OPT_TEMPLATE_SOURCE:
            cli_take_values(argc, argv, &f.template_source, &f.ntemplate_source);
            break;
        case OPT_NETVM_IS: cli_take_values(argc, argv, &f.netvm_is, &f.nnetvm_is); break;
        case OPT_INTERNAL: f.internal = yes_no(&cli, "--internal", optarg); break;
        case OPT_SERVICEVM: f.servicevm = yes_no(&cli, "--servicevm", optarg); break;
        case OPT_PENDING_UPDATE: f.pending_update = true; break;
        case OPT_FEATURES: cli_take_values(argc, argv, &f.features, &f.nfeatures); break;
        case OPT_PREFS: cli_take_values(argc, argv, &f.prefs, &f.nprefs); break;
        case OPT_SORT: sort_col = optarg; break;
        case OPT_REVERSE: reverse = true; break;
        case OPT_IGNORE_CASE: ignore_case = true; break;
        case CLI_OPT_ALL: all = true; break;
        case CLI_OPT_EXCLUDE: cli_strv_push(&excludes, &nexcludes, optarg); break;
        case OPT_SPINNER: break;
        default: cli_usage_error(&cli, "unrecognized arguments: %s", argv[optind - 1]);
        }
    }
    if (format && fields)
        cli_usage_error(&cli, "argument --fields/-O: not allowed with argument --format/-o");
    if (all && optind < argc)
        cli_usage_error(&cli, "argument VMNAME: not allowed with argument --all");
    if (nexcludes && !all)
        cli_usage_error(&cli, "--exclude can only be used with --all");
    const char *colspec = NULL;
    if (raw_list) {
        raw_data = true;
        colspec = "name";
    } else if (fields) {
        colspec = fields;
    } else {
        const char *name = format ? format : "simple";
        for (size_t i = 0; i < ARRAY_SIZE(formats); i++)
            if (strcmp(formats[i].name, name) == 0)
                colspec = formats[i].columns;
        if (!colspec) {
            _cleanup_free_ char *r = py_repr_dup(name);
            cli_usage_error(&cli,
                            "argument --format/-o: invalid choice: %s (choose from 'simple', "
                            "'network', 'kernel', 'full', 'prefs', 'disk')",
                            r);
        }
    }

    _cleanup_columns_ struct columns columns = { 0 };
    {
        _cleanup_free_ char *copy = xstrdup(colspec);
        for (char *save = NULL, *t = strtok_r(copy, ",", &save); t;
             t = strtok_r(NULL, ",", &save)) {
            while (isspace((unsigned char)*t))
                t++;
            size_t l = strlen(t);
            while (l && isspace((unsigned char)t[l - 1]))
                t[--l] = '\0';
            if (l)
                column_add(&columns, t);
        }
    }
    const struct column *cols = columns.v;
    size_t ncols = columns.n;
    bool need_props = f.nlabels || f.ntemplate_source || f.nnetvm_is || f.nprefs;
    bool need_all_props = tree && !raw_data && !json;
    bool need_volumes = false, need_memory = false;
    for (size_t j = 0; j < ncols; j++) {
        enum col_kind k = kind_of(&cols[j]);
        need_props |= k == COL_PROP || k == COL_FLAGS;
        need_all_props |= k == COL_GATEWAY;
        need_volumes |= k == COL_DISK || k >= COL_VOL_CURR;
        need_memory |= k == COL_MEMORY;
    }

    _cleanup_vm_entries_ struct vm_entries listed = { 0 };
    cli_list_qubes(&cli, &listed.v, &listed.n);
    _cleanup_ls_qubes_ struct ls_qubes qubes = { 0 };
    ls_qubes_init(&qubes, listed.v, listed.n);

    /* the qubes named, or all but the excluded ones */
    size_t nsel = 0;
    _cleanup_free_ size_t *sel = NULL;
    if (optind < argc) {
        sel = cli_select_vms(&cli, listed.v, listed.n, argv + optind, (size_t)(argc - optind),
                             &nsel, NULL, NULL);
    } else {
        sel = xcalloc(listed.n ? listed.n : 1, sizeof(size_t));
        for (size_t i = 0; i < listed.n; i++)
            if (!cli_strv_contains(excludes, nexcludes, listed.v[i].name))
                sel[nsel++] = i;
    }
    _cleanup_free_ size_t *every = xcalloc(listed.n ? listed.n : 1, sizeof(size_t));
    for (size_t i = 0; i < listed.n; i++)
        every[i] = i;

    _cleanup_strv_ char **feature_names = NULL;
    size_t nfeature_names = 0;
    filter_feature_names(&cli, &f, &feature_names, &nfeature_names);
    int rc = 0;
    if (need_all_props || need_props)
        rc = ls_fetch_props(&cli, &qubes, need_all_props ? every : sel,
                            need_all_props ? listed.n : nsel);
    if (!rc && (f.ntags || f.nexclude_tags))
        rc = ls_fetch_tags(&cli, &qubes, sel, nsel);
    if (!rc && nfeature_names)
        rc = ls_fetch_features(&cli, &qubes, sel, nsel, feature_names, nfeature_names);
    if (rc)
        return rc;
    nsel = apply_filters(&cli, &f, &qubes, sel, nsel);
    if (need_volumes)
        rc = ls_fetch_volumes(&cli, &qubes, sel, nsel);
    if (!rc && need_memory)
        rc = ls_fetch_memory(&cli, &qubes, sel, nsel);
    if (rc)
        return rc;

    /* rows: by name, or as the network tree */
    _cleanup_free_ struct tree_row *rows = xcalloc(nsel + 1, sizeof(*rows));
    size_t nrows = nsel;
    bool as_tree = tree && !raw_data && !json;
    if (as_tree) {
        nrows = tree_order(&qubes, sel, nsel, rows);
    } else {
        for (size_t i = 0; i < nsel; i++)
            rows[i] = (struct tree_row){ sel[i], 0 };
    }
    _cleanup_strv_ char **cells = xcalloc(nrows * ncols + 1, sizeof(char *));
    for (size_t i = 0; i < nrows; i++) {
        const struct ls_qube *q = &qubes.v[rows[i].qube];
        for (size_t j = 0; j < ncols; j++) {
            bool indent = rows[i].level > 0 && kind_of(&cols[j]) == COL_NAME;
            cells[i * ncols + j] = indent ? tree_name(q->vm->name, rows[i].level)
                                          : cell(&cols[j], q, &qubes, listed.v);
        }
    }

    if (raw_data) {
        print_raw(cells, nrows, ncols);
    } else {
        if (!as_tree) {
            /* sorted when the column is shown (upstream compares the upper-cased name) */
            _cleanup_free_ char *key = xstrdup(sort_col);
            for (char *p = key; *p; p++)
                *p = (char)toupper((unsigned char)*p);
            for (size_t j = 0; j < ncols; j++) {
                if (strcmp(cols[j].head, key) != 0)
                    continue;
                struct sort_how how = { .reverse = reverse, .ignore_case = ignore_case };
                for (size_t i = 0; i < ARRAY_SIZE(numeric_heads); i++)
                    how.numeric |= strcmp(key, numeric_heads[i]) == 0;
                sort_rows(cells, nrows, ncols, j, how);
                break;
            }
        }
        if (json)
            print_json(cells, nrows, cols, ncols);
        else
            print_table(cells, nrows, cols, ncols);
    }
    return fflush(stdout) == 0 ? 0 : 1;
}
