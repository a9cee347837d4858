/* Loading policy: directories, files, lines, rules and the directives
 * !include, !include-dir, !include-service (old syntax) and !compat-4.0. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "common/parse.h"
#include "common/py_repr.h"
#include "policy/internal.h"

struct loader {
    struct policy *p;
    const char *include_base; /* NULL = includes are errors */
    const char *compat_dir;   /* NULL = !compat-4.0 is an error */
    int depth;
    struct qerror *err;
};

#define MAX_FIELDS 64

static int syntax_error(struct loader *ld, const char *file, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int syntax_error(struct loader *ld, const char *file, unsigned line, const char *fmt, ...)
{
    _cleanup_buf_ struct buf b = BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&b, fmt, ap);
    va_end(ap);
    return qerror_set(ld->err, ERR_POLICY_SYNTAX_ERROR, "%s:%u: %s", file, line, b.data);
}

/* Wraps a token/validation error with file:line. */
static int located(struct loader *ld, const char *file, unsigned line)
{
    char msg[QERROR_MAX];
    snprintf(msg, sizeof(msg), "%s", ld->err->message);
    return qerror_set(ld->err, ERR_POLICY_SYNTAX_ERROR, "%s:%u: %s", file, line, msg);
}

static bool rpcname_char(char c, bool allow_plus)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || (allow_plus && c == '+');
}

/* ('a', 'b') as Python prints a tuple of sorted distinct characters. */
static void invalid_chars_repr(struct buf *b, const char *s, bool allow_plus)
{
    bool seen[256] = { false };
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (!rpcname_char((char)*p, allow_plus))
            seen[*p] = true;
    size_t n = 0;
    buf_append_char(b, '(');
    for (int c = 1; c < 256; c++) {
        if (!seen[c])
            continue;
        char one[2] = { (char)c, 0 };
        if (n++)
            buf_append_str(b, ", ");
        py_repr(b, one, strlen(one));
    }
    buf_append_str(b, n == 1 ? ",)" : ")");
}

static bool has_invalid(const char *s, bool allow_plus)
{
    for (; *s; s++)
        if (!rpcname_char(*s, allow_plus))
            return true;
    return false;
}

/* Validates service and argument; "*" becomes NULL. */
static int validate_service_argument(struct loader *ld, const char *file, unsigned line,
                                     const char *untrusted_service, const char *untrusted_argument,
                                     char **service, char **argument)
{
    const char *svc = strcmp(untrusted_service, "*") == 0 ? NULL : untrusted_service;
    const char *arg = strcmp(untrusted_argument, "*") == 0 ? NULL : untrusted_argument;
    _cleanup_buf_ struct buf r = BUF_INIT;
    _cleanup_buf_ struct buf c = BUF_INIT;
    if (svc && has_invalid(svc, false)) {
        py_repr(&r, svc, strlen(svc));
        invalid_chars_repr(&c, svc, false);
        return syntax_error(ld, file, line, "service %s contains invalid characters: %s", r.data,
                            c.data);
    }
    if (arg) {
        if (has_invalid(arg, true)) {
            py_repr(&r, arg, strlen(arg));
            invalid_chars_repr(&c, arg, true);
            return syntax_error(ld, file, line, "argument %s contains invalid characters: %s",
                                r.data, c.data);
        }
        if (arg[0] != '+') {
            py_repr(&r, arg, strlen(arg));
            return syntax_error(ld, file, line, "argument %s does not start with +", r.data);
        }
        if (!svc)
            return syntax_error(ld, file, line, "only * argument allowed for * service");
    }
    *service = svc ? xstrdup(svc) : NULL;
    *argument = arg ? xstrdup(arg) : NULL;
    return 0;
}

static void rule_free(struct policy_rule *r)
{
    free(r->service);
    free(r->argument);
    policy_token_free(&r->source);
    policy_token_free(&r->target);
    policy_token_free(&r->redirect);
    policy_token_free(&r->default_target);
    free(r->user);
    free(r->file);
}

