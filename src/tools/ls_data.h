/* What qvm-ls learns about each listed qube, each kind with one batch of
 * concurrent Admin API calls: properties (property.GetAll), tags (tag.List),
 * features (feature.Get), volumes (volume.List, then volume.Info of each) and
 * memory (CurrentState), as upstream qvm-ls asks for them. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tools/cli.h"

struct ls_volume {
    char *name;
    char *pool;
    uint64_t size;
    uint64_t usage;
};

struct ls_feature {
    const char *name; /* belongs to the caller's list */
    char *value;      /* NULL: not set */
};

struct ls_qube {
    const struct vm_entry *vm;
    bool have_props;
    struct qprop *props;
    size_t nprops;
    char **tags; /* NULL-terminated */
    size_t ntags;
    struct ls_feature *features;
    size_t nfeatures;
    bool have_volumes;
    struct ls_volume *volumes;
    size_t nvolumes;
    bool have_mem;
    uint64_t mem_kib;
};

/* One per qube of the list, in its order. */
struct ls_qubes {
    struct ls_qube *v;
    size_t n;
};
void ls_qubes_init(struct ls_qubes *q, const struct vm_entry *vms, size_t n);
void ls_qubes_free(struct ls_qubes *q);
#define _cleanup_ls_qubes_ __attribute__((cleanup(ls_qubes_free)))

/* Each fetches for the qubes at the given indexes; a qube removed meanwhile
 * keeps no data, another failure is reported (returns 1, else 0). */
int ls_fetch_props(const struct cli *cli, struct ls_qubes *q, const size_t *idx, size_t n);
int ls_fetch_tags(const struct cli *cli, struct ls_qubes *q, const size_t *idx, size_t n);
int ls_fetch_features(const struct cli *cli, struct ls_qubes *q, const size_t *idx, size_t n,
                      char *const *names, size_t nnames);
int ls_fetch_volumes(const struct cli *cli, struct ls_qubes *q, const size_t *idx, size_t n);
/* CurrentState of the qubes that are not halted. */
int ls_fetch_memory(const struct cli *cli, struct ls_qubes *q, const size_t *idx, size_t n);

/* The value of a property: NULL when the qube has no such property. */
const struct qprop *ls_prop(const struct ls_qube *q, const char *name);
/* A feature's value, NULL when unset (or not fetched). */
const char *ls_feature(const struct ls_qube *q, const char *name);
bool ls_has_tag(const struct ls_qube *q, const char *tag);
const struct ls_volume *ls_volume(const struct ls_qube *q, const char *name);
