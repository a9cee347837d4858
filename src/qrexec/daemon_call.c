/* The process behind one call from a qube: ask the policy, start the target if the policy
 * lets it, and connect the two ends. For a qube target the target's own qrexec-daemon makes
 * the data socket and hands one end to its agent; the other end goes back to the caller's
 * daemon, so the call's data flows from qube to qube and never through dom0 or a third qube.
 * For dom0 this process runs the service itself (upstream run_qrexec_to_dom0). */
#include "qrexec/daemon_call.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client/qubesd_client.h"
#include "common/buf.h"
#include "common/cleanup.h"
#include "common/log.h"
#include "common/log_file.h"
#include "common/names.h"
#include "common/parse.h"
#include "common/paths.h"
#include "common/root.h"
#include "common/slot_lock.h"
#include "qrexec/agent_call.h"
#include "qrexec/client_call.h"
#include "qrexec/policy_client.h"
#include "qrexec/qrexec_proto.h"
#include "qrexec/transport.h"

static void report(int fd, uint8_t kind, uint32_t domain, uint32_t port, int pass_fd,
                   const char *why)
{
    struct qrexec_call_report r = { .kind = kind, .domain = domain, .port = port };
    if (why)
        snprintf(r.reason, sizeof(r.reason), "%s", why);
    if (qrexec_send_all(fd, &r, sizeof(r), pass_fd) < 0)
        log_error("op=call event=report-failed reason=\"%s\"", strerror(errno));
}

/* The daemon logs the refusal with its reason, not this process: in one process a flood of
 * equal refusals collapses into one line and a count. */
__attribute__((noreturn)) static void refuse(int fd, const char *why)
{
    report(fd, QREXEC_CALL_REFUSED, 0, 0, -1, why);
    _exit(0);
}

/* A reason with details (a qubesd error), cut to what the report holds. */
__attribute__((format(printf, 2, 3))) static void reason_printf(char why[QREXEC_CALL_REASON_MAX],
                                                                const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, QREXEC_CALL_REASON_MAX, fmt, ap);
    va_end(ap);
}

__attribute__((format(printf, 2, 3), noreturn)) static void refusef(int fd, const char *fmt, ...)
{
    char why[QREXEC_CALL_REASON_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    refuse(fd, why);
}

static bool daemon_running(const char *qube)
{
    _cleanup_free_ char *rel = xasprintf("run/qubes/qrexec.%s", qube);
    _cleanup_free_ char *path = qroot_path(rel);
    struct stat st;
    return stat(path, &st) == 0 && S_ISSOCK(st.st_mode);
}

/* dom0's service directories: the runtime ones qubesd makes (admin.* sockets), the
 * administrator's, then Qubicle's own. */
static char *dom0_service_path(void)
{
    _cleanup_free_ char *run = qroot_path("run/qubes-rpc");
    _cleanup_free_ char *etc = qroot_path("etc/qubes-rpc");
    _cleanup_free_ char *builtin = qubicle_dom0_rpc_dir();
    return xasprintf("%s:%s:%s", run, etc, builtin);
}

__attribute__((noreturn)) static void run_in_dom0(const struct qrexec_call_request *req,
                                                  const struct qrexec_policy_answer *a, int fd)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        refusef(fd, "socketpair: %s", strerror(errno));
    report(fd, QREXEC_CALL_CONNECT, 0, 0, sv[0], NULL);
    close(sv[0]);
    close(fd);
    const char *rt = a->requested_target;
    _cleanup_free_ char *cmdline =
        xasprintf("DEFAULT:QUBESRPC %s %s %s %s", req->service, req->source,
                  rt[0] == '@' ? "keyword" : "name", rt[0] == '@' ? rt + 1 : rt);
    _cleanup_free_ char *path = dom0_service_path();
    _cleanup_free_ char *config = qroot_path("etc/qubes/rpc-config");
    struct qrexec_service_host host = {
        .service_path = path, .config_path = config, .keep_user = true, .agent_pid = (long)getpid()
    };
    _cleanup_free_ char *svc = log_cut(req->service, QREXEC_LOG_SERVICE_MAX);
    log_info("qube=%s op=trigger service=%s target=dom0 result=allowed", req->source, svc);
    qrexec_agent_call(sv[1], MSG_EXEC_CMDLINE, cmdline, &host);
}

/* A new disposable of the DVM template for a call to "@dispvm:TEMPLATE": its name, or NULL
 * with err set. */
static char *create_disposable(const struct qrexec_call_request *req, const char *dvm_template,
                               struct qerror *err)
{
    struct buf name = BUF_INIT;
    if (qubesd_call_str("admin.vm.CreateDisposable", "", dvm_template, NULL, &name, err) < 0) {
        buf_free(&name);
        return NULL;
    }
    log_info("qube=%s op=trigger target=@dispvm:%s disposable=%s", req->source, dvm_template,
             name.data);
    return name.data;
}

/* Holds one of the caller's disposable slots for as long as this process lives (it lives
 * until the call to the disposable ends): a qube's calls hold at most
 * QREXEC_DISPVM_CALLS_DEFAULT disposables at once, or what its feature dispvm-calls-max
 * says. Refused with the reason when all are held. */