static int parse_bool_param(struct loader *ld, const char *file, unsigned line, const char *key,
                            const char *value, bool *out)
{
    if (parse_bool(value, PARSE_BOOL_YES_NO, out) < 0) {
        _cleanup_buf_ struct buf r = BUF_INIT;
        py_repr(&r, value, strlen(value));
        return syntax_error(ld, file, line, "invalid value for %s= parameter: %s", key, r.data);
    }
    return 0;
}

static void params_repr(struct buf *b, char **params, size_t n, bool tuple)
{
    buf_append_char(b, tuple ? '(' : '[');
    for (size_t i = 0; i < n; i++) {
        if (i)
            buf_append_str(b, ", ");
        py_repr(b, params[i], strlen(params[i]));
    }
    if (tuple && n == 1)
        buf_append_char(b, ',');
    buf_append_char(b, tuple ? ')' : ']');
}

static const char *const action_class[] = { "Deny", "Allow", "Ask" };

/* Builds a rule from split fields; service/argument are already validated
 * (NULL = *) and owned by the caller until success. */
static int make_rule(struct loader *ld, const char *file, unsigned line, const char *service,
                     const char *argument, char **f, size_t nf, bool old_syntax)
{
    if (ld->p->n_rules >= POLICY_MAX_RULES)
        return syntax_error(ld, file, line, "too many rules (at most %d)", POLICY_MAX_RULES);
    struct policy_rule r = { 0 };
    r.service = service ? xstrdup(service) : NULL;
    r.argument = argument ? xstrdup(argument) : NULL;
    r.file = xstrdup(file);
    r.line = line;
    r.autostart = true;
    if (policy_token_parse(&r.source, f[0], PCTX_SOURCE, ld->err) < 0 ||
        policy_token_parse(&r.target, f[1], PCTX_TARGET, ld->err) < 0) {
        located(ld, file, line);
        goto fail;
    }
    if (strcmp(f[2], "allow") == 0)
        r.action = POLICY_ACTION_ALLOW;
    else if (strcmp(f[2], "deny") == 0)
        r.action = POLICY_ACTION_DENY;
    else if (strcmp(f[2], "ask") == 0)
        r.action = POLICY_ACTION_ASK;
    else {
        syntax_error(ld, file, line, "invalid action: %s", f[2]);
        goto fail;
    }
    r.notify = r.action == POLICY_ACTION_DENY;
    char **params = f + 3;
    size_t np = nf - 3;
    /* split and duplicates first, then keys per action, as upstream */
    for (size_t i = 0; i < np; i++) {
        const char *eq = strchr(params[i], '=');
        if (!eq) {
            _cleanup_buf_ struct buf pr = BUF_INIT;
            py_repr(&pr, params[i], strlen(params[i]));
            syntax_error(ld, file, line, "invalid action parameter syntax: %s", pr.data);
            goto fail;
        }
        size_t kl = (size_t)(eq - params[i]);
        for (size_t j = 0; j < i; j++) {
            if (strncmp(params[j], params[i], kl) == 0 && params[j][kl] == '=') {
                _cleanup_free_ char *key = xstrndup(params[i], kl);
                _cleanup_buf_ struct buf pr = BUF_INIT;
                py_repr(&pr, key, strlen(key));
                syntax_error(ld, file, line, "parameter given twice: %s", pr.data);
                goto fail;
            }
        }
    }
    for (size_t i = 0; i < np; i++) {
        char *eq = strchr(params[i], '=');
        size_t kl = (size_t)(eq - params[i]);
        bool ok = false;
#define KEY(k) (kl == strlen(k) && strncmp(params[i], k, kl) == 0)
        if (KEY("notify"))
            ok = true;
        else if (r.action != POLICY_ACTION_DENY &&
                 (KEY("target") || KEY("user") || KEY("autostart")))
            ok = true;
        else if (r.action == POLICY_ACTION_ASK && KEY("default_target"))
            ok = true;
        if (!ok) {
            _cleanup_buf_ struct buf pr = BUF_INIT;
            params_repr(&pr, params, np, old_syntax);
            syntax_error(ld, file, line, "invalid parameters for action %s: %s",
                         action_class[r.action], pr.data);
            goto fail;
        }
    }
    for (size_t i = 0; i < np; i++) {
        char *eq = strchr(params[i], '=');
        size_t kl = (size_t)(eq - params[i]);
        const char *v = eq + 1;
        if (KEY("notify")) {
            if (parse_bool_param(ld, file, line, "notify", v, &r.notify) < 0)
                goto fail;
        } else if (KEY("autostart")) {
            if (parse_bool_param(ld, file, line, "autostart", v, &r.autostart) < 0)
                goto fail;
        } else if (KEY("user")) {
            r.user = xstrdup(v);
        } else if (KEY("target")) {
            if (policy_token_parse(&r.redirect, v, PCTX_REDIRECT, ld->err) < 0) {
                located(ld, file, line);
                goto fail;
            }
            r.has_redirect = true;
        } else if (KEY("default_target")) {
            if (policy_token_parse(&r.default_target, v, PCTX_REDIRECT, ld->err) < 0) {
                located(ld, file, line);
                goto fail;
            }
            r.has_default_target = true;
        }
#undef KEY
    }
    if (r.target.kind == PTOK_DEFAULT && r.action == POLICY_ACTION_ALLOW && !r.has_redirect) {
        syntax_error(ld, file, line, "allow action for @default rule must specify target= option");
        goto fail;
    }
    ld->p->rules = xrealloc(ld->p->rules, (ld->p->n_rules + 1) * sizeof(*ld->p->rules));
    ld->p->rules[ld->p->n_rules++] = r;
    return 0;
fail:
    rule_free(&r);
    return -1;
}

