/* The qrexec policy: grammar and its error messages, tokens per column,
 * actions and parameters, directives, and evaluation (reference §2). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/buf.h"
#include "policy/policy.h"

static struct policy_system sys;

static struct policy_qube *add(const char *name, const char *uuid, const char *type,
                               const char *dvm, bool tfd, const char *state, const char *tags)
{
    struct policy_qube *q = policy_system_add(&sys, name, uuid, type);
    policy_qube_set(&q->default_dispvm, dvm);
    q->template_for_dispvms = tfd;
    policy_qube_set(&q->power_state, state);
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", tags);
    for (char *save = NULL, *t = strtok_r(buf, " ", &save); t; t = strtok_r(NULL, " ", &save))
        policy_qube_add_tag(q, t);
    return q;
}

/* The system of upstream's policy tests, with a few more. */
static int setup_system(void **state)
{
    (void)state;
    add("dom0", POLICY_ADMINVM_UUID, "AdminVM", "default-dvm", false, "Running", "dom0-tag");
    add("test-vm1", "c9024a97-9b15-46cc-8341-be82d6e6b4a1", "AppVM", "default-dvm", false,
        "Running", "tag1 tag2");
    add("test-vm2", "b3eb69d0-f9d9-4c3c-ad5c-454500303ea4", "AppVM", "default-dvm", false, "Halted",
        "tag2");
    add("test-vm3", "fa6d56e8-a89d-4106-aa62-22e172a43c8b", "AppVM", "default-dvm", true, "Halted",
        "tag3");
    add("default-dvm", "f3e538bd-4427-4697-bed7-45ef3270df21", "AppVM", "default-dvm", true,
        "Halted", "");
    add("test-invalid-dvm", "c4fa3586-a6b6-4dc4-bdfe-f7ffd3a1b8cb", "AppVM", "test-vm1", false,
        "Halted", "");
    add("test-no-dvm", "53a450b9-a454-4416-8adb-46812257ad29", "AppVM", NULL, false, "Halted", "");
    add("test-template", "a9fe2b04-9fd5-4e95-b39f-c5c2ecbf0c4e", "TemplateVM", "default-dvm", false,
        "Halted", "");
    add("test-standalone", "6d7a02b5-0a04-4d4e-bc04-b8e8e2b0e7e0", "StandaloneVM", "default-dvm",
        false, "Halted", "");
    struct policy_qube *q = add("test-internal", "d1a6f6f0-0c8a-4e4e-9a58-2c3a3f1c2b7e", "AppVM",
                                "default-dvm", false, "Halted", "");
    q->internal = true;
    return 0;
}

static int teardown_system(void **state)
{
    (void)state;
    policy_system_free(&sys);
    return 0;
}

/* ---- grammar ---- */

static void expect_load_error(const char *body, const char *message)
{
    struct policy p;
    struct qerror err = { 0 };
    if (policy_load_string(&p, body, strlen(body), "test.policy", NULL, &err) == 0)
        fail_msg("no error for: %s", body);
    assert_string_equal(qerror_kind_name(&err), "PolicySyntaxError");
    assert_string_equal(err.message, message);
    assert_string_equal(p.error, message);
    /* a syntax error anywhere denies every call */
    struct policy_resolution res;
    policy_evaluate(&p, &sys, "test-vm1", "test-vm2", "test.Service", &res);
    assert_int_equal(res.result, POLICY_DENY);
    assert_string_equal(res.reason, message);
    policy_resolution_free(&res);
    policy_free(&p);
}

static struct policy load_ok(const char *body)
{
    struct policy p;
    struct qerror err = { 0 };
    if (policy_load_string(&p, body, strlen(body), "test.policy", NULL, &err) < 0)
        fail_msg("load failed: %s (%s)", err.message, body);
    return p;
}

static void expect_ok(const char *body)
{
    struct policy p = load_ok(body);
    policy_free(&p);
}

