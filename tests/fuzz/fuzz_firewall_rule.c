/* libFuzzer target for the firewall rule parser: whatever it accepts must
 * format to a line that parses back to the very same rule. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "net/firewall_rule.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void round_trip(const struct fw_rule *r)
{
    struct buf api = BUF_INIT, qdb = BUF_INIT, api2 = BUF_INIT, qdb2 = BUF_INIT;
    struct fw_rule again;
    struct qerror err = { 0 };

    fw_rule_format(r, &api, true);
    fw_rule_format(r, &qdb, false);
    if (api.len > FW_LINE_MAX)
        abort();
    if (fw_rule_parse(api.data, api.len, &again, &err) < 0)
        abort();
    fw_rule_format(&again, &api2, true);
    fw_rule_format(&again, &qdb2, false);
    if (strcmp(api.data, api2.data) != 0 || strcmp(qdb.data, qdb2.data) != 0)
        abort();
    /* the QubesDB form is a rule too (minus expire and comment) */
    if (fw_rule_parse(qdb.data, qdb.len, &again, &err) < 0)
        abort();
    buf_free(&api);
    buf_free(&qdb);
    buf_free(&api2);
    buf_free(&qdb2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fw_rule *rules = NULL;
    size_t n = 0;
    struct qerror err = { 0 };

    /* the whole input as one line too, to reach fw_rule_parse with bytes
     * the line splitter would have taken out */
    struct fw_rule one;
    if (fw_rule_parse((const char *)data, size, &one, &err) == 0)
        round_trip(&one);

    if (fw_rules_parse((const char *)data, size, &rules, &n, &err) < 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        round_trip(&rules[i]);
    fw_rules_free(rules, n);
    return 0;
}
