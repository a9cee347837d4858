/* What a firewall qube reads of its provider's qubesdb, checked before use
 * (upstream qubesagent/firewall.py: read_rules, get_connected_ips). The
 * values come from dom0, but the qube could have changed its own copy:
 * every one is untrusted until a function here said yes. */
#pragma once

#include <stddef.h>

#include "common/error.h"
#include "net/firewall_rule.h"

/* The longest /connected-ips we take, in addresses. */
#define FW_QDB_MAX_CLIENTS 4096
/* Dotted IPv4 with its NUL. */
#define FW_QDB_IP_MAX 16

/* One entry of /qubes-firewall/<ip>/: the path below that directory. */
struct fw_qdb_entry {
    const char *untrusted_key;
    const char *untrusted_value; /* len bytes, then a NUL */
    size_t len;
};

/* A client's rules in order, then its policy as a last rule of its own:
 * "policy" must be there (accept or drop), every other key is four
 * digits, in the order of their numbers, and holds one rule of the
 * QubesDB form (Rule.rule: action, dst4, dst6, dsthost, proto, dstports,
 * specialtarget, icmptype; no expire, no comment), for an IPv4 client
 * (a dst6 rule is an error, as upstream). Anything else fails the whole
 * with err saying why. *rules_out is heap memory for fw_rules_free. */
int fw_qdb_client_rules(const struct fw_qdb_entry *entries, size_t n, struct fw_rule **rules_out,
                        size_t *n_out, struct qerror *err);

/* Whether s (len bytes) is an IPv4 address in its one canonical dotted
 * form, as dom0 writes a client's: what may name a chain. */
bool fw_qdb_ip_ok(const char *untrusted_s, size_t len);

/* /connected-ips: addresses separated by spaces. *ips_out gets n_out
 * NUL-terminated canonical addresses (heap, one block for free); -1 with
 * err for anything else, or more than FW_QDB_MAX_CLIENTS. */
int fw_qdb_connected_ips(const char *untrusted_value, size_t len, char (**ips_out)[FW_QDB_IP_MAX],
                         size_t *n_out, struct qerror *err);
