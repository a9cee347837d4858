/* Shared plumbing of the qvm-* tools: argparse-compatible option handling and
 * error output, Admin API helpers, property and list parsing, tables. */
#pragma once

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "client/qubesd_client.h"
#include "common/buf.h"
#include "common/error.h"

/* Exit codes of the Qubes tools (argparse: 2 for a usage error). */
#define CLI_EXIT_OK 0
#define CLI_EXIT_FAIL 1
#define CLI_EXIT_USAGE 2

/* One tool's identity and its counted -v/-q. */
struct cli {
    const char *prog;  /* "qvm-ls" */
    const char *usage; /* "usage: qvm-ls [-h] ...", no trailing newline */
    const char *help;  /* the rest of --help, after the usage */
    int verbose;       /* 1 + count(-v), as QubesArgumentParser */
    int quiet;
};

/* Long options every tool accepts; end a tool's table with these. */
#define CLI_OPT_FORCE_ROOT 0x1ff
#define CLI_OPT_VERSION 0x1fe
#define CLI_COMMON_LONGOPTS \
    { "help", no_argument, NULL, 'h' }, { "verbose", no_argument, NULL, 'v' }, \
        { "quiet", no_argument, NULL, 'q' }, \
        { "force-root", no_argument, NULL, CLI_OPT_FORCE_ROOT }, \
        { "version", no_argument, NULL, CLI_OPT_VERSION }, \
    { \
        NULL, 0, NULL, 0 \
    }
#define CLI_COMMON_SHORTOPTS "hvq"
/* Their --help lines, in argparse's layout. */
#define CLI_HELP_COMMON_OPTIONS \
    "  --verbose, -v         increase verbosity\n" \
    "  --quiet, -q           decrease verbosity\n" \
    "  --help, -h            show this help message and exit\n" \
    "  --version             show program's version number and exit\n"

/* Appends s (not copied) to a growing vector of strings; the vector stays
 * NULL-terminated. The vector is heap memory; whether the strings are owned
 * is the caller's choice: free() alone, or cli_strv_free for owned ones. */
void cli_strv_push(char ***v, size_t *n, char *s);
bool cli_strv_contains(char *const *v, size_t n, const char *s);
/* Frees a NULL-terminated vector and the strings in it. */
void cli_strv_free(char **v);
static inline void cli_strv_freep(char ***v)
{
    cli_strv_free(*v);
}
#define _cleanup_strv_ __attribute__((cleanup(cli_strv_freep)))

/* getopt_long with argparse behaviour: -h prints the help and exits 0,
 * --version prints "<prog> <version>" and exits 0, -v/-q are counted, an
 * unknown option or a missing argument is a usage error (exit 2), and a
 * negative number ("-1", "-.5") is an argument, not an option, as argparse
 * takes it when no option looks like one. Returns the option, or -1 at the
 * end. */
int cli_getopt(struct cli *cli, int argc, char **argv, const char *shortopts,
               const struct option *longopts);
/* argparse's nargs='+' for the option cli_getopt just returned: optarg and
 * the arguments after it up to the next option go to a fresh vector (the
 * option given again replaces the earlier values, as argparse's 'store'). */
void cli_take_values(int argc, char **argv, char ***v, size_t *n);

