/* Ends tracked connections of one client that its new rules block
 * (upstream's agent runs conntrack -L and -D; this speaks ctnetlink itself,
 * through libmnl, which libnftables needs anyway). */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>

#include "common/error.h"
#include "net/firewall_match.h"

/* Decides one flow of the client: true ends it. */
typedef bool (*fw_ct_blocked_fn)(void *ctx, const struct fw_flow *f);

/* Deletes every IPv4 conntrack entry of the calling network namespace whose
 * original source is src and for which blocked says true. The number
 * deleted (an entry that ended meanwhile is not counted), or -1 with err. */
int fw_conntrack_kill(struct in_addr src, fw_ct_blocked_fn blocked, void *ctx, struct qerror *err);
