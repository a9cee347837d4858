/* The checks of firewall_qdb.h. Strict where upstream is loose (it splits
 * rules on '=' and lets nft refuse the rest): a value is a rule of the
 * QubesDB form exactly, or the client is blocked. */
#include "net/firewall_qdb.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/names.h"

#define KIND ERR_QUBES_VALUE_ERROR
/* Echo at most this much of a bad key or value back. */
#define ECHO_MAX 64

/* The options of Rule.rule; expire and comment stay in dom0. */
static const char *const qdb_options[] = {
    "action", "dst4", "dst6", "dsthost", "proto", "dstports", "specialtarget", "icmptype",
};

static int echo_len(size_t len)
{
    return (int)(len < ECHO_MAX ? len : ECHO_MAX);
}

static bool is_option(const char *s, size_t len)
{
    for (size_t i = 0; i < ARRAY_SIZE(qdb_options); i++)
        if (strlen(qdb_options[i]) == len && memcmp(qdb_options[i], s, len) == 0)
            return true;
    return false;
}

/* One rule value: every option one of Rule.rule's, then fw_rule_parse,
 * and a destination of the kind its key names. */
static int parse_rule(const char *untrusted_v, size_t len, struct fw_rule *r, struct qerror *err)
{
    if (strlen(untrusted_v) != len)
        return qerror_set(err, KIND, "a NUL byte in the rule");
    bool dst4 = false, dsthost = false;
    for (size_t pos = 0; pos <= len;) {
        size_t tok = strcspn(untrusted_v + pos, " ");
        const char *eq = memchr(untrusted_v + pos, '=', tok);
        size_t key_len = eq ? (size_t)(eq - (untrusted_v + pos)) : tok;
        if (!eq || !is_option(untrusted_v + pos, key_len)) {
            if (all_printable_ascii(untrusted_v + pos, key_len))
                return qerror_set(err, KIND, "unsupported rule option '%.*s'", echo_len(key_len),
                                  untrusted_v + pos);
            return qerror_set(err, KIND, "unsupported rule option");
        }
        dst4 = dst4 || (key_len == 4 && memcmp(untrusted_v + pos, "dst4", 4) == 0);
        dsthost = dsthost || (key_len == 7 && memcmp(untrusted_v + pos, "dsthost", 7) == 0);
        pos += tok + 1;
    }
    if (fw_rule_parse(untrusted_v, len, r, err) < 0)
        return -1;
    switch (r->dst_kind) {
    case FW_DST_NONE: return 0;
    case FW_DST_IPV4: return dst4 || dsthost ? 0 : qerror_set(err, KIND, "an IPv4 dst6");
    case FW_DST_HOST: return dsthost ? 0 : qerror_set(err, KIND, "a hostname as dst4 or dst6");
    case FW_DST_IPV6: return qerror_set(err, KIND, "dst6 rule found for IPv4 address");
    }
    return qerror_set(err, KIND, "unknown destination");
}

struct numbered {
    unsigned number;
    size_t entry;
};

static int by_number(const void *a, const void *b)
{
    unsigned x = ((const struct numbered *)a)->number, y = ((const struct numbered *)b)->number;
    return (x > y) - (x < y);
}

