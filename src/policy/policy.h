/* The qrexec policy (R4.1+ format, reference qrexec.md §2): loading policy
 * directories into a rule list, and evaluating one call against it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"

/* Bounds on untrusted policy text. */
#define POLICY_MAX_LINE 65536
#define POLICY_MAX_FILES 10000
#define POLICY_MAX_RULES 10000
#define POLICY_MAX_INCLUDE_DEPTH 16
#define POLICY_ADMINVM_UUID "00000000-0000-0000-0000-000000000000"

/* ---- system info: the facts of upstream's GetSystemInfo ---- */

struct policy_qube {
    char *name;
    char *uuid; /* without the "uuid:" prefix; may be NULL */
    char *type; /* "AdminVM", "AppVM", "TemplateVM", "StandaloneVM", "DispVM" */
    char **tags;
    size_t n_tags;
    char *default_dispvm; /* NULL = none */
    bool template_for_dispvms;
    bool internal;
    char *power_state; /* "Running", "Halted", ... */
};

struct policy_system {
    struct policy_qube *qubes;
    size_t n_qubes;
};

/* Adds a qube (strings copied) and returns it, for tags/fields to be filled. */
struct policy_qube *policy_system_add(struct policy_system *sys, const char *name, const char *uuid,
                                      const char *type);
void policy_qube_add_tag(struct policy_qube *q, const char *tag);
void policy_qube_set(char **field, const char *value);
const struct policy_qube *policy_system_find(const struct policy_system *sys, const char *name);
void policy_system_free(struct policy_system *sys);

/* ---- tokens ---- */

enum policy_token_kind {
    PTOK_NAME,            /* qube name or uuid:UUID literal */
    PTOK_ADMINVM,         /* dom0, @adminvm, uuid:0000... */
    PTOK_ANY,             /* * */
    PTOK_ANYVM,           /* @anyvm */
    PTOK_DEFAULT,         /* @default */
    PTOK_DISPVM,          /* @dispvm */
    PTOK_DISPVM_TEMPLATE, /* @dispvm:NAME */
    PTOK_DISPVM_TAG,      /* @dispvm:@tag:T */
    PTOK_TAG,             /* @tag:T */
    PTOK_TYPE,            /* @type:T */
};

/* Where a token appears; decides which kinds are valid (§2.3). */
enum policy_token_ctx {
    PCTX_SOURCE,
    PCTX_TARGET,
    PCTX_REDIRECT,
    PCTX_INTENDED,
};

struct policy_token {
    enum policy_token_kind kind;
    char *text;        /* as written, owned */
    const char *value; /* suffix after the prefix (into text), or text */
};

/* Parses untrusted_text as a token valid in ctx. On a syntax error, returns
 * -1 with the upstream message ("invalid target token: '@x'"). */
int policy_token_parse(struct policy_token *tok, const char *untrusted_text,
                       enum policy_token_ctx ctx, struct qerror *err);
void policy_token_free(struct policy_token *tok);
const char *policy_token_ctx_name(enum policy_token_ctx ctx);

/* ---- rules ---- */

enum policy_action {
    POLICY_ACTION_DENY,
    POLICY_ACTION_ALLOW,
    POLICY_ACTION_ASK,
};

struct policy_rule {
    char *service;  /* NULL = * */
    char *argument; /* NULL = *, else starts with '+' */
    struct policy_token source;
    struct policy_token target;
    enum policy_action action;
    bool has_redirect;
    struct policy_token redirect; /* target= */
    bool has_default_target;
    struct policy_token default_target;
    char *user;  /* NULL = default */
    bool notify; /* tell the user (the policy agent): a deny, or a rule's notify=yes */
    bool autostart;
    char *file;
    unsigned line;
};

struct policy {
    struct policy_rule *rules;
    size_t n_rules;
    size_t n_files;
    /* Set when loading failed (syntax error, invalid file name, I/O error):
     * every request is then denied with this reason. */
    char *error;
};

/* Loads the policy from dirs in order (files merged by basename, first
 * directory wins, loaded in C-locale order of basename). Includes resolve
 * relative to the directory of the top-level file; compat_dir is the legacy
 * /etc/qubes-rpc/policy for !compat-4.0 (NULL = the directive is an error).
 * Never fails: a load error is recorded in p->error (and returned as -1). */
int policy_load_dirs(struct policy *p, const char *const *dirs, size_t n_dirs,
                     const char *compat_dir, struct qerror *err);
/* Parses one policy file body (new format) named name; includes resolve
 * against include_base (NULL = includes are errors). Same error handling. */
int policy_load_string(struct policy *p, const char *untrusted_body, size_t len, const char *name,
                       const char *include_base, struct qerror *err);
void policy_free(struct policy *p);

/* ---- evaluation ---- */

enum policy_result {
    POLICY_DENY,
    POLICY_ALLOW,
    POLICY_ASK,
};

struct policy_resolution {
    enum policy_result result;
    char reason[512];       /* for deny */
    char *requested_target; /* the intended target after normalisation */
    char *target;           /* allow: resolved target ("dom0", "name", "@dispvm:T") */
    char *target_uuid;      /* allow: "uuid:..." or "@dispvm:uuid:..." or NULL */
    char *user;             /* allow/ask: NULL = DEFAULT */
    bool autostart;
    bool notify;    /* tell the user (the policy agent): a deny, or a rule's notify=yes */
    char **targets; /* ask: sorted candidates */
    size_t n_targets;
    char *default_target; /* ask: NULL = none */
    const char *file;     /* the deciding rule, NULL if none */
    unsigned line;
};

/* Evaluates service_and_arg ("svc" or "svc+arg") from source to
 * intended_target. Always fills res; never fails. */
void policy_evaluate(const struct policy *p, const struct policy_system *sys, const char *source,
                     const char *intended_target, const char *service_and_arg,
                     struct policy_resolution *res);
void policy_resolution_free(struct policy_resolution *res);
/* The response lines of the policy daemon protocol: allow (user, result, target,
 * target_uuid, autostart, requested_target), deny, or for --just-evaluate an ask
 * (result=ask, targets=, default_target=). */
struct buf;
void policy_resolution_format(const struct policy_resolution *res, struct buf *out);
/* The answer to an ask: allow with choice if it is one of the candidates, else deny. */
void policy_resolution_choose(struct policy_resolution *res, const struct policy_system *sys,
                              const char *choice);

/* Fills sys from the qubesd of $QUBES_ROOT (admin.vm.List, then per qube
 * property.GetAll and tag.List). */
int policy_system_from_qubesd(struct policy_system *sys, struct qerror *err);
