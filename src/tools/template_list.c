/* qvm-template list and info (upstream qvm_template.py list_templates): the templates
 * qvm-template build made, from their template-* features. Qubicle has no template
 * repositories, so nothing is ever available or upgradable, and every installed template
 * is an extra. */
#include "tools/template_list.h"

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "tools/cli.h"
#include "tools/template_meta.h"

static const char list_usage[] =
    "usage: qvm-template list [--verbose] [--quiet] [--help] [--all] [--installed]\n"
    "                         [--available] [--extras] [--upgrades] [--all-versions]\n"
    "                         [--machine-readable | --machine-readable-json]\n"
    "                         [TEMPLATESPEC ...]";
static const char info_usage[] =
    "usage: qvm-template info [--verbose] [--quiet] [--help] [--all] [--installed]\n"
    "                         [--available] [--extras] [--upgrades] [--all-versions]\n"
    "                         [--machine-readable | --machine-readable-json]\n"
    "                         [TEMPLATESPEC ...]";
static const char list_help[] =
    "\npositional arguments:\n"
    "  TEMPLATESPEC\n\n"
    "options:\n" CLI_HELP_COMMON_OPTIONS "  --all                 Show all templates (default).\n"
    "  --installed           Show installed templates.\n"
    "  --available           Show available templates.\n"
    "  --extras              Show extras (e.g., ones that exist locally but not in repos)\n"
    "                        templates.\n"
    "  --upgrades            Show available upgrades.\n"
    "  --all-versions        Show all available versions, not only the latest.\n"
    "  --machine-readable    Enable machine-readable output.\n"
    "  --machine-readable-json\n"
    "                        Enable machine-readable output (JSON).\n";

enum state { STATE_INSTALLED, STATE_EXTRA };
static const char *const state_value[] = { "installed", "extra" };
static const char *const state_title[] = { "Installed Templates", "Extra Templates" };

struct row {
    enum state state;
    struct template_meta meta;
    char size[32];       /* the disk usage in bytes (machine-readable) */
    char human_size[32]; /* the same, upstream's size_to_human */
};

struct rows {
    struct row *v;
    size_t n;
};

static void rows_free(struct rows *r)
{
    for (size_t i = 0; i < r->n; i++)
        template_meta_clear(&r->v[i].meta);
    free(r->v);
}
#define _cleanup_rows_ __attribute__((cleanup(rows_free)))

/* upstream is_match_spec: NAME, NAME-VERSION, NAME-VERSION-RELEASE (epoch 0), with or
 * without EPOCH: before VERSION, as fnmatch patterns */
static bool matches_spec(const struct template_meta *m, char *const *specs, size_t n)
{
    if (!n)
        return true;
    _cleanup_free_ char *nevr = xasprintf("%s-%s:%s-%s", m->name, m->epoch, m->version, m->release);
    _cleanup_free_ char *nev = xasprintf("%s-%s:%s", m->name, m->epoch, m->version);
    _cleanup_free_ char *nvr = xasprintf("%s-%s-%s", m->name, m->version, m->release);
    _cleanup_free_ char *nv = xasprintf("%s-%s", m->name, m->version);
    bool zero_epoch = strcmp(m->epoch, "0") == 0;
    const char *targets[] = { nevr, m->name, nev, zero_epoch ? nvr : NULL, zero_epoch ? nv : NULL };
    for (size_t i = 0; i < n; i++)
        for (size_t t = 0; t < ARRAY_SIZE(targets); t++)
            if (targets[t] && fnmatch(specs[i], targets[t], 0) == 0)
                return true;
    return false;
}

/* qubesadmin.utils.size_to_human */
static void size_to_human(unsigned long long size, char *out, size_t len)
{
    if (size < 1024)
        snprintf(out, len, "%llu", size);
    else if (size < 1024ULL * 1024)
        snprintf(out, len, "%.1f KiB", size / 1024.0);
    else if (size < 1024ULL * 1024 * 1024)
        snprintf(out, len, "%.1f MiB", size / (1024.0 * 1024));
    else
        snprintf(out, len, "%.1f GiB", size / (1024.0 * 1024 * 1024));
}

static unsigned long long disk_usage(const char *vm)
{
    struct qerror err = { 0 };
    _cleanup_buf_ struct buf list = BUF_INIT;
    _cleanup_free_ char **volumes = NULL;
    size_t n;
    unsigned long long total = 0;
    if (qcall_lines("admin.vm.volume.List", vm, &list, &volumes, &n, &err) < 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        _cleanup_buf_ struct buf info = BUF_INIT;
        if (qcall("admin.vm.volume.Info", volumes[i], vm, "", 0, &info, &err) < 0)
            continue;
        const char *usage = strstr(info.data ? info.data : "", "\nusage=");
        total += usage ? strtoull(usage + 7, NULL, 10) : 0;
    }
    return total;
}

