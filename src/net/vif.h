/* A qube's link to its netvm, as Qubes makes it (vif-route-qubes and the
 * client's setup-ip, done here from dom0): a veth pair, eth0 in the client,
 * vif<xid>.0 in the netvm. The client gets ip/32, its gateway pinned at the
 * vif's MAC and a default route through it; the netvm gets a /32 route to
 * the client on the vif, its own address on the vif and proxy ARP. The pair
 * goes with either namespace. */
#pragma once

#include "common/error.h"

/* The MACs Qubes gives both ends. */
#define VIF_CLIENT_MAC \
    { \
        0x00, 0x16, 0x3e, 0x5e, 0x6c, 0x00 \
    }
#define VIF_NETVM_MAC \
    { \
        0xfe, 0xff, 0xff, 0xff, 0xff, 0xff \
    }

struct vif_config {
    int client_netns; /* descriptors of the two network namespaces */
    int netvm_netns;
    int xid;             /* the client's: names vif<xid>.0 */
    const char *ip;      /* the client's address */
    const char *gateway; /* the netvm's address, the client's gateway */
};

/* The name of the client's vif in the netvm ("vif<xid>.0"). */
void vif_name(int xid, char out[16]);

/* Makes and configures the link; nothing is left of it on failure. Forks
 * children to work in the two namespaces (net/netns.h). */
int vif_attach(const struct vif_config *c, struct qerror *err);
/* Removes the link from the netvm's side (the client's eth0 goes with it). */
int vif_detach(int netvm_netns, int xid, struct qerror *err);
