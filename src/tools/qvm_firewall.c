/* qvm-firewall: list, add, delete and reset the firewall rules of a qube.
 * Rules typed on the command line are validated with the shared rule model
 * (net/firewall_rule.h) before the whole list is sent back with Set. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/cleanup.h"
#include "common/parse.h"
#include "common/py_repr.h"
#include "net/firewall_rule.h"
#include "tools/cli.h"
#include "tools/tools.h"

static const char usage[] =
    "usage: qvm-firewall [--verbose] [--quiet] [--help] [--reload] [--raw]\n"
    "                    VMNAME {add,del,list,reset} ...";

static const char help[] =
    "\npositional arguments:\n"
    "  VMNAME                a domain name\n"
    "  {add,del,list,reset}  action to perform\n"
    "    add                 add rule\n"
    "    del                 remove rule\n"
    "    list                list rules\n"
    "    reset               remove all rules and allow all traffic\n\n"
    "options:\n" CLI_HELP_COMMON_OPTIONS
    "  --reload, -r          force reloading rules even when unchanged\n"
    "  --raw                 output rules as raw strings, instead of nice table\n\n"
    "Command 'add':\n"
    "  usage: qvm-firewall VMNAME add [-h] [--before BEFORE] rule [rule ...]\n\n"
    "Command 'del':\n"
    "  usage: qvm-firewall VMNAME del [-h] [--rule-no RULE_NO] [rule ...]\n\n"
    "Rules can be given as positional arguments:\n"
    "    <action> [<dsthost> [<proto> [<dstports>|<icmptype>]]]\n\n"
    "And as keyword arguments:\n"
    "    action=<action> [specialtarget=dns] [dsthost=<dsthost>]\n"
    "    [proto=<proto>] [dstports=<dstports>] [icmptype=<icmptype>]\n"
    "    [expire=<expire>] [comment=<comment>]\n\n"
    "Both formats, positional and keyword arguments, can be used\n"
    "interchangeably.\n\n"
    "Available rules:\n"
    "    action:        accept or drop\n"
    "    dst4           synonym for dsthost\n"
    "    dst6           synonym for dsthost\n"
    "    dsthost        IP, network or hostname\n"
    "                     (e.g. 10.5.3.2, 192.168.0.0/16,\n"
    "                     www.example.com, fd00::/8)\n"
    "    dstports       port or port range\n"
    "                     (e.g. 443 or 1200-1400)\n"
    "    icmptype       icmp type number (e.g. 8 for echo requests)\n"
    "    proto          icmp, tcp or udp\n"
    "    specialtarget  only the value dns is currently supported,\n"
    "                     it matches the configured dns servers of\n"
    "                     a VM\n"
    "    expire         a rule is automatically removed at given time, given as\n"
    "                     seconds since 1/1/1970, or +seconds (e.g. +300 for rule\n"
    "                     expire in 5 minutes)\n"
    "    comment        a comment, shown in the list (must be the last keyword)\n";

/* Command-line rule words (upstream RuleAction) to one validated rule. */
static void parse_cli_rule(const struct cli *cli, char **words, size_t n, struct fw_rule *rule)
{
    const char *order[] = { "action", "dsthost", "proto", "dstports", "icmptype" };
    bool used[5] = { false };
    static const char *const keys[] = { "action",   "dsthost",       "proto",  "dstports",
                                        "icmptype", "specialtarget", "expire", "comment" };
    char *values[8] = { NULL };
    for (size_t i = 0; i < n; i++) {
        const char *w = words[i];
        const char *eq = strchr(w, '=');
        _cleanup_free_ char *key = NULL;
        const char *value;
        if (eq && strchr(eq + 1, '='))
            cli_usage_error(cli, "invalid rule description: %s", w);
        if (eq) {
            key = xstrndup(w, (size_t)(eq - w));
            value = eq + 1;
        } else {
            size_t k = 0;
            while (k < 5 && used[k])
                k++;
            if (k == 5)
                cli_usage_error(cli, "invalid rule description: %s", w);
            key = xstrdup(order[k]);
            value = w;
        }
        if (strcmp(key, "dst4") == 0 || strcmp(key, "dst6") == 0) {
            free(key);
            key = xstrdup("dsthost");
        }
        size_t ki = ARRAY_SIZE(keys);
        for (size_t k = 0; k < ARRAY_SIZE(keys); k++)
            if (strcmp(key, keys[k]) == 0)
                ki = k;
        if (ki == ARRAY_SIZE(keys))
            cli_usage_error(cli, "Invalid rule element: %s", w);
        free(values[ki]);
        if (ki == 6 && value[0] == '+')
            values[ki] = xasprintf("%lld", fw_rule_now() + atoll(value + 1));
        else
            values[ki] = xstrdup(value);
        if (ki < 5)
            used[ki] = true;
        if (ki == 2 && (strcmp(value, "tcp") == 0 || strcmp(value, "udp") == 0))
            used[4] = true;
        else if (ki == 2 && strcmp(value, "icmp") == 0)
            used[3] = true;
    }
    if (!values[0])
        cli_usage_error(cli, "missing action=");
    _cleanup_buf_ struct buf line = BUF_INIT;
    for (size_t k = 0; k < ARRAY_SIZE(keys); k++) {
        if (!values[k])
            continue;
        buf_printf(&line, "%s%s=%s", line.len ? " " : "", keys[k], values[k]);
        free(values[k]);
    }
    struct qerror err = { 0 };
    if (fw_rule_parse(line.data, line.len, rule, &err) < 0)
        cli_usage_error(cli, "invalid rule %s: %s", line.data, err.message);
}

