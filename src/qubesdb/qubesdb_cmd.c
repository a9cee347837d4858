/* qubesdb-cmd, and qubesdb-read, -write, -rm, -multiread, -list, -watch and qubesdb-read-bool
 * as links to it: upstream's client/qubesdb-cmd.c and client/qubesdb-read-bool, same options,
 * output, messages and exit codes. The command is the part of the program's name after its
 * first '-' (of the name itself, not of its directory), or -c CMD. */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "qubesdb/qdb_client.h"

enum qdb_cmd { DO_NONE = 0, DO_READ, DO_WRITE, DO_RM, DO_MULTIREAD, DO_LIST, DO_WATCH };

struct opts {
    bool fullpath, raw, quiet, wait;
    long watch_count;
};

static void print_value(const struct opts *o, const char *val)
{
    if (o->raw) {
        fputs(val, stdout);
        return;
    }
    for (const unsigned char *p = (const unsigned char *)val; *p; p++) {
        if (*p >= 0x20 && *p < 0x80)
            putchar(*p);
        else
            printf("\\x%02x", *p);
    }
}

static int cmd_read(struct qdb_client *h, const struct opts *o, int argc, char **args)
{
    int failed = 0;
    for (int i = 0; i < argc; i++) {
        struct qerror err = { 0 };
        char *value = NULL;
        int r = qdb_read(h, args[i], &value, NULL, &err);
        if (o->wait && r == 0) {
            /* as upstream: watch, then read until the key exists (an empty value counts) */
            char fired[QDB_MAX_PATH];
            if (qdb_watch(h, args[i], &err) == 0) {
                while ((r = qdb_read(h, args[i], &value, NULL, &err)) == 0)
                    if (qdb_read_watch(h, fired, &err) < 0)
                        break;
            }
        }
        if (r == 1) {
            if (o->fullpath)
                printf("%s = ", args[i]);
            print_value(o, value);
            printf("\n");
        } else {
            if (!o->quiet)
                fprintf(stderr, "Failed to read %s\n", args[i]);
            failed = 1;
        }
        free(value);
    }
    return failed;
}

static int cmd_multiread(struct qdb_client *h, const struct opts *o, int argc, char **args)
{
    int failed = 0;
    for (int i = 0; i < argc; i++) {
        struct qerror err = { 0 };
        struct qdb_items items;
        size_t base = o->fullpath ? 0 : strlen(args[i]);
        if (qdb_multiread(h, args[i], &items, &err) < 0) {
            if (!o->quiet)
                fprintf(stderr, "Failed to read %s\n", args[i]);
            failed = 1;
            continue;
        }
        for (size_t j = 0; j < items.n; j++) {
            printf("%s = ", items.items[j].path + base);
            print_value(o, items.items[j].value);
            printf("\n");
        }
        qdb_items_free(&items);
    }
    return failed;
}

static int cmd_write(struct qdb_client *h, const struct opts *o, int argc, char **args)
{
    int failed = 0;
    if (argc % 2) {
        fprintf(stderr, "Invalid number of parameters\n");
        return 1;
    }
    for (int i = 0; i < argc; i += 2) {
        struct qerror err = { 0 };
        if (qdb_write(h, args[i], args[i + 1], strlen(args[i + 1]), &err) < 0) {
            if (!o->quiet)
                fprintf(stderr, "Failed to write %s\n", args[i]);
            failed = 1;
        }
    }
    return failed;
}

static int cmd_rm(struct qdb_client *h, const struct opts *o, int argc, char **args)
{
    int failed = 0;
    for (int i = 0; i < argc; i++) {
        struct qerror err = { 0 };
        if (qdb_rm(h, args[i], &err) < 0) {
            if (!o->quiet)
                fprintf(stderr, "Failed to remove %s\n", args[i]);
            failed = 1;
        }
    }
    return failed;
}

static int cmd_list(struct qdb_client *h, const struct opts *o, int argc, char **args)
{
    if (argc != 1) {
        fprintf(stderr, "LIST command accept only one path\n");
        return 1;
    }
    struct qerror err = { 0 };
    struct qdb_items items;
    size_t base = o->fullpath ? 0 : strlen(args[0]);
    if (qdb_list(h, args[0], &items, &err) < 0) {
        if (!o->quiet)
            fprintf(stderr, "Failed to get entries list\n");
        return 1;
    }
    for (size_t j = 0; j < items.n; j++)
        printf("%s\n", items.items[j].path + base);
    qdb_items_free(&items);
    return 0;
}

static int cmd_watch(struct qdb_client *h, const struct opts *o, int argc, char **args)
{
    if (argc == 0)
        return 0;
    for (int i = 0; i < argc; i++) {
        struct qerror err = { 0 };
        if (qdb_watch(h, args[i], &err) < 0) {
            if (!o->quiet)
                fprintf(stderr, "Failed to setup watch on %s\n", args[i]);
            return 1;
        }
    }
    /* a negative count is infinite */
    for (long left = o->watch_count; left != 0; left -= left > 0) {
        struct qerror err = { 0 };
        char fired[QDB_MAX_PATH];
        if (qdb_read_watch(h, fired, &err) < 0) {
            if (!o->quiet)
                fprintf(stderr, "Failed to read watch\n");
            return 1;
        }
        printf("%s\n", fired);
        fflush(stdout);
    }
    return 0;
}

