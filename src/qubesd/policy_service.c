/* The policy service. A request is read until its empty line (bounded), evaluated against
 * the policy (loaded once, reloaded after inotify reports a change) and the facts of the live
 * model, answered, and written to the audit log. An `ask` waits for the connected
 * qrexec-policy-agent; without one it is denied. A qube decides what goes into the audit log
 * (it names the service and target), so its lines are cut, repeats collapsed and the file
 * capped and rotated (common/log_file.h). */
#include "qubesd/policy_service.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "common/log.h"
#include "common/log_file.h"
#include "common/loop.h"
#include "common/parse.h"
#include "common/root.h"
#include "common/unix_socket.h"
#include "policy/policy.h"
#include "qrexec/qrexec_proto.h"
#include "qubesd/lifecycle.h"
#include "qubesd/property.h"

#define REQUEST_MAX 65536
#define AGENT_MSG_MAX 65536
#define MAX_REQUESTS 1024
#define REQUEST_TIMEOUT_MS 10000

/* The policy directories, in precedence order, and the legacy one of !compat-4.0. */
static const char *const policy_dirs[] = { "run/qubes/policy.d", "etc/qubes/policy.d" };
static const char *const watched_dirs[] = {
    "run/qubes/policy.d",         "etc/qubes/policy.d",   "run/qubes/policy.d/include",
    "etc/qubes/policy.d/include", "etc/qubes-rpc/policy",
};

enum req_state { REQ_READING, REQ_ASKING };

struct policy_request {
    struct loop_watch watch; /* ctx = the service */
    struct loop_watch timer;
    enum req_state state;
    struct buf in;
    unsigned long ask_id;
    /* kept while asking: what the answer completes */
    struct policy_resolution res;
    char *source, *target, *service;
    char *rule; /* "file:line" of the deciding rule, copied (a reload may free the policy) */
    struct policy_request *prev, *next;
};

struct policy_service {
    struct app *app;
    struct loop_watch listen;
    struct loop_watch agent_listen;
    struct loop_watch agent; /* fd -1: no agent connected */
    struct buf agent_in;
    struct loop_watch inotify;
    struct policy policy;
    bool loaded;
    unsigned long next_ask_id;
    struct policy_request *requests;
    size_t n_requests;
    char *socket_path, *agent_path;
    struct log_file audit;
    bool audit_open;
    struct loop_watch audit_timer; /* sums up a run of repeated decisions after its window */
};

/* ---- facts ---- */

static void build_system(const struct app *app, struct policy_system *sys)
{
    for (size_t i = 0; i < app->n_qubes; i++) {
        const struct qube *q = app->qubes[i];
        struct policy_qube *pq = policy_system_add(sys, q->name, q->uuid, qube_class_name(q->cls));
        for (size_t t = 0; t < q->tags.n; t++)
            policy_qube_add_tag(pq, q->tags.items[t]);
        const struct qube *dvm = prop_value_qube(app, q, "default_dispvm");
        if (dvm)
            policy_qube_set(&pq->default_dispvm, dvm->name);
        pq->template_for_dispvms = prop_value_bool(app, q, "template_for_dispvms");
        const char *internal = kv_get(&q->features, "internal");
        pq->internal =
            internal && *internal && strcmp(internal, "0") != 0 && strcmp(internal, "False") != 0;
        policy_qube_set(&pq->power_state, power_state_name(qube_power(q)));
    }
}

/* ---- policy files ---- */

static void watch_dirs(struct policy_service *ps)
{
    for (size_t i = 0; i < ARRAY_SIZE(watched_dirs); i++) {
        _cleanup_free_ char *p = qroot_path(watched_dirs[i]);
        /* missing directories are fine: their parent's watch sees them appear */
        inotify_add_watch(ps->inotify.fd, p,
                          IN_CREATE | IN_DELETE | IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_FROM |
                              IN_MOVED_TO | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR);
    }
}

/* Reads what inotify queued; true if a policy file changed. The events of a write that
 * finished before a request was sent are queued already, so checking here, and not only
 * when the loop gets to the inotify fd, means no request is decided by a stale policy. */
