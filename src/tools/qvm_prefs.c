/* qvm-prefs and qubes-prefs: list, get, set and reset properties of a qube
 * (admin.vm.property.*) or of the system (admin.property.*). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/cleanup.h"
#include "common/py_repr.h"
#include "tools/batch_call.h"
#include "tools/cli.h"
#include "tools/tools.h"

struct prefs_target {
    const char *prefix; /* "admin.vm.property." or "admin.property." */
    const char *dest;
};

static char *method(const struct prefs_target *t, const char *verb)
{
    return xasprintf("%s%s", t->prefix, verb);
}

/* Words wrapped at 80 columns, continuation lines indented (TextWrapper). */
static void print_wrapped(const char *first, size_t indent, const char *text)
{
    struct buf line = BUF_INIT;
    buf_append_str(&line, first);
    _cleanup_free_ char *copy = xstrdup(text);
    for (char *p = copy; *p; p++)
        if (*p == '\n' || *p == '\t')
            *p = ' ';
    bool fresh = true;
    for (char *save = NULL, *w = strtok_r(copy, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
        if (!fresh && line.len + 1 + strlen(w) > 80) {
            printf("%s\n", line.data);
            buf_reset(&line);
            for (size_t i = 0; i < indent; i++)
                buf_append_char(&line, ' ');
            fresh = true;
        }
        if (!fresh)
            buf_append_char(&line, ' ');
        buf_append_str(&line, w);
        fresh = false;
    }
    printf("%s\n", line.data);
    buf_free(&line);
}

static int help_properties(const struct cli *cli, const struct prefs_target *t)
{
    struct qerror err = { 0 };
    _cleanup_buf_ struct buf list = BUF_INIT;
    _cleanup_free_ char *m = method(t, "List");
    _cleanup_free_ char **names = NULL;
    size_t n;
    if (qcall_lines(m, t->dest, &list, &names, &n, &err) < 0)
        return cli_qerror(cli, &err);
    qsort(names, n, sizeof(char *), cmp_strp);
    size_t width = 0;
    for (size_t i = 0; i < n; i++)
        if (strlen(names[i]) > width)
            width = strlen(names[i]);
    struct batch_call *calls = xcalloc(n + 1, sizeof(*calls));
    _cleanup_free_ char *hm = method(t, "Help");
    for (size_t i = 0; i < n; i++) {
        calls[i].method = hm;
        calls[i].arg = names[i];
        calls[i].dest = t->dest;
    }
    batch_run(calls, n);
    for (size_t i = 0; i < n; i++) {
        _cleanup_free_ char *first = xasprintf("  %-*s  ", (int)width, names[i]);
        print_wrapped(first, width + 6, calls[i].status == 0 ? calls[i].content.data : "");
    }
    batch_free(calls, n);
    free(calls);
    return 0;
}

static int list_all(const struct cli *cli, const struct prefs_target *t, bool hide_default)
{
    struct qerror err = { 0 };
    _cleanup_buf_ struct buf content = BUF_INIT;
    _cleanup_free_ char *m = method(t, "GetAll");
    if (qcall(m, "", t->dest, "", 0, &content, &err) < 0)
        return cli_qerror(cli, &err);
    struct qprop *props = NULL;
    size_t n = 0;
    if (qprops_parse(content.data, content.len, &props, &n, &err) < 0)
        return cli_qerror(cli, &err);
    int width = 0;
    for (size_t i = 0; i < n; i++)
        if ((int)strlen(props[i].name) > width)
            width = (int)strlen(props[i].name);
    for (size_t i = 0; i < n; i++) {
        const struct qprop *p = &props[i];
        bool typed = strcmp(p->type, "int") == 0 || strcmp(p->type, "bool") == 0;
        if (typed && !p->value[0]) {
            printf("%-*s  U\n", width, p->name);
            continue;
        }
        /* the client shows a vm/label None as "None" */
        bool none = !p->value[0] && (strcmp(p->type, "vm") == 0 || strcmp(p->type, "label") == 0);
        const char *value = none ? "None" : p->value;
        if (!p->is_default)
            printf("%-*s  -  %s\n", width, p->name, value);
        else if (!hide_default)
            printf("%-*s  D  %s\n", width, p->name, value);
    }
    qprops_free(props, n);
    return 0;
}

static _Noreturn void no_such_property(const struct cli *cli, const char *prop)
{
    _cleanup_free_ char *r = py_repr_dup(prop);
    cli_usage_error(cli, "no such property: %s", r);
}

/* One call of the property's verb; an unknown property is argparse's usage
 * error, as the client reports it. */
static int prop_call(const struct cli *cli, const struct prefs_target *t, const char *verb,
                     const char *prop, const char *value, struct buf *content, struct qerror *err)
{
    _cleanup_free_ char *m = method(t, verb);
    if (qcall(m, prop, t->dest, value, strlen(value), content, err) < 0) {
        if (err->kind == ERR_QUBES_NO_SUCH_PROPERTY_ERROR)
            no_such_property(cli, prop);
        return cli_qerror(cli, err);
    }
    return 0;
}

static int prefs_run(struct cli *cli, const struct prefs_target *tmpl, int argc, char **argv,
                     bool has_vm)
{
    enum { OPT_HELP_PROPERTIES = 0x100, OPT_HIDE_DEFAULT };
    static const struct option longopts[] = {
        { "help-properties", no_argument, NULL, OPT_HELP_PROPERTIES },
        { "hide-default", no_argument, NULL, OPT_HIDE_DEFAULT },
        { "get", no_argument, NULL, 'g' },
        { "set", no_argument, NULL, 's' },
        { "default", no_argument, NULL, 'D' },
        CLI_COMMON_LONGOPTS,
    };
    bool help_props = false, hide_default = false, reset = false;
    int c;
    while ((c = cli_getopt(cli, argc, argv, "gsD" CLI_COMMON_SHORTOPTS, longopts)) != -1) {
        switch (c) {
        case OPT_HELP_PROPERTIES: help_props = true; break;
        case OPT_HIDE_DEFAULT: hide_default = true; break;
        case 'D': reset = true; break;
        case 'g':
        case 's': break; /* ignored, for compatibility with older scripts */
        default: cli_usage_error(cli, "unrecognized arguments: %s", argv[optind - 1]);
        }
    }
    struct prefs_target t = *tmpl;
    char **pos = argv + optind;
    int npos = argc - optind;
    if (has_vm) {
        if (npos < 1)
            cli_usage_error(cli, "the following arguments are required: VMNAME");
        cli_require_vm(cli, pos[0], NULL);
        t.dest = pos[0];
        pos++;
        npos--;
    }
    if (npos > 2)
        cli_usage_error(cli, "unrecognized arguments: %s", pos[2]);

    if (help_props)
        return help_properties(cli, &t);
    if (npos == 0)
        return list_all(cli, &t, hide_default);

    _cleanup_free_ char *prop = xstrdup(pos[0]);
    for (char *p = prop; *p; p++)
        if (*p == '-')
            *p = '_';
    struct qerror err = { 0 };

    if (npos == 2) {
        const char *value = pos[1];
        static const char *const vm_props[] = { "default_dispvm", "netvm", "template", "guivm",
                                                "audiovm" };
        if (strcasecmp(value, "none") == 0)
            for (size_t i = 0; i < ARRAY_SIZE(vm_props); i++)
                if (strcmp(prop, vm_props[i]) == 0)
                    value = "";
        return prop_call(cli, &t, "Set", prop, value, NULL, &err);
    }
    if (reset)
        return prop_call(cli, &t, "Reset", prop, "", NULL, &err);
    _cleanup_buf_ struct buf content = BUF_INIT;
    int rc = prop_call(cli, &t, "Get", prop, "", &content, &err);
    if (rc)
        return rc;
    struct qprop p = { 0 };
    if (qprop_parse_value(content.data ? content.data : "", &p, &err) < 0)
        return cli_qerror(cli, &err);
    if (!(hide_default && p.is_default)) {
        bool typed = strcmp(p.type, "str") != 0;
        /* None (vm/label) and unset int/bool print nothing; an empty str prints a line */
        if (!(typed && !p.value[0]))
            printf("%s\n", p.value);
    }
    free(p.value);
    return 0;
}

static const char prefs_help[] =
    "\npositional arguments:\n"
    "  PROPERTY              name of the property to show or change\n"
    "  VALUE                 new value of the property\n\n"
    "options:\n" CLI_HELP_COMMON_OPTIONS
    "  --help-properties     list all available properties with short descriptions and exit\n"
    "  --hide-default        Do not show properties that are set to the default value.\n"
    "  --get, -g             Ignored; for compatibility with older scripts.\n"
    "  --set, -s             Ignored; for compatibility with older scripts.\n"
    "  --default, -D         reset property to its default value\n";

/* A target without a dest takes the qube as its first positional argument. */
static int prefs_main(const char *prog, const char *usage, const struct prefs_target *t, int argc,
                      char **argv)
{
    struct cli cli = { .prog = prog, .usage = usage, .help = prefs_help, .verbose = 1 };
    return prefs_run(&cli, t, argc, argv, t->dest == NULL);
}

int qvm_prefs_main(int argc, char **argv)
{
    static const struct prefs_target t = { "admin.vm.property.", NULL };
    return prefs_main("qvm-prefs",
                      "usage: qvm-prefs [--verbose] [--quiet] [--help] [--help-properties]\n"
                      "                 [--hide-default] [--get] [--set] [--default]\n"
                      "                 VMNAME [PROPERTY] [VALUE]",
                      &t, argc, argv);
}

int qubes_prefs_main(int argc, char **argv)
{
    static const struct prefs_target t = { "admin.property.", "dom0" };
    return prefs_main("qubes-prefs",
                      "usage: qubes-prefs [--verbose] [--quiet] [--help] [--help-properties]\n"
                      "                   [--hide-default] [--get] [--set] [--default]\n"
                      "                   [PROPERTY] [VALUE]",
                      &t, argc, argv);
}