static enum qdb_cmd parse_cmd(const char *s)
{
    static const struct {
        const char *name;
        enum qdb_cmd cmd;
    } cmds[] = {
        { "read", DO_READ },           { "write", DO_WRITE }, { "rm", DO_RM },
        { "multiread", DO_MULTIREAD }, { "list", DO_LIST },   { "watch", DO_WATCH },
    };
    for (size_t i = 0; i < ARRAY_SIZE(cmds); i++)
        if (strcmp(s, cmds[i].name) == 0)
            return cmds[i].cmd;
    return DO_NONE;
}

static void usage(const char *argv0)
{
    fprintf(stderr,
            "Usage: %s [-frq] [-c <command>] [-d <destination domain>] \n"
            "       [command arguments]\n",
            argv0);
    fprintf(stderr, "  -f - print full path (affects reading commands)\n");
    fprintf(stderr, "  -r - print raw value (affects reading commands)\n");
    fprintf(stderr, "  -q - quiet - do not print error\n");
    fprintf(stderr, "  -c <command> - specify command\n");
    fprintf(stderr, "  -d <domain> - specify destination domain, available only in dom0\n");
    fprintf(stderr, "  -w - wait for any value (possibly empty)\n");
    fprintf(stderr, "\n");
    fprintf(stderr, "Available commands:\n");
    fprintf(stderr, "  read path [path...] - read value(s)\n");
    fprintf(stderr, "  write path value [path value...] - write value(s)\n");
    fprintf(stderr, "  rm path [path...] - remove value(s)\n");
    fprintf(stderr, "  multiread path [path...] - read all entries matching given path\n");
    fprintf(stderr, "  list path - list paths mathing given argument\n");
    fprintf(stderr, "  watch [-n N] path [path...] - watch given path(s) for modifications\n");
    fprintf(stderr, "    if -n given you can specify how many events should be received "
                    "before terminating (default: 1, negative: infinite)\n");
}

/* qubesdb-read-bool KEY [DEFAULT]: 0 for a non-empty value, 1 for an empty one, DEFAULT (2)
 * when it cannot be read, 3 for a wrong call. */
static int read_bool(int argc, char **argv)
{
    if (argc != 2 && argc != 3) {
        fprintf(stderr,
                "usage: %s KEY [DEFAULT]\n\n"
                "Read KEY from Qubes DB and interpret it as boolean value. Non-empty string is\n"
                "considered true and both empty string and no value at are considered false. "
                "The\nvalue is reported as exit code, 0 for true, 1 for empty string and "
                "DEFAULT\n(if not specified, 2) for not found.\n",
                argv[0]);
        return 3;
    }
    int dflt = 2;
    if (argc == 3 && argv[2][0]) {
        char *end;
        long v = strtol(argv[2], &end, 10);
        if (*end) {
            fprintf(stderr, "%s: invalid DEFAULT '%s'\n", argv[0], argv[2]);
            return 3;
        }
        dflt = (int)(v & 0xff); /* what the shell's exit makes of it */
    }
    struct qerror err = { 0 };
    struct qdb_client *h = qdb_open(NULL, &err);
    if (!h)
        return dflt;
    char *value = NULL;
    int r = qdb_read(h, argv[1], &value, NULL, &err);
    qdb_close(h);
    if (r != 1)
        return dflt;
    int rc = value[0] ? 0 : 1;
    free(value);
    return rc;
}

int main(int argc, char **argv)
{
    /* the name of the program, not its directory: /run/qubes-guest/bin has a '-' too */
    _cleanup_free_ char *argv0 = xstrdup(argv[0]);
    const char *name = basename(argv0);
    const char *dash = strchr(name, '-');
    enum qdb_cmd cmd = DO_NONE;
    if (dash && strcmp(dash + 1, "read-bool") == 0)
        return read_bool(argc, argv);
    if (dash)
        cmd = parse_cmd(dash + 1);

    struct opts o = { .watch_count = 1 };
    const char *dest = NULL;
    int opt;
    while ((opt = getopt(argc, argv, "hc:d:n:frqw")) != -1) {
        switch (opt) {
        case 'c': cmd = parse_cmd(optarg); break;
        case 'd': dest = optarg; break;
        case 'f': o.fullpath = true; break;
        case 'r': o.raw = true; break;
        case 'q': o.quiet = true; break;
        case 'w': o.wait = true; break;
        case 'n':
            o.watch_count = atol(optarg);
            if (cmd != DO_WATCH) {
                fprintf(stderr, "-n valid only for watch command\n");
                return 1;
            }
            break;
        case 'h': usage(argv[0]); return 0;
        default: usage(argv[0]); return 1;
        }
    }
    if (argc <= 1 || cmd == DO_NONE) {
        usage(argv[0]);
        return 0;
    }

    struct qerror err = { 0 };
    _cleanup_free_ char *path = NULL;
    struct qdb_client *h = NULL;
    if (dest)
        path = qdb_qube_socket(dest, &err);
    if (!dest || path)
        h = qdb_open(dest ? path : NULL, &err);
    if (!h) {
        if (!o.quiet)
            fprintf(stderr, "Failed connect to %s daemon\n", dest ? dest : "local");
        return 1;
    }
    int n = argc - optind;
    char **args = argv + optind;
    int rc = 1;
    switch (cmd) {
    case DO_READ: rc = cmd_read(h, &o, n, args); break;
    case DO_WRITE: rc = cmd_write(h, &o, n, args); break;
    case DO_RM: rc = cmd_rm(h, &o, n, args); break;
    case DO_MULTIREAD: rc = cmd_multiread(h, &o, n, args); break;
    case DO_LIST: rc = cmd_list(h, &o, n, args); break;
    case DO_WATCH: rc = cmd_watch(h, &o, n, args); break;
    case DO_NONE: break;
    }
    qdb_close(h);
    return rc;
}