static void rule_string(const struct fw_rule *r, struct buf *out)
{
    buf_reset(out);
    fw_rule_format(r, out, true);
}

static void print_table(const struct fw_rule *rules, size_t n)
{
    static const char *const head[] = { "NO",        "ACTION",  "HOST",
                                        "PROTOCOL",  "PORT(S)", "SPECIAL TARGET",
                                        "ICMP TYPE", "EXPIRE",  "COMMENT" };
    static const char *const protos[] = { "-", "tcp", "udp", "icmp" };
    struct table t;
    table_init(&t, ARRAY_SIZE(head));
    for (size_t i = 0; i < ARRAY_SIZE(head); i++)
        table_add(&t, head[i]);
    long long now = fw_rule_now();
    for (size_t i = 0; i < n; i++) {
        const struct fw_rule *r = &rules[i];
        char buf[FW_HOSTNAME_MAX + 16];
        snprintf(buf, sizeof(buf), "%zu", i);
        table_add(&t, buf);
        table_add(&t, r->action == FW_ACTION_ACCEPT ? "accept" : "drop");
        if (r->dst_kind == FW_DST_HOST)
            table_add(&t, r->dst);
        else if (r->dst_kind == FW_DST_IPV4 || r->dst_kind == FW_DST_IPV6) {
            snprintf(buf, sizeof(buf), "%s/%u", r->dst, r->dst_prefix);
            table_add(&t, buf);
        } else
            table_add(&t, "-");
        table_add(&t, protos[r->proto]);
        if (r->has_dstports && r->port_first == r->port_last)
            snprintf(buf, sizeof(buf), "%u", r->port_first);
        else if (r->has_dstports)
            snprintf(buf, sizeof(buf), "%u-%u", r->port_first, r->port_last);
        table_add(&t, r->has_dstports ? buf : "-");
        table_add(&t, r->specialtarget_dns ? "dns" : "-");
        snprintf(buf, sizeof(buf), "%u", r->icmptype);
        table_add(&t, r->has_icmptype ? buf : "-");
        snprintf(buf, sizeof(buf), "%+llds", r->expire - now);
        table_add(&t, r->has_expire ? buf : "-");
        table_add(&t, r->comment[0] ? r->comment : "-");
    }
    table_print(&t, stdout);
    table_free(&t);
}

static int save_rules(const struct cli *cli, const char *vm, const struct fw_rule *rules, size_t n)
{
    _cleanup_buf_ struct buf payload = BUF_INIT;
    for (size_t i = 0; i < n; i++) {
        fw_rule_format(&rules[i], &payload, true);
        buf_append_char(&payload, '\n');
    }
    struct qerror err = { 0 };
    if (qcall("admin.vm.firewall.Set", "", vm, payload.data ? payload.data : "", payload.len, NULL,
              &err) < 0)
        return cli_qerror(cli, &err);
    return 0;
}