/* Splits on ASCII whitespace in place (Python's str.split()). */
static size_t split_fields(char *s, char **f, size_t max)
{
    size_t n = 0;
    char *save = NULL;
    for (char *t = strtok_r(s, " \t\r\n\v\f", &save); t; t = strtok_r(NULL, " \t\r\n\v\f", &save)) {
        if (n == max)
            return max + 1;
        f[n++] = t;
    }
    return n;
}

static int load_file(struct loader *ld, const char *path, const char *service, const char *argument,
                     bool old_syntax);
static int load_dir(struct loader *ld, const char *dir);
static int load_compat(struct loader *ld, const char *file, unsigned line);

static char *resolve(struct loader *ld, const char *untrusted_path)
{
    if (untrusted_path[0] == '/')
        return xstrdup(untrusted_path);
    return xasprintf("%s/%s", ld->include_base ? ld->include_base : ".", untrusted_path);
}

static int include_file(struct loader *ld, const char *file, unsigned line,
                        const char *untrusted_path, const char *service, const char *argument,
                        bool old_syntax)
{
    if (!ld->include_base)
        return syntax_error(ld, file, line, "includes are not available here");
    _cleanup_free_ char *path = resolve(ld, untrusted_path);
    struct stat st;
    if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
        return syntax_error(ld, file, line, "not a file: %s", path);
    if (ld->depth >= POLICY_MAX_INCLUDE_DEPTH)
        return syntax_error(ld, file, line, "includes nested too deeply (at most %d)",
                            POLICY_MAX_INCLUDE_DEPTH);
    ld->depth++;
    int r = load_file(ld, path, service, argument, old_syntax);
    ld->depth--;
    return r;
}

