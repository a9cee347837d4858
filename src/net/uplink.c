/* Uplinks: a moved interface, or a NAT veth to dom0. */
#include "net/uplink.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "net/netns.h"
#include "net/provider.h"
#include "net/rtnl.h"

struct inside {
    struct in_addr addr, gateway;
    int prefix;
};

/* The qube's eth0: up, addressed, default route through the gateway. */
static int configure_eth0(void *ctx, struct qerror *err)
{
    const struct inside *in = ctx;
    struct rtnl *nl = rtnl_open(err);
    if (!nl)
        return -1;
    struct in_addr any = { 0 };
    int rc = rtnl_link_set(nl, "eth0", NULL, true, err) < 0 ||
                     rtnl_addr_add(nl, "eth0", in->addr, in->prefix, err) < 0 ||
                     rtnl_route_add(nl, "eth0", any, 0, in->gateway, true, err) < 0
                 ? -1
                 : 0;
    rtnl_close(nl);
    return rc;
}

int uplink_move(int netns, const char *ifname, const char *address, const char *gateway,
                struct qerror *err)
{
    struct inside in;
    if (parse_ipv4(address, &in.addr, &in.prefix, err) < 0 ||
        parse_ipv4(gateway, &in.gateway, NULL, err) < 0)
        return -1;
    struct rtnl *nl = rtnl_open(err);
    if (!nl)
        return -1;
    int rc = rtnl_link_move(nl, ifname, netns, "eth0", err);
    rtnl_close(nl);
    if (rc < 0)
        return -1;
    return netns_run(netns, configure_eth0, &in, err);
}

/* Slot N's /30 in 10.139.128.0/17: host = 1, qube = 2. */
static struct in_addr slot_addr(int slot, int host)
{
    uint32_t base = (10u << 24) | (139u << 16) | (128u << 8);
    return (struct in_addr){ htonl(base + (uint32_t)slot * 4 + (uint32_t)host) };
}

static char *nat_script(int slot, const char *ifname, struct in_addr qube)
{
    char ip[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &qube, ip, sizeof(ip));
    return xasprintf("add table ip qubicle-%d\n"
                     "delete table ip qubicle-%d\n"
                     "table ip qubicle-%d {\n"
                     "    chain postrouting {\n"
                     "        type nat hook postrouting priority srcnat; policy accept;\n"
                     "        ip saddr %s oifname != \"%s\" masquerade\n"
                     "    }\n"
                     "    chain forward {\n"
                     "        type filter hook forward priority filter; policy accept;\n"
                     "        iifname \"%s\" accept\n"
                     "        oifname \"%s\" ct state established,related accept\n"
                     "        oifname \"%s\" drop\n"
                     "    }\n"
                     "}\n",
                     slot, slot, slot, ip, ifname, ifname, ifname, ifname);
}

int uplink_nat(int netns, int hint, int *slot, struct qerror *err)
{
    struct rtnl *nl = rtnl_open(err);
    if (!nl)
        return -1;
    _cleanup_close_ int host_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    int n = -1;
    char ifname[16];
    for (int k = 0; k < UPLINK_SLOTS && n < 0; k++) {
        int s = (hint + k) % UPLINK_SLOTS;
        snprintf(ifname, sizeof(ifname), "qbu%d", s);
        struct qerror try_err = { 0 };
        if (rtnl_veth_create(nl, ifname, host_ns, "eth0", netns, &try_err) == 0)
            n = s;
        else if (!strstr(try_err.message, strerror(EEXIST))) {
            *err = try_err;
            rtnl_close(nl);
            return -1;
        }
    }
    if (n < 0) {
        rtnl_close(nl);
        return qerror_set(err, ERR_QUBES_EXCEPTION, "every uplink slot is in use");
    }
    struct in_addr host = slot_addr(n, 1);
    struct inside in = { slot_addr(n, 2), host, 30 };
    _cleanup_free_ char *script = nat_script(n, ifname, in.addr);
    int rc = rtnl_link_set(nl, ifname, NULL, true, err) < 0 ||
                     rtnl_addr_add(nl, ifname, host, 30, err) < 0 ||
                     sysctl_write("net/ipv4/ip_forward", "1", err) < 0 ||
                     nft_apply(script, err) < 0 || netns_run(netns, configure_eth0, &in, err) < 0
                 ? -1
                 : 0;
    if (rc < 0) {
        struct qerror ignored;
        rtnl_link_delete(nl, ifname, &ignored);
        uplink_nat_release(n);
    }
    rtnl_close(nl);
    *slot = n;
    return rc;
}

void uplink_nat_release(int slot)
{
    char script[64];
    snprintf(script, sizeof(script), "delete table ip qubicle-%d\n", slot);
    struct qerror ignored;
    nft_apply(script, &ignored);
}

void host_resolvers(char out[2][16])
{
    out[0][0] = out[1][0] = '\0';
    _cleanup_fclose_ FILE *f = fopen("/etc/resolv.conf", "re");
    char line[256];
    int n = 0;
    while (f && n < 2 && fgets(line, sizeof(line), f)) {
        char addr[64];
        struct in_addr a;
        if (sscanf(line, "nameserver %63s", addr) == 1 && inet_pton(AF_INET, addr, &a) == 1 &&
            (ntohl(a.s_addr) >> 24) != 127)
            inet_ntop(AF_INET, &a, out[n++], 16);
    }
}
