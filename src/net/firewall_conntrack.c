/* ctnetlink: one dump of the table, the entries to end picked while it is
 * read, then one delete each, by the original tuple exactly as the kernel
 * gave it. The kernel's answers are read with the same care as any
 * netlink answer: lengths checked by libmnl, attributes by type. */
#include "net/firewall_conntrack.h"

#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/buf.h"
#include "common/cleanup.h"

/* A dump answer holds many entries; the kernel fills up to a page or so. */
#define CT_BUF (64 * 1024)
/* The largest original tuple we copy back (three nests of a few u32). */
#define CT_TUPLE_MAX 256

struct doomed {
    char tuple[CT_TUPLE_MAX]; /* the CTA_TUPLE_ORIG payload */
    uint16_t len;
    bool has_zone;
    uint16_t zone;
};

struct dump {
    struct in_addr src;
    fw_ct_blocked_fn blocked;
    void *ctx;
    struct doomed *list;
    size_t n, cap;
};

/* attrs[type] of a nest, for types up to max. */
struct attrs {
    const struct nlattr *a[CTA_MAX + 1];
    int max;
};

static int keep_attr(const struct nlattr *attr, void *data)
{
    struct attrs *t = data;
    int type = mnl_attr_get_type(attr);
    if (type >= 0 && type <= t->max)
        t->a[type] = attr;
    return MNL_CB_OK;
}

static bool parse_nest(const struct nlattr *nest, int max, struct attrs *out)
{
    memset(out, 0, sizeof(*out));
    out->max = max;
    return mnl_attr_parse_nested(nest, keep_attr, out) >= 0;
}

static bool get_u32(const struct nlattr *a, uint32_t *v)
{
    if (!a || mnl_attr_validate(a, MNL_TYPE_U32) < 0)
        return false;
    *v = mnl_attr_get_u32(a);
    return true;
}

static bool get_u16(const struct nlattr *a, uint16_t *v)
{
    if (!a || mnl_attr_validate(a, MNL_TYPE_U16) < 0)
        return false;
    *v = mnl_attr_get_u16(a);
    return true;
}

static bool get_u8(const struct nlattr *a, uint8_t *v)
{
    if (!a || mnl_attr_validate(a, MNL_TYPE_U8) < 0)
        return false;
    *v = mnl_attr_get_u8(a);
    return true;
}

/* The flow of an original tuple, and whether its source is src. */
static bool read_tuple(const struct nlattr *orig, struct in_addr src, struct fw_flow *f)
{
    struct attrs tuple, ip, proto;
    uint32_t saddr, daddr;
    if (!parse_nest(orig, CTA_TUPLE_MAX, &tuple) || !tuple.a[CTA_TUPLE_IP] ||
        !tuple.a[CTA_TUPLE_PROTO] || !parse_nest(tuple.a[CTA_TUPLE_IP], CTA_IP_MAX, &ip) ||
        !parse_nest(tuple.a[CTA_TUPLE_PROTO], CTA_PROTO_MAX, &proto) ||
        !get_u32(ip.a[CTA_IP_V4_SRC], &saddr) || !get_u32(ip.a[CTA_IP_V4_DST], &daddr) ||
        saddr != src.s_addr)
        return false;
    memset(f, 0, sizeof(*f));
    f->dst.s_addr = daddr;
    if (!get_u8(proto.a[CTA_PROTO_NUM], &f->proto))
        return false;
    uint16_t port;
    if (get_u16(proto.a[CTA_PROTO_DST_PORT], &port)) {
        f->has_dport = true;
        f->dport = ntohs(port);
    }
    f->has_icmptype = get_u8(proto.a[CTA_PROTO_ICMP_TYPE], &f->icmptype);
    return true;
}

