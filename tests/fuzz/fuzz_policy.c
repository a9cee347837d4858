/* libFuzzer target (the policy sources are compiled into it, so they carry
 * coverage): the first line is a request "SOURCE TARGET SVC+ARG",
 * the rest a policy file body; parse it and evaluate the request. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "policy/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void build_system(struct policy_system *sys)
{
    struct policy_qube *q = policy_system_add(sys, "dom0", POLICY_ADMINVM_UUID, "AdminVM");
    policy_qube_add_tag(q, "dom0-tag");
    policy_qube_set(&q->power_state, "Running");
    q = policy_system_add(sys, "work", "c9024a97-9b15-46cc-8341-be82d6e6b4a1", "AppVM");
    policy_qube_add_tag(q, "tag1");
    policy_qube_set(&q->default_dispvm, "dvm");
    policy_qube_set(&q->power_state, "Running");
    q = policy_system_add(sys, "dvm", "f3e538bd-4427-4697-bed7-45ef3270df21", "AppVM");
    policy_qube_add_tag(q, "tag2");
    q->template_for_dispvms = true;
    policy_qube_set(&q->default_dispvm, "dvm");
    q = policy_system_add(sys, "tpl", "a9fe2b04-9fd5-4e95-b39f-c5c2ecbf0c4e", "TemplateVM");
    q = policy_system_add(sys, "int", NULL, "AppVM");
    q->internal = true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct policy_system sys;
    if (!sys.n_qubes)
        build_system(&sys);
    const char *nl = memchr(data, '\n', size);
    if (!nl)
        return 0;
    size_t hl = (size_t)(nl - (const char *)data);
    char *header = strndup((const char *)data, hl);
    if (!header)
        return 0;
    char *save = NULL;
    char *src = strtok_r(header, " ", &save);
    char *tgt = strtok_r(NULL, " ", &save);
    char *svc = strtok_r(NULL, " ", &save);
    if (src && tgt && svc) {
        struct policy p;
        struct qerror err = { 0 };
        policy_load_string(&p, nl + 1, size - hl - 1, "fuzz.policy", NULL, &err);
        struct policy_resolution res;
        /* "-" stands for the empty target */
        policy_evaluate(&p, &sys, src, strcmp(tgt, "-") == 0 ? "" : tgt, svc, &res);
        if (res.result == POLICY_ASK && res.n_targets == 0)
            abort();
        policy_resolution_free(&res);
        policy_free(&p);
    }
    free(header);
    return 0;
}
