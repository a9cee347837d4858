/* The policy service's answer, parsed as strictly as upstream's parse_policy_response. */
#include "qrexec/policy_client.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "common/root.h"
#include "common/unix_socket.h"
#include "qrexec/transport.h"

void qrexec_policy_answer_free(struct qrexec_policy_answer *a)
{
    free(a->user);
    free(a->target);
    free(a->target_uuid);
    free(a->requested_target);
    memset(a, 0, sizeof(*a));
}

static int malformed(struct qrexec_policy_answer *out, const char **why, const char *msg)
{
    qrexec_policy_answer_free(out);
    *why = msg;
    return -1;
}

/* Sets *field from value once; a second time is an error. */
static bool set_once(char **field, const char *value, size_t n)
{
    if (*field)
        return false;
    *field = xstrndup(value, n);
    return true;
}

int qrexec_policy_parse_response(const char *untrusted, size_t len,
                                 struct qrexec_policy_answer *out, const char **why)
{
    memset(out, 0, sizeof(*out));
    if (memchr(untrusted, '\0', len))
        return malformed(out, why, "NUL byte in the policy response");
    char *result = NULL, *autostart = NULL, *service = NULL, *source = NULL;
    bool ok = true;
    const char *p = untrusted, *end = untrusted + len;
    while (ok && p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        const char *eq = memchr(p, '=', n);
        if (n == 0) {
            ok = false; /* the response ends at EOF, an empty line is not part of it */
            *why = "empty line in the policy response";
            break;
        }
        if (!eq) {
            ok = false;
            *why = "line without '=' in the policy response";
            break;
        }
        size_t kl = (size_t)(eq - p), vl = n - kl - 1;
        const char *v = eq + 1;
        char **field = NULL;
        if (kl == 6 && memcmp(p, "result", 6) == 0)
            field = &result;
        else if (kl == 4 && memcmp(p, "user", 4) == 0)
            field = &out->user;
        else if (kl == 6 && memcmp(p, "target", 6) == 0)
            field = &out->target;
        else if (kl == 11 && memcmp(p, "target_uuid", 11) == 0)
            field = &out->target_uuid;
        else if (kl == 9 && memcmp(p, "autostart", 9) == 0)
            field = &autostart;
        else if (kl == 16 && memcmp(p, "requested_target", 16) == 0)
            field = &out->requested_target;
        else if (kl == 7 && memcmp(p, "service", 7) == 0)
            field = &service;
        else if (kl == 13 && memcmp(p, "policy_source", 13) == 0)
            field = &source;
        if (!field) {
            ok = false;
            *why = "unknown key in the policy response";
        } else if (!set_once(field, v, vl)) {
            ok = false;
            *why = "duplicate key in the policy response";
        }
        p = nl ? nl + 1 : end;
    }
    _cleanup_free_ char *r = result, *a = autostart, *s = service, *src = source;
    (void)src; /* policy_source= is accepted and not used (clang: -Wunused-variable) */
    if (!ok)
        return malformed(out, why, *why);
    if (!r)
        return malformed(out, why, "no result in the policy response");
    if (strcmp(r, "deny") == 0) {
        if (out->user || out->target || out->target_uuid || out->requested_target || a)
            return malformed(out, why, "deny with call parameters");
        return 0;
    }
    if (strcmp(r, "allow") != 0)
        return malformed(out, why, "result is neither allow nor deny");
    if (!out->user || !out->target || !out->requested_target || !a)
        return malformed(out, why, "allow without user, target, requested_target or autostart");
    if (strcmp(a, "True") != 0 && strcmp(a, "False") != 0)
        return malformed(out, why, "autostart is neither True nor False");
    if (s)
        return malformed(out, why, "service rewriting (RemoteVM) is not supported");
    out->autostart = strcmp(a, "True") == 0;
    out->allow = true;
    return 0;
}

int qrexec_policy_query(const char *source, const char *intended_target,
                        const char *service_and_arg, struct qrexec_policy_answer *out,
                        struct qerror *err)
{
    memset(out, 0, sizeof(*out));
    _cleanup_free_ char *path = qroot_path("run/qubes/policy.sock");
    int fd = unix_connect(path, 0, NULL);
    if (fd < 0 && errno == ENAMETOOLONG)
        return qerror_set(err, ERR_QREXEC_ERROR, "policy socket path too long");
    if (fd < 0)
        return qerror_set(err, ERR_QREXEC_ERROR, "cannot connect to the policy service: %s",
                          strerror(errno));
    _cleanup_buf_ struct buf req = BUF_INIT;
    buf_printf(&req, "source=%s\nintended_target=%s\nservice_and_arg=%s\n\n", source,
               intended_target, service_and_arg);
    _cleanup_buf_ struct buf resp = BUF_INIT;
    int rc = qrexec_send_all(fd, req.data, req.len, -1);
    if (rc == 0) {
        char chunk[4096];
        for (;;) {
            ssize_t n = read(fd, chunk, sizeof(chunk));
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                rc = n < 0 ? -1 : 0;
                break;
            }
            if (resp.len + (size_t)n > QREXEC_POLICY_RESPONSE_MAX) {
                rc = -1;
                errno = EMSGSIZE;
                break;
            }
            buf_append(&resp, chunk, (size_t)n);
        }
    }
    int e = errno;
    close(fd);
    if (rc < 0)
        return qerror_set(err, ERR_QREXEC_ERROR, "policy service: %s", strerror(e));
    const char *why = NULL;
    if (qrexec_policy_parse_response(resp.data ? resp.data : "", resp.len, out, &why) < 0)
        return qerror_set(err, ERR_QREXEC_ERROR, "%s", why);
    return 0;
}