static int on_entry(const struct nlmsghdr *h, void *data)
{
    struct dump *d = data;
    struct attrs top;
    memset(&top, 0, sizeof(top));
    top.max = CTA_MAX;
    if (mnl_attr_parse(h, sizeof(struct nfgenmsg), keep_attr, &top) < 0)
        return MNL_CB_ERROR;
    const struct nlattr *orig = top.a[CTA_TUPLE_ORIG];
    struct fw_flow f;
    if (!orig || !read_tuple(orig, d->src, &f) || !d->blocked(d->ctx, &f))
        return MNL_CB_OK;
    uint16_t len = mnl_attr_get_payload_len(orig);
    if (len > CT_TUPLE_MAX)
        return MNL_CB_OK;
    if (d->n == d->cap) {
        d->cap = d->cap ? 2 * d->cap : 16;
        d->list = xrealloc(d->list, d->cap * sizeof(*d->list));
    }
    struct doomed *x = &d->list[d->n++];
    memcpy(x->tuple, mnl_attr_get_payload(orig), len);
    x->len = len;
    x->has_zone = get_u16(top.a[CTA_ZONE], &x->zone);
    return MNL_CB_OK;
}

static struct nlmsghdr *start(char *buf, uint16_t type, uint16_t flags, uint32_t seq)
{
    struct nlmsghdr *h = mnl_nlmsg_put_header(buf);
    h->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | type;
    h->nlmsg_flags = NLM_F_REQUEST | flags;
    h->nlmsg_seq = seq;
    struct nfgenmsg *g = mnl_nlmsg_put_extra_header(h, sizeof(*g));
    g->nfgen_family = AF_INET;
    g->version = NFNETLINK_V0;
    g->res_id = 0;
    return h;
}

static int dump(struct mnl_socket *sock, uint32_t portid, uint32_t seq, struct dump *d,
                struct qerror *err)
{
    _cleanup_free_ char *buf = xmalloc(CT_BUF);
    struct nlmsghdr *h = start(buf, IPCTNL_MSG_CT_GET, NLM_F_DUMP, seq);
    if (mnl_socket_sendto(sock, h, h->nlmsg_len) < 0)
        return qerror_errno(err, errno, "conntrack dump");
    for (;;) {
        ssize_t n = mnl_socket_recvfrom(sock, buf, CT_BUF);
        if (n < 0)
            return qerror_errno(err, errno, "conntrack dump");
        int rc = mnl_cb_run(buf, (size_t)n, seq, portid, on_entry, d);
        if (rc == MNL_CB_ERROR)
            return qerror_errno(err, errno, "conntrack dump");
        if (rc == MNL_CB_STOP)
            return 0;
    }
}

static int delete_one(struct mnl_socket *sock, uint32_t portid, uint32_t seq,
                      const struct doomed *x)
{
    char buf[8192];
    struct nlmsghdr *h = start(buf, IPCTNL_MSG_CT_DELETE, NLM_F_ACK, seq);
    mnl_attr_put(h, CTA_TUPLE_ORIG | NLA_F_NESTED, x->len, x->tuple);
    if (x->has_zone)
        mnl_attr_put_u16(h, CTA_ZONE, x->zone);
    if (mnl_socket_sendto(sock, h, h->nlmsg_len) < 0)
        return -1;
    ssize_t n = mnl_socket_recvfrom(sock, buf, sizeof(buf));
    if (n < 0)
        return -1;
    return mnl_cb_run(buf, (size_t)n, seq, portid, NULL, NULL) < 0 ? -1 : 0;
}

int fw_conntrack_kill(struct in_addr src, fw_ct_blocked_fn blocked, void *ctx, struct qerror *err)
{
    struct mnl_socket *sock = mnl_socket_open(NETLINK_NETFILTER);
    if (!sock || mnl_socket_bind(sock, 0, MNL_SOCKET_AUTOPID) < 0) {
        int e = errno;
        if (sock)
            mnl_socket_close(sock);
        return qerror_errno(err, e, "conntrack socket");
    }
    uint32_t portid = mnl_socket_get_portid(sock), seq = (uint32_t)time(NULL);
    struct dump d = { .src = src, .blocked = blocked, .ctx = ctx };
    int rc = dump(sock, portid, ++seq, &d, err);
    int killed = 0;
    for (size_t i = 0; rc == 0 && i < d.n; i++) {
        if (delete_one(sock, portid, ++seq, &d.list[i]) == 0)
            killed++;
        else if (errno != ENOENT)
            rc = qerror_errno(err, errno, "conntrack delete");
    }
    free(d.list);
    mnl_socket_close(sock);
    return rc < 0 ? -1 : killed;
}