static void test_grammar_errors(void **state)
{
    (void)state;
    static const struct {
        const char *body, *message;
    } cases[] = {
        { "test.Service * @anyvm @anyvm", "test.policy:1: wrong number of fields" },
        { "\n\n# c\n  test.Service", "test.policy:4: wrong number of fields" },
        { "test.Service * @anyvm @anyvm allow extra",
          "test.policy:1: invalid action parameter syntax: 'extra'" },
        { "test.Service * @anyvm @anyvm allow # comment",
          "test.policy:1: invalid action parameter syntax: '#'" },
        { "test.Service * @anyvm @anyvm allow user=a user=b",
          "test.policy:1: parameter given twice: 'user'" },
        { "test.Service * @anyvm @anyvm allow,target=dom0",
          "test.policy:1: invalid action: allow,target=dom0" },
        { "test.Service * @anyvm @anyvm Allow", "test.policy:1: invalid action: Allow" },
        { "test.Service * @anyvm @anyvm permit", "test.policy:1: invalid action: permit" },
        { "!foo", "test.policy:1: invalid directive" },
        { "!include", "test.policy:1: invalid number of params" },
        { "!include a b", "test.policy:1: invalid number of params" },
        { "!include-dir", "test.policy:1: invalid number of params" },
        { "!include-service a b", "test.policy:1: invalid number of params" },
        { "!compat-4.0 x", "test.policy:1: invalid number of params" },
        { "test+Service * @anyvm @anyvm allow",
          "test.policy:1: service 'test+Service' contains invalid characters: ('+',)" },
        { "test/$Service * @anyvm @anyvm allow",
          "test.policy:1: service 'test/$Service' contains invalid characters: ('$', '/')" },
        { "test.Service +a/b @anyvm @anyvm allow",
          "test.policy:1: argument '+a/b' contains invalid characters: ('/',)" },
        { "test.Service arg @anyvm @anyvm allow",
          "test.policy:1: argument 'arg' does not start with +" },
        { "* +arg @anyvm @anyvm allow", "test.policy:1: only * argument allowed for * service" },
        { "test.Service * @anyvm @default allow",
          "test.policy:1: allow action for @default rule must specify target= option" },
        { "test.Service * @anyvm @anyvm deny target=dom0",
          "test.policy:1: invalid parameters for action Deny: ['target=dom0']" },
        { "test.Service * @anyvm @anyvm allow default_target=dom0",
          "test.policy:1: invalid parameters for action Allow: ['default_target=dom0']" },
        { "test.Service * @anyvm @anyvm ask foo=bar user=x",
          "test.policy:1: invalid parameters for action Ask: ['foo=bar', 'user=x']" },
        { "test.Service * @anyvm @anyvm allow notify=maybe",
          "test.policy:1: invalid value for notify= parameter: 'maybe'" },
        { "test.Service * @anyvm @anyvm allow autostart=1",
          "test.policy:1: invalid value for autostart= parameter: '1'" },
        { "test.Service * @anyvm @anyvm allow\n"
          "test.Service * @anyvm @anyvm deny\n"
          "test.Service * @anyvm @foo deny\n",
          "test.policy:3: invalid target token: '@foo'" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        expect_load_error(cases[i].body, cases[i].message);
}

static void test_grammar_ok(void **state)
{
    (void)state;
    expect_ok("");
    expect_ok("# only a comment\n\n   \n\t# indented comment\n");
    expect_ok("  test.Service\t*  @anyvm\t@anyvm   allow  \n");
    expect_ok("test.Service + @anyvm @anyvm allow");
    expect_ok("test.Service +arg+with.plus-_ @anyvm @anyvm allow");
    expect_ok("* * @anyvm @anyvm deny notify=no");
    expect_ok("test.Service * @anyvm @anyvm allow target=dom0 user=root notify=yes autostart=no");
    expect_ok("test.Service * @anyvm @anyvm ask target=dom0 default_target=dom0 user=u "
              "notify=no autostart=yes");
    expect_ok("test.Service * @anyvm @default ask");
    expect_ok("test.Service * @anyvm @default allow target=test-vm1");
    expect_ok("test.Service * $anyvm $anyvm allow"); /* just names in the new format */
    struct policy p = load_ok("a * @anyvm @anyvm deny\nb * @anyvm @anyvm allow\n");
    assert_int_equal(p.n_rules, 2);
    assert_int_equal(p.rules[1].line, 2);
    assert_true(p.rules[0].notify);
    assert_false(p.rules[1].notify);
    assert_true(p.rules[1].autostart);
    assert_null(p.rules[0].argument);
    policy_free(&p);
}

static void test_bounds(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    buf_append_str(&b, "test.Service * @anyvm @anyvm allow user=");
    for (int i = 0; i < POLICY_MAX_LINE; i++)
        buf_append_char(&b, 'a');
    expect_load_error(b.data, "test.policy:1: line too long (at most 65536 bytes)");
    buf_free(&b);
    const char nul[] = "x * @anyvm @anyvm allow\0";
    struct policy p;
    struct qerror err = { 0 };
    assert_int_equal(policy_load_string(&p, nul, sizeof(nul) - 1, "test.policy", NULL, &err), -1);
    assert_string_equal(err.message, "test.policy:1: line contains a NUL byte");
    policy_free(&p);
    for (int i = 0; i <= POLICY_MAX_RULES; i++)
        buf_append_str(&b, "x * @anyvm @anyvm allow\n");
    expect_load_error(b.data, "test.policy:10001: too many rules (at most 10000)");
    buf_free(&b);
}

/* ---- tokens ---- */

static void expect_token(const char *text, enum policy_token_ctx ctx, int kind, const char *msg)
{
    struct policy_token t;
    struct qerror err = { 0 };
    int r = policy_token_parse(&t, text, ctx, &err);
    if (kind < 0) {
        if (r == 0)
            fail_msg("token %s accepted in %s", text, policy_token_ctx_name(ctx));
        assert_string_equal(err.message, msg);
        return;
    }
    if (r < 0)
        fail_msg("token %s in %s: %s", text, policy_token_ctx_name(ctx), err.message);
    assert_int_equal(t.kind, kind);
    policy_token_free(&t);
}

static void test_tokens_per_column(void **state)
{
    (void)state;
    /* the table of reference §2.3: S, T, R, I */
    static const struct {
        const char *text;
        int kind;
        bool valid[4];
    } cases[] = {
        { "test-vm1", PTOK_NAME, { true, true, true, true } },
        { "uuid:c9024a97-9b15-46cc-8341-be82d6e6b4a1", PTOK_NAME, { true, true, true, true } },
        { "dom0", PTOK_ADMINVM, { true, true, true, true } },
        { "@adminvm", PTOK_ADMINVM, { true, true, true, true } },
        { "uuid:00000000-0000-0000-0000-000000000000", PTOK_ADMINVM, { true, true, true, true } },
        { "*", PTOK_ANY, { true, true, false, false } },
        { "@anyvm", PTOK_ANYVM, { true, true, false, false } },
        { "@default", PTOK_DEFAULT, { false, true, false, true } },
        { "@dispvm", PTOK_DISPVM, { false, true, true, true } },
        { "@dispvm:default-dvm", PTOK_DISPVM_TEMPLATE, { true, true, true, true } },
        { "@dispvm:@tag:t", PTOK_DISPVM_TAG, { true, true, false, false } },
        { "@tag:t", PTOK_TAG, { true, true, false, false } },
        { "@type:AppVM", PTOK_TYPE, { true, true, false, false } },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        for (int c = 0; c < 4; c++) {
            char msg[256];
            snprintf(msg, sizeof(msg), "invalid %s token: '%s'",
                     policy_token_ctx_name((enum policy_token_ctx)c), cases[i].text);
            expect_token(cases[i].text, (enum policy_token_ctx)c,
                         cases[i].valid[c] ? cases[i].kind : -1, msg);
        }
    }
    expect_token("@tag:", PCTX_SOURCE, -1, "invalid empty @tag: token: '@tag:'");
    expect_token("@type:", PCTX_TARGET, -1, "invalid empty @type: token: '@type:'");
    expect_token("@dispvm:", PCTX_TARGET, -1, "invalid empty @dispvm: token: '@dispvm:'");
    expect_token("@dispvm:@tag:", PCTX_TARGET, -1,
                 "invalid empty @dispvm:@tag: token: '@dispvm:@tag:'");
    expect_token("@dispvm:@foo", PCTX_TARGET, -1, "invalid target token: '@dispvm:@foo'");
    expect_token("@uuid:x", PCTX_TARGET, -1, "invalid target token: '@uuid:x'");
    expect_token("@tag:", PCTX_REDIRECT, -1, "invalid redirect token: '@tag:'");
    expect_token("@ANYVM", PCTX_SOURCE, -1, "invalid source token: '@ANYVM'");
    expect_token("$anyvm", PCTX_SOURCE, PTOK_NAME, NULL);

    /* and in the policy, with file:line */
    expect_load_error("x * @default @anyvm allow",
                      "test.policy:1: invalid source token: '@default'");
    expect_load_error("x * @dispvm @anyvm allow", "test.policy:1: invalid source token: '@dispvm'");
    expect_load_error("x * @anyvm @anyvm allow target=@anyvm",
                      "test.policy:1: invalid redirect token: '@anyvm'");
    expect_load_error("x * @anyvm @anyvm allow target=*",
                      "test.policy:1: invalid redirect token: '*'");
    expect_load_error("x * @anyvm @anyvm ask default_target=@tag:x",
                      "test.policy:1: invalid redirect token: '@tag:x'");
    expect_load_error("x * @anyvm @anyvm allow target=@default",
                      "test.policy:1: invalid redirect token: '@default'");
    expect_load_error("x * @anyvm @anyvm allow target=@dispvm:@tag:x",
                      "test.policy:1: invalid redirect token: '@dispvm:@tag:x'");
    expect_load_error("x * @type: @anyvm allow",
                      "test.policy:1: invalid empty @type: token: '@type:'");
}

/* ---- evaluation ---- */

struct expect {
    const char *source, *target, *call;
    enum policy_result result;
    const char *resolved; /* allow: target; ask: "a b c" candidates; deny: reason */
    const char *extra;    /* allow: user; ask: default target */
};

static void check(const struct policy *p, const struct expect *e)
{
    struct policy_resolution res;
    policy_evaluate(p, &sys, e->source, e->target, e->call, &res);
    if (res.result != e->result)
        fail_msg("%s -> %s %s: result %d (%s), expected %d", e->source, e->target, e->call,
                 res.result, res.reason, e->result);
    switch (res.result) {
    case POLICY_ALLOW:
        assert_string_equal(res.target, e->resolved);
        assert_string_equal(res.user ? res.user : "DEFAULT", e->extra ? e->extra : "DEFAULT");
        break;
    case POLICY_ASK: {
        struct buf b = BUF_INIT;
        for (size_t i = 0; i < res.n_targets; i++)
            buf_printf(&b, "%s%s", i ? " " : "", res.targets[i]);
        assert_string_equal(b.data ? b.data : "", e->resolved);
        buf_free(&b);
        assert_string_equal(res.default_target ? res.default_target : "", e->extra ? e->extra : "");
        break;
    }
    case POLICY_DENY:
    default:
        if (e->resolved)
            assert_string_equal(res.reason, e->resolved);
        break;
    }
    policy_resolution_free(&res);
}

static void check_all(const char *body, const struct expect *cases, size_t n)
{
    struct policy p = load_ok(body);
    for (size_t i = 0; i < n; i++)
        check(&p, &cases[i]);
    policy_free(&p);
}

#define CHECK_ALL(body, cases) check_all(body, cases, sizeof(cases) / sizeof(cases[0]))
#define ALLOW POLICY_ALLOW
#define DENY POLICY_DENY
#define ASK POLICY_ASK

static void test_first_match_and_args(void **state)
{
    (void)state;
    /* reference §2.7 */
    const char *body = "Device +device1 * * allow\n"
                       "Device +device2 * * deny\n"
                       "Device *        * * ask\n"
                       "test.File +testfile1 test-vm1 test-vm2 allow\n"
                       "test.File *          *          *         deny\n";
    static const struct expect cases[] = {
        { "test-vm1", "test-vm2", "Device+device1", ALLOW, "test-vm2", NULL },
        { "test-vm1", "test-vm2", "Device+device2", DENY, "denied by policy test.policy:2", NULL },
        { "test-vm1", "test-vm2", "Device+device3", ASK,
          "@dispvm:default-dvm @dispvm:test-vm3 default-dvm dom0 test-invalid-dvm test-no-dvm "
          "test-standalone test-template test-vm2 test-vm3",
          NULL },
        { "test-vm1", "test-vm2", "Device", ASK,
          "@dispvm:default-dvm @dispvm:test-vm3 default-dvm dom0 test-invalid-dvm test-no-dvm "
          "test-standalone test-template test-vm2 test-vm3",
          NULL },
        { "test-vm1", "test-vm2", "test.File+testfile1", ALLOW, "test-vm2", NULL },
        { "test-vm2", "test-vm1", "test.File+testfile1", DENY, "denied by policy test.policy:5",
          NULL },
        { "test-vm1", "test-vm2", "test.File+testfile2", DENY, NULL, NULL },
        { "test-vm1", "test-vm2", "test.File", DENY, NULL, NULL },
        { "test-vm1", "test-vm2", "other.Service", DENY, "no matching rule found", NULL },
    };
    struct policy p = load_ok(body);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        check(&p, &cases[i]);
    policy_free(&p);

    /* "+" matches only the empty argument; svc+arg splits at the first + */
    static const struct expect args[] = {
        { "test-vm1", "test-vm2", "s", ALLOW, "test-vm2", "empty" },
        { "test-vm1", "test-vm2", "s+", ALLOW, "test-vm2", "empty" },
        { "test-vm1", "test-vm2", "s+a+b", ALLOW, "test-vm2", "ab" },
        { "test-vm1", "test-vm2", "s+x", ALLOW, "test-vm2", "any" },
    };
    CHECK_ALL("s + * * allow user=empty\ns +a+b * * allow user=ab\ns * * * allow user=any\n", args);
}

static void test_source_tokens(void **state)
{
    (void)state;
    static const struct expect cases[] = {
        { "test-vm1", "test-vm2", "a", ALLOW, "test-vm2", NULL },
        { "test-vm2", "test-vm1", "a", DENY, "no matching rule found", NULL },
        { "test-vm1", "test-vm2", "b", ALLOW, "test-vm2", NULL },
        { "test-vm3", "test-vm2", "b", DENY, NULL, NULL },
        { "test-template", "test-vm2", "c", ALLOW, "test-vm2", NULL },
        { "test-vm1", "test-vm2", "c", DENY, NULL, NULL },
        { "test-vm1", "test-vm2", "d", ALLOW, "test-vm2", NULL },
        { "dom0", "test-vm2", "d", DENY, NULL, NULL },
        { "dom0", "test-vm2", "e", ALLOW, "test-vm2", NULL },
        { "test-vm1", "test-vm2", "e", DENY, NULL, NULL },
        { "dom0", "test-vm2", "f", ALLOW, "test-vm2", NULL },
        { "test-vm1", "test-vm2", "f", ALLOW, "test-vm2", NULL },
        { "test-vm1", "test-vm2", "g", ALLOW, "test-vm2", NULL },
        { "test-vm1", "test-vm2", "h", DENY, NULL, NULL }, /* @dispvm: never a source name */
        { "dom0", "test-vm2", "i", ALLOW, "test-vm2", NULL },
    };
    CHECK_ALL("a * test-vm1 @anyvm allow\n"
              "b * @tag:tag1 @anyvm allow\n"
              "c * @type:TemplateVM @anyvm allow\n"
              "d * @anyvm @anyvm allow\n"
              "e * dom0 @anyvm allow\n"
              "f * * @anyvm allow\n"
              "g * uuid:c9024a97-9b15-46cc-8341-be82d6e6b4a1 @anyvm allow\n"
              "h * @dispvm:default-dvm @anyvm allow\n"
              "h * @dispvm:@tag:x @anyvm allow\n"
              "i * @adminvm @anyvm allow\n",
              cases);
}

static void test_target_tokens(void **state)
{
    (void)state;
    static const struct expect cases[] = {
        /* name, and uuid: equivalence */
        { "test-vm1", "test-vm2", "name", ALLOW, "test-vm2", NULL },
        { "test-vm1", "uuid:b3eb69d0-f9d9-4c3c-ad5c-454500303ea4", "name", ALLOW, "test-vm2",
          NULL },
        { "test-vm1", "test-vm3", "name", DENY, NULL, NULL },
        /* dom0 aliases match each other */
        { "test-vm1", "dom0", "admin", ALLOW, "dom0", NULL },
        { "test-vm1", "@adminvm", "admin", ALLOW, "dom0", NULL },
        { "test-vm1", "uuid:00000000-0000-0000-0000-000000000000", "admin", ALLOW, "dom0", NULL },
        { "test-vm1", "dom0", "admin2", ALLOW, "dom0", NULL },
        /* @anyvm excludes dom0, * includes it */
        { "test-vm1", "dom0", "anyvm", DENY, "no matching rule found", NULL },
        { "test-vm1", "test-vm2", "anyvm", ALLOW, "test-vm2", NULL },
        { "test-vm1", "@dispvm", "anyvm", ALLOW, "@dispvm:default-dvm", NULL },
        { "test-vm1", "dom0", "star", ALLOW, "dom0", NULL },
        /* @tag: / @type: (HEAD: dom0 by name has them, @adminvm not) */
        { "test-vm1", "test-vm2", "tag", ALLOW, "test-vm2", NULL },
        { "test-vm1", "test-vm3", "tag", DENY, NULL, NULL },
        { "test-vm1", "dom0", "dom0tag", ALLOW, "dom0", NULL },
        { "test-vm1", "@adminvm", "dom0tag", DENY, NULL, NULL },
        { "test-vm1", "test-template", "type", ALLOW, "test-template", NULL },
        { "test-vm1", "test-vm2", "type", DENY, NULL, NULL },
        { "test-vm1", "dom0", "typeadmin", ALLOW, "dom0", NULL },
        /* @default: empty, @default, or a qube that does not exist */
        { "test-vm1", "", "default", ALLOW, "test-vm2", NULL },
        { "test-vm1", "@default", "default", ALLOW, "test-vm2", NULL },
        { "test-vm1", "no-such-vm", "default", ALLOW, "test-vm2", NULL },
        { "test-vm1", "test-vm3", "default", DENY, NULL, NULL },
        /* @dispvm only @dispvm; @dispvm:X also @dispvm through default_dispvm */
        { "test-vm1", "@dispvm", "dispvm", ALLOW, "@dispvm:default-dvm", NULL },
        { "test-vm1", "@dispvm:default-dvm", "dispvm", DENY, NULL, NULL },
        { "test-vm1", "@dispvm:default-dvm", "dvmtpl", ALLOW, "@dispvm:default-dvm", NULL },
        { "test-vm1", "@dispvm", "dvmtpl", ALLOW, "@dispvm:default-dvm", NULL },
        { "test-vm1", "@dispvm:test-vm3", "dvmtpl", DENY, NULL, NULL },
        { "test-no-dvm", "@dispvm", "dvmtpl", DENY, NULL, NULL },
        { "test-vm1", "@dispvm:test-vm3", "dvmtag", ALLOW, "@dispvm:test-vm3", NULL },
        { "test-vm1", "@dispvm:default-dvm", "dvmtag", DENY, NULL, NULL },
        { "test-vm1", "@dispvm", "dvmtag", DENY, NULL, NULL },
        { "test-vm1", "test-vm3", "dvmtag", DENY, NULL, NULL },
    };
    CHECK_ALL("name * @anyvm test-vm2 allow\n"
              "admin * @anyvm @adminvm allow\n"
              "admin2 * @anyvm uuid:00000000-0000-0000-0000-000000000000 allow\n"
              "anyvm * @anyvm @anyvm allow\n"
              "star * @anyvm * allow\n"
              "tag * @anyvm @tag:tag2 allow\n"
              "dom0tag * @anyvm @tag:dom0-tag allow\n"
              "type * @anyvm @type:TemplateVM allow\n"
              "typeadmin * @anyvm @type:AdminVM allow\n"
              "default * @anyvm @default allow target=test-vm2\n"
              "dispvm * @anyvm @dispvm allow\n"
              "dvmtpl * @anyvm @dispvm:default-dvm allow\n"
              "dvmtag * @anyvm @dispvm:@tag:tag3 allow\n",
              cases);
}

static void test_intended_target_checks(void **state)
{
    (void)state;
    static const struct expect cases[] = {
        { "test-vm1", "@anyvm", "s", DENY, "invalid intendedtarget token: '@anyvm'", NULL },
        { "test-vm1", "*", "s", DENY, "invalid intendedtarget token: '*'", NULL },
        { "test-vm1", "@tag:tag1", "s", DENY, "invalid intendedtarget token: '@tag:tag1'", NULL },
        { "test-vm1", "@type:AppVM", "s", DENY, "invalid intendedtarget token: '@type:AppVM'",
          NULL },
        { "test-vm1", "@dispvm:@tag:tag3", "s", DENY,
          "invalid intendedtarget token: '@dispvm:@tag:tag3'", NULL },
        { "test-vm1", "@x", "s", DENY, "invalid intendedtarget token: '@x'", NULL },
        { "test-vm1", "@dispvm:test-vm2", "s", DENY, "not a template for dispvm: test-vm2", NULL },
        { "test-vm1", "@dispvm:nonexistent", "s", DENY, "not a template for dispvm: nonexistent",
          NULL },
    };
    CHECK_ALL("* * @anyvm * allow\n", cases);
}

static void test_allow_resolution(void **state)
{
    (void)state;
    static const struct expect cases[] = {
        /* redirect wins even if another rule would deny the new target */
        { "test-vm1", "test-vm2", "redir", ALLOW, "test-vm3", "user" },
        { "test-vm1", "dom0", "redir0", ALLOW, "dom0", NULL },
        { "test-vm1", "test-vm2", "redirdvm", ALLOW, "@dispvm:default-dvm", NULL },
        { "test-no-dvm", "test-vm2", "redirdvm", DENY,
          "policy define 'allow' action to @dispvm at test.policy:3 but no DispVM base is set "
          "for this VM",
          NULL },
        { "test-vm1", "test-vm2", "redirtpl", ALLOW, "@dispvm:test-vm3", NULL },
        { "test-vm1", "test-vm2", "redirbad", DENY, "not a template for dispvm: test-vm2", NULL },
        { "test-vm1", "test-vm2", "redirnone", DENY,
          "policy define 'allow' action at test.policy:6 but no target is specified by caller "
          "or policy",
          NULL },
        { "test-vm1", "", "anyallow", DENY,
          "policy define 'allow' action at test.policy:7 but no target is specified by caller "
          "or policy",
          NULL },
        /* loopback */
        { "test-vm1", "test-vm1", "anyallow", DENY,
          "loopback call from test-vm1 to itself denied (policy test.policy:7)", NULL },
        { "test-vm3", "test-vm2", "redir", DENY, NULL, NULL },
        /* autostart=no: only running targets and dom0 */
        { "test-vm2", "test-vm1", "nostart", ALLOW, "test-vm1", NULL },
        { "test-vm1", "test-vm2", "nostart", DENY,
          "target test-vm2 is not running and policy test.policy:8 has autostart=no", NULL },
        { "test-vm1", "dom0", "nostart", ALLOW, "dom0", NULL },
        { "test-vm1", "@dispvm", "nostart", DENY, NULL, NULL },
    };
    CHECK_ALL("redir * @anyvm @anyvm allow target=test-vm3 user=user\n"
              "redir0 * @anyvm dom0 allow target=@adminvm\n"
              "redirdvm * @anyvm @anyvm allow target=@dispvm\n"
              "redirtpl * @anyvm @anyvm allow target=@dispvm:test-vm3\n"
              "redirbad * @anyvm @anyvm allow target=@dispvm:test-vm2\n"
              "redirnone * @anyvm @anyvm allow target=no-such-vm\n"
              "anyallow * @anyvm * allow\n"
              "nostart * @anyvm * allow autostart=no\n",
              cases);

    struct policy p = load_ok("s * @anyvm @anyvm allow notify=yes\nd * @anyvm @anyvm deny\n"
                              "n * @anyvm @anyvm deny notify=no\n");
    struct policy_resolution res;
    policy_evaluate(&p, &sys, "test-vm1", "test-vm2", "s", &res);
    assert_int_equal(res.result, POLICY_ALLOW);
    assert_true(res.notify);
    assert_true(res.autostart);
    assert_string_equal(res.target_uuid, "uuid:b3eb69d0-f9d9-4c3c-ad5c-454500303ea4");
    assert_string_equal(res.requested_target, "test-vm2");
    assert_string_equal(res.file, "test.policy");
    assert_int_equal(res.line, 1);
    policy_resolution_free(&res);
    policy_evaluate(&p, &sys, "test-vm1", "@dispvm", "s", &res);
    assert_string_equal(res.target_uuid, "@dispvm:uuid:f3e538bd-4427-4697-bed7-45ef3270df21");
    policy_resolution_free(&res);
    policy_evaluate(&p, &sys, "test-vm1", "test-vm2", "d", &res);
    assert_int_equal(res.result, POLICY_DENY);
    assert_true(res.notify);
    assert_int_equal(res.line, 2);
    policy_resolution_free(&res);
    policy_evaluate(&p, &sys, "test-vm1", "test-vm2", "n", &res);
    assert_false(res.notify);
    policy_resolution_free(&res);
    /* no rule: denied, and the user is told */
    policy_evaluate(&p, &sys, "test-vm1", "test-vm2", "none", &res);
    assert_int_equal(res.result, POLICY_DENY);
    assert_true(res.notify);
    policy_resolution_free(&res);
    policy_free(&p);
}

static void test_ask(void **state)
{
    (void)state;
    static const struct expect cases[] = {
        /* reference §2.7: tag and @default with default_target */
        { "test-vm1", "test-vm2", "mail", ASK, "test-vm2", "test-vm2" },
        { "test-vm1", "", "mail", ASK, "test-vm2", "test-vm2" },
        /* candidates from all rules, denies removed (reverse order) */
        { "test-vm1", "test-vm3", "coll", ASK, "test-vm2 test-vm3", "" },
        /* a default not among the candidates is dropped */
        { "test-vm1", "test-vm2", "dropdef", ASK, "test-vm2", "" },
        /* target= gives the one candidate; dom0 aliases become dom0 */
        { "test-vm1", "test-vm2", "one", ASK, "dom0", "dom0" },
        { "test-vm1", "test-vm2", "onedvm", ASK, "@dispvm:default-dvm", "@dispvm:default-dvm" },
        /* source and internal qubes are never candidates */
        { "test-vm2", "test-vm1", "tag", ASK, "test-vm1", "" },
        { "test-vm1", "test-vm2", "internal", ASK, "test-vm2", "" },
        /* autostart=no keeps running targets and dom0 only */
        { "test-vm2", "test-vm1", "running", ASK, "dom0 test-vm1", "" },
        /* nothing left to choose from */
        { "test-vm1", "", "empty", DENY,
          "policy define 'ask' action at test.policy:14 but no target is available to choose "
          "from",
          NULL },
        /* @dispvm of a source without default_dispvm is dropped */
        { "test-no-dvm", "test-vm2", "dvm", ASK, "test-vm2", "" },
        { "test-vm1", "test-vm2", "dvm", ASK, "@dispvm:default-dvm test-vm2",
          "@dispvm:default-dvm" },
    };
    CHECK_ALL("mail * test-vm1 @tag:tag2 ask default_target=test-vm2\n"
              "mail * test-vm1 @default ask default_target=test-vm2\n"
              "coll * @anyvm test-vm3 ask\n"
              "coll * @anyvm @dispvm deny\n"
              "coll * @anyvm test-vm2 allow\n"
              "coll * test-vm2 test-vm1 allow\n"
              "coll * @anyvm @dispvm allow\n"
              "dropdef * @anyvm @anyvm ask target=test-vm2 default_target=test-vm3\n"
              "one * @anyvm @anyvm ask target=dom0 default_target=@adminvm\n"
              "onedvm * @anyvm @anyvm ask target=@dispvm default_target=@dispvm\n"
              "tag * @anyvm @tag:tag2 ask\n"
              "internal * @anyvm test-internal allow\ninternal * @anyvm test-vm2 ask\n"
              "empty * @anyvm @default ask\n"
              "empty * @anyvm @anyvm deny\n"
              "running * @anyvm * ask autostart=no\n"
              "dvm * @anyvm test-vm2 ask default_target=@dispvm\n"
              "dvm * @anyvm @dispvm ask\n",
              cases);
}

static void test_default_policy_examples(void **state)
{
    (void)state;
    /* reference §2.7 first block */
    static const struct expect cases[] = {
        { "test-vm1", "@dispvm:test-vm3", "x", ALLOW, "@dispvm:test-vm3", NULL },
        { "test-vm1", "@dispvm", "x", ALLOW, "@dispvm:test-vm3", NULL },
        { "test-vm2", "test-vm3", "x", ALLOW, "test-vm3", NULL },
        { "test-vm2", "test-vm1", "x", ASK, "test-vm1 test-vm3", "test-vm3" },
        { "test-vm2", "", "x", ASK, "test-vm1 test-vm3", "test-vm3" },
    };
    CHECK_ALL("* * test-vm1 @dispvm:test-vm3 allow\n"
              "* * test-vm1 @dispvm allow target=@dispvm:test-vm3\n"
              "* * test-vm2 test-vm3 allow\n"
              "* * test-vm2 @tag:tag1 ask default_target=test-vm3\n"
              "* * test-vm2 @default  ask default_target=test-vm3\n",
              cases);
}

/* ---- directives and files ---- */

static char tmpdir[64];

static void write_file(const char *rel, const char *body)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
    char dir[512];
    snprintf(dir, sizeof(dir), "%s", path);
    *strrchr(dir, '/') = '\0';
    mkdir(dir, 0755);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(body, f);
    fclose(f);
}

static int make_tmpdir(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/test-policy.XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    return 0;
}

static int remove_tmpdir(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void load_dirs2(struct policy *p, const char *d1, const char *d2, int expect_rc,
                       const char *message)
{
    char a[512], b[512], c[512];
    snprintf(a, sizeof(a), "%s/%s", tmpdir, d1);
    snprintf(b, sizeof(b), "%s/%s", tmpdir, d2 ? d2 : "");
    snprintf(c, sizeof(c), "%s/legacy", tmpdir);
    const char *dirs[] = { a, b };
    struct qerror err = { 0 };
    int r = policy_load_dirs(p, dirs, d2 ? 2 : 1, c, &err);
    if (r != expect_rc)
        fail_msg("load rc %d: %s", r, err.message);
    if (message) {
        struct buf full = BUF_INIT;
        for (const char *m = message; *m; m++) {
            if (m[0] == '%' && m[1] == 's') {
                buf_append_str(&full, tmpdir);
                m++;
            } else {
                buf_append_char(&full, *m);
            }
        }
        assert_string_equal(err.message, full.data);
        buf_free(&full);
    }
}

static void test_files_and_order(void **state)
{
    (void)state;
    write_file("run/30-user.policy", "s * @anyvm @anyvm allow user=run30\n");
    write_file("etc/30-user.policy", "s * @anyvm @anyvm allow user=etc30\n");
    write_file("etc/20-first.policy", "t * @anyvm @anyvm allow user=etc20\n");
    write_file("etc/40-last.policy", "t * @anyvm @anyvm deny\ns * @anyvm @anyvm deny\n");
    write_file("etc/.hidden.policy", "this is not parsed\n");
    write_file("etc/notpolicy.txt", "this is not parsed\n");
    struct policy p;
    load_dirs2(&p, "run", "etc", 0, NULL);
    assert_int_equal(p.n_rules, 4);
    static const struct expect cases[] = {
        { "test-vm1", "test-vm2", "s", ALLOW, "test-vm2", "run30" },
        { "test-vm1", "test-vm2", "t", ALLOW, "test-vm2", "etc20" },
    };
    for (size_t i = 0; i < 2; i++)
        check(&p, &cases[i]);
    policy_free(&p);

    /* an invalid file name denies everything */
    write_file("etc/Bad.policy", "s * @anyvm @anyvm allow\n");
    load_dirs2(&p, "run", "etc", -1, "invalid filename: %s/etc/Bad.policy");
    check(&p, &(struct expect){ "test-vm1", "test-vm2", "s", DENY, NULL, NULL });
    policy_free(&p);
    char path[512];
    snprintf(path, sizeof(path), "%s/etc/Bad.policy", tmpdir);
    unlink(path);

    /* a syntax error in any file denies everything, with file:line */
    write_file("etc/50-broken.policy", "# ok\n\nq * @anyvm\n");
    load_dirs2(&p, "run", "etc", -1, "%s/etc/50-broken.policy:3: wrong number of fields");
    check(&p, &(struct expect){ "test-vm1", "test-vm2", "s", DENY, NULL, NULL });
    policy_free(&p);
}

static void test_includes(void **state)
{
    (void)state;
    write_file("inc/main.policy", "!include include/one\n"
                                  "!include-dir include/dir\n"
                                  "a * @anyvm @anyvm deny\n");
    write_file("inc/include/one", "a * @anyvm test-vm2 allow user=one\n");
    write_file("inc/include/dir/20-b.policy", "a * @anyvm test-vm3 allow user=b\n");
    write_file("inc/include/dir/10-a.policy", "a * @anyvm test-vm3 allow user=a\n");
    write_file("inc/include/dir/skip.txt", "garbage\n");
    struct policy p;
    load_dirs2(&p, "inc", NULL, 0, NULL);
    assert_int_equal(p.n_rules, 4);
    check(&p, &(struct expect){ "test-vm1", "test-vm2", "a", ALLOW, "test-vm2", "one" });
    check(&p, &(struct expect){ "test-vm1", "test-vm3", "a", ALLOW, "test-vm3", "a" });
    check(&p, &(struct expect){ "test-vm1", "test-vm1", "a", DENY, NULL, NULL });
    policy_free(&p);

    /* each top-level file includes relative to its own directory */
    write_file("r2/10-i.policy", "!include inc-r\n");
    write_file("r2/inc-r", "r * @anyvm @anyvm allow user=run\n");
    write_file("e2/20-j.policy", "!include inc-e\n");
    write_file("e2/inc-e", "e * @anyvm @anyvm allow user=etc\n");
    load_dirs2(&p, "r2", "e2", 0, NULL);
    check(&p, &(struct expect){ "test-vm1", "test-vm2", "r", ALLOW, "test-vm2", "run" });
    check(&p, &(struct expect){ "test-vm1", "test-vm2", "e", ALLOW, "test-vm2", "etc" });
    policy_free(&p);

    write_file("inc2/main.policy", "!include nothere\n");
    load_dirs2(&p, "inc2", NULL, -1, "%s/inc2/main.policy:1: not a file: %s/inc2/nothere");
    policy_free(&p);
    write_file("inc3/main.policy", "!include-dir nothere\n");
    load_dirs2(&p, "inc3", NULL, -1, "%s/inc3/main.policy:1: not a directory: %s/inc3/nothere");
    policy_free(&p);
    write_file("inc4/main.policy", "!include main.policy\n");
    load_dirs2(&p, "inc4", NULL, -1, NULL);
    assert_non_null(strstr(p.error, "includes nested too deeply"));
    policy_free(&p);
    write_file("inc5/main.policy", "!include include/bad\n");
    write_file("inc5/include/bad", "\nx * @anyvm\n");
    load_dirs2(&p, "inc5", NULL, -1, "%s/inc5/include/bad:2: wrong number of fields");
    policy_free(&p);
}

static void test_include_service(void **state)
{
    (void)state;
    write_file("svc/main.policy", "!include-service test.Svc * include/old\n"
                                  "!include-service test.Arg +a include/old2\n"
                                  "test.Svc * @anyvm @anyvm deny\n");
    write_file("svc/include/old", "# old syntax\n"
                                  "$tag:tag1 test-vm2 allow,user=u1\n"
                                  "test-vm1 $dispvm allow\n"
                                  "$include:include/old3\n");
    write_file("svc/include/old3", "$anyvm $anyvm ask,default_target=test-vm3\n");
    write_file("svc/include/old2", "$anyvm $anyvm allow target=dom0\n");
    struct policy p;
    load_dirs2(&p, "svc", NULL, 0, NULL);
    assert_int_equal(p.n_rules, 5);
    check(&p, &(struct expect){ "test-vm1", "test-vm2", "test.Svc+x", ALLOW, "test-vm2", "u1" });
    check(&p, &(struct expect){ "test-vm1", "@dispvm", "test.Svc", ALLOW, "@dispvm:default-dvm",
                                NULL });
    check(&p, &(struct expect){ "test-vm2", "test-vm3", "test.Svc", ASK,
                                "@dispvm:default-dvm @dispvm:test-vm3 default-dvm "
                                "test-invalid-dvm test-no-dvm test-standalone test-template "
                                "test-vm1 test-vm3",
                                "test-vm3" });
    check(&p, &(struct expect){ "test-vm1", "test-vm2", "test.Arg+a", ALLOW, "dom0", NULL });
    check(&p, &(struct expect){ "test-vm1", "test-vm2", "test.Arg+b", DENY,
                                "no matching rule found", NULL });
    policy_free(&p);

    write_file("svc2/main.policy", "!include-service * +a include/x\n");
    load_dirs2(&p, "svc2", NULL, -1,
               "%s/svc2/main.policy:1: only * argument allowed for * service");
    policy_free(&p);
    write_file("svc3/main.policy", "!include-service s * include/x\n");
    write_file("svc3/include/x", "$anyvm $anyvm allow\n!include-dir foo\n");
    load_dirs2(&p, "svc3", NULL, -1, "%s/svc3/include/x:2: invalid directive");
    policy_free(&p);
    write_file("svc4/main.policy", "!include-service s * include/x\n");
    write_file("svc4/include/x", "$anyvm\n");
    load_dirs2(&p, "svc4", NULL, -1, "%s/svc4/include/x:1: wrong number of fields");
    policy_free(&p);
    write_file("svc5/main.policy", "!include-service s * include/x\n");
    write_file("svc5/include/x", "$anyvm $anyvm deny,target=dom0\n");
    load_dirs2(&p, "svc5", NULL, -1,
               "%s/svc5/include/x:1: invalid parameters for action Deny: ('target=dom0',)");
    policy_free(&p);
}

static void test_compat_40(void **state)
{
    (void)state;
    write_file("c/35-compat.policy", "!compat-4.0\n");
    write_file("c/90-default.policy", "* * @anyvm @anyvm allow user=fallthrough\n");
    write_file("legacy/test.Svc+arg1", "test-vm1 test-vm2 allow,user=arg1\n");
    write_file("legacy/test.Svc", "test-vm1 $anyvm ask\n");
    write_file("legacy/test.Other", "$anyvm $anyvm deny\n");
    write_file("legacy/test.Other.rpmnew", "garbage\n");
    write_file("legacy/.hidden", "garbage\n");
    struct policy p;
    load_dirs2(&p, "c", NULL, 0, NULL);
    /* test.Other, test.Svc+arg1 + 2 implicit denies, test.Svc, the default */
    assert_int_equal(p.n_rules, 6);
    assert_string_equal(p.rules[0].service, "test.Other");
    assert_string_equal(p.rules[1].argument, "+arg1");
    assert_int_equal(p.rules[2].target.kind, PTOK_ANYVM);
    assert_int_equal(p.rules[3].target.kind, PTOK_ADMINVM);
    check(&p,
          &(struct expect){ "test-vm1", "test-vm2", "test.Svc+arg1", ALLOW, "test-vm2", "arg1" });
    check(&p, &(struct expect){ "test-vm2", "test-vm1", "test.Svc+arg1", DENY, NULL, NULL });
    check(&p, &(struct expect){ "test-vm1", "dom0", "test.Svc+arg1", DENY, NULL, NULL });
    check(&p, &(struct expect){ "test-vm2", "test-vm1", "test.Svc+other", ALLOW, "test-vm1",
                                "fallthrough" });
    check(&p, &(struct expect){ "test-vm1", "test-vm3", "test.Other", DENY, NULL, NULL });
    policy_free(&p);

    /* not available for a string policy */
    expect_load_error("!compat-4.0", "test.policy:1: !compat-4.0 is not available here");
    expect_load_error("!include x", "test.policy:1: includes are not available here");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grammar_errors),
        cmocka_unit_test(test_grammar_ok),
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_tokens_per_column),
        cmocka_unit_test(test_first_match_and_args),
        cmocka_unit_test(test_source_tokens),
        cmocka_unit_test(test_target_tokens),
        cmocka_unit_test(test_intended_target_checks),
        cmocka_unit_test(test_allow_resolution),
        cmocka_unit_test(test_ask),
        cmocka_unit_test(test_default_policy_examples),
        cmocka_unit_test_setup_teardown(test_files_and_order, make_tmpdir, remove_tmpdir),
        cmocka_unit_test_setup_teardown(test_includes, make_tmpdir, remove_tmpdir),
        cmocka_unit_test_setup_teardown(test_include_service, make_tmpdir, remove_tmpdir),
        cmocka_unit_test_setup_teardown(test_compat_40, make_tmpdir, remove_tmpdir),
    };
    return cmocka_run_group_tests(tests, setup_system, teardown_system);
}