int qvm_firewall_main(int argc, char **argv)
{
    struct cli cli = { .prog = "qvm-firewall", .usage = usage, .help = help, .verbose = 1 };
    enum { OPT_RAW = 0x100, OPT_BEFORE, OPT_RULE_NO };
    static const struct option longopts[] = {
        { "reload", no_argument, NULL, 'r' },
        { "raw", no_argument, NULL, OPT_RAW },
        { "before", required_argument, NULL, OPT_BEFORE },
        { "rule-no", required_argument, NULL, OPT_RULE_NO },
        CLI_COMMON_LONGOPTS,
    };
    bool reload = false, raw = false, has_before = false, has_rule_no = false;
    long long before = 0, rule_no = 0;
    int c;
    while ((c = cli_getopt(&cli, argc, argv, "r" CLI_COMMON_SHORTOPTS, longopts)) != -1) {
        switch (c) {
        case 'r': reload = true; break;
        case OPT_RAW: raw = true; break;
        case OPT_BEFORE:
        case OPT_RULE_NO: {
            long long v;
            if (parse_ll(optarg, LLONG_MIN, LLONG_MAX, PARSE_PYTHON_INT, &v) < 0) {
                _cleanup_free_ char *r = py_repr_dup(optarg);
                cli_usage_error(&cli, "argument %s: invalid int value: %s",
                                c == OPT_BEFORE ? "--before" : "--rule-no", r);
            }
            if (c == OPT_BEFORE) {
                has_before = true;
                before = v;
            } else {
                has_rule_no = true;
                rule_no = v;
            }
            break;
        }
        default: cli_usage_error(&cli, "unrecognized arguments: %s", argv[optind - 1]);
        }
    }
    struct cli_vm_command args;
    cli_vm_command(&cli, argc, argv, "list", &args);
    const char *vm = args.vm, *cmd = args.cmd;
    char **words = args.words;
    size_t nwords = args.nwords;
    bool is_add = strcmp(cmd, "add") == 0, is_del = strcmp(cmd, "del") == 0,
         is_list = strcmp(cmd, "list") == 0, is_reset = strcmp(cmd, "reset") == 0;
    if (!is_add && !is_del && !is_list && !is_reset) {
        _cleanup_free_ char *r = py_repr_dup(cmd);
        cli_usage_error(&cli,
                        "argument command: invalid choice: %s (choose from 'add', 'del', "
                        "'list', 'reset')",
                        r);
    }
    if ((is_list || is_reset) && nwords)
        cli_usage_error(&cli, "unrecognized arguments: %s", words[0]);
    if (is_add && !nwords)
        cli_usage_error(&cli, "the following arguments are required: rule");
    if (has_before && !is_add)
        cli_usage_error(&cli, "unrecognized arguments: --before");
    if (has_rule_no && !is_del)
        cli_usage_error(&cli, "unrecognized arguments: --rule-no");
    if (is_del && !has_rule_no && !nwords)
        cli_usage_error(&cli, "del needs --rule-no or a rule");

    struct fw_rule new_rule;
    if (nwords)
        parse_cli_rule(&cli, words, nwords, &new_rule);
    cli_require_vm(&cli, vm, NULL);

    struct qerror err = { 0 };
    if (is_reset) {
        static const struct fw_rule accept_all = { .action = FW_ACTION_ACCEPT };
        return save_rules(&cli, vm, &accept_all, 1);
    }
    _cleanup_buf_ struct buf content = BUF_INIT;
    if (qcall("admin.vm.firewall.Get", "", vm, "", 0, &content, &err) < 0)
        return cli_qerror(&cli, &err);
    struct fw_rule *rules = NULL;
    size_t n = 0;
    if (fw_rules_parse(content.data ? content.data : "", content.len, &rules, &n, &err) < 0)
        return cli_qerror(&cli, &err);
    int rc = 0;
    if (is_list) {
        if (raw) {
            _cleanup_buf_ struct buf line = BUF_INIT;
            for (size_t i = 0; i < n; i++) {
                rule_string(&rules[i], &line);
                printf("%s\n", line.data);
            }
        } else {
            print_table(rules, n);
        }
        if (reload && qcall("admin.vm.firewall.Reload", "", vm, "", 0, NULL, &err) < 0)
            rc = cli_qerror(&cli, &err);
    } else if (is_add) {
        rules = xrealloc(rules, (n + 1) * sizeof(*rules));
        /* Python's list.insert: negative counts from the end, out of range clamps */
        long long pos = has_before ? before : (long long)n;
        if (pos < 0)
            pos += (long long)n;
        if (pos < 0)
            pos = 0;
        if (pos > (long long)n)
            pos = (long long)n;
        memmove(&rules[pos + 1], &rules[pos], (n - (size_t)pos) * sizeof(*rules));
        rules[pos] = new_rule;
        rc = save_rules(&cli, vm, rules, n + 1);
    } else {
        long long idx = -1;
        if (has_rule_no) {
            idx = rule_no < 0 ? rule_no + (long long)n : rule_no;
            if (idx < 0 || idx >= (long long)n)
                idx = -1;
        } else {
            _cleanup_buf_ struct buf want = BUF_INIT, have = BUF_INIT;
            rule_string(&new_rule, &want);
            for (size_t i = 0; i < n && idx < 0; i++) {
                rule_string(&rules[i], &have);
                if (strcmp(want.data, have.data) == 0)
                    idx = (long long)i;
            }
        }
        if (idx < 0) {
            rc = has_rule_no ? cli_error(&cli, "no rule number %lld", rule_no)
                             : cli_error(&cli, "no such rule");
        } else {
            memmove(&rules[idx], &rules[idx + 1], (n - (size_t)idx - 1) * sizeof(*rules));
            rc = save_rules(&cli, vm, rules, n - 1);
        }
    }
    fw_rules_free(rules, n);
    return rc;
}
