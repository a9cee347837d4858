/* The base rules of a qube that provides network (Qubes' qubes-ipv4.nft,
 * qubes-antispoof.nft and the dnat-dns chain of qubes-setup-dnat-to-ns), as
 * one nftables table `ip qubes` in its network namespace:
 *   - traffic from a vif is accepted only with the address given to that vif
 *     (set `allowed`), and a client's address is dropped anywhere else
 *     (set `downstream`);
 *   - new connections towards a vif are dropped: no qube reaches another;
 *   - what leaves by a non-vif interface is masqueraded;
 *   - the qube itself answers its clients' ICMP only;
 *   - the top of a chain (no netvm) sends 10.139.1.1 and 10.139.1.2 (port
 *     53) to its own upstream resolvers.
 * IPv6 is off on every link of a qube's network. */
#pragma once

#include <stdbool.h>

#include "common/buf.h"
#include "common/error.h"

#define QUBES_DNS1 "10.139.1.1"
#define QUBES_DNS2 "10.139.1.2"

struct provider_config {
    /* Upstream resolvers for 10.139.1.1 and .2, NULL: none (a proxy such as
     * sys-firewall passes them on to its own netvm). Dotted IPv4. */
    const char *dns[2];
};

/* The ruleset text (nft syntax) that replaces the table. */
void provider_ruleset(const struct provider_config *c, struct buf *out);

/* In the provider's namespace: forwarding on, the table loaded. */
int provider_setup(int netns, const struct provider_config *c, struct qerror *err);
/* Adds (or removes) a client's address on its vif to the anti-spoofing sets. */
int provider_allow(int netns, const char *vif, const char *ip, bool present, struct qerror *err);

/* Runs an nftables script in the calling namespace (libnftables), one
 * transaction. */
int nft_apply(const char *script, struct qerror *err);
