/* rtnetlink requests, each sent with NLM_F_ACK and its answer read before
 * the next: errors come back with the request that caused them. */
#include "net/rtnl.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/names.h"
#include "common/parse.h"

/* A request or its acknowledgement: these are small. */
#define RTNL_BUF 8192

struct rtnl {
    struct mnl_socket *sock;
    unsigned int portid;
    unsigned int seq;
};

struct rtnl *rtnl_open(struct qerror *err)
{
    struct mnl_socket *sock = mnl_socket_open(NETLINK_ROUTE);
    if (!sock || mnl_socket_bind(sock, 0, MNL_SOCKET_AUTOPID) < 0) {
        int e = errno;
        if (sock)
            mnl_socket_close(sock);
        qerror_errno(err, e, "rtnetlink socket");
        return NULL;
    }
    struct rtnl *nl = xcalloc(1, sizeof(*nl));
    nl->sock = sock;
    nl->portid = mnl_socket_get_portid(sock);
    nl->seq = (unsigned int)time(NULL);
    return nl;
}

void rtnl_close(struct rtnl *nl)
{
    if (!nl)
        return;
    mnl_socket_close(nl->sock);
    free(nl);
}

static struct nlmsghdr *start(struct rtnl *nl, char *buf, uint16_t type, uint16_t flags)
{
    struct nlmsghdr *h = mnl_nlmsg_put_header(buf);
    h->nlmsg_type = type;
    h->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
    h->nlmsg_seq = ++nl->seq;
    return h;
}

/* Sends h and reads its acknowledgement; `what` names it in an error. */
static int talk(struct rtnl *nl, struct nlmsghdr *h, const char *what, struct qerror *err)
{
    if (mnl_socket_sendto(nl->sock, h, h->nlmsg_len) < 0)
        return qerror_errno(err, errno, "%s", what);
    char buf[RTNL_BUF];
    ssize_t n = mnl_socket_recvfrom(nl->sock, buf, sizeof(buf));
    if (n < 0)
        return qerror_errno(err, errno, "%s", what);
    if (mnl_cb_run(buf, (size_t)n, h->nlmsg_seq, nl->portid, NULL, NULL) < 0)
        return qerror_errno(err, errno, "%s", what);
    return 0;
}

static int if_index(const char *name, struct qerror *err)
{
    unsigned int i = if_nametoindex(name);
    if (!i)
        return qerror_errno(err, errno, "no interface %s", name);
    return (int)i;
}

static void put_ifinfo(struct nlmsghdr *h, int index, unsigned int flags, unsigned int change)
{
    struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(h, sizeof(*ifi));
    ifi->ifi_family = AF_UNSPEC;
    ifi->ifi_index = index;
    ifi->ifi_flags = flags;
    ifi->ifi_change = change;
}

