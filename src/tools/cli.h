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
#include "tools/batch_call.h"

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
#define CLI_COMMON_LONGOPTS                                                                       \
    { "help", no_argument, NULL, 'h' }, { "verbose", no_argument, NULL, 'v' },                    \
        { "quiet", no_argument, NULL, 'q' }, { "force-root", no_argument, NULL, 0x1ff }, {        \
        NULL, 0, NULL, 0                                                                          \
    }
#define CLI_COMMON_SHORTOPTS "hvq"

/* getopt_long with argparse behaviour: -h prints the help and exits 0, -v/-q
 * are counted, an unknown option or a missing argument is a usage error
 * (exit 2). Returns the option, or -1 at the end. */
int cli_getopt(struct cli *cli, int argc, char **argv, const char *shortopts,
               const struct option *longopts);

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

/* Python's '{!r}' of a string, in a static-free heap string. */
char *cli_repr(const char *s);
bool qerror_is(const struct qerror *err, const char *kind);

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
const struct vm_entry *vm_list_find(const struct vm_entry *vms, size_t n, const char *name);
/* Resolves a VM name typed by the user; an unknown one is argparse's
 * "no such domain: 'x'" usage error (exit 2); another failure exits 1. */
void cli_require_vm(const struct cli *cli, const char *name, struct vm_entry *out);
/* Expands VM name arguments (with fnmatch wildcards as upstream) against the
 * list; unknown names are a usage error unless missing != NULL, in which case
 * they are appended there (as heap strings). Returns indexes into vms. */
size_t *cli_select_vms(const struct cli *cli, const struct vm_entry *vms, size_t nvms,
                       char **names, size_t nnames, size_t *nsel, char ***missing,
                       size_t *nmissing);

/* A property as (vm.)property.Get / GetAll report it. */
struct qprop {
    char *name;
    bool is_default;
    char type[8]; /* vm, int, bool, label, str */
    char *value;  /* "" for None / no value */
};
/* Parses "default=<b> type=<t> <value>" (Get's answer, no name). */
int qprop_parse_value(const char *s, struct qprop *p, struct qerror *err);
/* Parses a GetAll answer: "<name> default=.. type=.. <value>\n"..., with the
 * \\ and \n escapes undone. Sorted by name as qubesd sends it. */
int qprops_parse(const char *s, size_t len, struct qprop **props, size_t *n, struct qerror *err);
const struct qprop *qprops_find(const struct qprop *props, size_t n, const char *name);
void qprops_free(struct qprop *props, size_t n);
/* A property with no value (the client's AttributeError for int/bool, None
 * for vm/label). */
static inline bool qprop_unset(const struct qprop *p) { return !p || !p->value[0]; }

/* Splits an answer into its lines (the content buffer is modified in place). */
size_t split_lines(char *s, char ***lines);

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

/* Reads a whole stream / file into buf; -1 with errno on failure. */
int read_all_fd(int fd, struct buf *out);

/* A y/N question on stdin; false on EOF. */
bool cli_ask(const char *prompt, const char *yes);

/* admin.vm.Create.<klass>, or CreateInPool when a pool is given (pool for
 * all volumes, or "vol=pool" items in pools); template may be NULL. */
int qube_create(const char *klass, const char *name, const char *label, const char *template_name,
                const char *pool, char *const *pools, size_t npools, struct qerror *err);
/* qsort comparator for an array of char *. */
int cmp_strp(const void *a, const void *b);
