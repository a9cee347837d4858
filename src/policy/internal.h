/* Declarations shared by the parts of the policy library, not part of its
 * interface: the matching and expansion of tokens, and a small string set. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "policy/policy.h"

struct policy_strset {
    char **items;
    size_t n;
};

bool policy_strset_has(const struct policy_strset *s, const char *v);
void policy_strset_add(struct policy_strset *s, const char *v);
void policy_strset_remove(struct policy_strset *s, const char *v);
void policy_strset_sort(struct policy_strset *s);
void policy_strset_free(struct policy_strset *s);

/* Resolves a qube name or "uuid:UUID" literal to a qube. */
const struct policy_qube *policy_system_resolve(const struct policy_system *sys, const char *name);

/* A request-side token: the intended target (or the source, as a name). */
bool policy_token_match(const struct policy_token *rule_tok, const struct policy_token *req,
                        const struct policy_system *sys, const char *source);
/* Adds every target this rule token could name, for the ask list. */
void policy_token_expand(const struct policy_token *tok, const struct policy_system *sys,
                         struct policy_strset *out);

