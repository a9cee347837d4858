/* Evaluating one call against a loaded policy (§2.6): first matching rule,
 * then the action's resolution (redirects, @default, @dispvm, ask list). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "policy/internal.h"

static void deny(struct policy_resolution *res, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void deny(struct policy_resolution *res, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(res->reason, sizeof(res->reason), fmt, ap);
    va_end(ap);
    res->result = POLICY_DENY;
}

struct request {
    const char *service;
    const char *argument;
    const char *source;
    struct policy_token source_tok; /* the source as a request-side token */
    struct policy_token target;
};

static bool rule_matches_but_target(const struct policy_rule *r, const struct request *rq,
                                    const struct policy_system *sys)
{
    return (!r->service || strcmp(r->service, rq->service) == 0) &&
           (!r->argument || strcmp(r->argument, rq->argument) == 0) &&
           policy_token_match(&r->source, &rq->source_tok, sys, rq->source);
}

static const char *source_default_dispvm(const struct policy_system *sys, const char *source)
{
    const struct policy_qube *q = policy_system_find(sys, source);
    return q ? q->default_dispvm : NULL;
}

/* @dispvm -> @dispvm:<default>, dom0 aliases -> dom0, source and internal
 * qubes removed, not-running ones too with autostart=no. */
static void finish_candidates(struct str_set *t, const struct policy_system *sys,
                              const char *source, bool autostart)
{
    if (str_set_has(t, "@dispvm")) {
        str_set_del(t, "@dispvm");
        const char *dvm = source_default_dispvm(sys, source);
        if (dvm) {
            _cleanup_free_ char *s = xasprintf("@dispvm:%s", dvm);
            str_set_add(t, s);
        }
    }
    if (str_set_has(t, "@adminvm")) {
        str_set_del(t, "@adminvm");
        str_set_add(t, "dom0");
    }
    str_set_del(t, source);
    for (size_t i = 0; i < t->n;) {
        const struct policy_qube *q = policy_system_find(sys, t->items[i]);
        bool drop = q && q->internal;
        if (!autostart && strcmp(t->items[i], "dom0") != 0)
            drop = drop || !q || !q->power_state || strcmp(q->power_state, "Running") != 0;
        if (drop)
            str_set_del(t, t->items[i]);
        else
            i++;
    }
}

static void collect_targets_for_ask(const struct policy *p, const struct request *rq,
                                    const struct policy_system *sys, struct str_set *out)
{
    for (size_t i = p->n_rules; i-- > 0;) {
        const struct policy_rule *r = &p->rules[i];
        if (!rule_matches_but_target(r, rq, sys))
            continue;
        const struct policy_token *t =
            r->action != POLICY_ACTION_DENY && r->has_redirect ? &r->redirect : &r->target;
        struct str_set exp = { 0 };
        policy_token_expand(t, sys, &exp);
        for (size_t k = 0; k < exp.n; k++) {
            if (r->action == POLICY_ACTION_DENY)
                str_set_del(out, exp.items[k]);
            else
                str_set_add(out, exp.items[k]);
        }
        str_set_free(&exp);
    }
}

/* The target an allow resolves to: "dom0", a qube name or "@dispvm:T";
 * NULL after deny() when there is none. */
static char *resolve_allow_target(const struct policy_rule *r, const struct request *rq,
                                  const struct policy_system *sys, struct policy_resolution *res)
{
    const struct policy_token *t = r->has_redirect ? &r->redirect : &rq->target;
    enum policy_token_kind kind = t->kind;
    const struct policy_qube *q = NULL;
    if (kind == PTOK_NAME) {
        q = policy_system_resolve(sys, t->text);
        if (!q)
            kind = PTOK_DEFAULT; /* a non-existent qube is @default */
    }
    switch (kind) {
    case PTOK_ADMINVM: return xstrdup("dom0");
    case PTOK_NAME: return xstrdup(q->name);
    case PTOK_DISPVM: {
        const char *dvm = source_default_dispvm(sys, rq->source);
        if (!dvm) {
            deny(res,
                 "policy define 'allow' action to @dispvm at %s:%u but no DispVM base is set "
                 "for this VM",
                 r->file, r->line);
            return NULL;
        }
        return xasprintf("@dispvm:%s", dvm);
    }
    case PTOK_DISPVM_TEMPLATE: {
        const struct policy_qube *tq = policy_system_find(sys, t->value);
        if (!tq || !tq->template_for_dispvms) {
            deny(res, "not a template for dispvm: %s", t->value);
            return NULL;
        }
        return xstrdup(t->text);
    }
    case PTOK_DEFAULT:
    case PTOK_ANY:
    case PTOK_ANYVM:
    case PTOK_DISPVM_TAG:
    case PTOK_TAG:
    case PTOK_TYPE:
    default:
        deny(res,
             "policy define 'allow' action at %s:%u but no target is specified by caller or "
             "policy",
             r->file, r->line);
        return NULL;
    }
}