static int hold_disposable_slot(const struct qrexec_call_request *req, int fd)
{
    long long max = QREXEC_DISPVM_CALLS_DEFAULT;
    struct buf value = BUF_INIT;
    struct qerror feature_err = { 0 }, err = { 0 };
    if (qubesd_call_str("admin.vm.feature.Get", QREXEC_DISPVM_CALLS_FEATURE, req->source, NULL,
                        &value, &feature_err) == 0) {
        bool ok =
            parse_ll(value.data ? value.data : "", 0, QREXEC_DISPVM_CALLS_LIMIT, 0, &max) == 0;
        buf_free(&value);
        if (!ok)
            refusef(fd, "feature %s of %s is not a number of disposables (0-%d)",
                    QREXEC_DISPVM_CALLS_FEATURE, req->source, QREXEC_DISPVM_CALLS_LIMIT);
    } else if (feature_err.kind != ERR_QUBES_FEATURE_NOT_FOUND_ERROR) {
        refusef(fd, "feature %s of %s: %s", QREXEC_DISPVM_CALLS_FEATURE, req->source,
                feature_err.message);
    }
    _cleanup_free_ char *rel = xasprintf("run/qubes/dispvm-calls/%s", req->source);
    _cleanup_free_ char *dir = qroot_path(rel);
    if (qroot_mkdirs("run/qubes/dispvm-calls", 0700) < 0)
        refusef(fd, "create run/qubes/dispvm-calls: %s", strerror(errno));
    int slot;
    int lock = max > 0 ? slot_lock_acquire(dir, 0, (int)max, &slot, &err) : -1;
    if (lock < 0 && err.kind)
        refusef(fd, "disposable slots of %s: %s", req->source, err.message);
    if (lock < 0)
        refusef(fd, "%s holds its maximum of disposables from calls: %lld (feature %s)",
                req->source, max, QREXEC_DISPVM_CALLS_FEATURE);
    return lock;
}

/* The call to a disposable ran its course (its daemon closes our connection when the
 * service's port is released) or failed: the disposable goes (auto_cleanup removes it). */
__attribute__((noreturn)) static void finish_disposable(int sock, const char *name)
{
    if (sock >= 0) {
        char b[64];
        while (read(sock, b, sizeof(b)) > 0 || errno == EINTR)
            ;
        close(sock);
    }
    struct qerror err = { 0 };
    if (qubesd_call_str("admin.vm.Kill", "", name, NULL, NULL, &err) < 0 &&
        err.kind != ERR_QUBES_VM_NOT_STARTED_ERROR)
        log_error("disposable=%s op=kill result=error reason=\"%s\"", name, err.message);
    _exit(0);
}

__attribute__((noreturn)) static void run_in_qube(const struct qrexec_call_request *req,
                                                  const struct qrexec_policy_answer *a, int fd)
{
    const char *target = a->target;
    _cleanup_free_ char *disposable = NULL;
    if (strncmp(target, "@dispvm:", 8) == 0) {
        struct qerror err = { 0 };
        hold_disposable_slot(req, fd); /* released when this process ends */
        disposable = create_disposable(req, target + 8, &err);
        if (!disposable)
            refusef(fd, "no disposable could be created: %s", err.message);
        target = disposable;
    }
    if (strcmp(target, req->source) == 0)
        refuse(fd, "loopback qrexec connection not supported");
    if (!daemon_running(target)) {
        if (!a->autostart && !disposable)
            refuse(fd, "target is not running and autostart=no");
        struct qerror err = { 0 };
        log_info("qube=%s op=trigger target=%s event=autostart", req->source, target);
        if (qubesd_call_str("admin.vm.Start", "", target, NULL, NULL, &err) < 0 &&
            err.kind != ERR_QUBES_VM_NOT_HALTED_ERROR) {
            char why[QREXEC_CALL_REASON_MAX];
            reason_printf(why, "the target could not be started: %s", err.message);
            if (disposable) {
                report(fd, QREXEC_CALL_REFUSED, 0, 0, -1, why);
                finish_disposable(-1, disposable);
            }
            refuse(fd, why);
        }
    }
    _cleanup_free_ char *cmdline =
        xasprintf("%s:QUBESRPC %s %s", a->user, req->service, req->source);
    int sock = -1;
    uint32_t domain = 0, port = 0;
    struct qerror err = { 0 };
    /* the target's daemon counts the calls of each source qube by this domain id */
    int data = qrexec_client_request(target, MSG_EXEC_CMDLINE, cmdline, req->source_domid,
                                     req->timeout, &sock, &domain, &port, &err);
    if (data < 0) {
        char why[QREXEC_CALL_REASON_MAX];
        reason_printf(why, "the target's qrexec daemon refused (see its log): %s", err.message);
        if (disposable) {
            report(fd, QREXEC_CALL_REFUSED, 0, 0, -1, why);
            finish_disposable(sock, disposable);
        }
        refuse(fd, why);
    }
    _cleanup_free_ char *svc = log_cut(req->service, QREXEC_LOG_SERVICE_MAX);
    log_info("qube=%s op=trigger service=%s target=%s result=allowed port=%u", req->source, svc,
             target, port);
    report(fd, QREXEC_CALL_CONNECT, domain, port, data, NULL);
    close(data);
    close(fd);
    if (disposable)
        finish_disposable(sock, disposable);
    _exit(0);
}

void qrexec_daemon_call(const struct qrexec_call_request *req, int fd)
{
    struct qrexec_policy_answer a;
    struct qerror err = { 0 };
    if (qrexec_policy_query(req->source, req->target, req->service, &a, &err) < 0)
        refusef(fd, "no valid answer from the policy service: %s", err.message);
    if (!a.allow)
        refuse(fd, "denied by policy");
    if (strcmp(a.target, "dom0") == 0)
        run_in_dom0(req, &a, fd);
    run_in_qube(req, &a, fd);
}
