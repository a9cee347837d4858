/* qrexec-policy-exec: evaluates one qrexec call against the policy and
 * prints the response lines of the policy daemon protocol (§1.9). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "common/root.h"
#include "policy/policy.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: qrexec-policy-exec [--assume-yes-for-ask] [--just-evaluate] [--path DIR] "
               "SOURCE TARGET SERVICE[+ARG]\n");
}

static void print_response(const struct policy_resolution *res)
{
    switch (res->result) {
    case POLICY_ALLOW:
        printf("user=%s\n", res->user ? res->user : "DEFAULT");
        printf("result=allow\n");
        printf("target=%s\n", res->target);
        if (res->target_uuid)
            printf("target_uuid=%s\n", res->target_uuid);
        printf("autostart=%s\n", res->autostart ? "True" : "False");
        printf("requested_target=%s\n", res->requested_target);
        break;
    case POLICY_ASK:
        printf("result=ask\n");
        printf("targets=");
        for (size_t i = 0; i < res->n_targets; i++)
            printf("%s%s", i ? " " : "", res->targets[i]);
        printf("\n");
        printf("default_target=%s\n", res->default_target ? res->default_target : "");
        break;
    case POLICY_DENY:
    default: printf("result=deny\n"); break;
    }
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"assume-yes-for-ask", no_argument, NULL, 'y'},
        {"just-evaluate", no_argument, NULL, 'j'},
        {"path", required_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
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
    if (!just_evaluate) {
        fprintf(stderr, "qrexec-policy-exec: executing calls is not available yet; "
                        "use --just-evaluate\n");
        return 1;
    }

    struct qerror err = {0};
    struct policy_system sys = {0};
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
    if (res.result == POLICY_ASK && assume_yes) {
        /* "allow" with the requested target, if it is a valid choice */
        bool found = false;
        for (size_t i = 0; i < res.n_targets; i++)
            found = found || strcmp(res.targets[i], res.requested_target) == 0;
        if (!found) {
            snprintf(res.reason, sizeof(res.reason), "target %s is not a valid choice",
                     res.requested_target);
            res.result = POLICY_DENY;
        } else {
            const struct policy_qube *q = policy_system_find(&sys, res.requested_target);
            res.result = POLICY_ALLOW;
            res.target = xstrdup(
                strcmp(res.requested_target, "@adminvm") == 0 ? "dom0" : res.requested_target);
            if (q && q->uuid && strcmp(q->type, "AdminVM") != 0)
                res.target_uuid = xasprintf("uuid:%s", q->uuid);
            else if (strncmp(res.target, "@dispvm:", 8) == 0 &&
                     (q = policy_system_find(&sys, res.target + 8)) && q->uuid)
                res.target_uuid = xasprintf("@dispvm:uuid:%s", q->uuid);
        }
    }
    if (res.result == POLICY_DENY)
        fprintf(stderr, "qrexec-policy-exec: %s -> %s %s denied: %s\n", source, target, svc,
                res.reason);
    print_response(&res);
    int rc = res.result == POLICY_ALLOW ? 0 : 1;
    policy_resolution_free(&res);
    policy_free(&pol);
    policy_system_free(&sys);
    return rc;
}
