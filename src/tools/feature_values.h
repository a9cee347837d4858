/* Features of a qube as qvm-features and qvm-service use them: all of them (or those with a
 * prefix) with their values, one removed, one read. */
#pragma once

#include "common/buf.h"
#include "tools/batch_call.h"
#include "tools/cli.h"

/* The positional VMNAME [NAME [VALUE]] of both tools (NULL when not given); the qube must
 * exist (argparse's "no such domain" otherwise). */
void feature_args(const struct cli *cli, int argc, char **argv, const char **vm, const char **name,
                  const char **value);

/* The features whose names start with prefix, with values: feature.List, then one
 * feature.Get each, all at once. calls[i].arg is the name, calls[i].content the value. */
struct feature_values {
    struct buf list;
    char **names;
    struct batch_call *calls;
    size_t n;
};
/* 0, or the exit code of the failure it reported. */
int feature_values_fetch(const struct cli *cli, const char *vm, const char *prefix,
                         struct feature_values *fv);
void feature_values_free(struct feature_values *fv);
#define _cleanup_feature_values_ __attribute__((cleanup(feature_values_free)))

/* admin.vm.feature.Remove; an unset feature is no error. 0 or the reported failure's code. */
int feature_remove(const struct cli *cli, const char *vm, const char *feature);
/* admin.vm.feature.Get into value: 0; 1 (nothing printed) when it is not set; else the
 * reported failure's code. */
int feature_get(const struct cli *cli, const char *vm, const char *feature, struct buf *value);