/* "usage: ...\n<prog>: error: <msg>\n" on stderr, exit 2. */
_Noreturn void cli_usage_error(const struct cli *cli, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* "<prog>: error: <msg>\n" on stderr; returns 1. */
int cli_error(const struct cli *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The same with the server's (or transport's) message. */
int cli_qerror(const struct cli *cli, const struct qerror *err);
/* "<prog>: <msg>\n" on stderr when the verbosity allows info messages. */
void cli_info(const struct cli *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
bool cli_info_enabled(const struct cli *cli);

/* One Admin API call, as qubesd_call(), refusing an argument that would
 * break the request header (a space or a control byte) with a clear error. */
int qcall(const char *method, const char *arg, const char *dest, const void *payload,
          size_t payload_len, struct buf *content, struct qerror *err);

/* s as a JSON string, quotes included, as Python's json.dumps writes it for ASCII. */
void cli_json_string(struct buf *b, const char *s);

/* One line of admin.vm.List. */
struct vm_entry {
    char *name;
    char *klass;
    char *state;
    char *uuid;
};
/* admin.vm.List to dest ("dom0" = all qubes); sorted by name. */
int vm_list(const char *dest, struct vm_entry **vms, size_t *n, struct qerror *err);
void vm_list_free(struct vm_entry *vms, size_t n);
/* A vm_list answer as one value, for a cleanup variable. */
struct vm_entries {
    struct vm_entry *v;
    size_t n;
};
static inline void vm_entries_freep(struct vm_entries *l)
{
    vm_list_free(l->v, l->n);
}
#define _cleanup_vm_entries_ __attribute__((cleanup(vm_entries_freep)))
/* Frees the strings of one entry (as cli_require_vm fills it). */
void vm_entry_clear(struct vm_entry *vm);
#define _cleanup_vm_entry_ __attribute__((cleanup(vm_entry_clear)))
const struct vm_entry *vm_list_find(const struct vm_entry *vms, size_t n, const char *name);
/* Resolves a VM name typed by the user; an unknown one is argparse's
 * "no such domain: 'x'" usage error (exit 2); another failure exits 1. */
void cli_require_vm(const struct cli *cli, const char *name, struct vm_entry *out);
/* Expands VM name arguments (with fnmatch wildcards as upstream) against the
 * list; unknown names are a usage error unless missing != NULL, in which case
 * they are appended there (as heap strings). Returns indexes into vms. */
size_t *cli_select_vms(const struct cli *cli, const struct vm_entry *vms, size_t nvms, char **names,
                       size_t nnames, size_t *nsel, char ***missing, size_t *nmissing);

/* admin.vm.List of every qube; a failure is reported and exits 1. */
void cli_list_qubes(const struct cli *cli, struct vm_entry **vms, size_t *n);

/* The qubes a tool acts on, upstream's `--all [--exclude VM]... | VMNAME...`:
 * the tool's option table and getopt loop hand these options over here. */
#define CLI_OPT_ALL 0x1f0
#define CLI_OPT_EXCLUDE 0x1f1
#define CLI_TARGETS_LONGOPTS \
    { "all", no_argument, NULL, CLI_OPT_ALL }, \
    { \
        "exclude", required_argument, NULL, CLI_OPT_EXCLUDE \
    }
#define CLI_HELP_TARGETS \
    "  --all                 perform the action on all qubes\n" \
    "  --exclude EXCLUDE     exclude the qube from --all\n"
struct cli_targets {
    bool all;
    char **excludes;
    size_t nexcludes;
    /* out of cli_targets_resolve: every qube, and indexes of the chosen ones */
    struct vm_entry *vms;
    size_t nvms;
    size_t *sel;
    size_t nsel;
};
/* Takes CLI_OPT_ALL / CLI_OPT_EXCLUDE (c) with its optarg. */
void cli_targets_option(struct cli_targets *t, int c, char *arg);
/* Frees what cli_targets_option and cli_targets_resolve allocated (the
 * exclude names themselves belong to argv). */
void cli_targets_free(struct cli_targets *t);
#define _cleanup_targets_ __attribute__((cleanup(cli_targets_free)))
/* Checks the combination as argparse does (usage errors), lists the qubes and
 * picks them: all but dom0 and the excluded ones with --all, else the names
 * (missing as in cli_select_vms). */
void cli_targets_resolve(const struct cli *cli, struct cli_targets *t, char **names, size_t nnames,
                         char ***missing, size_t *nmissing);

/* The tool's VMNAME [COMMAND [WORD...]] positionals (qvm-tags, qvm-firewall);
 * VMNAME is required, COMMAND defaults to dflt. */
struct cli_vm_command {
    const char *vm;
    const char *cmd;
    char **words;
    size_t nwords;
};
void cli_vm_command(const struct cli *cli, int argc, char **argv, const char *dflt,
                    struct cli_vm_command *out);

/* A property as (vm.)property.Get / GetAll report it. */
struct qprop {
    char *name;
    char *value;  /* "" for None / no value */
    char type[7]; /* vm, int, bool, label, str */
    bool is_default;
};
/* Parses "default=<b> type=<t> <value>" (Get's answer, no name). */
int qprop_parse_value(const char *s, struct qprop *p, struct qerror *err);
/* A global property (admin.property.Get), parsed; p->value is the caller's. */
int global_prop_get(const char *prop, struct qprop *p, struct qerror *err);
/* Parses a GetAll answer: "<name> default=.. type=.. <value>\n"..., with the
 * \\ and \n escapes undone. Sorted by name as qubesd sends it. The names and
 * values live in the array's one allocation: free it with qprops_free only. */
int qprops_parse(const char *s, size_t len, struct qprop **props, size_t *n, struct qerror *err);
const struct qprop *qprops_find(const struct qprop *props, size_t n, const char *name);
void qprops_free(struct qprop *props, size_t n);
/* A parsed property list as one value, for a cleanup variable. */
struct qprops {
    struct qprop *v;
    size_t n;
};
static inline void qprops_freep(struct qprops *p)
{
    qprops_free(p->v, p->n);
}
#define _cleanup_qprops_ __attribute__((cleanup(qprops_freep)))
/* A property with no value (the client's AttributeError for int/bool, None
 * for vm/label). */
static inline bool qprop_unset(const struct qprop *p)
{
    return !p || !p->value[0];
}

/* Splits an answer into its lines (the content buffer is modified in place). */
size_t split_lines(char *s, char ***lines);
/* A list call (no argument, no payload) split into its lines, which point
 * into content; none (NULL, 0) on failure. */
int qcall_lines(const char *method, const char *dest, struct buf *content, char ***lines, size_t *n,
                struct qerror *err);

/* A text table printed like `column -t`: cells separated by two spaces,
 * every column but the last padded to its widest cell. */
struct table {
    size_t ncols;
    size_t ncells;
    size_t cap;
    char **cells;
};
void table_init(struct table *t, size_t ncols);
void table_add(struct table *t, const char *cell);
void table_print(const struct table *t, FILE *out);
void table_free(struct table *t);
#define _cleanup_table_ __attribute__((cleanup(table_free)))

/* Reads a whole stream / file into buf; -1 with errno on failure. */
int read_all_fd(int fd, struct buf *out);

/* A y/N question on stdin; false on EOF. */
bool cli_ask(const char *prompt, const char *yes);

/* The -P POOL / -p VOLUME=POOL options of qvm-create and qvm-clone. */
struct cli_pools {
    const char *all; /* -P: pool for every volume */
    char **volumes;  /* -p: "volume=pool" items */
    size_t nvolumes;
};
/* Takes one -p argument; not of the form a=b is a usage error. */
void cli_pools_add_volume(const struct cli *cli, struct cli_pools *p, char *arg);
/* -P and -p together are a usage error. */
void cli_pools_check(const struct cli *cli, const struct cli_pools *p);
/* Frees the -p vector (its items belong to argv). */
void cli_pools_free(struct cli_pools *p);
#define _cleanup_pools_ __attribute__((cleanup(cli_pools_free)))

/* admin.vm.Create.<klass>, or CreateInPool when a pool is given;
 * template may be NULL. */
int qube_create(const char *klass, const char *name, const char *label, const char *template_name,
                const struct cli_pools *pools, struct qerror *err);
/* qsort comparator for an array of char *. */
int cmp_strp(const void *a, const void *b);