static bool four_digits(const char *s)
{
    for (int i = 0; i < 4; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return s[4] == '\0';
}

int fw_qdb_client_rules(const struct fw_qdb_entry *entries, size_t n, struct fw_rule **rules_out,
                        size_t *n_out, struct qerror *err)
{
    *rules_out = NULL;
    *n_out = 0;
    if (n > FW_RULES_MAX)
        return qerror_set(err, KIND, "too many rules (%zu, at most %d)", n, FW_RULES_MAX);
    _cleanup_free_ struct numbered *order = xcalloc(n ? n : 1, sizeof(*order));
    size_t n_rules = 0;
    int policy = -1;
    for (size_t i = 0; i < n; i++) {
        const char *untrusted_key = entries[i].untrusted_key;
        if (strcmp(untrusted_key, "policy") == 0) {
            const char *v = entries[i].untrusted_value;
            size_t len = entries[i].len;
            if (policy >= 0)
                return qerror_set(err, KIND, "'policy' given twice");
            if (len == 6 && memcmp(v, "accept", 6) == 0)
                policy = FW_ACTION_ACCEPT;
            else if (len == 4 && memcmp(v, "drop", 4) == 0)
                policy = FW_ACTION_DROP;
            else
                return qerror_set(err, KIND, "invalid policy (expected accept or drop)");
        } else if (four_digits(untrusted_key)) {
            order[n_rules].number = (unsigned)atoi(untrusted_key);
            order[n_rules++].entry = i;
        } else if (all_printable_ascii(untrusted_key, strlen(untrusted_key))) {
            return qerror_set(err, KIND, "unexpected non-rule found: %.*s",
                              echo_len(strlen(untrusted_key)), untrusted_key);
        } else {
            return qerror_set(err, KIND, "unexpected non-rule found");
        }
    }
    if (policy < 0)
        return qerror_set(err, KIND, "no 'policy' defined");
    qsort(order, n_rules, sizeof(*order), by_number);
    _cleanup_free_ struct fw_rule *rules = xcalloc(n_rules + 1, sizeof(*rules));
    for (size_t i = 0; i < n_rules; i++) {
        if (i > 0 && order[i].number == order[i - 1].number)
            return qerror_set(err, KIND, "rule %04u given twice", order[i].number);
        const struct fw_qdb_entry *e = &entries[order[i].entry];
        if (parse_rule(e->untrusted_value, e->len, &rules[i], err) < 0) {
            qerror_prefix(err, "rule %04u: ", order[i].number);
            return -1;
        }
    }
    rules[n_rules].action = (enum fw_action)policy;
    *rules_out = steal_pointer(&rules);
    *n_out = n_rules + 1;
    return 0;
}

bool fw_qdb_ip_ok(const char *untrusted_s, size_t len)
{
    if (len == 0 || len >= FW_QDB_IP_MAX || memchr(untrusted_s, '\0', len))
        return false;
    char copy[FW_QDB_IP_MAX], back[INET_ADDRSTRLEN];
    memcpy(copy, untrusted_s, len);
    copy[len] = '\0';
    struct in_addr a;
    return inet_pton(AF_INET, copy, &a) == 1 && inet_ntop(AF_INET, &a, back, sizeof(back)) &&
           strcmp(back, copy) == 0;
}

int fw_qdb_connected_ips(const char *untrusted_value, size_t len, char (**ips_out)[FW_QDB_IP_MAX],
                         size_t *n_out, struct qerror *err)
{
    *ips_out = NULL;
    *n_out = 0;
    if (memchr(untrusted_value, '\0', len))
        return qerror_set(err, KIND, "/connected-ips: a NUL byte");
    _cleanup_free_ char(*ips)[FW_QDB_IP_MAX] = NULL;
    size_t n = 0, cap = 0;
    for (size_t pos = 0; pos < len;) {
        /* any run of whitespace separates, as Python's split() */
        while (pos < len && strchr(" \t\n", untrusted_value[pos]))
            pos++;
        size_t tok = 0;
        while (pos + tok < len && !strchr(" \t\n", untrusted_value[pos + tok]))
            tok++;
        if (tok == 0)
            break;
        if (!fw_qdb_ip_ok(untrusted_value + pos, tok))
            return qerror_set(err, KIND, "/connected-ips: not an IPv4 address at byte %zu", pos);
        if (n == FW_QDB_MAX_CLIENTS)
            return qerror_set(err, KIND, "/connected-ips: more than %d addresses",
                              FW_QDB_MAX_CLIENTS);
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            ips = xrealloc(ips, cap * sizeof(*ips));
        }
        memcpy(ips[n], untrusted_value + pos, tok);
        ips[n++][tok] = '\0';
        pos += tok;
    }
    *ips_out = steal_pointer(&ips);
    *n_out = n;
    return 0;
}
