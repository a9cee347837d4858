/* Rules to nft text. Only IPv4 qubes exist here: dst6 rules have no place
 * in table ip, and are left out as Qubes leaves them out of its ip table. */
#include "net/firewall_nft.h"

#include <stdio.h>
#include <string.h>

#include "common/cleanup.h"

#define REJECT "reject with icmp type admin-prohibited"

void fwnft_init(struct buf *out)
{
    /* "add table" first: the delete that follows must find it, and the
     * script is one transaction, so a table a previous agent left is
     * replaced without a moment of no firewall */
    buf_append_str(out, "add table ip qubes-firewall\n"
                        "delete table ip qubes-firewall\n"
                        "table ip qubes-firewall {\n"
                        "    set dns-addr {\n"
                        "        type ipv4_addr\n"
                        "    }\n"
                        "    chain qubes-forward {\n"
                        "    }\n"
                        "    chain forward {\n"
                        "        type filter hook forward priority 0; policy drop;\n"
                        "        ct state established,related accept\n"
                        "        meta iifname != \"vif*\" accept\n"
                        "        jump qubes-forward\n"
                        "    }\n"
                        "    chain prerouting {\n"
                        "        type filter hook prerouting priority -300; policy accept;\n"
                        "    }\n"
                        "    chain postrouting {\n"
                        "        type filter hook postrouting priority -300; policy accept;\n"
                        "    }\n"
                        "}\n");
}

void fwnft_dns(const char *const *dns, size_t n_dns, struct buf *out)
{
    buf_append_str(out, "flush set ip qubes-firewall dns-addr\n");
    for (size_t i = 0; i < n_dns; i++)
        buf_printf(out, "add element ip qubes-firewall dns-addr { %s }\n", dns[i]);
}

/* "{a, b, c}", as upstream writes an anonymous set */
static void ip_set(const char *const *ips, size_t n, struct buf *out)
{
    buf_append_char(out, '{');
    for (size_t i = 0; i < n; i++)
        buf_printf(out, "%s%s", i ? ", " : "", ips[i]);
    buf_append_char(out, '}');
}

void fwnft_antispoof(const char *const *ips, size_t n, struct buf *out)
{
    buf_append_str(out, "flush chain ip qubes-firewall prerouting\n"
                        "flush chain ip qubes-firewall postrouting\n");
    if (n == 0)
        return;
    buf_append_str(out, "table ip qubes-firewall {\n"
                        "    chain prerouting {\n"
                        "        iifname != \"vif*\" ip saddr ");
    ip_set(ips, n, out);
    buf_append_str(out, " drop\n"
                        "    }\n"
                        "    chain postrouting {\n"
                        "        oifname != \"vif*\" ip daddr ");
    ip_set(ips, n, out);
    buf_append_str(out, " drop\n"
                        "    }\n"
                        "}\n");
}

void fwnft_cleanup(struct buf *out)
{
    buf_append_str(out, "delete table ip qubes-firewall\n");
}

static void chain_name(const char *ip, char out[32])
{
    snprintf(out, 32, "qbs-%s", ip);
    for (char *p = out; *p; p++)
        if (*p == '.' || *p == ':')
            *p = '-';
}

/* One nft rule of r for one protocol (proto NULL: none); dst is the
 * destination clause or NULL. */
static void emit(struct buf *out, const struct fw_rule *r, const char *proto, const char *dst,
                 bool dns_port)
{
    buf_append_str(out, "        ");
    if (proto)
        buf_printf(out, "ip protocol %s ", proto);
    if (dst)
        buf_printf(out, "ip daddr %s ", dst);
    if (dns_port)
        buf_printf(out, "%s dport 53 ", proto);
    else if (r->has_dstports && r->port_first == r->port_last)
        buf_printf(out, "%s dport %u ", proto, r->port_first);
    else if (r->has_dstports)
        buf_printf(out, "%s dport %u-%u ", proto, r->port_first, r->port_last);
    if (r->has_icmptype)
        buf_printf(out, "icmp type %u ", r->icmptype);
    buf_append_str(out, r->action == FW_ACTION_ACCEPT ? "accept\n" : REJECT "\n");
}