static int handle_line(struct loader *ld, const char *file, unsigned line, char *s,
                       const char *service, const char *argument, bool old_syntax)
{
    char *f[MAX_FIELDS];
    if (old_syntax) {
        /* the compatibility substitutions of R4.0 files */
        _cleanup_buf_ struct buf b = BUF_INIT;
        for (const char *p = s; *p; p++) {
            if (strncmp(p, "$include:", 9) == 0) {
                buf_append_str(&b, "!include ");
                p += 8;
            } else if (*p == '$')
                buf_append_char(&b, '@');
            else if (*p == ',')
                buf_append_char(&b, ' ');
            else
                buf_append_char(&b, *p);
        }
        _cleanup_free_ char *t = buf_steal(&b);
        if (!t)
            t = xstrdup("");
        size_t n = split_fields(t, f, MAX_FIELDS);
        if (n > MAX_FIELDS)
            return syntax_error(ld, file, line, "too many fields");
        if (n && f[0][0] == '!') {
            if (strcmp(f[0], "!include") != 0)
                return syntax_error(ld, file, line, "invalid directive");
            if (n != 2)
                return syntax_error(ld, file, line, "invalid number of params");
            return include_file(ld, file, line, f[1], service, argument, true);
        }
        if (n < 3)
            return syntax_error(ld, file, line, "wrong number of fields");
        return make_rule(ld, file, line, service, argument, f, n, true);
    }
    size_t n = split_fields(s, f, MAX_FIELDS);
    if (n > MAX_FIELDS)
        return syntax_error(ld, file, line, "too many fields");
    if (n == 0)
        return 0;
    if (f[0][0] == '!') {
        if (strcmp(f[0], "!include") == 0 || strcmp(f[0], "!include-dir") == 0) {
            if (n != 2)
                return syntax_error(ld, file, line, "invalid number of params");
            if (f[0][8] == '\0')
                return include_file(ld, file, line, f[1], NULL, NULL, false);
            if (!ld->include_base)
                return syntax_error(ld, file, line, "includes are not available here");
            _cleanup_free_ char *path = resolve(ld, f[1]);
            struct stat st;
            if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode))
                return syntax_error(ld, file, line, "not a directory: %s", path);
            if (ld->depth >= POLICY_MAX_INCLUDE_DEPTH)
                return syntax_error(ld, file, line, "includes nested too deeply (at most %d)",
                                    POLICY_MAX_INCLUDE_DEPTH);
            ld->depth++;
            int r = load_dir(ld, path);
            ld->depth--;
            return r;
        }
        if (strcmp(f[0], "!include-service") == 0) {
            if (n != 4)
                return syntax_error(ld, file, line, "invalid number of params");
            _cleanup_free_ char *svc = NULL;
            _cleanup_free_ char *arg = NULL;
            if (validate_service_argument(ld, file, line, f[1], f[2], &svc, &arg) < 0)
                return -1;
            return include_file(ld, file, line, f[3], svc, arg, true);
        }
        if (strcmp(f[0], "!compat-4.0") == 0) {
            if (n != 1)
                return syntax_error(ld, file, line, "invalid number of params");
            return load_compat(ld, file, line);
        }
        return syntax_error(ld, file, line, "invalid directive");
    }
    if (n < 5)
        return syntax_error(ld, file, line, "wrong number of fields");
    _cleanup_free_ char *svc = NULL;
    _cleanup_free_ char *arg = NULL;
    if (validate_service_argument(ld, file, line, f[0], f[1], &svc, &arg) < 0)
        return -1;
    return make_rule(ld, file, line, svc, arg, f + 2, n - 2, false);
}

static int load_body(struct loader *ld, const char *name, const char *untrusted_body, size_t len,
                     const char *service, const char *argument, bool old_syntax)
{
    if (++ld->p->n_files > POLICY_MAX_FILES)
        return qerror_set(ld->err, ERR_POLICY_SYNTAX_ERROR,
                          "%s: too many policy files (at most %d)", name, POLICY_MAX_FILES);
    const char *p = untrusted_body, *end = untrusted_body + len;
    unsigned lineno = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        lineno++;
        size_t ll = (size_t)(le - p);
        if (ll > POLICY_MAX_LINE)
            return syntax_error(ld, name, lineno, "line too long (at most %d bytes)",
                                POLICY_MAX_LINE);
        if (memchr(p, '\0', ll))
            return syntax_error(ld, name, lineno, "line contains a NUL byte");
        _cleanup_free_ char *line = xstrndup(p, ll);
        p = le + 1;
        char *s = line;
        while (*s && strchr(" \t\r\v\f", *s))
            s++;
        if (!*s || *s == '#')
            continue;
        if (handle_line(ld, name, lineno, s, service, argument, old_syntax) < 0)
            return -1;
    }
    return 0;
}