static void add_managed(struct rows *rows, const struct vm_entry *vms, size_t nvms,
                        enum state state, char *const *specs, size_t nspecs, bool info)
{
    for (size_t i = 0; i < nvms; i++) {
        struct template_meta m = { 0 };
        if (!template_meta_read(vms[i].name, &m))
            continue;
        if (!matches_spec(&m, specs, nspecs)) {
            template_meta_clear(&m);
            continue;
        }
        rows->v = xrealloc(rows->v, (rows->n + 1) * sizeof(*rows->v));
        struct row *r = &rows->v[rows->n++];
        *r = (struct row){ .state = state, .meta = m };
        if (info) {
            unsigned long long usage = disk_usage(vms[i].name);
            snprintf(r->size, sizeof(r->size), "%llu", usage);
            size_to_human(usage, r->human_size, sizeof(r->human_size));
        }
    }
}

/* The fields of one row, as upstream's list_to_machine_output / info_to_machine_output. */
static size_t row_fields(const struct row *r, bool info, const char **keys, const char **values)
{
    const struct template_meta *m = &r->meta;
    if (!info) {
        const char *k[] = { "name", "evr", "reponame" };
        const char *v[] = { m->name, NULL, m->reponame };
        memcpy(keys, k, sizeof(k));
        memcpy(values, v, sizeof(v));
        return 3;
    }
    const char *k[] = {
        "name",      "epoch",       "version", "release", "reponame", "size",
        "buildtime", "installtime", "license", "url",     "summary",  "description"
    };
    const char *v[] = { m->name,     m->epoch, m->version,   m->release,
                        m->reponame, r->size,  m->buildtime, m->installtime,
                        m->license,  m->url,   m->summary,   m->description };
    memcpy(keys, k, sizeof(k));
    memcpy(values, v, sizeof(v));
    return 12;
}

static char *evr_of(const struct template_meta *m)
{
    return xasprintf("%s:%s-%s", m->epoch, m->version, m->release);
}

static void print_machine(const struct rows *rows, bool info, bool json)
{
    _cleanup_buf_ struct buf out = BUF_INIT;
    if (json)
        buf_append_char(&out, '{');
    for (size_t i = 0; i < rows->n; i++) {
        const struct row *r = &rows->v[i];
        bool first_of_state = i == 0 || rows->v[i - 1].state != r->state;
        bool last_of_state = i + 1 == rows->n || rows->v[i + 1].state != r->state;
        const char *keys[12], *values[12];
        size_t n = row_fields(r, info, keys, values);
        _cleanup_free_ char *evr = evr_of(&r->meta);
        _cleanup_free_ char *description = xstrdup(r->meta.description);
        for (size_t k = 0; k < n; k++) {
            if (!values[k])
                values[k] = evr;
            if (!json && strcmp(keys[k], "description") == 0) {
                for (char *p = description; *p; p++)
                    if (*p == '\n')
                        *p = '|';
                values[k] = description;
            }
        }
        if (!json) {
            buf_append_str(&out, state_value[r->state]);
            for (size_t k = 0; k < n; k++)
                buf_printf(&out, "|%s", values[k]);
            buf_append_char(&out, '\n');
            continue;
        }
        if (first_of_state)
            buf_printf(&out, "%s\"%s\": [", i ? ", " : "", state_value[r->state]);
        buf_append_str(&out, first_of_state ? "{" : ", {");
        for (size_t k = 0; k < n; k++) {
            buf_printf(&out, "%s\"%s\": ", k ? ", " : "", keys[k]);
            cli_json_string(&out, values[k]);
        }
        buf_append_str(&out, last_of_state ? "}]" : "}");
    }
    if (json)
        buf_append_str(&out, "}\n");
    fwrite(out.data ? out.data : "", 1, out.len, stdout);
}

