/* Names as the firewall qube itself resolves them: each dsthost= through
 * its own resolver (getaddrinfo, as upstream's socket.getaddrinfo), and
 * its resolvers from its own /etc/resolv.conf (specialtarget=dns). */
#pragma once

#include <netinet/in.h>
#include <stddef.h>

#include "common/buf.h"
#include "common/error.h"
#include "net/firewall_match.h"

/* The most nameservers read; glibc uses three. */
#define FW_DNS_MAX 8

/* What one apply resolved: host -> sorted distinct IPv4 addresses. */
struct fw_names {
    struct fw_name {
        char *host;
        struct in_addr *addrs;
        size_t n;
    } * names;
    size_t n;
};

/* fwnft_resolve_fn: resolves host (IPv4 only), records it in ctx (a
 * struct fw_names) and appends "a/32, b/32" to out. No address is an
 * error, as upstream's gaierror. */
int fw_names_resolve(void *ctx, const char *host, struct buf *out, struct qerror *err);
/* Rule i's addresses for fw_flow_blocked (n entries, heap; free()). */
struct fw_resolved *fw_names_for_rules(const struct fw_names *names, const struct fw_rule *rules,
                                       size_t n);
void fw_names_free(struct fw_names *names);

/* The IPv4 nameservers of a resolv.conf, in its order: how many (at most
 * FW_DNS_MAX); none when it cannot be read. */
size_t fw_resolv_conf(const char *path, struct in_addr out[FW_DNS_MAX]);
