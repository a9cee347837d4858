/* admin.vm.firewall.*: the rule list of a qube (reference §6), kept in API
 * form; enforcement belongs to the netvm and arrives with networking. */
#include <string.h>
#include <time.h>

#include "common/cleanup.h"
#include "net/firewall_rule.h"
#include "qubesd/api.h"
#include "qubesd/events.h"
#include "qubesd/change.h"

/* With no rules stored, a qube may reach everything. */
static const char default_rules[] = "action=accept\n";

static int firewall_get(struct api_call *call, struct qerror *err)
{
    const char *text = call->dest->firewall ? call->dest->firewall : default_rules;
    struct fw_rule *rules = NULL;
    size_t n = 0;
    if (fw_rules_parse(text, strlen(text), &rules, &n, err) < 0) {
        qerror_prefix(err, "stored firewall of %s: ", call->dest->name);
        return -1;
    }
    long long now = fw_rule_now();
    for (size_t i = 0; i < n; i++) {
        if (fw_rule_expired(&rules[i], now))
            continue;
        fw_rule_format(&rules[i], &call->out, true);
        buf_append_char(&call->out, '\n');
    }
    fw_rules_free(rules, n);
    return 0;
}

static int firewall_set(struct api_call *call, struct qerror *err)
{
    struct fw_rule *rules = NULL;
    size_t n = 0;
    if (fw_rules_parse(call->untrusted_payload, call->payload_len, &rules, &n, err) < 0)
        return -1;
    /* store the canonical form, so what Get returns is what was validated */
    _cleanup_buf_ struct buf text = BUF_INIT;
    for (size_t i = 0; i < n; i++) {
        fw_rule_format(&rules[i], &text, true);
        buf_append_char(&text, '\n');
    }
    fw_rules_free(rules, n);
    return change_set_firewall(call->app, call->dest, text.data ? text.data : "", err);
}

static int firewall_reload(struct api_call *call, struct qerror *err)
{
    (void)err;
    app_fire(call->app, call->dest, "firewall-changed", 0, NULL, NULL);
    return 0;
}

const struct api_method api_firewall_methods[] = {
    { "admin.vm.firewall.Get", ARG_NONE, WANT_NO, WANT_NO, firewall_get },
    { "admin.vm.firewall.Set", ARG_NONE, WANT_ANY, WANT_NO, firewall_set },
    { "admin.vm.firewall.Reload", ARG_NONE, WANT_NO, WANT_NO, firewall_reload },
    { NULL, ARG_NONE, WANT_NO, WANT_NO, NULL },
};
