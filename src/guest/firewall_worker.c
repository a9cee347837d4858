/* The firewall agent's state is the set of clients with a chain; the
 * rules themselves live in the kernel and in qubesdb only. */
#include "guest/firewall_worker.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nftables/libnftables.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "common/log.h"
#include "common/mono_time.h"
#include "common/parse.h"
#include "guest/firewall_resolve.h"
#include "net/firewall_conntrack.h"
#include "net/firewall_nft.h"
#include "net/firewall_qdb.h"

#define RESOLV_CONF "/etc/resolv.conf"

/* One transaction; the first line of nft's complaint in err. */
static int apply(struct fw_worker *w, const char *script, struct qerror *err)
{
    if (nft_run_cmd_from_buffer(w->nft, script) == 0)
        return 0;
    const char *why = nft_ctx_get_error_buffer(w->nft);
    return qerror_set(err, ERR_QUBES_EXCEPTION, "nft failed: %.*s", (int)strcspn(why, "\n"), why);
}

/* The resolvers, as text for the set and as addresses for matching. */
struct dns {
    struct in_addr addrs[FW_DNS_MAX];
    char text[FW_DNS_MAX][INET_ADDRSTRLEN];
    const char *ptrs[FW_DNS_MAX];
    size_t n;
};

static void read_dns(const struct fw_worker *w, struct dns *d)
{
    d->n = fw_resolv_conf(w->resolv_conf, d->addrs);
    for (size_t i = 0; i < d->n; i++) {
        inet_ntop(AF_INET, &d->addrs[i], d->text[i], sizeof(d->text[i]));
        d->ptrs[i] = d->text[i];
    }
}

static void forward_jumps(const struct fw_worker *w, struct buf *out)
{
    fwnft_forward((const char *const *)w->clients.items, w->clients.n, out);
}

int fw_worker_init(struct fw_worker *w, struct qdb_client *qdb, struct qerror *err)
{
    w->qdb = qdb;
    if (!w->resolv_conf)
        w->resolv_conf = RESOLV_CONF;
    w->nft = nft_ctx_new(NFT_CTX_DEFAULT);
    if (!w->nft)
        return qerror_set(err, ERR_QUBES_EXCEPTION, "nftables: no context");
    nft_ctx_buffer_output(w->nft);
    nft_ctx_buffer_error(w->nft);
    _cleanup_buf_ struct buf script = BUF_INIT;
    struct dns d;
    read_dns(w, &d);
    fwnft_init(&script);
    fwnft_dns(d.ptrs, d.n, &script);
    return apply(w, script.data, err);
}

void fw_worker_connected_ips(struct fw_worker *w)
{
    struct qerror err = { 0 };
    _cleanup_free_ char *value = NULL;
    uint32_t len = 0;
    int r = qdb_read(w->qdb, "/connected-ips", &value, &len, &err);
    if (r < 0) {
        log_error("op=connected-ips result=error reason=\"%s\"", err.message);
        return;
    }
    _cleanup_free_ char(*ips)[FW_QDB_IP_MAX] = NULL;
    size_t n = 0;
    if (r == 1 && fw_qdb_connected_ips(value, len, &ips, &n, &err) < 0) {
        log_error("op=connected-ips result=refused reason=\"%s\": anti-spoofing unchanged",
                  err.message);
        return;
    }
    _cleanup_free_ const char **list = xcalloc(n ? n : 1, sizeof(*list));
    for (size_t i = 0; i < n; i++)
        list[i] = ips[i];
    _cleanup_buf_ struct buf script = BUF_INIT;
    fwnft_antispoof(list, n, &script);
    if (apply(w, script.data, &err) < 0)
        log_error("op=connected-ips result=error reason=\"%s\"", err.message);
    else
        log_info("op=connected-ips clients=%zu result=ok", n);
}

struct kill_ctx {
    const struct fw_rule *rules;
    const struct fw_resolved *resolved;
    size_t n;
    const struct dns *dns;
};

static bool blocked(void *ctx, const struct fw_flow *f)
{
    const struct kill_ctx *k = ctx;
    return fw_flow_blocked(k->rules, k->resolved, k->n, k->dns->addrs, k->dns->n, f);
}

/* The tracked connections of ip that rules (NULL: none, all blocked) no
 * longer let through. */