static void evaluate_allow(const struct policy_rule *r, const struct request *rq,
                           const struct policy_system *sys, struct policy_resolution *res)
{
    char *target = resolve_allow_target(r, rq, sys, res);
    if (!target)
        return;
    if (strcmp(target, rq->source) == 0) {
        deny(res, "loopback call from %s to itself denied (policy %s:%u)", rq->source, r->file,
             r->line);
        free(target);
        return;
    }
    const struct policy_qube *q = NULL;
    bool dispvm = strncmp(target, "@dispvm:", 8) == 0;
    if (dispvm)
        q = policy_system_find(sys, target + 8);
    else if (strcmp(target, "dom0") != 0)
        q = policy_system_find(sys, target);
    if (!r->autostart && strcmp(target, "dom0") != 0 &&
        (dispvm || !q || !q->power_state || strcmp(q->power_state, "Running") != 0)) {
        deny(res, "target %s is not running and policy %s:%u has autostart=no", target, r->file,
             r->line);
        free(target);
        return;
    }
    res->result = POLICY_ALLOW;
    res->target = target;
    if (q && q->uuid)
        res->target_uuid = xasprintf("%suuid:%s", dispvm ? "@dispvm:" : "", q->uuid);
    res->user = r->user ? xstrdup(r->user) : NULL;
    res->autostart = r->autostart;
    res->notify = r->notify;
}

static void evaluate_ask(const struct policy *p, const struct policy_rule *r,
                         const struct request *rq, const struct policy_system *sys,
                         struct policy_resolution *res)
{
    struct str_set t = { 0 };
    if (r->has_redirect) {
        if (r->redirect.kind == PTOK_NAME) {
            const struct policy_qube *q = policy_system_resolve(sys, r->redirect.text);
            str_set_add(&t, q ? q->name : r->redirect.text);
        } else {
            str_set_add(&t, r->redirect.kind == PTOK_ADMINVM ? "dom0" : r->redirect.text);
        }
    } else {
        collect_targets_for_ask(p, rq, sys, &t);
    }
    finish_candidates(&t, sys, rq->source, r->autostart);
    if (t.n == 0) {
        str_set_free(&t);
        deny(res, "policy define 'ask' action at %s:%u but no target is available to choose from",
             r->file, r->line);
        return;
    }
    res->result = POLICY_ASK;
    res->targets = t.items;
    res->n_targets = t.n;
    res->user = r->user ? xstrdup(r->user) : NULL;
    res->autostart = r->autostart;
    res->notify = r->notify;
    if (r->has_default_target) {
        char *d = NULL;
        switch (r->default_target.kind) {
        case PTOK_DISPVM: {
            const char *dvm = source_default_dispvm(sys, rq->source);
            d = dvm ? xasprintf("@dispvm:%s", dvm) : NULL;
            break;
        }
        case PTOK_ADMINVM: d = xstrdup("dom0"); break;
        case PTOK_NAME: {
            const struct policy_qube *q = policy_system_resolve(sys, r->default_target.text);
            d = xstrdup(q ? q->name : r->default_target.text);
            break;
        }
        case PTOK_ANY:
        case PTOK_ANYVM:
        case PTOK_DEFAULT:
        case PTOK_DISPVM_TEMPLATE:
        case PTOK_DISPVM_TAG:
        case PTOK_TAG:
        case PTOK_TYPE:
        default: d = xstrdup(r->default_target.text); break;
        }
        /* not among the candidates: dropped (HEAD warns) */
        if (d && !str_set_has(&t, d)) {
            free(d);
            d = NULL;
        }
        res->default_target = d;
    }
}

