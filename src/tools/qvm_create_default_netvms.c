/* qvm-create-default-netvms: sys-net and sys-firewall as Qubes' installer makes them (the salt
 * states qvm.sys-net and qvm.sys-firewall, then initial-setup's qubes-prefs), all or nothing. */
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/py_repr.h"
#include "tools/cli.h"
#include "tools/tools.h"
#include "tools/undo.h"

static const char usage[] =
    "usage: qvm-create-default-netvms [--verbose] [--quiet] [--help] [--template TEMPLATE]\n"
    "                                 [--uplink IFNAME [--uplink-address ADDR/PREFIX]\n"
    "                                 [--uplink-gateway IP] [--uplink-dns IP] | --no-uplink]";

static const char help[] =
    "\nCreate sys-net and sys-firewall and make them the system's network, as Qubes'\n"
    "installer does.\n\n"
    "options:\n" CLI_HELP_COMMON_OPTIONS
    "  --template TEMPLATE   template of both qubes (default: default_template)\n"
    "  --uplink IFNAME       move the host interface IFNAME into sys-net as its uplink\n"
    "  --uplink-address ADDR/PREFIX\n"
    "                        sys-net's address on the uplink\n"
    "  --uplink-gateway IP   the uplink's gateway\n"
    "  --uplink-dns IP       the uplink's DNS server(s)\n"
    "  --no-uplink           sys-net gets no uplink (default: NAT to dom0)\n";

#define SYS_NET "sys-net"
#define SYS_FIREWALL "sys-firewall"

/* The plan: what the installer does, one change a step, made in this order. */
enum step_kind { STEP_CREATE, STEP_PROPERTY, STEP_FEATURE, STEP_GLOBAL };
struct step {
    enum step_kind kind;
    const char *qube;  /* NULL for STEP_GLOBAL */
    const char *name;  /* the label of STEP_CREATE; else the property or feature */
    const char *value; /* the template of STEP_CREATE */
};
#define PLAN_MAX 24
struct plan {
    struct step steps[PLAN_MAX];
    size_t n;
};

static void plan_add(struct plan *p, enum step_kind kind, const char *qube, const char *name,
                     const char *value)
{
    if (p->n == PLAN_MAX)
        abort(); /* the plan is fixed: a longer one is a bug here */
    p->steps[p->n++] = (struct step){ kind, qube, name, value };
}

struct uplink {
    const char *ifname; /* --uplink, or "none" for --no-uplink; NULL: the default */
    const char *address, *gateway, *dns;
};

/* qvm.sys-net (qubes-mgmt-salt-dom0-virtual-machines), initial-setup's clockvm; then
 * qvm.sys-firewall and initial-setup's default_netvm and updatevm. */
static void plan_build(struct plan *p, const char *template_name, const struct uplink *up)
{
    plan_add(p, STEP_CREATE, SYS_NET, "red", template_name);
    plan_add(p, STEP_PROPERTY, SYS_NET, "netvm", "");
    plan_add(p, STEP_PROPERTY, SYS_NET, "provides_network", "True");
    plan_add(p, STEP_PROPERTY, SYS_NET, "memory", "425");
    plan_add(p, STEP_PROPERTY, SYS_NET, "autostart", "True");
    plan_add(p, STEP_FEATURE, SYS_NET, "service.clocksync", "1");
    plan_add(p, STEP_FEATURE, SYS_NET, "service.meminfo-writer", "");
    const char *features[][2] = { { "net.uplink", up->ifname },
                                  { "net.uplink-address", up->address },
                                  { "net.uplink-gateway", up->gateway },
                                  { "net.uplink-dns", up->dns } };
    for (size_t i = 0; i < ARRAY_SIZE(features); i++)
        if (features[i][1])
            plan_add(p, STEP_FEATURE, SYS_NET, features[i][0], features[i][1]);
    plan_add(p, STEP_GLOBAL, NULL, "clockvm", SYS_NET);

    plan_add(p, STEP_CREATE, SYS_FIREWALL, "green", template_name);
    plan_add(p, STEP_PROPERTY, SYS_FIREWALL, "netvm", SYS_NET);
    plan_add(p, STEP_PROPERTY, SYS_FIREWALL, "provides_network", "True");
    plan_add(p, STEP_PROPERTY, SYS_FIREWALL, "memory", "500");
    plan_add(p, STEP_PROPERTY, SYS_FIREWALL, "autostart", "True");
    plan_add(p, STEP_GLOBAL, NULL, "default_netvm", SYS_FIREWALL);
    plan_add(p, STEP_GLOBAL, NULL, "updatevm", SYS_FIREWALL);
}

