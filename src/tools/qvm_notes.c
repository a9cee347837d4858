/* qvm-notes: print, set, append, import, delete or edit ($EDITOR) the notes
 * of a qube (admin.vm.notes.Get/Set). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "tools/cli.h"
#include "tools/tools.h"

static const char usage[] =
    "usage: qvm-notes [--verbose] [--quiet] [--help] [--force]\n"
    "                 [--edit | --print | --import FILENAME | --set 'NOTES' |\n"
    "                 --append 'NOTES' | --delete]\n"
    "                 VMNAME";

static const char help[] =
    "\nManipulate qube notes\n\n"
    "positional arguments:\n"
    "  VMNAME                a domain name\n\n"
    "options:\n" CLI_HELP_COMMON_OPTIONS
    "  --force, -f           Do not prompt for confirmation; assume `yes`\n\n"
    "Notes action options:\n"
    "  note: `--edit` is the default action for qube notes (`--print` when not on a\n"
    "  terminal).\n\n"
    "  --edit, -e            Edit qube notes in $EDITOR (default text editor)\n"
    "  --print, -p           Print qube notes\n"
    "  --import, --file, -i FILENAME\n"
    "                        Import qube notes from file (- for standard input)\n"
    "  --set, -s 'NOTES'     Set qube notes from provided string\n"
    "  --append 'NOTES'      Append the provided string to qube notes\n"
    "  --delete, -d          Delete qube notes\n\n"
    "Each qube notes is limited to 256KB of clear-text. See program manpage for more\n"
    "information on other limitations.\n";

enum notes_action { ACT_DEFAULT, ACT_EDIT, ACT_PRINT, ACT_IMPORT, ACT_SET, ACT_APPEND, ACT_DELETE };

static int get_notes(const char *vm, struct buf *notes, struct qerror *err)
{
    if (qcall("admin.vm.notes.Get", "", vm, "", 0, notes, err) < 0)
        return -1;
    if (!notes->data)
        buf_append(notes, "", 0);
    return 0;
}

static int set_notes(const char *vm, const char *notes, size_t len, struct qerror *err)
{
    return qcall("admin.vm.notes.Set", "", vm, notes, len, NULL, err);
}

static int edit_notes(const struct cli *cli, const char *vm)
{
    struct qerror err = { 0 };
    _cleanup_buf_ struct buf notes = BUF_INIT;
    if (get_notes(vm, &notes, &err) < 0)
        return cli_error(cli, "Failed to edit qube notes: %s", err.message);
    const char *tmpdir = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    _cleanup_free_ char *path = xasprintf("%s/%s_qube_XXXXXX_notes.txt", tmpdir, vm);
    int fd = mkstemps(path, 10);
    if (fd < 0 || write(fd, notes.data, notes.len) != (ssize_t)notes.len) {
        if (fd >= 0)
            close(fd);
        return cli_error(cli, "Failed to edit qube notes: %s", strerror(errno));
    }
    close(fd);
    struct stat before, after;
    stat(path, &before);
    _cleanup_free_ char *cmd = xasprintf("${VISUAL:-${EDITOR:-vi}} '%s'", path);
    int status = system(cmd);
    int rc = 0;
    if (status != 0) {
        rc = cli_error(cli, "Failed to edit qube notes: editor exited with status %d",
                       WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    } else if (stat(path, &after) == 0 && (after.st_mtim.tv_sec != before.st_mtim.tv_sec ||
                                           after.st_mtim.tv_nsec != before.st_mtim.tv_nsec)) {
        _cleanup_buf_ struct buf edited = BUF_INIT;
        _cleanup_close_ int in = open(path, O_RDONLY | O_CLOEXEC);
        if (in < 0 || read_all_fd(in, &edited) < 0)
            rc = cli_error(cli, "Failed to edit qube notes: %s", strerror(errno));
        else if (set_notes(vm, edited.data ? edited.data : "", edited.len, &err) < 0)
            rc = cli_error(cli, "Failed to edit qube notes: %s", err.message);
    }
    unlink(path);
    return rc;
}

int qvm_notes_main(int argc, char **argv)
{
    struct cli cli = { .prog = "qvm-notes", .usage = usage, .help = help, .verbose = 1 };
    enum { OPT_APPEND = 0x100 };
    static const struct option longopts[] = {
        { "force", no_argument, NULL, 'f' },
        { "edit", no_argument, NULL, 'e' },
        { "print", no_argument, NULL, 'p' },
        { "import", required_argument, NULL, 'i' },
        { "file", required_argument, NULL, 'i' },
        { "set", required_argument, NULL, 's' },
        { "append", required_argument, NULL, OPT_APPEND },
        { "delete", no_argument, NULL, 'd' },
        CLI_COMMON_LONGOPTS,
    };
    static const char *const act_opts[] = { "",         "--edit/-e", "--print/-p", "--import/-i",
                                            "--set/-s", "--append",  "--delete/-d" };
    enum notes_action action = ACT_DEFAULT;
    bool force = false;
    const char *text = NULL;
    int c;
    while ((c = cli_getopt(&cli, argc, argv, "fepi:s:d" CLI_COMMON_SHORTOPTS, longopts)) != -1) {
        enum notes_action a;
        switch (c) {
        case 'f': force = true; continue;
        case 'e': a = ACT_EDIT; break;
        case 'p': a = ACT_PRINT; break;
        case 'i': a = ACT_IMPORT; break;
        case 's': a = ACT_SET; break;
        case OPT_APPEND: a = ACT_APPEND; break;
        case 'd': a = ACT_DELETE; break;
        default: cli_usage_error(&cli, "unrecognized arguments: %s", argv[optind - 1]);
        }
        if (action != ACT_DEFAULT && action != a)
            cli_usage_error(&cli, "argument %s: not allowed with argument %s", act_opts[a],
                            act_opts[action]);
        action = a;
        if (a == ACT_IMPORT || a == ACT_SET || a == ACT_APPEND)
            text = optarg;
    }
    if (argc - optind < 1)
        cli_usage_error(&cli, "the following arguments are required: VMNAME");
    if (argc - optind > 1)
        cli_usage_error(&cli, "unrecognized arguments: %s", argv[optind + 1]);
    const char *vm = argv[optind];
    cli_require_vm(&cli, vm, NULL);
    if (action == ACT_DEFAULT)
        action = isatty(0) && isatty(1) ? ACT_EDIT : ACT_PRINT;

    struct qerror err = { 0 };
    _cleanup_buf_ struct buf notes = BUF_INIT;
    switch (action) {
    case ACT_EDIT: return edit_notes(&cli, vm);
    case ACT_PRINT:
        if (get_notes(vm, &notes, &err) < 0)
            return cli_error(&cli, "Unable to get qube notes: %s", err.message);
        printf("%s\n", notes.data);
        return 0;
    case ACT_SET:
        if (set_notes(vm, text, strlen(text), &err) < 0)
            return cli_error(&cli, "Unable to set qube notes: %s", err.message);
        return 0;
    case ACT_IMPORT: {
        bool from_stdin = strcmp(text, "-") == 0;
        _cleanup_close_ int fd = from_stdin ? -1 : open(text, O_RDONLY | O_CLOEXEC);
        if ((!from_stdin && fd < 0) || read_all_fd(from_stdin ? 0 : fd, &notes) < 0)
            return cli_error(&cli, "Unable to import notes file: %s: %s", text, strerror(errno));
        if (set_notes(vm, notes.data ? notes.data : "", notes.len, &err) < 0)
            return cli_error(&cli, "Unable to import notes file: %s", err.message);
        return 0;
    }
    case ACT_APPEND:
        if (get_notes(vm, &notes, &err) < 0)
            return cli_error(&cli, "Unable to append qube notes: %s", err.message);
        if (notes.len && notes.data[notes.len - 1] != '\n')
            buf_append_char(&notes, '\n');
        buf_append_str(&notes, text);
        if (set_notes(vm, notes.data, notes.len, &err) < 0)
            return cli_error(&cli, "Unable to append qube notes: %s", err.message);
        return 0;
    case ACT_DELETE:
        if (!force) {
            printf("You are about to delete existing qube notes\n");
            if (!cli_ask("Are you certain? [y/N]", "Y"))
                return 2;
        }
        if (set_notes(vm, "", 0, &err) < 0)
            return cli_error(&cli, "Unable to delete qube notes: %s", err.message);
        return 0;
    case ACT_DEFAULT:
    default: return 1;
    }
}