/* upstream's print_table of (status title, rows) groups */
static void print_human(const struct rows *rows, bool info)
{
    for (size_t i = 0; i < rows->n;) {
        size_t end = i;
        while (end < rows->n && rows->v[end].state == rows->v[i].state)
            end++;
        printf("%s\n", state_title[rows->v[i].state]);
        _cleanup_table_ struct table t;
        table_init(&t, 3);
        if (!info) {
            for (size_t k = i; k < end; k++) {
                _cleanup_free_ char *evr = evr_of(&rows->v[k].meta);
                table_add(&t, rows->v[k].meta.name);
                table_add(&t, evr);
                table_add(&t, rows->v[k].meta.reponame);
            }
            table_print(&t, stdout);
        } else {
            /* "Key : value" lines, a description line each, a blank row after each */
            size_t width = strlen("Install time");
            for (size_t k = i; k < end; k++) {
                const struct template_meta *m = &rows->v[k].meta;
                const char *fields[][2] = {
                    { "Name", m->name },
                    { "Epoch", m->epoch },
                    { "Version", m->version },
                    { "Release", m->release },
                    { "Size", rows->v[k].human_size },
                    { "Repository", m->reponame },
                    { "Buildtime", m->buildtime },
                    { "Install time", m->installtime },
                    { "URL", m->url },
                    { "License", m->license },
                    { "Summary", m->summary },
                };
                for (size_t f = 0; f < ARRAY_SIZE(fields); f++)
                    printf("%-*s  :  %s\n", (int)width, fields[f][0], fields[f][1]);
                _cleanup_free_ char *description = xstrdup(m->description);
                const char *title = "Description";
                for (char *save = NULL, *line = strtok_r(description, "\n", &save); line;
                     line = strtok_r(NULL, "\n", &save), title = "")
                    printf("%-*s  :  %s\n", (int)width, title, line);
                printf("%-*s  %s  %s\n", (int)width, " ", " ", " ");
            }
        }
        i = end;
    }
}

int template_list_main(int argc, char **argv, const struct cli *top, bool info)
{
    struct cli cli = { .prog = info ? "qvm-template info" : "qvm-template list",
                       .usage = info ? info_usage : list_usage,
                       .help = list_help };
    cli.verbose = top->verbose;
    cli.quiet = top->quiet;
    enum { ALL = 0x100, INSTALLED, AVAILABLE, EXTRAS, UPGRADES, ALL_VERSIONS, MACHINE, JSON };
    static const struct option longopts[] = {
        { "all", no_argument, NULL, ALL },
        { "installed", no_argument, NULL, INSTALLED },
        { "available", no_argument, NULL, AVAILABLE },
        { "extras", no_argument, NULL, EXTRAS },
        { "upgrades", no_argument, NULL, UPGRADES },
        { "all-versions", no_argument, NULL, ALL_VERSIONS },
        { "machine-readable", no_argument, NULL, MACHINE },
        { "machine-readable-json", no_argument, NULL, JSON },
        CLI_COMMON_LONGOPTS,
    };
    bool all = false, installed = false, available = false, extras = false, upgrades = false;
    bool machine = false, json = false;
    int c;
    while ((c = cli_getopt(&cli, argc, argv, CLI_COMMON_SHORTOPTS, longopts)) != -1) {
        switch (c) {
        case ALL: all = true; break;
        case INSTALLED: installed = true; break;
        case AVAILABLE: available = true; break;
        case EXTRAS: extras = true; break;
        case UPGRADES: upgrades = true; break;
        case ALL_VERSIONS: break; /* no repositories: there is one version of each */
        case MACHINE:
            if (json)
                cli_usage_error(&cli, "argument --machine-readable: not allowed with argument "
                                      "--machine-readable-json");
            machine = true;
            break;
        case JSON:
            if (machine)
                cli_usage_error(&cli, "argument --machine-readable-json: not allowed with "
                                      "argument --machine-readable");
            json = true;
            break;
        default: cli_usage_error(&cli, "unrecognized arguments: %s", argv[optind - 1]);
        }
    }
    if (!installed && !available && !extras && !upgrades)
        all = true;
    char **specs = argv + optind;
    size_t nspecs = (size_t)(argc - optind);
    _cleanup_vm_entries_ struct vm_entries qubes = { 0 };
    cli_list_qubes(&cli, &qubes.v, &qubes.n);
    _cleanup_rows_ struct rows rows = { 0 };
    if (installed || all)
        add_managed(&rows, qubes.v, qubes.n, STATE_INSTALLED, specs, nspecs, info);
    if (extras)
        add_managed(&rows, qubes.v, qubes.n, STATE_EXTRA, specs, nspecs, info);
    if (!rows.n)
        cli_usage_error(top, "No matching templates to list");
    if (machine || json)
        print_machine(&rows, info, json);
    else
        print_human(&rows, info);
    return fflush(stdout) == 0 ? 0 : 1;
}
