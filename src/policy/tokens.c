/* VM tokens of the policy (§2.3): parsing per context (source, target,
 * redirect, intended target), matching against a request, expansion for ask. */
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "common/py_repr.h"
#include "policy/internal.h"

/* Bit per context in which a kind is valid. */
#define IN_S (1u << PCTX_SOURCE)
#define IN_T (1u << PCTX_TARGET)
#define IN_R (1u << PCTX_REDIRECT)
#define IN_I (1u << PCTX_INTENDED)

struct keyword {
    const char *text;
    enum policy_token_kind kind;
    unsigned valid;
};

static const struct keyword exacts[] = {
    { "@adminvm", PTOK_ADMINVM, IN_S | IN_T | IN_R | IN_I },
    { "@anyvm", PTOK_ANYVM, IN_S | IN_T },
    { "@default", PTOK_DEFAULT, IN_T | IN_I },
    { "@dispvm", PTOK_DISPVM, IN_T | IN_R | IN_I },
};

/* In upstream's order: a suffix starting with '@' falls through to a longer
 * prefix (@dispvm: then @dispvm:@tag:). */
static const struct keyword prefixes[] = {
    { "@type:", PTOK_TYPE, IN_S | IN_T },
    { "@tag:", PTOK_TAG, IN_S | IN_T },
    { "@dispvm:", PTOK_DISPVM_TEMPLATE, IN_S | IN_T | IN_R | IN_I },
    { "@dispvm:@tag:", PTOK_DISPVM_TAG, IN_S | IN_T },
};

const char *policy_token_ctx_name(enum policy_token_ctx ctx)
{
    switch (ctx) {
    case PCTX_SOURCE: return "source";
    case PCTX_TARGET: return "target";
    case PCTX_REDIRECT: return "redirect";
    case PCTX_INTENDED: return "intendedtarget";
    default: return "?";
    }
}

static int token_error(struct qerror *err, const char *what, const char *untrusted_text)
{
    _cleanup_buf_ struct buf b = BUF_INIT;
    py_repr(&b, untrusted_text, strlen(untrusted_text));
    return qerror_set(err, ERR_POLICY_SYNTAX_ERROR, "%s token: %s", what, b.data);
}

int policy_token_parse(struct policy_token *tok, const char *untrusted_text,
                       enum policy_token_ctx ctx, struct qerror *err)
{
    unsigned bit = 1u << ctx;
    memset(tok, 0, sizeof(*tok));
    if (strcmp(untrusted_text, "*") == 0) {
        if (!(bit & (IN_S | IN_T)))
            goto invalid;
        tok->kind = PTOK_ANY;
        goto ok;
    }
    if (strcmp(untrusted_text, "dom0") == 0 ||
        strcmp(untrusted_text, "uuid:" POLICY_ADMINVM_UUID) == 0) {
        tok->kind = PTOK_ADMINVM;
        goto ok;
    }
    if (untrusted_text[0] != '@') {
        tok->kind = PTOK_NAME;
        goto ok;
    }
    for (size_t i = 0; i < ARRAY_SIZE(exacts); i++) {
        if ((exacts[i].valid & bit) && strcmp(untrusted_text, exacts[i].text) == 0) {
            tok->kind = exacts[i].kind;
            goto ok;
        }
    }
    for (size_t i = 0; i < ARRAY_SIZE(prefixes); i++) {
        size_t pl = strlen(prefixes[i].text);
        if (!(prefixes[i].valid & bit) || strncmp(untrusted_text, prefixes[i].text, pl) != 0)
            continue;
        const char *suffix = untrusted_text + pl;
        if (!*suffix) {
            _cleanup_buf_ struct buf b = BUF_INIT;
            py_repr(&b, untrusted_text, strlen(untrusted_text));
            return qerror_set(err, ERR_POLICY_SYNTAX_ERROR, "invalid empty %s token: %s",
                              prefixes[i].text, b.data);
        }
        if (suffix[0] == '@')
            continue;
        tok->kind = prefixes[i].kind;
        tok->text = xstrdup(untrusted_text);
        tok->value = tok->text + pl;
        return 0;
    }
invalid : {
    char what[64];
    snprintf(what, sizeof(what), "invalid %s", policy_token_ctx_name(ctx));
    return token_error(err, what, untrusted_text);
}
ok:
    tok->text = xstrdup(untrusted_text);
    tok->value = tok->text;
    return 0;
}

void policy_token_free(struct policy_token *tok)
{
    free(tok->text);
    tok->text = NULL;
    tok->value = NULL;
}

static bool has_tag(const struct policy_qube *q, const char *tag)
{
    for (size_t i = 0; i < q->n_tags; i++)
        if (strcmp(q->tags[i], tag) == 0)
            return true;
    return false;
}