/* s as one shell word, so that a logged step can be typed again. */
static void shell_word(struct buf *b, const char *s)
{
    if (*s && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                        "._-/:=+,@") == strlen(s)) {
        buf_append_str(b, s);
        return;
    }
    buf_append_char(b, '\'');
    for (; *s; s++)
        buf_append_str(b, *s == '\'' ? "'\\''" : (char[]){ *s, '\0' });
    buf_append_char(b, '\'');
}

/* The step as the command that does the same, for --verbose. */
static char *step_command(const struct step *s)
{
    struct buf b = BUF_INIT;
    switch (s->kind) {
    case STEP_CREATE:
        buf_printf(&b, "qvm-create --template %s --label %s %s", s->value, s->name, s->qube);
        return buf_steal(&b);
    case STEP_PROPERTY: buf_printf(&b, "qvm-prefs %s %s ", s->qube, s->name); break;
    case STEP_FEATURE: buf_printf(&b, "qvm-features %s %s ", s->qube, s->name); break;
    case STEP_GLOBAL: buf_printf(&b, "qubes-prefs %s ", s->name); break;
    default: break;
    }
    shell_word(&b, s->value);
    return buf_steal(&b);
}

/* The step in an error message. */
static char *step_failed(const struct step *s)
{
    switch (s->kind) {
    case STEP_CREATE: return xasprintf("Cannot create %s", s->qube);
    case STEP_PROPERTY: return xasprintf("Cannot set property %s of %s", s->name, s->qube);
    case STEP_FEATURE: return xasprintf("Cannot set feature %s of %s", s->name, s->qube);
    case STEP_GLOBAL: return xasprintf("Cannot set qubes-prefs %s", s->name);
    default: return xstrdup("Cannot go on");
    }
}

/* One step, recorded in undo as it is made. */
static int step_run(const struct step *s, struct undo *undo, struct qerror *err)
{
    size_t len = strlen(s->value);
    switch (s->kind) {
    case STEP_CREATE: {
        const struct cli_pools pools = { 0 };
        if (qube_create("AppVM", s->qube, s->name, s->value, &pools, err) < 0)
            return -1;
        undo_created_qube(undo, s->qube);
        return 0;
    }
    case STEP_PROPERTY:
        return qcall("admin.vm.property.Set", s->name, s->qube, s->value, len, NULL, err);
    case STEP_FEATURE:
        return qcall("admin.vm.feature.Set", s->name, s->qube, s->value, len, NULL, err);
    case STEP_GLOBAL:
        if (undo_global_property(undo, s->name, err) < 0)
            return -1;
        return qcall("admin.property.Set", s->name, "dom0", s->value, len, NULL, err);
    default: return qerror_set(err, ERR_QUBES_EXCEPTION, "unknown step");
    }
}

/* default_template, for no --template; refused clearly when there is none. */
static char *default_template(const struct cli *cli)
{
    struct qerror err = { 0 };
    struct qprop p = { 0 };
    if (global_prop_get("default_template", &p, &err) < 0)
        exit(cli_qerror(cli, &err));
    if (!p.value[0]) {
        free(p.value);
        exit(cli_error(cli, "no default_template is set: give --template TEMPLATE"));
    }
    return p.value;
}