static int read_file(const char *path, struct buf *out, struct qerror *err)
{
    _cleanup_fclose_ FILE *f = fopen(path, "re");
    if (!f)
        return qerror_errno(err, errno, "failed to load %s file", path);
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        buf_append(out, chunk, n);
        if (out->len > (size_t)POLICY_MAX_LINE * 64)
            return qerror_set(err, ERR_POLICY_SYNTAX_ERROR, "%s: file too large", path);
    }
    if (ferror(f))
        return qerror_errno(err, EIO, "failed to load %s file", path);
    return 0;
}

static int load_file(struct loader *ld, const char *path, const char *service, const char *argument,
                     bool old_syntax)
{
    _cleanup_buf_ struct buf body = BUF_INIT;
    if (read_file(path, &body, ld->err) < 0)
        return -1;
    return load_body(ld, path, body.data ? body.data : "", body.len, service, argument, old_syntax);
}

static bool filename_ok(const char *name)
{
    for (; *name; name++)
        if (!((*name >= '0' && *name <= '9') || (*name >= 'a' && *name <= 'z') || *name == '_' ||
              *name == '.' || *name == '-'))
            return false;
    return true;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* Adds the considered *.policy names of dir (regular files, not dot-files)
 * to set, skipping names already present; an invalid name is an error. */
static int list_policy_files(struct loader *ld, const char *dir, struct str_set *names,
                             struct str_set *paths)
{
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 0 : qerror_errno(ld->err, errno, "failed to load %s dir", dir);
    struct dirent *e;
    int r = 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || !ends_with(e->d_name, ".policy"))
            continue;
        _cleanup_free_ char *path = xasprintf("%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
            continue;
        if (!filename_ok(e->d_name)) {
            r = qerror_set(ld->err, ERR_ACCESS_DENIED, "invalid filename: %s", path);
            break;
        }
        if (str_set_has(names, e->d_name))
            continue;
        if (names->n >= POLICY_MAX_FILES) {
            r = qerror_set(ld->err, ERR_POLICY_SYNTAX_ERROR, "%s: too many policy files", dir);
            break;
        }
        str_set_add(names, e->d_name);
        str_set_add(paths, path);
    }
    closedir(d);
    return r;
}

