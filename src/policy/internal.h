/* Declarations shared by the parts of the policy library, not part of its
 * interface: the matching and expansion of tokens. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "common/str_set.h"
#include "policy/policy.h"

/* Resolves a qube name or "uuid:UUID" literal to a qube. */
const struct policy_qube *policy_system_resolve(const struct policy_system *sys, const char *name);

/* A request-side token: the intended target (or the source, as a name). */
bool policy_token_match(const struct policy_token *rule_tok, const struct policy_token *req,
                        const struct policy_system *sys, const char *source);
/* Adds every target this rule token could name, for the ask list. */
void policy_token_expand(const struct policy_token *tok, const struct policy_system *sys,
                         struct str_set *out);
