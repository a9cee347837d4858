/* A resolution as the policy daemon protocol's response lines (reference qrexec.md §1.9). */
#include "common/buf.h"
#include "policy/policy.h"

void policy_resolution_format(const struct policy_resolution *res, struct buf *out)
{
    switch (res->result) {
    case POLICY_ALLOW:
        buf_printf(out, "user=%s\n", res->user ? res->user : "DEFAULT");
        buf_printf(out, "result=allow\n");
        buf_printf(out, "target=%s\n", res->target);
        if (res->target_uuid)
            buf_printf(out, "target_uuid=%s\n", res->target_uuid);
        buf_printf(out, "autostart=%s\n", res->autostart ? "True" : "False");
        buf_printf(out, "requested_target=%s\n", res->requested_target);
        break;
    case POLICY_ASK:
        buf_printf(out, "result=ask\ntargets=");
        for (size_t i = 0; i < res->n_targets; i++)
            buf_printf(out, "%s%s", i ? " " : "", res->targets[i]);
        buf_printf(out, "\ndefault_target=%s\n", res->default_target ? res->default_target : "");
        break;
    case POLICY_DENY:
    default: buf_printf(out, "result=deny\n"); break;
    }
}