int rtnl_veth_create(struct rtnl *nl, const char *name, int netns_fd, const char *peer,
                     int peer_netns_fd, struct qerror *err)
{
    char buf[RTNL_BUF];
    struct nlmsghdr *h = start(nl, buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
    put_ifinfo(h, 0, 0, 0);
    mnl_attr_put_strz(h, IFLA_IFNAME, name);
    mnl_attr_put_u32(h, IFLA_NET_NS_FD, (uint32_t)netns_fd);
    struct nlattr *info = mnl_attr_nest_start(h, IFLA_LINKINFO);
    mnl_attr_put_strz(h, IFLA_INFO_KIND, "veth");
    struct nlattr *data = mnl_attr_nest_start(h, IFLA_INFO_DATA);
    struct nlattr *p = mnl_attr_nest_start(h, VETH_INFO_PEER);
    /* the peer's own ifinfomsg, then its attributes */
    struct ifinfomsg *pi = mnl_nlmsg_put_extra_header(h, sizeof(*pi));
    memset(pi, 0, sizeof(*pi));
    mnl_attr_put_strz(h, IFLA_IFNAME, peer);
    mnl_attr_put_u32(h, IFLA_NET_NS_FD, (uint32_t)peer_netns_fd);
    mnl_attr_nest_end(h, p);
    mnl_attr_nest_end(h, data);
    mnl_attr_nest_end(h, info);
    char what[64];
    snprintf(what, sizeof(what), "create %s/%s", name, peer);
    return talk(nl, h, what, err);
}

int rtnl_link_move(struct rtnl *nl, const char *name, int netns_fd, const char *new_name,
                   struct qerror *err)
{
    int index = if_index(name, err);
    if (index < 0)
        return -1;
    char buf[RTNL_BUF];
    struct nlmsghdr *h = start(nl, buf, RTM_NEWLINK, 0);
    put_ifinfo(h, index, 0, 0);
    mnl_attr_put_u32(h, IFLA_NET_NS_FD, (uint32_t)netns_fd);
    if (new_name)
        mnl_attr_put_strz(h, IFLA_IFNAME, new_name);
    char what[48];
    snprintf(what, sizeof(what), "move %s", name);
    return talk(nl, h, what, err);
}

int rtnl_link_delete(struct rtnl *nl, const char *name, struct qerror *err)
{
    int index = if_index(name, err);
    if (index < 0)
        return -1;
    char buf[RTNL_BUF];
    struct nlmsghdr *h = start(nl, buf, RTM_DELLINK, 0);
    put_ifinfo(h, index, 0, 0);
    char what[48];
    snprintf(what, sizeof(what), "delete %s", name);
    return talk(nl, h, what, err);
}

int rtnl_link_set(struct rtnl *nl, const char *name, const uint8_t mac[6], bool up,
                  struct qerror *err)
{
    int index = if_index(name, err);
    if (index < 0)
        return -1;
    char buf[RTNL_BUF];
    struct nlmsghdr *h = start(nl, buf, RTM_NEWLINK, 0);
    put_ifinfo(h, index, up ? IFF_UP : 0, IFF_UP);
    if (mac)
        mnl_attr_put(h, IFLA_ADDRESS, 6, mac);
    char what[48];
    snprintf(what, sizeof(what), "set %s", name);
    return talk(nl, h, what, err);
}

int rtnl_addr_add(struct rtnl *nl, const char *name, struct in_addr addr, int prefix,
                  struct qerror *err)
{
    int index = if_index(name, err);
    if (index < 0)
        return -1;
    char buf[RTNL_BUF];
    struct nlmsghdr *h = start(nl, buf, RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE);
    struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(h, sizeof(*ifa));
    ifa->ifa_family = AF_INET;
    ifa->ifa_prefixlen = (unsigned char)prefix;
    ifa->ifa_scope = RT_SCOPE_UNIVERSE;
    ifa->ifa_index = (unsigned int)index;
    mnl_attr_put(h, IFA_LOCAL, sizeof(addr), &addr);
    mnl_attr_put(h, IFA_ADDRESS, sizeof(addr), &addr);
    char what[64];
    snprintf(what, sizeof(what), "address %s/%d on %s", inet_ntoa(addr), prefix, name);
    return talk(nl, h, what, err);
}

int rtnl_route_add(struct rtnl *nl, const char *name, struct in_addr dst, int prefix,
                   struct in_addr gateway, bool onlink, struct qerror *err)
{
    int index = if_index(name, err);
    if (index < 0)
        return -1;
    char buf[RTNL_BUF];
    struct nlmsghdr *h = start(nl, buf, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE);
    struct rtmsg *rt = mnl_nlmsg_put_extra_header(h, sizeof(*rt));
    rt->rtm_family = AF_INET;
    rt->rtm_dst_len = (unsigned char)prefix;
    rt->rtm_table = RT_TABLE_MAIN;
    rt->rtm_protocol = RTPROT_STATIC;
    rt->rtm_type = RTN_UNICAST;
    rt->rtm_scope = gateway.s_addr ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
    rt->rtm_flags = onlink ? RTNH_F_ONLINK : 0;
    if (prefix)
        mnl_attr_put(h, RTA_DST, sizeof(dst), &dst);
    if (gateway.s_addr)
        mnl_attr_put(h, RTA_GATEWAY, sizeof(gateway), &gateway);
    mnl_attr_put_u32(h, RTA_OIF, (uint32_t)index);
    char what[80];
    snprintf(what, sizeof(what), "route %s/%d on %s", inet_ntoa(dst), prefix, name);
    return talk(nl, h, what, err);
}

int rtnl_neigh_add(struct rtnl *nl, const char *name, struct in_addr addr, const uint8_t mac[6],
                   struct qerror *err)
{
    int index = if_index(name, err);
    if (index < 0)
        return -1;
    char buf[RTNL_BUF];
    struct nlmsghdr *h = start(nl, buf, RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE);
    struct ndmsg *nd = mnl_nlmsg_put_extra_header(h, sizeof(*nd));
    nd->ndm_family = AF_INET;
    nd->ndm_ifindex = index;
    nd->ndm_state = NUD_PERMANENT;
    mnl_attr_put(h, NDA_DST, sizeof(addr), &addr);
    mnl_attr_put(h, NDA_LLADDR, 6, mac);
    char what[64];
    snprintf(what, sizeof(what), "neighbour %s on %s", inet_ntoa(addr), name);
    return talk(nl, h, what, err);
}

int parse_ipv4(const char *untrusted_text, struct in_addr *addr, int *prefix, struct qerror *err)
{
    char text[32];
    if (strlen(untrusted_text) >= sizeof(text))
        return qerror_set(err, ERR_QUBES_VALUE_ERROR, "not an IPv4 address: too long");
    strcpy(text, untrusted_text);
    char *slash = strchr(text, '/');
    long long n = 32;
    if (slash) {
        *slash = '\0';
        if (!prefix || parse_ll(slash + 1, 0, 32, 0, &n) < 0)
            return qerror_set(err, ERR_QUBES_VALUE_ERROR, "not an IPv4 prefix: %s", untrusted_text);
    }
    if (inet_pton(AF_INET, text, addr) != 1)
        return qerror_set(err, ERR_QUBES_VALUE_ERROR, "not an IPv4 address: %s", untrusted_text);
    if (prefix)
        *prefix = (int)n;
    return 0;
}
