/* The firewall agent's work (upstream qubesagent/firewall.py,
 * NftablesWorker): its table in the qube's network namespace, one chain
 * per client address from /qubes-firewall/<ip>/, anti-spoofing from
 * /connected-ips, and, after each change, the end of the client's tracked
 * connections the new rules block. Every change is one nftables
 * transaction through libnftables. */
#pragma once

#include <stdbool.h>

#include "common/error.h"
#include "common/str_set.h"
#include "qubesdb/qdb_client.h"

struct nft_ctx;

struct fw_worker {
    struct qdb_client *qdb;
    struct nft_ctx *nft;
    struct str_set clients; /* the addresses with a chain (and a jump to it) */
    const char *resolv_conf;
};

/* Replaces any table of an earlier agent with a fresh one holding the
 * resolvers. */
int fw_worker_init(struct fw_worker *w, struct qdb_client *qdb, struct qerror *err);
/* Reads and applies client ip's rules ("ip" as the trigger named it). A
 * client whose rules are missing, malformed or cannot be applied gets all
 * its traffic blocked, and the reason is logged; one without a rules tree
 * loses its chain (its new flows meet the forward policy: drop). Then
 * /qubes-firewall-handled/<ip> counts one more. */
void fw_worker_handle(struct fw_worker *w, const char *untrusted_ip);
/* Applies /connected-ips anew; a malformed value is logged and the
 * previous anti-spoofing kept. */
void fw_worker_connected_ips(struct fw_worker *w);
/* Every client with a rules tree in qubesdb now, once. */
void fw_worker_handle_all(struct fw_worker *w);
/* Deletes the table. */
int fw_worker_cleanup(struct fw_worker *w, struct qerror *err);
void fw_worker_free(struct fw_worker *w);
