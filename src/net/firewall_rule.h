/* The firewall rule model of the Admin API (reference admin-api.md §6, upstream
 * qubes/firewall.py): parsing, validation and the canonical string forms. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/error.h"

/* One rule line, parsed or formatted, is at most this many bytes. */
#define FW_LINE_MAX 1024
/* admin.vm.firewall.Set takes at most this many rules. */
#define FW_RULES_MAX 4096
/* A DNS name is at most 253 characters. */
#define FW_HOSTNAME_MAX 253

enum fw_action { FW_ACTION_ACCEPT, FW_ACTION_DROP };

enum fw_dst_kind {
    FW_DST_NONE,
    FW_DST_IPV4, /* "dst4=" */
    FW_DST_IPV6, /* "dst6=" */
    FW_DST_HOST, /* "dsthost=", resolved inside the FirewallVM */
};

enum fw_proto { FW_PROTO_NONE, FW_PROTO_TCP, FW_PROTO_UDP, FW_PROTO_ICMP };

/* A validated rule. Every string is canonical: addresses as Python's ipaddress
 * prints them, without the prefix, which is kept apart. */
struct fw_rule {
    enum fw_action action;
    bool has_expire;
    long long expire; /* UNIX time */
    enum fw_dst_kind dst_kind;
    char dst[FW_HOSTNAME_MAX + 1]; /* address or hostname; "" for FW_DST_NONE */
    unsigned dst_prefix;           /* 0..32 or 0..128; 0 for a hostname */
    enum fw_proto proto;
    bool has_dstports; /* only with tcp or udp */
    uint16_t port_first, port_last;
    bool has_icmptype; /* only with icmp */
    uint8_t icmptype;
    bool specialtarget_dns;
    char comment[FW_LINE_MAX + 1]; /* "" when absent */
};

/* Parses one API-form line ("action=accept dst4=10.0.0.0/8 comment=x y").
 * On error fills err (kind QubesValueError) and leaves out zeroed. */
int fw_rule_parse(const char *untrusted_line, size_t len, struct fw_rule *out, struct qerror *err);

/* Appends the rule in upstream's order. with_api_only_fields=true gives the
 * Admin API form (Rule.api_rule); false the QubesDB form (Rule.rule), which
 * has no expire and no comment. No trailing newline. */
void fw_rule_format(const struct fw_rule *r, struct buf *out, bool with_api_only_fields);

/* The time expire is compared with: CLOCK_REALTIME's seconds, as date(1)
 * reads them (time(2) may lag them by a tick across a second's edge). */
long long fw_rule_now(void);
/* Whether the rule's expire time lies before now. */
bool fw_rule_expired(const struct fw_rule *r, long long now);

/* Parses an admin.vm.firewall.Set payload: lines split as Python's
 * str.splitlines() does (so a final newline is fine but an empty line in the
 * middle is an error); an empty payload is zero rules. The message of an
 * error names the 1-based line. *rules_out is heap memory for fw_rules_free. */
int fw_rules_parse(const char *untrusted_payload, size_t len, struct fw_rule **rules_out,
                   size_t *n_out, struct qerror *err);
void fw_rules_free(struct fw_rule *rules, size_t n);
