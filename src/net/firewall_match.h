/* Which flows a client's rules block, decided in userspace the way the
 * nftables chain of firewall_nft.c decides a new flow: upstream's
 * is_blocked, used to end the tracked connections that a new rule set no
 * longer allows (the chain alone would let them go on: established flows
 * are accepted before any client chain). */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/firewall_rule.h"

/* One tracked connection as seen at the firewall: its original direction. */
struct fw_flow {
    uint8_t proto; /* IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP or another number */
    struct in_addr dst;
    bool has_dport; /* tcp and udp */
    uint16_t dport;
    bool has_icmptype; /* icmp */
    uint8_t icmptype;
};

/* The addresses a dsthost rule resolved to when it was applied. */
struct fw_resolved {
    const struct in_addr *addrs;
    size_t n;
};

/* Whether the first rule that matches f drops it (no rule matching: dropped,
 * as the forward chain's policy). resolved[i] is rule i's (FW_DST_HOST only);
 * dns the firewall qube's resolvers (specialtarget=dns). */
bool fw_flow_blocked(const struct fw_rule *rules, const struct fw_resolved *resolved, size_t n,
                     const struct in_addr *dns, size_t n_dns, const struct fw_flow *f);
