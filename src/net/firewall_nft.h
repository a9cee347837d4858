/* qvm-firewall rules as nftables, the way Qubes' firewall agent writes them
 * (qubes-core-agent-linux qubesagent/firewall.py): table ip qubes-firewall
 * in the firewall qube, whose forward chain drops by default, accepts
 * established flows and anything not from a client, then jumps to one chain
 * per client address (qbs-a-b-c-d) holding that client's rules in order and
 * its policy last. A client with no chain has its new flows dropped. */
#pragma once

#include <stddef.h>

#include "common/buf.h"
#include "common/error.h"
#include "net/firewall_rule.h"

/* Resolves a dsthost inside the firewall qube: appends "a.b.c.d/32"
 * elements, comma-separated, to out; -1 with err when it cannot. */
typedef int (*fwnft_resolve_fn)(void *ctx, const char *host, struct buf *out, struct qerror *err);

/* Replaces the table (one left by an earlier agent goes) with empty
 * ones: set dns-addr, chain qubes-forward, base chains forward (policy
 * drop), prerouting and postrouting (anti-spoofing, priority -300). */
void fwnft_init(struct buf *out);
/* Sets the firewall qube's resolvers (specialtarget=dns) in set dns-addr. */
void fwnft_dns(const char *const *dns, size_t n_dns, struct buf *out);
/* Anti-spoofing for the connected clients' addresses, as upstream's
 * update_connected_ips: such a source only from a vif, such a destination
 * only towards one. */
void fwnft_antispoof(const char *const *ips, size_t n, struct buf *out);
/* Deletes the table. */
void fwnft_cleanup(struct buf *out);

/* The part of a transaction that makes client ip's chain hold its rules
 * (the jumps to it are fwnft_forward's). A rule whose dsthost does not resolve fails the whole: the
 * caller then applies fwnft_client_drop, as Qubes drops all of a client's traffic when its rules
 * cannot be applied. */
int fwnft_client(const char *ip, const struct fw_rule *rules, size_t n, fwnft_resolve_fn resolve,
                 void *ctx, struct buf *out, struct qerror *err);
/* The client's chain holds one rule: reject everything. */
void fwnft_client_drop(const char *ip, struct buf *out);
/* Empties and deletes client ip's chain (its jump must be gone by then:
 * fwnft_forward without it, earlier in the same transaction). */
void fwnft_client_remove(const char *ip, struct buf *out);
/* The jumps of chain qubes-forward: one per client address, as listed (the
 * clients with a chain; any other address is dropped by the policy). */
void fwnft_forward(const char *const *ips, size_t n, struct buf *out);