/* Nothing is changed unless both names are free and the template is one. */
static int check_free(const struct cli *cli, const char *template_name)
{
    _cleanup_vm_entries_ struct vm_entries l = { 0 };
    cli_list_qubes(cli, &l.v, &l.n);
    static const char *const names[] = { SYS_NET, SYS_FIREWALL };
    for (size_t i = 0; i < ARRAY_SIZE(names); i++)
        if (vm_list_find(l.v, l.n, names[i]))
            return cli_error(cli, "%s already exists: nothing changed", names[i]);
    const struct vm_entry *t = vm_list_find(l.v, l.n, template_name);
    _cleanup_free_ char *r = py_repr_dup(template_name);
    if (!t)
        return cli_error(cli, "no such template: %s: nothing changed", r);
    if (strcmp(t->klass, "TemplateVM") != 0)
        return cli_error(cli, "%s is not a TemplateVM (class %s): nothing changed", r, t->klass);
    return 0;
}

int qvm_create_default_netvms_main(int argc, char **argv)
{
    struct cli cli = {
        .prog = "qvm-create-default-netvms", .usage = usage, .help = help, .verbose = 1
    };
    enum { OPT_TEMPLATE = 0x100, OPT_UPLINK, OPT_ADDRESS, OPT_GATEWAY, OPT_DNS, OPT_NO_UPLINK };
    static const struct option longopts[] = {
        { "template", required_argument, NULL, OPT_TEMPLATE },
        { "uplink", required_argument, NULL, OPT_UPLINK },
        { "uplink-address", required_argument, NULL, OPT_ADDRESS },
        { "uplink-gateway", required_argument, NULL, OPT_GATEWAY },
        { "uplink-dns", required_argument, NULL, OPT_DNS },
        { "no-uplink", no_argument, NULL, OPT_NO_UPLINK },
        CLI_COMMON_LONGOPTS,
    };
    const char *template_opt = NULL;
    struct uplink up = { 0 };
    const char *uplink_opt = NULL, *detail_opt = NULL; /* the first of each, for the errors */
    bool no_uplink = false;
    int c;
    while ((c = cli_getopt(&cli, argc, argv, CLI_COMMON_SHORTOPTS, longopts)) != -1) {
        switch (c) {
        case OPT_TEMPLATE: template_opt = optarg; break;
        case OPT_UPLINK:
            if (no_uplink)
                cli_usage_error(&cli, "argument --uplink: not allowed with argument --no-uplink");
            up.ifname = optarg;
            uplink_opt = "--uplink";
            break;
        case OPT_NO_UPLINK:
            if (uplink_opt)
                cli_usage_error(&cli, "argument --no-uplink: not allowed with argument --uplink");
            no_uplink = true;
            break;
        case OPT_ADDRESS:
        case OPT_GATEWAY:
        case OPT_DNS:
            *(c == OPT_ADDRESS ? &up.address : c == OPT_GATEWAY ? &up.gateway : &up.dns) = optarg;
            if (!detail_opt)
                detail_opt = c == OPT_ADDRESS   ? "--uplink-address"
                             : c == OPT_GATEWAY ? "--uplink-gateway"
                                                : "--uplink-dns";
            break;
        default: cli_usage_error(&cli, "unrecognized arguments: %s", argv[optind - 1]);
        }
    }
    if (optind < argc)
        cli_usage_error(&cli, "unrecognized arguments: %s", argv[optind]);
    if (detail_opt && !uplink_opt)
        cli_usage_error(&cli, "argument %s: needs --uplink", detail_opt);
    if (no_uplink)
        up.ifname = "none";

    _cleanup_free_ char *template_name =
        template_opt ? xstrdup(template_opt) : default_template(&cli);
    if (check_free(&cli, template_name))
        return CLI_EXIT_FAIL;

    struct plan plan = { 0 };
    plan_build(&plan, template_name, &up);
    _cleanup_undo_ struct undo undo = { .name_qubes = true };
    for (size_t i = 0; i < plan.n; i++) {
        const struct step *s = &plan.steps[i];
        if (cli.verbose - cli.quiet >= 2) {
            _cleanup_free_ char *cmd = step_command(s);
            cli_info(&cli, "%s", cmd);
        }
        struct qerror err = { 0 };
        if (step_run(s, &undo, &err) < 0) {
            _cleanup_free_ char *what = step_failed(s);
            return undo_fail(&cli, &undo, what, &err);
        }
    }
    return 0;
}
