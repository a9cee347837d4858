/* What a provider's qubesdb says of its clients (qubes/vm/mix/net.py), for
 * the programs in it that act on them (its firewall agent): which addresses
 * are connected, what each appears as, and each one's firewall. qubesd
 * writes; the provider reads, and what it writes back is not read here. */
#pragma once

#include "common/error.h"
#include "qubesd/app.h"

/* /connected-ips: the addresses of netvm's clients, space-separated. */
int netvm_qdb_connected_ips(struct qube *netvm, const char *ips, struct qerror *err);
/* /mapped-ip/<ip>/visible-{ip,gateway} and the client's firewall
 * (qdb_entries_firewall): the old subtree removed, the rules, then the
 * trigger. *next_expire as qdb_entries_firewall says. */
int netvm_qdb_client(struct qube *netvm, const struct qube *client, const char *ip,
                     const char *gateway, long long now, long long *next_expire,
                     struct qerror *err);
/* The client's entries gone from netvm's qubesdb. */
int netvm_qdb_client_gone(struct qube *netvm, const char *ip, struct qerror *err);
