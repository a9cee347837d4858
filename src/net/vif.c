/* vif_attach: the pair is made from the caller's namespace straight into
 * the two qubes', then each side is configured from inside it. */
#include "net/vif.h"

#include <stdio.h>

#include "net/netns.h"
#include "net/rtnl.h"

void vif_name(int xid, char out[16])
{
    snprintf(out, 16, "vif%d.0", xid);
}

struct side {
    const struct vif_config *c;
    char vif[16];
    struct in_addr ip, gateway;
};

/* The client: eth0 up with ip/32, the gateway pinned at the vif's MAC, a
 * route to it on the link and the default route through it. */
static int client_side(void *ctx, struct qerror *err)
{
    struct side *s = ctx;
    static const uint8_t mac[6] = VIF_CLIENT_MAC, gw_mac[6] = VIF_NETVM_MAC;
    struct rtnl *nl = rtnl_open(err);
    if (!nl)
        return -1;
    struct in_addr any = { 0 };
    int rc = sysctl_write("net/ipv6/conf/all/disable_ipv6", "1", err) < 0 ||
                     rtnl_link_set(nl, "eth0", mac, true, err) < 0 ||
                     rtnl_addr_add(nl, "eth0", s->ip, 32, err) < 0 ||
                     rtnl_neigh_add(nl, "eth0", s->gateway, gw_mac, err) < 0 ||
                     rtnl_route_add(nl, "eth0", s->gateway, 32, any, false, err) < 0 ||
                     rtnl_route_add(nl, "eth0", any, 0, s->gateway, true, err) < 0
                 ? -1
                 : 0;
    rtnl_close(nl);
    return rc;
}

/* The netvm: the vif up with the netvm's own address, proxy ARP, and the
 * client's address routed to it. */
static int netvm_side(void *ctx, struct qerror *err)
{
    struct side *s = ctx;
    static const uint8_t mac[6] = VIF_NETVM_MAC;
    char proxy_arp[64];
    snprintf(proxy_arp, sizeof(proxy_arp), "net/ipv4/conf/%s/proxy_arp", s->vif);
    struct rtnl *nl = rtnl_open(err);
    if (!nl)
        return -1;
    struct in_addr any = { 0 };
    int rc = rtnl_link_set(nl, s->vif, mac, true, err) < 0 ||
                     rtnl_addr_add(nl, s->vif, s->gateway, 32, err) < 0 ||
                     sysctl_write(proxy_arp, "1", err) < 0 ||
                     rtnl_route_add(nl, s->vif, s->ip, 32, any, false, err) < 0
                 ? -1
                 : 0;
    rtnl_close(nl);
    return rc;
}

int vif_attach(const struct vif_config *c, struct qerror *err)
{
    struct side s = { .c = c };
    vif_name(c->xid, s.vif);
    if (parse_ipv4(c->ip, &s.ip, NULL, err) < 0 ||
        parse_ipv4(c->gateway, &s.gateway, NULL, err) < 0)
        return -1;
    struct rtnl *nl = rtnl_open(err);
    if (!nl)
        return -1;
    int rc = rtnl_veth_create(nl, s.vif, c->netvm_netns, "eth0", c->client_netns, err);
    rtnl_close(nl);
    if (rc < 0)
        return -1;
    if (netns_run(c->client_netns, client_side, &s, err) < 0 ||
        netns_run(c->netvm_netns, netvm_side, &s, err) < 0) {
        struct qerror ignored;
        vif_detach(c->netvm_netns, c->xid, &ignored);
        return -1;
    }
    return 0;
}

struct detach {
    char vif[16];
};

static int delete_vif(void *ctx, struct qerror *err)
{
    struct detach *d = ctx;
    struct rtnl *nl = rtnl_open(err);
    if (!nl)
        return -1;
    int rc = rtnl_link_delete(nl, d->vif, err);
    rtnl_close(nl);
    return rc;
}

int vif_detach(int netvm_netns, int xid, struct qerror *err)
{
    struct detach d;
    vif_name(xid, d.vif);
    return netns_run(netvm_netns, delete_vif, &d, err);
}
