/* What dom0 writes into a qube's qubesdb when it starts (qubesvm.py
 * create_qdb_entries and the extensions' domain-qdb-create handlers): its
 * identity, its network as a client (/qubes-ip, /qubes-gateway, DNS) and as
 * a provider (/qubes-netvm-*), its services (/qubes-service/<name> from
 * features service.<name>), its type. A provider's /connected-ips and
 * /qubes-firewall/<ip>/... follow its clients' links (qubesd/network.c). */
#pragma once

#include "qubesd/app.h"

/* Entries in the order Qubes writes them: path (key) and value. */
struct qdb_entries {
    struct kv *v;
    size_t n, cap;
};

void qdb_entries_of(const struct app *app, const struct qube *q, struct qdb_entries *out);
/* A provider's firewall entries for one client (qubes/firewall.py qdb_entries):
 * /qubes-firewall/<ip>/policy and .../NNNN for its rules now (expired ones
 * left out, their numbers kept), and /qubes-firewall/<ip> (empty) last, the
 * firewall agent's trigger. *next_expire: when the next rule expires (UNIX
 * time), 0 if none will. */
void qdb_entries_firewall(const struct qube *client, const char *ip, long long now,
                          struct qdb_entries *out, long long *next_expire);
void qdb_entries_free(struct qdb_entries *e);