static bool policy_changed(struct policy_service *ps)
{
    char b[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    bool changed = false;
    while (read(ps->inotify.fd, b, sizeof(b)) > 0)
        changed = true;
    return changed;
}

static const struct policy *current_policy(struct policy_service *ps)
{
    if (policy_changed(ps) && ps->loaded) {
        policy_free(&ps->policy);
        ps->loaded = false;
    }
    if (ps->loaded)
        return &ps->policy;
    _cleanup_free_ char *d0 = qroot_path(policy_dirs[0]);
    _cleanup_free_ char *d1 = qroot_path(policy_dirs[1]);
    _cleanup_free_ char *compat = qroot_path("etc/qubes-rpc/policy");
    const char *dirs[] = { d0, d1 };
    struct qerror err = { 0 };
    if (policy_load_dirs(&ps->policy, dirs, 2, compat, &err) < 0)
        log_error("policy: %s: every call is denied until it is fixed", ps->policy.error);
    else
        log_info("policy loaded: %zu files, %zu rules", ps->policy.n_files, ps->policy.n_rules);
    qerror_clear(&err);
    ps->loaded = true;
    watch_dirs(ps);
    return &ps->policy;
}

static void on_inotify(struct loop_watch *w, uint32_t events)
{
    (void)events;
    struct policy_service *ps = w->ctx;
    if (policy_changed(ps) && ps->loaded) {
        /* the next request loads the new files; a burst of writes costs one load */
        policy_free(&ps->policy);
        ps->loaded = false;
        log_info("policy changed: reloading on the next request");
    }
}

/* ---- audit ---- */

static void audit_open(struct policy_service *ps)
{
    _cleanup_free_ char *path = qroot_path("var/log/qubes/qrexec-audit.log");
    struct qerror err = { 0 };
    /* opened once, not per decision; a file that cannot be opened is retried per line */
    if (log_file_open(&ps->audit, path, NULL, &err) < 0)
        log_error("audit log: %s", err.message);
    ps->audit_open = true;
}

static void audit_schedule(struct policy_service *ps);

static void on_audit_timer(struct loop_watch *w, uint32_t events)
{
    (void)events;
    struct policy_service *ps = w->ctx;
    loop_timer_cancel(ps->app->loop, &ps->audit_timer);
    audit_schedule(ps);
}

/* A pending "repeated N times" is written when its window ends even if nothing follows. */
static void audit_schedule(struct policy_service *ps)
{
    long due = log_file_tick(&ps->audit);
    if (due >= 0 && ps->audit_timer.fd < 0 &&
        loop_timer_start(ps->app->loop, &ps->audit_timer, due, on_audit_timer, ps) < 0)
        log_warning("audit log: no timer for repeated decisions: %s", strerror(errno));
}

static void audit(struct policy_service *ps, const char *source, const char *target,
                  const char *service, const struct policy_resolution *res, const char *rule,
                  const char *how)
{
    if (!ps->audit_open)
        return;
    /* what the caller named, as long as a real qube or service name can be */
    _cleanup_free_ char *src = log_cut(source, QREXEC_LOG_DOMAIN_MAX);
    _cleanup_free_ char *tgt = log_cut(target, QREXEC_LOG_DOMAIN_MAX);
    _cleanup_free_ char *svc = log_cut(service, QREXEC_LOG_SERVICE_MAX);
    _cleanup_buf_ struct buf line = BUF_INIT;
    buf_printf(&line, "source=%s target=%s service=%s result=%s", src, tgt, svc,
               res->result == POLICY_ALLOW ? "allow"
               : res->result == POLICY_ASK ? "ask"
                                           : "deny");
    if (res->result == POLICY_ALLOW)
        buf_printf(&line, " resolved=%s", res->target);
    buf_printf(&line, " rule=%s", rule ? rule : "none");
    if (how)
        buf_printf(&line, " %s", how);
    if (res->result == POLICY_DENY)
        buf_printf(&line, " reason=\"%s\"", res->reason);
    log_file_line(&ps->audit, line.data, line.len);
    audit_schedule(ps);
}

/* ---- requests ---- */

static void request_close(struct policy_service *ps, struct policy_request *r)
{
    loop_del(ps->app->loop, &r->watch);
    loop_timer_cancel(ps->app->loop, &r->timer);
    close(r->watch.fd);
    if (r->prev)
        r->prev->next = r->next;
    else
        ps->requests = r->next;
    if (r->next)
        r->next->prev = r->prev;
    ps->n_requests--;
    buf_free(&r->in);
    policy_resolution_free(&r->res);
    free(r->source);
    free(r->target);
    free(r->service);
    free(r->rule);
    free(r);
}

static void respond(struct policy_service *ps, struct policy_request *r,
                    const struct policy_resolution *res)
{
    _cleanup_buf_ struct buf out = BUF_INIT;
    policy_resolution_format(res, &out);
    /* a fresh socket's buffer holds this small answer: one send, no waiting */
    if (send(r->watch.fd, out.data, out.len, MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t)out.len)
        log_warning("policy: could not send the whole answer");
    request_close(ps, r);
}

static void deny_now(struct policy_service *ps, struct policy_request *r, const char *why)
{
    struct policy_resolution res = { .result = POLICY_DENY };
    snprintf(res.reason, sizeof(res.reason), "%s", why);
    log_warning("policy: request refused: %s", why);
    respond(ps, r, &res);
}

struct request_fields {
    const char *source, *intended_target, *service_and_arg, *requested_source;
    bool assume_yes, just_evaluate;
};

/* key=value lines up to the empty line; a duplicate, unknown key or NUL is an error. */
static const char *parse_request(char *text, struct request_fields *f)
{
    memset(f, 0, sizeof(*f));
    for (char *line = text, *nl; (nl = strchr(line, '\n')) && nl != line; line = nl + 1) {
        *nl = '\0';
        char *eq = strchr(line, '=');
        if (!eq)
            return "line without '='";
        *eq = '\0';
        const char *v = eq + 1;
        const char **slot = NULL;
        const char *flag = NULL;
        if (strcmp(line, "source") == 0)
            slot = &f->source;
        else if (strcmp(line, "intended_target") == 0)
            slot = &f->intended_target;
        else if (strcmp(line, "service_and_arg") == 0)
            slot = &f->service_and_arg;
        else if (strcmp(line, "requested_source") == 0)
            slot = &f->requested_source;
        else if (strcmp(line, "assume_yes_for_ask") == 0 || strcmp(line, "just_evaluate") == 0)
            flag = line;
        else if (strcmp(line, "domain_id") == 0 || strcmp(line, "process_ident") == 0)
            continue; /* older clients send them; nothing depends on them */
        else
            return "unknown key";
        if (flag) {
            bool on;
            if (parse_bool(v, PARSE_BOOL_YES_NO, &on) < 0)
                return "a flag must be yes or no";
            if (strcmp(flag, "just_evaluate") == 0)
                f->just_evaluate = on;
            else
                f->assume_yes = on;
            continue;
        }
        if (*slot)
            return "duplicate key";
        *slot = v;
    }
    if (!f->source || !f->intended_target || !f->service_and_arg)
        return "source, intended_target and service_and_arg are required";
    if (f->requested_source && strcmp(f->requested_source, f->source) != 0)
        return "requested_source (relayed calls) is not supported";
    return NULL;
}

static bool send_ask(struct policy_service *ps, struct policy_request *r)
{
    if (ps->agent.fd < 0)
        return false;
    const char *plus = strchr(r->service, '+');
    _cleanup_free_ char *svc =
        xstrndup(r->service, plus ? (size_t)(plus - r->service) : strlen(r->service));
    _cleanup_buf_ struct buf m = BUF_INIT;
    r->ask_id = ++ps->next_ask_id;
    buf_printf(&m, "id=%lu\nsource=%s\nservice=%s\nargument=%s\ntargets=", r->ask_id, r->source,
               svc, plus ? plus : "+");
    for (size_t i = 0; i < r->res.n_targets; i++)
        buf_printf(&m, "%s%s", i ? " " : "", r->res.targets[i]);
    buf_printf(&m, "\ndefault_target=%s\n\n", r->res.default_target ? r->res.default_target : "");
    /* the agent is a dom0 program; one that stops reading only stalls asks */
    if (send(ps->agent.fd, m.data, m.len, MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t)m.len) {
        log_warning("policy: the policy agent does not take requests");
        return false;
    }
    r->state = REQ_ASKING;
    return true;
}

/* Upstream's policy.Notify to the policy agent: a denied call the user should hear of
 * (the caller only learns "Request refused"). Nobody to tell without an agent; like an
 * ask, one that stops reading loses the notification, not the call. */
static void notify_denial(struct policy_service *ps, const struct policy_request *r)
{
    if (ps->agent.fd < 0 || r->res.result != POLICY_DENY || !r->res.notify)
        return;
    const char *plus = strchr(r->service, '+');
    _cleanup_free_ char *svc =
        xstrndup(r->service, plus ? (size_t)(plus - r->service) : strlen(r->service));
    /* the target as the request named it, after @default for none or an unknown qube */
    const char *target = r->res.requested_target ? r->res.requested_target
                         : *r->target            ? r->target
                                                 : "@default";
    _cleanup_buf_ struct buf m = BUF_INIT;
    buf_printf(&m, "resolution=deny\nsource=%s\nservice=%s\nargument=%s\ntarget=%s\n\n", r->source,
               svc, plus ? plus : "+", target);
    if (send(ps->agent.fd, m.data, m.len, MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t)m.len)
        log_warning("policy: the policy agent does not take notifications");
}

static void handle_request(struct policy_service *ps, struct policy_request *r)
{
    struct request_fields f;
    const char *bad = parse_request(r->in.data, &f);
    if (bad) {
        deny_now(ps, r, bad);
        return;
    }
    const struct policy *pol = current_policy(ps);
    struct policy_system sys = { 0 };
    build_system(ps->app, &sys);
    policy_evaluate(pol, &sys, f.source, f.intended_target, f.service_and_arg, &r->res);
    r->source = xstrdup(f.source);
    r->target = xstrdup(f.intended_target);
    r->service = xstrdup(f.service_and_arg);
    if (r->res.file)
        r->rule = xasprintf("%s:%u", r->res.file, r->res.line);
    const char *how = NULL;
    if (r->res.result == POLICY_ASK && !f.just_evaluate) {
        if (f.assume_yes) {
            policy_resolution_choose(&r->res, &sys, r->res.requested_target);
            how = "asked=assume-yes";
        } else if (send_ask(ps, r)) {
            policy_system_free(&sys);
            return; /* answered when the agent replies */
        } else {
            policy_resolution_choose(&r->res, &sys, NULL);
            snprintf(r->res.reason, sizeof(r->res.reason), "no policy agent to ask (rule %s)",
                     r->rule ? r->rule : "?");
            how = "asked=no-agent";
        }
    }
    policy_system_free(&sys);
    if (!f.just_evaluate) {
        audit(ps, r->source, r->target, r->service, &r->res, r->rule, how);
        notify_denial(ps, r);
    }
    respond(ps, r, &r->res);
}

static void on_request_timeout(struct loop_watch *w, uint32_t events)
{
    (void)events;
    struct policy_request *r = w->ctx;
    struct policy_service *ps = r->watch.ctx;
    if (r->state == REQ_READING) {
        log_warning("policy: a client sent no complete request: dropping it");
        request_close(ps, r);
    }
}

/* Appends what fd has to in. 0: nothing more for now; -1: EOF or an error; -2: a NUL byte,
 * or more than max in all. */
static int read_text(int fd, struct buf *in, size_t max)
{
    char b[4096];
    for (;;) {
        ssize_t n = recv(fd, b, sizeof(b), MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        if (n <= 0)
            return -1;
        if (memchr(b, '\0', (size_t)n) || in->len + (size_t)n > max)
            return -2;
        buf_append(in, b, (size_t)n);
    }
}

static void on_request(struct loop_watch *w, uint32_t events)
{
    struct policy_request *r = (struct policy_request *)w;
    struct policy_service *ps = w->ctx;
    if (r->state == REQ_ASKING) {
        if (events & (EPOLLHUP | EPOLLERR | EPOLLRDHUP | EPOLLIN))
            request_close(ps, r); /* the caller gave up (or sent more): the answer is moot */
        return;
    }
    int rc = read_text(w->fd, &r->in, REQUEST_MAX);
    if (rc == -2) {
        deny_now(ps, r, "NUL byte in the request, or a request too long");
        return;
    }
    char *end = r->in.len ? strstr(r->in.data, "\n\n") : NULL;
    if (end || (r->in.len == 1 && r->in.data[0] == '\n')) {
        if (end && end[2] != '\0') {
            deny_now(ps, r, "data after the request");
            return;
        }
        loop_timer_cancel(ps->app->loop, &r->timer);
        handle_request(ps, r);
        return;
    }
    if (rc == -1)
        request_close(ps, r); /* gone before a whole request */
}

static void on_listen(struct loop_watch *w, uint32_t events)
{
    (void)events;
    struct policy_service *ps = w->ctx;
    for (;;) {
        int fd = accept4(w->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        if (ps->n_requests >= MAX_REQUESTS) {
            log_warning("policy: too many requests at once: refusing one");
            close(fd);
            continue;
        }
        struct policy_request *r = xcalloc(1, sizeof(*r));
        r->watch = (struct loop_watch){ .fd = fd, .fn = on_request, .ctx = ps };
        r->timer.fd = -1;
        r->next = ps->requests;
        if (ps->requests)
            ps->requests->prev = r;
        ps->requests = r;
        ps->n_requests++;
        if (loop_add(ps->app->loop, &r->watch, EPOLLIN | EPOLLRDHUP) < 0 ||
            loop_timer_start(ps->app->loop, &r->timer, REQUEST_TIMEOUT_MS, on_request_timeout, r) <
                0)
            request_close(ps, r);
    }
}

/* ---- the ask agent ---- */

static void agent_gone(struct policy_service *ps)
{
    loop_del(ps->app->loop, &ps->agent);
    close(ps->agent.fd);
    ps->agent.fd = -1;
    buf_reset(&ps->agent_in);
    log_info("policy: the policy agent disconnected: pending asks are denied");
    for (struct policy_request *r = ps->requests, *next; r; r = next) {
        next = r->next;
        if (r->state != REQ_ASKING)
            continue;
        snprintf(r->res.reason, sizeof(r->res.reason), "the policy agent went away");
        r->res.result = POLICY_DENY;
        audit(ps, r->source, r->target, r->service, &r->res, r->rule, "asked=agent-gone");
        respond(ps, r, &r->res);
    }
}

/* One answer block "id=N\nanswer=allow:TARGET|deny". false: malformed. */
static bool handle_answer(struct policy_service *ps, char *block)
{
    unsigned long id = 0;
    const char *answer = NULL;
    for (char *save = NULL, *line = strtok_r(block, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        if (strncmp(line, "id=", 3) == 0) {
            long long v;
            if (parse_ll(line + 3, 1, LLONG_MAX, 0, &v) < 0)
                return false;
            id = (unsigned long)v;
        } else if (strncmp(line, "answer=", 7) == 0 && !answer) {
            answer = line + 7;
        } else {
            return false;
        }
    }
    if (!id || !answer)
        return false;
    struct policy_request *r = ps->requests;
    while (r && !(r->state == REQ_ASKING && r->ask_id == id))
        r = r->next;
    if (!r)
        return true; /* the caller gave up meanwhile */
    struct policy_system sys = { 0 };
    build_system(ps->app, &sys);
    if (strncmp(answer, "allow:", 6) == 0) {
        policy_resolution_choose(&r->res, &sys, answer + 6);
    } else {
        policy_resolution_choose(&r->res, &sys, NULL);
        snprintf(r->res.reason, sizeof(r->res.reason), "denied by the user");
    }
    policy_system_free(&sys);
    audit(ps, r->source, r->target, r->service, &r->res, r->rule, "asked=agent");
    notify_denial(ps, r);
    respond(ps, r, &r->res);
    return true;
}

static void on_agent(struct loop_watch *w, uint32_t events)
{
    (void)events;
    struct policy_service *ps = w->ctx;
    int rc = read_text(w->fd, &ps->agent_in, AGENT_MSG_MAX);
    char *end;
    while (ps->agent_in.len && (end = strstr(ps->agent_in.data, "\n\n"))) {
        size_t len = (size_t)(end - ps->agent_in.data);
        _cleanup_free_ char *block = xstrndup(ps->agent_in.data, len);
        buf_consume(&ps->agent_in, len + 2);
        if (!handle_answer(ps, block)) {
            log_warning("policy: malformed answer from the policy agent");
            agent_gone(ps);
            return;
        }
    }
    if (rc == -2)
        log_warning("policy: malformed data from the policy agent");
    if (rc < 0)
        agent_gone(ps);
}

static void on_agent_listen(struct loop_watch *w, uint32_t events)
{
    (void)events;
    struct policy_service *ps = w->ctx;
    int fd = accept4(w->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0)
        return;
    if (ps->agent.fd >= 0) {
        log_warning("policy: a second policy agent was refused");
        close(fd);
        return;
    }
    ps->agent.fd = fd;
    if (loop_add(ps->app->loop, &ps->agent, EPOLLIN | EPOLLRDHUP) < 0) {
        close(fd);
        ps->agent.fd = -1;
        return;
    }
    log_info("policy: a policy agent connected");
}

/* ---- set-up ---- */

int policy_service_open(struct app *app, struct policy_service **out, struct qerror *err)
{
    struct policy_service *ps = xcalloc(1, sizeof(*ps));
    ps->app = app;
    ps->audit_timer.fd = -1;
    ps->listen = (struct loop_watch){ .fd = -1, .fn = on_listen, .ctx = ps };
    ps->agent_listen = (struct loop_watch){ .fd = -1, .fn = on_agent_listen, .ctx = ps };
    ps->agent = (struct loop_watch){ .fd = -1, .fn = on_agent, .ctx = ps };
    ps->inotify = (struct loop_watch){ .fd = -1, .fn = on_inotify, .ctx = ps };
    for (size_t i = 0; i < ARRAY_SIZE(policy_dirs); i++)
        qroot_mkdirs(policy_dirs[i], 0755);
    ps->socket_path = qroot_path("run/qubes/policy.sock");
    ps->agent_path = qroot_path("run/qubes/policy-agent.sock");
    ps->listen.fd = unix_listen(ps->socket_path, 0600, 256, err);
    if (ps->listen.fd >= 0)
        ps->agent_listen.fd = unix_listen(ps->agent_path, 0600, 256, err);
    ps->inotify.fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (ps->listen.fd < 0 || ps->agent_listen.fd < 0 || ps->inotify.fd < 0 ||
        loop_add(app->loop, &ps->listen, EPOLLIN) < 0 ||
        loop_add(app->loop, &ps->agent_listen, EPOLLIN) < 0 ||
        loop_add(app->loop, &ps->inotify, EPOLLIN) < 0) {
        if (!err->kind)
            qerror_errno(err, errno, "policy service");
        policy_service_close(ps);
        return -1;
    }
    audit_open(ps);
    current_policy(ps);
    *out = ps;
    return 0;
}

void policy_service_close(struct policy_service *ps)
{
    if (!ps)
        return;
    while (ps->requests)
        request_close(ps, ps->requests);
    struct loop_watch *ws[] = { &ps->listen, &ps->agent_listen, &ps->agent, &ps->inotify };
    for (size_t i = 0; i < ARRAY_SIZE(ws); i++)
        if (ws[i]->fd >= 0) {
            loop_del(ps->app->loop, ws[i]);
            close(ws[i]->fd);
        }
    if (ps->listen.fd >= 0)
        unlink(ps->socket_path);
    if (ps->agent_listen.fd >= 0)
        unlink(ps->agent_path);
    if (ps->loaded)
        policy_free(&ps->policy);
    buf_free(&ps->agent_in);
    loop_timer_cancel(ps->app->loop, &ps->audit_timer);
    if (ps->audit_open)
        log_file_close(&ps->audit);
    free(ps->socket_path);
    free(ps->agent_path);
    free(ps);
}

struct policy_check {
    const struct policy *policy;
    struct policy_system sys;
};

struct policy_check *policy_check_begin(struct policy_service *ps)
{
    struct policy_check *c = xcalloc(1, sizeof(*c));
    c->policy = current_policy(ps);
    build_system(ps->app, &c->sys);
    return c;
}

bool policy_check_allows(struct policy_check *c, const char *source, const char *target,
                         const char *service_and_arg)
{
    struct policy_resolution res;
    policy_evaluate(c->policy, &c->sys, source, target, service_and_arg, &res);
    bool ok = res.result == POLICY_ALLOW;
    policy_resolution_free(&res);
    return ok;
}

void policy_check_end(struct policy_check *c)
{
    if (!c)
        return;
    policy_system_free(&c->sys);
    free(c);
}