static const char *basename_of(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

static int basename_cmp(const void *a, const void *b)
{
    return strcmp(basename_of(*(char *const *)a), basename_of(*(char *const *)b));
}

/* top: the policy directories themselves; includes of each of their files
 * resolve against that file's directory (upstream's policy_path). */
static int load_dirs(struct loader *ld, const char *const *dirs, size_t n_dirs, bool top)
{
    struct str_set names = { 0 }, paths = { 0 };
    int r = 0;
    for (size_t i = 0; i < n_dirs && r == 0; i++)
        r = list_policy_files(ld, dirs[i], &names, &paths);
    /* from here paths is the load order, by file name, no longer a set (only freed after) */
    if (r == 0 && paths.n)
        qsort(paths.items, paths.n, sizeof(*paths.items), basename_cmp);
    for (size_t i = 0; i < paths.n && r == 0; i++) {
        _cleanup_free_ char *dir = NULL;
        const char *saved = ld->include_base;
        if (top) {
            const char *b = basename_of(paths.items[i]);
            dir = xstrndup(paths.items[i], (size_t)(b - paths.items[i] - 1));
            ld->include_base = dir;
        }
        r = load_file(ld, paths.items[i], NULL, NULL, false);
        ld->include_base = saved;
    }
    str_set_free(&names);
    str_set_free(&paths);
    return r;
}

static int load_dir(struct loader *ld, const char *dir)
{
    const char *dirs[] = { dir };
    return load_dirs(ld, dirs, 1, false);
}

/* !compat-4.0: the legacy per-service files of /etc/qubes-rpc/policy. */
static int load_compat(struct loader *ld, const char *file, unsigned line)
{
    if (!ld->compat_dir)
        return syntax_error(ld, file, line, "!compat-4.0 is not available here");
    DIR *d = opendir(ld->compat_dir);
    if (!d)
        return 0;
    struct str_set names = { 0 };
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *nm = e->d_name;
        if (nm[0] == '.' || ends_with(nm, ".rpmsave") || ends_with(nm, ".rpmnew") ||
            ends_with(nm, ".swp") || has_invalid(nm, true) || nm[0] == '+')
            continue;
        _cleanup_free_ char *path = xasprintf("%s/%s", ld->compat_dir, nm);
        struct stat st;
        if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
            continue;
        if (names.n >= POLICY_MAX_FILES)
            break;
        str_set_add(&names, nm);
    }
    closedir(d);
    /* order: by service; within one, argument-specific files (sorted) first */
    struct str_set services = { 0 };
    for (size_t i = 0; i < names.n; i++) {
        _cleanup_free_ char *svc = xstrndup(names.items[i], strcspn(names.items[i], "+"));
        str_set_add(&services, svc);
    }
    const char *saved = ld->include_base;
    ld->include_base = ld->compat_dir;
    int r = 0;
    for (size_t s = 0; s < services.n && r == 0; s++) {
        const char *svc = services.items[s];
        size_t sl = strlen(svc);
        for (size_t i = 0; i < names.n && r == 0; i++) {
            const char *nm = names.items[i];
            if (strncmp(nm, svc, sl) != 0 || nm[sl] != '+')
                continue;
            const char *arg = nm + sl;
            _cleanup_free_ char *path = xasprintf("%s/%s", ld->compat_dir, nm);
            r = load_file(ld, path, svc, arg, true);
            char *deny1[] = { "@anyvm", "@anyvm", "deny" };
            char *deny2[] = { "@anyvm", "@adminvm", "deny" };
            if (r == 0)
                r = make_rule(ld, path, 0, svc, arg, deny1, 3, true);
            if (r == 0)
                r = make_rule(ld, path, 0, svc, arg, deny2, 3, true);
        }
        if (r == 0 && str_set_has(&names, svc)) {
            _cleanup_free_ char *path = xasprintf("%s/%s", ld->compat_dir, svc);
            r = load_file(ld, path, svc, NULL, true);
        }
    }
    ld->include_base = saved;
    str_set_free(&services);
    str_set_free(&names);
    return r;
}

static int finish(struct policy *p, int r, struct qerror *err)
{
    if (r < 0)
        p->error = xstrdup(err->message);
    return r;
}

int policy_load_dirs(struct policy *p, const char *const *dirs, size_t n_dirs,
                     const char *compat_dir, struct qerror *err)
{
    memset(p, 0, sizeof(*p));
    struct loader ld = { p, NULL, compat_dir, 0, err };
    return finish(p, load_dirs(&ld, dirs, n_dirs, true), err);
}

int policy_load_string(struct policy *p, const char *untrusted_body, size_t len, const char *name,
                       const char *include_base, struct qerror *err)
{
    memset(p, 0, sizeof(*p));
    struct loader ld = { p, include_base, NULL, 0, err };
    return finish(p, load_body(&ld, name, untrusted_body, len, NULL, NULL, false), err);
}

void policy_free(struct policy *p)
{
    for (size_t i = 0; i < p->n_rules; i++)
        rule_free(&p->rules[i]);
    free(p->rules);
    free(p->error);
    memset(p, 0, sizeof(*p));
}
