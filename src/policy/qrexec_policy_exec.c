/* qrexec-policy-exec: evaluates one qrexec call against the policy and
 * prints the response lines of the policy daemon protocol (§1.9). A real decision (no
 * --just-evaluate, no --path) is made by qubesd's policy service, so that an ask reaches the
 * policy agent and the decision is audited; otherwise the files are evaluated here. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "common/root.h"
#include "common/unix_socket.h"
#include "policy/policy.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: qrexec-policy-exec [--assume-yes-for-ask] [--just-evaluate] [--path DIR] "
               "SOURCE TARGET SERVICE[+ARG]\n");
}

/* Asks qubesd's policy service and prints its answer; 0 iff it allowed. */
static int via_service(const char *source, const char *target, const char *svc, bool assume_yes)
{
    _cleanup_free_ char *path = qroot_path("run/qubes/policy.sock");
    int fd = unix_connect(path, 0, NULL);
    if (fd < 0 && errno == ENAMETOOLONG) {
        fprintf(stderr, "qrexec-policy-exec: socket path too long\n");
        return 1;
    }
    if (fd < 0) {
        fprintf(stderr, "qrexec-policy-exec: cannot reach the policy service %s: %s\n", path,
                strerror(errno));
        printf("result=deny\n");
        return 1;
    }
    _cleanup_buf_ struct buf req = BUF_INIT;
    buf_printf(&req, "source=%s\nintended_target=%s\nservice_and_arg=%s\n%s\n", source, target, svc,
               assume_yes ? "assume_yes_for_ask=yes\n" : "");
    _cleanup_buf_ struct buf resp = BUF_INIT;
    if (write(fd, req.data, req.len) == (ssize_t)req.len) {
        char b[4096];
        ssize_t n;
        while ((n = read(fd, b, sizeof(b))) > 0 && resp.len < 65536)
            buf_append(&resp, b, (size_t)n);
    }
    close(fd);
    if (resp.len == 0) {
        fprintf(stderr, "qrexec-policy-exec: no answer from the policy service\n");
        printf("result=deny\n");
        return 1;
    }
    fwrite(resp.data, 1, resp.len, stdout);
    return strstr(resp.data, "result=allow\n") ? 0 : 1;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "assume-yes-for-ask", no_argument, NULL, 'y' },
        { "just-evaluate", no_argument, NULL, 'j' },
        { "path", required_argument, NULL, 'p' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    bool assume_yes = false, just_evaluate = false;
    const char *path = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'y': assume_yes = true; break;
        case 'j': just_evaluate = true; break;
        case 'p': path = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (argc - optind != 3) {
        usage(stderr);
        return 2;
    }
    const char *source = argv[optind], *target = argv[optind + 1], *svc = argv[optind + 2];
    if (!just_evaluate && !path)
        return via_service(source, target, svc, assume_yes);

    struct qerror err = { 0 };
    struct policy_system sys = { 0 };
    if (policy_system_from_qubesd(&sys, &err) < 0) {
        fprintf(stderr, "qrexec-policy-exec: system info: %s\n", err.message);
        policy_system_free(&sys);
        printf("result=deny\n");
        return 1;
    }

    _cleanup_free_ char *runtime = qroot_path("run/qubes/policy.d");
    _cleanup_free_ char *etc = qroot_path("etc/qubes/policy.d");
    _cleanup_free_ char *compat = qroot_path("etc/qubes-rpc/policy");
    const char *dirs[2];
    size_t n_dirs = 0;
    if (path) {
        dirs[n_dirs++] = path;
    } else {
        dirs[n_dirs++] = runtime;
        dirs[n_dirs++] = etc;
    }
    struct policy pol;
    qerror_clear(&err);
    policy_load_dirs(&pol, dirs, n_dirs, compat, &err);

    struct policy_resolution res;
    policy_evaluate(&pol, &sys, source, target, svc, &res);
    if (res.result == POLICY_ASK && assume_yes) /* "allow" with the requested target */
        policy_resolution_choose(&res, &sys, res.requested_target);
    else if (res.result == POLICY_ASK && !just_evaluate) /* nobody to ask about --path files */
        policy_resolution_choose(&res, &sys, NULL);
    if (res.result == POLICY_DENY)
        fprintf(stderr, "qrexec-policy-exec: %s -> %s %s denied: %s\n", source, target, svc,
                res.reason);
    _cleanup_buf_ struct buf out = BUF_INIT;
    policy_resolution_format(&res, &out);
    fwrite(out.data, 1, out.len, stdout);
    int rc = res.result == POLICY_ALLOW ? 0 : 1;
    policy_resolution_free(&res);
    policy_free(&pol);
    policy_system_free(&sys);
    return rc;
}