static void kill_blocked(const char *ip, const struct fw_rule *rules, size_t n,
                         const struct fw_names *names, const struct dns *dns)
{
    struct in_addr src;
    inet_pton(AF_INET, ip, &src);
    _cleanup_free_ struct fw_resolved *resolved = fw_names_for_rules(names, rules, n);
    struct kill_ctx k = { rules, resolved, n, dns };
    struct qerror err = { 0 };
    int killed = fw_conntrack_kill(src, blocked, &k, &err);
    if (killed < 0)
        log_error("ip=%s op=conntrack result=error reason=\"%s\"", ip, err.message);
    else if (killed > 0)
        log_info("ip=%s op=conntrack ended=%d", ip, killed);
}

/* /dns/<ip>/<host>: what each dsthost resolved to, as upstream writes it
 * (Python's str() of a set of "a.b.c.d/32"). */
static void publish_dns(struct fw_worker *w, const char *ip, const struct fw_names *names)
{
    struct qerror err = { 0 };
    char dir[QDB_MAX_PATH];
    snprintf(dir, sizeof(dir), "/dns/%s/", ip);
    if (qdb_rm(w->qdb, dir, &err) < 0) {
        log_error("ip=%s op=dns-info result=error reason=\"%s\"", ip, err.message);
        return;
    }
    for (size_t i = 0; i < names->n; i++) {
        const struct fw_name *name = &names->names[i];
        char path[2 * QDB_MAX_PATH];
        if ((size_t)snprintf(path, sizeof(path), "%s%s", dir, name->host) >= QDB_MAX_PATH) {
            log_error("ip=%s host=%s op=dns-info result=skipped reason=\"qubesdb path length "
                      "limit\"",
                      ip, name->host);
            continue;
        }
        _cleanup_buf_ struct buf value = BUF_INIT;
        buf_append_char(&value, '{');
        for (size_t j = 0; j < name->n; j++) {
            char text[INET_ADDRSTRLEN];
            inet_ntop(AF_INET, &name->addrs[j], text, sizeof(text));
            buf_printf(&value, "%s'%s/32'", j ? ", " : "", text);
        }
        buf_append_char(&value, '}');
        if (qdb_write(w->qdb, path, value.data, value.len, &err) < 0) {
            log_error("ip=%s op=dns-info result=error reason=\"%s\"", ip, err.message);
            return;
        }
    }
}

/* /qubes-firewall-handled/<ip> + 1: what a watcher waits on to know the
 * rules it wrote are in force. */
static void count_handled(struct fw_worker *w, const char *ip)
{
    char path[QDB_MAX_PATH];
    snprintf(path, sizeof(path), "/qubes-firewall-handled/%s", ip);
    struct qerror err = { 0 };
    _cleanup_free_ char *value = NULL;
    uint32_t len;
    long long count = 0;
    if (qdb_read(w->qdb, path, &value, &len, &err) == 1 &&
        parse_ll(value, 0, 1000000000000LL, 0, &count) < 0)
        count = 0;
    char text[24];
    int n = snprintf(text, sizeof(text), "%lld", count + 1);
    if (qdb_write(w->qdb, path, text, (size_t)n, &err) < 0)
        log_error("ip=%s op=handled result=error reason=\"%s\"", ip, err.message);
}

/* The client's entries below prefix, or -1 (err) when unreadable. */
static int read_rules(struct fw_worker *w, const char *prefix, struct qdb_items *items,
                      struct fw_rule **rules, size_t *n, struct qerror *err)
{
    if (qdb_multiread(w->qdb, prefix, items, err) < 0)
        return -1;
    if (items->n == 0)
        return 0;
    size_t skip = strlen(prefix);
    _cleanup_free_ struct fw_qdb_entry *e = xcalloc(items->n, sizeof(*e));
    for (size_t i = 0; i < items->n; i++)
        e[i] = (struct fw_qdb_entry){ items->items[i].path + skip, items->items[i].value,
                                      items->items[i].len };
    return fw_qdb_client_rules(e, items->n, rules, n, err);
}

/* The chain of a client that has no rules tree any more, and its jump. */
static void remove_client(struct fw_worker *w, const char *ip, const struct dns *dns)
{
    if (!str_set_has(&w->clients, ip))
        return;
    _cleanup_free_ char *name = xstrdup(ip);
    str_set_del(&w->clients, ip);
    _cleanup_buf_ struct buf script = BUF_INIT;
    forward_jumps(w, &script);
    fwnft_client_remove(name, &script);
    struct qerror err = { 0 };
    if (apply(w, script.data, &err) < 0) {
        /* the chain stays, and so does its jump: keep knowing of it */
        str_set_add(&w->clients, name);
        log_error("ip=%s op=remove result=error reason=\"%s\"", name, err.message);
        return;
    }
    struct fw_names none = { 0 };
    kill_blocked(name, NULL, 0, &none, dns);
    log_info("ip=%s op=remove result=ok: no rules, new flows dropped", name);
}

