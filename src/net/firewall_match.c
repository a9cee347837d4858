/* The nftables translation's meaning, rule by rule (firewall_nft.c
 * translate): keep the two in step. */
#include "net/firewall_match.h"

#include <arpa/inet.h>

static bool in_list(const struct in_addr *list, size_t n, struct in_addr a)
{
    for (size_t i = 0; i < n; i++)
        if (list[i].s_addr == a.s_addr)
            return true;
    return false;
}

static int proto_number(enum fw_proto p)
{
    switch (p) {
    case FW_PROTO_TCP: return IPPROTO_TCP;
    case FW_PROTO_UDP: return IPPROTO_UDP;
    case FW_PROTO_ICMP: return IPPROTO_ICMP;
    case FW_PROTO_NONE: break;
    }
    return -1;
}

static bool port_in(const struct fw_flow *f, uint16_t first, uint16_t last)
{
    return f->has_dport && f->dport >= first && f->dport <= last;
}

static bool dst_matches(const struct fw_rule *r, const struct fw_resolved *res,
                        const struct fw_flow *f)
{
    switch (r->dst_kind) {
    case FW_DST_NONE: return true;
    case FW_DST_IPV4: {
        struct in_addr net;
        if (inet_pton(AF_INET, r->dst, &net) != 1)
            return false;
        uint32_t mask = r->dst_prefix ? htonl(~0u << (32 - r->dst_prefix)) : 0;
        return (f->dst.s_addr & mask) == (net.s_addr & mask);
    }
    case FW_DST_HOST: return res && in_list(res->addrs, res->n, f->dst);
    case FW_DST_IPV6: return false; /* no IPv6 qubes: never in table ip */
    }
    return false;
}

static bool rule_matches(const struct fw_rule *r, const struct fw_resolved *res,
                         const struct in_addr *dns, size_t n_dns, const struct fw_flow *f)
{
    if (r->dst_kind == FW_DST_IPV6)
        return false;
    int proto = proto_number(r->proto);
    bool tcp_or_udp = f->proto == IPPROTO_TCP || f->proto == IPPROTO_UDP;
    if (proto >= 0 && proto != f->proto)
        return false;
    if (r->specialtarget_dns) {
        /* the resolvers, port 53, tcp or udp; another port: no rule at all */
        if (r->has_dstports && (r->port_first != 53 || r->port_last != 53))
            return false;
        return tcp_or_udp && in_list(dns, n_dns, f->dst) && port_in(f, 53, 53);
    }
    if (!dst_matches(r, res, f))
        return false;
    /* ports without a protocol stand for tcp and udp */
    if (r->has_dstports && (!tcp_or_udp || !port_in(f, r->port_first, r->port_last)))
        return false;
    if (r->has_icmptype && (!f->has_icmptype || f->icmptype != r->icmptype))
        return false;
    return true;
}

bool fw_flow_blocked(const struct fw_rule *rules, const struct fw_resolved *resolved, size_t n,
                     const struct in_addr *dns, size_t n_dns, const struct fw_flow *f)
{
    for (size_t i = 0; i < n; i++)
        if (rule_matches(&rules[i], resolved ? &resolved[i] : NULL, dns, n_dns, f))
            return rules[i].action == FW_ACTION_DROP;
    return true;
}