static const char *proto_name(enum fw_proto p)
{
    switch (p) {
    case FW_PROTO_TCP: return "tcp";
    case FW_PROTO_UDP: return "udp";
    case FW_PROTO_ICMP: return "icmp";
    case FW_PROTO_NONE: break;
    }
    return NULL;
}

/* The nft rules of one firewall rule: DNS without a protocol stands for
 * both tcp and udp, as do ports without one (which the Admin API refuses,
 * but firewall.py takes). */
static int translate(const struct fw_rule *r, fwnft_resolve_fn resolve, void *ctx, struct buf *out,
                     struct qerror *err)
{
    if (r->dst_kind == FW_DST_IPV6)
        return 0;
    _cleanup_buf_ struct buf dst = BUF_INIT;
    if (r->dst_kind == FW_DST_IPV4) {
        buf_printf(&dst, "%s/%u", r->dst, r->dst_prefix);
    } else if (r->dst_kind == FW_DST_HOST) {
        _cleanup_buf_ struct buf set = BUF_INIT;
        if (resolve(ctx, r->dst, &set, err) < 0)
            return -1;
        buf_printf(&dst, "{ %s }", set.data ? set.data : "");
    }
    const char *proto = proto_name(r->proto);
    if (r->specialtarget_dns) {
        /* the firewall qube's own resolvers, port 53 only: a rule for
         * another port never matches DNS, and is left out */
        if (r->has_dstports && (r->port_first != 53 || r->port_last != 53))
            return 0;
        static const char *const both[] = { "tcp", "udp" };
        for (size_t i = 0; i < 2; i++)
            if (!proto || strcmp(proto, both[i]) == 0)
                emit(out, r, both[i], "@dns-addr", true);
        return 0;
    }
    if (!proto && r->has_dstports) {
        emit(out, r, "tcp", dst.len ? dst.data : NULL, false);
        emit(out, r, "udp", dst.len ? dst.data : NULL, false);
        return 0;
    }
    emit(out, r, proto, dst.len ? dst.data : NULL, false);
    return 0;
}

static void open_chain(const char *ip, struct buf *out)
{
    char chain[32];
    chain_name(ip, chain);
    /* the chain and its jump, made the first time; every time emptied */
    buf_printf(out,
               "table ip qubes-firewall {\n"
               "    chain %s {\n"
               "    }\n"
               "}\n"
               "flush chain ip qubes-firewall %s\n"
               "table ip qubes-firewall {\n"
               "    chain %s {\n",
               chain, chain, chain);
}

int fwnft_client(const char *ip, const struct fw_rule *rules, size_t n, fwnft_resolve_fn resolve,
                 void *ctx, struct buf *out, struct qerror *err)
{
    open_chain(ip, out);
    for (size_t i = 0; i < n; i++)
        if (translate(&rules[i], resolve, ctx, out, err) < 0)
            return -1;
    buf_append_str(out, "    }\n}\n");
    return 0;
}

void fwnft_client_drop(const char *ip, struct buf *out)
{
    open_chain(ip, out);
    buf_append_str(out, "        " REJECT "\n    }\n}\n");
}

void fwnft_client_remove(const char *ip, struct buf *out)
{
    char chain[32];
    chain_name(ip, chain);
    buf_printf(out,
               "flush chain ip qubes-firewall %s\n"
               "delete chain ip qubes-firewall %s\n",
               chain, chain);
}

void fwnft_forward(const char *const *ips, size_t n, struct buf *out)
{
    buf_append_str(out, "flush chain ip qubes-firewall qubes-forward\n");
    for (size_t i = 0; i < n; i++) {
        char chain[32];
        chain_name(ips[i], chain);
        buf_printf(out, "add rule ip qubes-firewall qubes-forward ip saddr %s jump %s\n", ips[i],
                   chain);
    }
}
