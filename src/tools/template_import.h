/* Root trees of templates for qvm-template: where the recipes are, a work
 * directory that is always removed, running a recipe or tar into a tree, and
 * importing a tree into a qube's root volume (internal.vm.volume.ImportBegin,
 * mkfs.ext4 -d, ImportEnd), with progress on a terminal. */
#pragma once

#include <stdbool.h>

#include "common/error.h"

/* The directory holding the recipes (<dir>/<recipe>/build.sh):
 * $QUBICLE_TEMPLATES if set; the source tree's templates/ when the tool runs
 * from a build tree; else $datadir/qubicle/templates. Heap string. */
char *template_recipes_dir(void);
/* The recipe's build.sh, checked to exist; heap string in *script. */
int template_recipe_find(const char *recipe, char **script, struct qerror *err);

/* Where one run keeps its tree and logs: $QUBES_ROOT/var/tmp/qvm-template.XXXXXX,
 * created (with its parents) here. */
struct template_work {
    char *dir;
    char *tree; /* <dir>/tree, created */
    char *log;  /* <dir>/log: output of the steps */
    bool tty;   /* stderr is a terminal: progress bars, quiet steps */
};
int template_work_init(struct template_work *w, struct qerror *err);
/* Unmounts whatever a recipe left mounted under the work directory, then
 * removes it (rm -rf --one-file-system). Safe on a zeroed struct. */
void template_work_cleanup(struct template_work *w);

/* Catch SIGINT/SIGTERM/SIGHUP: the running step is stopped and fails, so
 * the caller still cleans up. */
void template_catch_signals(void);

/* sh <script> <work->tree>; the recipe's output is shown as it comes
 * (plain lines) or, on a terminal, kept in the log under a progress line. */
int template_run_recipe(struct template_work *w, const char *recipe, const char *script,
                        struct qerror *err);
/* tar -x of a .tar, .tar.gz, .tar.xz (any tar reads) into work->tree. */
int template_unpack(struct template_work *w, const char *tarball, struct qerror *err);

/* Imports the tree into vm's root volume: ImportBegin answers the path of a
 * sparse image of the volume's size, mkfs.ext4 -d fills it, ImportEnd
 * commits ("ok") or drops it ("fail\n<why>"). */
int template_import_tree(struct template_work *w, const char *vm, const char *tree,
                         struct qerror *err);