void policy_evaluate(const struct policy *p, const struct policy_system *sys, const char *source,
                     const char *intended_target, const char *service_and_arg,
                     struct policy_resolution *res)
{
    memset(res, 0, sizeof(*res));
    res->result = POLICY_DENY;
    /* a denial is notified unless the rule that decided says notify=no
     * (qrexec's AccessDenied defaults to notify=True) */
    res->notify = true;
    if (p->error) {
        deny(res, "%s", p->error);
        return;
    }
    _cleanup_free_ char *service = xstrdup(service_and_arg);
    char *plus = strchr(service, '+');
    _cleanup_free_ char *argument = xstrdup(plus ? plus : "+");
    if (plus)
        *plus = '\0';

    struct request rq = { .service = service, .argument = argument, .source = source };
    struct qerror err = { 0 };
    const char *tgt = intended_target[0] ? intended_target : "@default";
    if (policy_token_parse(&rq.target, tgt, PCTX_INTENDED, &err) < 0) {
        deny(res, "%s", err.message);
        return;
    }
    if (rq.target.kind == PTOK_NAME && !policy_system_resolve(sys, rq.target.text)) {
        policy_token_free(&rq.target);
        policy_token_parse(&rq.target, "@default", PCTX_INTENDED, &err);
    }
    res->requested_target = xstrdup(rq.target.text);
    if (rq.target.kind == PTOK_DISPVM_TEMPLATE) {
        const struct policy_qube *tq = policy_system_find(sys, rq.target.value);
        if (!tq || !tq->template_for_dispvms) {
            deny(res, "not a template for dispvm: %s", rq.target.value);
            policy_token_free(&rq.target);
            return;
        }
    }
    rq.source_tok.kind = strcmp(source, "dom0") == 0 ? PTOK_ADMINVM : PTOK_NAME;
    rq.source_tok.text = (char *)source;
    rq.source_tok.value = source;

    const struct policy_rule *r = NULL;
    for (size_t i = 0; i < p->n_rules; i++) {
        if (rule_matches_but_target(&p->rules[i], &rq, sys) &&
            policy_token_match(&p->rules[i].target, &rq.target, sys, source)) {
            r = &p->rules[i];
            break;
        }
    }
    if (!r) {
        deny(res, "no matching rule found");
    } else {
        res->file = r->file;
        res->line = r->line;
        switch (r->action) {
        case POLICY_ACTION_DENY:
            res->notify = r->notify;
            deny(res, "denied by policy %s:%u", r->file, r->line);
            break;
        case POLICY_ACTION_ALLOW: evaluate_allow(r, &rq, sys, res); break;
        case POLICY_ACTION_ASK: evaluate_ask(p, r, &rq, sys, res); break;
        default: deny(res, "invalid action"); break;
        }
    }
    policy_token_free(&rq.target);
}

void policy_resolution_choose(struct policy_resolution *res, const struct policy_system *sys,
                              const char *choice)
{
    if (res->result != POLICY_ASK)
        return;
    bool found = false;
    for (size_t i = 0; choice && i < res->n_targets; i++)
        found = found || strcmp(res->targets[i], choice) == 0;
    if (!found) {
        deny(res, "target %s is not a valid choice", choice ? choice : "(none)");
        return;
    }
    bool dispvm = strncmp(choice, "@dispvm:", 8) == 0;
    const struct policy_qube *q =
        strcmp(choice, "dom0") == 0 ? NULL : policy_system_find(sys, dispvm ? choice + 8 : choice);
    res->result = POLICY_ALLOW;
    res->target = xstrdup(choice);
    if (q && q->uuid)
        res->target_uuid = xasprintf("%suuid:%s", dispvm ? "@dispvm:" : "", q->uuid);
}

void policy_resolution_free(struct policy_resolution *res)
{
    free(res->requested_target);
    free(res->target);
    free(res->target_uuid);
    free(res->user);
    for (size_t i = 0; i < res->n_targets; i++)
        free(res->targets[i]);
    free(res->targets);
    free(res->default_target);
    memset(res, 0, sizeof(*res));
}
