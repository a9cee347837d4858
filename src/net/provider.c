/* The provider's table, generated and loaded through libnftables. */
#include "net/provider.h"

#include <stdio.h>
#include <string.h>

#include <nftables/libnftables.h>

#include "common/cleanup.h"
#include "net/netns.h"
#include "net/rtnl.h"

void provider_ruleset(const struct provider_config *c, struct buf *out)
{
    /* "add table" first: the delete that follows must find it, and the
     * whole script is one transaction, so the old table never half-exists */
    buf_append_str(out, "add table ip qubes\n"
                        "delete table ip qubes\n"
                        "table ip qubes {\n"
                        "    set downstream {\n"
                        "        type ipv4_addr\n"
                        "    }\n"
                        "    set allowed {\n"
                        "        type ifname . ipv4_addr\n"
                        "    }\n"
                        "    chain prerouting {\n"
                        "        type filter hook prerouting priority raw; policy accept;\n"
                        "        iifname \"vif*\" goto antispoof\n"
                        "        ip saddr @downstream counter drop\n"
                        "    }\n"
                        "    chain antispoof {\n"
                        "        iifname . ip saddr @allowed accept\n"
                        "        counter drop\n"
                        "    }\n"
                        "    chain dnat-dns {\n"
                        "        type nat hook prerouting priority dstnat; policy accept;\n");
    const char *virt[2] = { QUBES_DNS1, QUBES_DNS2 };
    for (int i = 0; i < 2; i++)
        if (c->dns[i])
            buf_printf(out,
                       "        ip daddr %s udp dport 53 dnat to %s\n"
                       "        ip daddr %s tcp dport 53 dnat to %s\n",
                       virt[i], c->dns[i], virt[i], c->dns[i]);
    buf_append_str(out, "    }\n"
                        "    chain postrouting {\n"
                        "        type nat hook postrouting priority srcnat; policy accept;\n"
                        "        oifname \"vif*\" accept\n"
                        "        oif lo accept\n"
                        "        masquerade\n"
                        "    }\n"
                        "    chain input {\n"
                        "        type filter hook input priority filter; policy drop;\n"
                        "        ct state invalid counter drop\n"
                        "        iifname \"vif*\" meta l4proto udp udp dport 68 counter drop\n"
                        "        ct state related,established accept\n"
                        "        iifname \"vif*\" meta l4proto icmp accept\n"
                        "        iif lo accept\n"
                        "        iifname \"vif*\" counter reject with icmp type host-prohibited\n"
                        "        counter\n"
                        "    }\n"
                        "    chain forward {\n"
                        "        type filter hook forward priority filter; policy accept;\n"
                        "        ct state invalid counter drop\n"
                        "        ct state related,established accept\n"
                        "        oifname \"vif*\" counter drop\n"
                        "    }\n"
                        "}\n");
}

int nft_apply(const char *script, struct qerror *err)
{
    struct nft_ctx *nft = nft_ctx_new(NFT_CTX_DEFAULT);
    if (!nft)
        return qerror_set(err, ERR_QUBES_EXCEPTION, "nftables: no context");
    nft_ctx_buffer_error(nft);
    int rc = nft_run_cmd_from_buffer(nft, script);
    if (rc != 0) {
        const char *why = nft_ctx_get_error_buffer(nft);
        qerror_set(err, ERR_QUBES_EXCEPTION, "nftables: %.*s", (int)strcspn(why, "\n"), why);
    }
    nft_ctx_free(nft);
    return rc == 0 ? 0 : -1;
}

static int setup(void *ctx, struct qerror *err)
{
    const struct provider_config *c = ctx;
    _cleanup_buf_ struct buf rules = BUF_INIT;
    provider_ruleset(c, &rules);
    if (sysctl_write("net/ipv4/ip_forward", "1", err) < 0 ||
        sysctl_write("net/ipv6/conf/default/disable_ipv6", "1", err) < 0 ||
        sysctl_write("net/ipv6/conf/all/disable_ipv6", "1", err) < 0)
        return -1;
    return nft_apply(rules.data, err);
}

int provider_setup(int netns, const struct provider_config *c, struct qerror *err)
{
    for (int i = 0; i < 2; i++) {
        struct in_addr a;
        if (c->dns[i] && parse_ipv4(c->dns[i], &a, NULL, err) < 0)
            return -1;
    }
    return netns_run(netns, setup, (void *)c, err);
}

struct allow {
    const char *vif, *ip;
    bool present;
};

static int allow(void *ctx, struct qerror *err)
{
    const struct allow *a = ctx;
    _cleanup_free_ char *script = xasprintf("%s element ip qubes allowed { \"%s\" . %s }\n"
                                            "%s element ip qubes downstream { %s }\n",
                                            a->present ? "add" : "delete", a->vif, a->ip,
                                            a->present ? "add" : "delete", a->ip);
    return nft_apply(script, err);
}

int provider_allow(int netns, const char *vif, const char *ip, bool present, struct qerror *err)
{
    struct in_addr addr;
    if (parse_ipv4(ip, &addr, NULL, err) < 0)
        return -1;
    if (strspn(vif, "abcdefghijklmnopqrstuvwxyz0123456789.") != strlen(vif))
        return qerror_set(err, ERR_QUBES_VALUE_ERROR, "not an interface name: %s", vif);
    struct allow a = { vif, ip, present };
    return netns_run(netns, allow, &a, err);
}