/* Applies the chain text of one client; the jump comes with it the first
 * time. */
static int apply_client(struct fw_worker *w, const char *ip, const char *chain_text,
                        const struct dns *dns, struct qerror *err)
{
    bool is_new = str_set_add(&w->clients, ip);
    _cleanup_buf_ struct buf script = BUF_INIT;
    fwnft_dns(dns->ptrs, dns->n, &script);
    buf_append_str(&script, chain_text);
    if (is_new)
        forward_jumps(w, &script);
    if (apply(w, script.data, err) == 0)
        return 0;
    if (is_new)
        str_set_del(&w->clients, ip);
    return -1;
}

void fw_worker_handle(struct fw_worker *w, const char *untrusted_ip)
{
    if (!fw_qdb_ip_ok(untrusted_ip, strlen(untrusted_ip))) {
        log_warning("op=handle result=ignored reason=\"not a client address\"");
        return;
    }
    const char *ip = untrusted_ip;
    long long start = mono_ms();
    struct dns dns;
    read_dns(w, &dns);
    char prefix[QDB_MAX_PATH];
    snprintf(prefix, sizeof(prefix), "/qubes-firewall/%s/", ip);
    struct qdb_items items = { 0 };
    _cleanup_free_ struct fw_rule *rules = NULL;
    size_t n = 0;
    struct fw_names names = { 0 };
    struct qerror err = { 0 };
    _cleanup_buf_ struct buf chain = BUF_INIT;
    int rc = read_rules(w, prefix, &items, &rules, &n, &err);
    bool gone = rc == 0 && items.n == 0;
    qdb_items_free(&items);
    if (gone) {
        remove_client(w, ip, &dns);
    } else {
        if (rc == 0)
            rc = fwnft_client(ip, rules, n, fw_names_resolve, &names, &chain, &err);
        if (rc == 0)
            rc = apply_client(w, ip, chain.data, &dns, &err);
        if (rc < 0) {
            log_error("Failed to apply rules for %s (%s), blocking traffic", ip, err.message);
            free(steal_pointer(&rules));
            n = 0;
            fw_names_free(&names);
            buf_reset(&chain);
            fwnft_client_drop(ip, &chain);
            struct qerror again = { 0 };
            if (apply_client(w, ip, chain.data, &dns, &again) < 0)
                log_error("Failed to block traffic for %s (%s)", ip, again.message);
        } else {
            log_info("ip=%s op=apply rules=%zu result=ok ms=%lld", ip, n, mono_ms() - start);
        }
        kill_blocked(ip, rules, n, &names, &dns);
    }
    publish_dns(w, ip, &names);
    fw_names_free(&names);
    count_handled(w, ip);
}

void fw_worker_handle_all(struct fw_worker *w)
{
    struct qdb_items items = { 0 };
    struct qerror err = { 0 };
    if (qdb_list(w->qdb, "/qubes-firewall/", &items, &err) < 0) {
        log_error("op=list result=error reason=\"%s\"", err.message);
        return;
    }
    struct str_set targets = { 0 };
    const size_t skip = strlen("/qubes-firewall/");
    for (size_t i = 0; i < items.n; i++) {
        const char *rest = items.items[i].path + skip;
        _cleanup_free_ char *ip = xstrndup(rest, strcspn(rest, "/"));
        str_set_add(&targets, ip);
    }
    qdb_items_free(&items);
    for (size_t i = 0; i < targets.n; i++)
        fw_worker_handle(w, targets.items[i]);
    str_set_free(&targets);
}

int fw_worker_cleanup(struct fw_worker *w, struct qerror *err)
{
    _cleanup_buf_ struct buf script = BUF_INIT;
    fwnft_cleanup(&script);
    return apply(w, script.data, err);
}

void fw_worker_free(struct fw_worker *w)
{
    if (w->nft)
        nft_ctx_free(w->nft);
    str_set_free(&w->clients);
    *w = (struct fw_worker){ 0 };
}