/* The qube a request-side token names, for @tag:/@type: (HEAD: a request
 * for "dom0" is dom0 the qube, "@adminvm" is not). */
static const struct policy_qube *req_qube(const struct policy_token *req,
                                          const struct policy_system *sys)
{
    if (req->kind == PTOK_NAME)
        return policy_system_resolve(sys, req->text);
    if (req->kind == PTOK_ADMINVM && strcmp(req->text, "@adminvm") != 0)
        return policy_system_resolve(sys, req->text);
    return NULL;
}

/* The DispVM template a request names: @dispvm:X, or @dispvm resolved
 * through the source's default_dispvm. NULL if none. */
static const char *req_dispvm_template(const struct policy_token *req,
                                       const struct policy_system *sys, const char *source)
{
    if (req->kind == PTOK_DISPVM_TEMPLATE)
        return req->value;
    if (req->kind == PTOK_DISPVM) {
        const struct policy_qube *src = source ? policy_system_find(sys, source) : NULL;
        return src ? src->default_dispvm : NULL;
    }
    return NULL;
}

bool policy_token_match(const struct policy_token *rule_tok, const struct policy_token *req,
                        const struct policy_system *sys, const char *source)
{
    switch (rule_tok->kind) {
    case PTOK_ANY: return true;
    case PTOK_ANYVM: return req->kind != PTOK_ADMINVM;
    case PTOK_ADMINVM: return req->kind == PTOK_ADMINVM;
    case PTOK_DEFAULT: return req->kind == PTOK_DEFAULT;
    case PTOK_DISPVM: return req->kind == PTOK_DISPVM;
    case PTOK_NAME: {
        if (req->kind != PTOK_NAME)
            return false;
        if (strcmp(rule_tok->text, req->text) == 0)
            return true;
        const struct policy_qube *a = policy_system_resolve(sys, rule_tok->text);
        return a && a == policy_system_resolve(sys, req->text);
    }
    case PTOK_DISPVM_TEMPLATE: {
        const char *t = req_dispvm_template(req, sys, source);
        return t && strcmp(t, rule_tok->value) == 0;
    }
    case PTOK_DISPVM_TAG: {
        const char *t = req_dispvm_template(req, sys, source);
        const struct policy_qube *q = t ? policy_system_find(sys, t) : NULL;
        return q && q->template_for_dispvms && has_tag(q, rule_tok->value);
    }
    case PTOK_TAG: {
        const struct policy_qube *q = req_qube(req, sys);
        return q && has_tag(q, rule_tok->value);
    }
    case PTOK_TYPE: {
        const struct policy_qube *q = req_qube(req, sys);
        return q && strcmp(q->type, rule_tok->value) == 0;
    }
    default: return false;
    }
}

static void add_dispvm(struct str_set *out, const char *name)
{
    _cleanup_free_ char *s = xasprintf("@dispvm:%s", name);
    str_set_add(out, s);
}

void policy_token_expand(const struct policy_token *tok, const struct policy_system *sys,
                         struct str_set *out)
{
    switch (tok->kind) {
    case PTOK_NAME: {
        const struct policy_qube *q = policy_system_resolve(sys, tok->text);
        if (q)
            str_set_add(out, q->name);
        return;
    }
    case PTOK_ADMINVM: str_set_add(out, "@adminvm"); return;
    case PTOK_ANY:
    case PTOK_ANYVM:
        for (size_t i = 0; i < sys->n_qubes; i++) {
            const struct policy_qube *q = &sys->qubes[i];
            if (tok->kind == PTOK_ANY || strcmp(q->type, "AdminVM") != 0)
                str_set_add(out, q->name);
            if (q->template_for_dispvms)
                add_dispvm(out, q->name);
        }
        str_set_add(out, "@dispvm");
        return;
    case PTOK_DEFAULT: return;
    case PTOK_DISPVM: str_set_add(out, "@dispvm"); return;
    case PTOK_DISPVM_TEMPLATE: {
        const struct policy_qube *q = policy_system_find(sys, tok->value);
        if (q && q->template_for_dispvms)
            add_dispvm(out, q->name);
        return;
    }
    case PTOK_DISPVM_TAG:
        for (size_t i = 0; i < sys->n_qubes; i++)
            if (sys->qubes[i].template_for_dispvms && has_tag(&sys->qubes[i], tok->value))
                add_dispvm(out, sys->qubes[i].name);
        return;
    case PTOK_TAG:
    case PTOK_TYPE:
        for (size_t i = 0; i < sys->n_qubes; i++) {
            const struct policy_qube *q = &sys->qubes[i];
            if (tok->kind == PTOK_TAG ? has_tag(q, tok->value) : strcmp(q->type, tok->value) == 0)
                str_set_add(out, q->name);
        }
        return;
    default: return;
    }
}
