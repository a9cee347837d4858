/* qvm-tags: list, query, add and remove tags of a qube. */
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/py_repr.h"
#include "tools/cli.h"
#include "tools/tools.h"

static const char usage[] =
    "usage: qvm-tags [--verbose] [--quiet] [--help] VMNAME {list,ls,l,add,a,set,del,d,unset,u} ...";

static const char help[] = "\nmanage domain's tags\n\n"
                           "positional arguments:\n"
                           "  VMNAME                a domain name\n\n"
                           "options:\n" CLI_HELP_COMMON_OPTIONS "\n"
                           "commands:\n"
                           "  For more information see qvm-tags command -h\n\n"
                           "  {list,ls,l,add,a,set,del,d,unset,u}\n"
                           "    list (ls,l)         list tags\n"
                           "    add (a,set)         add tag\n"
                           "    del (d,unset,u)     delete tag\n\n"
                           "Command 'list':\n"
                           "  usage: qvm-tags VMNAME list [-h] [tag]\n\n"
                           "Command 'add':\n"
                           "  usage: qvm-tags VMNAME add [-h] tag [tag ...]\n\n"
                           "Command 'del':\n"
                           "  usage: qvm-tags VMNAME del [-h] tag [tag ...]\n";

static bool is_one_of(const char *s, const char *const *names)
{
    for (; *names; names++)
        if (strcmp(s, *names) == 0)
            return true;
    return false;
}

int qvm_tags_main(int argc, char **argv)
{
    struct cli cli = { .prog = "qvm-tags", .usage = usage, .help = help, .verbose = 1 };
    static const struct option longopts[] = { CLI_COMMON_LONGOPTS };
    int c;
    while ((c = cli_getopt(&cli, argc, argv, CLI_COMMON_SHORTOPTS, longopts)) != -1)
        cli_usage_error(&cli, "unrecognized arguments: %s", argv[optind - 1]);
    struct cli_vm_command args;
    cli_vm_command(&cli, argc, argv, "list", &args);
    const char *vm = args.vm, *cmd = args.cmd;
    char **tags = args.words;
    size_t ntags = args.nwords;

    static const char *const list_names[] = { "list", "ls", "l", NULL };
    static const char *const add_names[] = { "add", "a", "set", NULL };
    static const char *const del_names[] = { "del", "d", "unset", "u", NULL };
    bool is_list = is_one_of(cmd, list_names), is_add = is_one_of(cmd, add_names),
         is_del = is_one_of(cmd, del_names);
    if (!is_list && !is_add && !is_del) {
        _cleanup_free_ char *r = py_repr_dup(cmd);
        cli_usage_error(&cli,
                        "argument command: invalid choice: %s (choose from 'list', 'ls', 'l', "
                        "'add', 'a', 'set', 'del', 'd', 'unset', 'u')",
                        r);
    }
    if (is_list && ntags > 1)
        cli_usage_error(&cli, "unrecognized arguments: %s", tags[1]);
    if ((is_add || is_del) && ntags < 1)
        cli_usage_error(&cli, "the following arguments are required: tag");
    cli_require_vm(&cli, vm, NULL);

    struct qerror err = { 0 };
    if (is_list) {
        _cleanup_buf_ struct buf content = BUF_INIT;
        _cleanup_free_ char **names = NULL;
        size_t n;
        if (qcall_lines("admin.vm.tag.List", vm, &content, &names, &n, &err) < 0)
            return cli_qerror(&cli, &err);
        qsort(names, n, sizeof(char *), cmp_strp);
        if (ntags == 1) {
            for (size_t i = 0; i < n; i++) {
                if (strcmp(names[i], tags[0]) == 0) {
                    printf("%s\n", tags[0]);
                    return 0;
                }
            }
            return 1;
        }
        for (size_t i = 0; i < n; i++)
            printf("%s\n", names[i]);
        return 0;
    }
    for (size_t i = 0; i < ntags; i++) {
        if (is_add) {
            if (qcall("admin.vm.tag.Set", tags[i], vm, "", 0, NULL, &err) < 0)
                return cli_qerror(&cli, &err);
        } else if (qcall("admin.vm.tag.Remove", tags[i], vm, "", 0, NULL, &err) < 0 &&
                   !(err.kind == ERR_QUBES_TAG_NOT_FOUND_ERROR)) {
            return cli_qerror(&cli, &err);
        }
    }
    return 0;
}
