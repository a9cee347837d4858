/* The network subscriber: links made and unmade as qubes start, stop and
 * change their netvm. */
#include "qubesd/network.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "common/loop.h"
#include "common/parse.h"
#include "common/root.h"
#include "net/firewall_rule.h"
#include "net/provider.h"
#include "net/uplink.h"
#include "net/vif.h"
#include "qubesd/events.h"
#include "qubesd/lifecycle.h"
#include "qubesd/netvm_qdb.h"
#include "qubesd/property.h"

struct network {
    struct app *app;
    struct event_subscriber sub;
    struct kv_list nat_slots; /* top qube -> its NAT uplink's slot */
    struct kv_list links;     /* client -> "<netvm> <ip> <xid>" of its link, while it has one */
    struct loop_watch expire_timer; /* the next firewall rule to expire */
    long long next_expire;          /* its time, 0: none armed */
};

/* The features of a network's top qube that choose its uplink (net/uplink.h):
 * net.uplink is "nat" (the default), "none", or a host interface moved in,
 * configured by net.uplink-address ("A.B.C.D/N"), net.uplink-gateway and
 * net.uplink-dns (one or two resolvers, space-separated). */
#define F_UPLINK "net.uplink"
#define F_UPLINK_ADDRESS "net.uplink-address"
#define F_UPLINK_GATEWAY "net.uplink-gateway"
#define F_UPLINK_DNS "net.uplink-dns"

static bool provides_network(const struct app *app, const struct qube *q)
{
    return q->cls != QUBE_ADMINVM && prop_value_bool(app, q, "provides_network");
}

static char *prop_text(const struct app *app, const struct qube *q, const char *name)
{
    struct buf b = BUF_INIT;
    const struct prop_def *def = prop_find(q->cls, name);
    if (!def || prop_value(app, q, def, &b) != 0 || !b.len) {
        buf_free(&b);
        return NULL;
    }
    return buf_steal(&b);
}

/* The netvm and address of client's link; false when it has none. */
static bool link_of(const struct network *n, const char *client, char netvm[32], char ip[16],
                    int *xid)
{
    const char *link = kv_get(&n->links, client);
    int ignored;
    return link && sscanf(link, "%31s %15s %d", netvm, ip, xid ? xid : &ignored) == 3;
}

static void link_set(struct network *n, const struct qube *client, const struct qube *netvm,
                     const char *ip)
{
    _cleanup_free_ char *link = xasprintf("%s %s %d", netvm->name, ip, client->xid);
    kv_set(&n->links, client->name, link);
}

/* /connected-ips of netvm from the links it holds now, in qube order. */
static void publish_connected(struct network *n, struct qube *netvm)
{
    _cleanup_buf_ struct buf ips = BUF_INIT;
    buf_append(&ips, "", 0);
    for (size_t i = 0; i < n->app->n_qubes; i++) {
        char name[32], ip[16];
        if (link_of(n, n->app->qubes[i]->name, name, ip, NULL) && strcmp(name, netvm->name) == 0)
            buf_printf(&ips, "%s%s", ips.len ? " " : "", ip);
    }
    struct qerror err = { 0 };
    if (netvm_qdb_connected_ips(netvm, ips.data, &err) < 0)
        log_warning("qube=%s op=qubesdb-connected-ips result=error: %s", netvm->name, err.message);
}

static void on_expire(struct loop_watch *w, uint32_t events);

/* The soonest expiry of a rule published so far arms the timer. */
static void arm_expire(struct network *n, long long when)
{
    if (!when || (n->next_expire && n->next_expire <= when))
        return;
    n->next_expire = when;
    long long ms = (when + 1 - fw_rule_now()) * 1000;
    loop_timer_start(n->app->loop, &n->expire_timer, ms > 0 ? (long)ms : 1, on_expire, n);
}

/* client's firewall and mapping in its netvm's qubesdb (qubes-firewall reads them). */
static void publish_firewall(struct network *n, const struct qube *client)
{
    char name[32], ip[16];
    struct qube *netvm;
    if (!link_of(n, client->name, name, ip, NULL) || !(netvm = app_find(n->app, name)))
        return;
    _cleanup_free_ char *gateway = prop_text(n->app, client, "visible_gateway");
    long long next = 0;
    struct qerror err = { 0 };
    if (netvm_qdb_client(netvm, client, ip, gateway ? gateway : "", fw_rule_now(), &next, &err) < 0)
        log_warning("qube=%s op=qubesdb-firewall netvm=%s result=error: %s", client->name,
                    netvm->name, err.message);
    arm_expire(n, next);
}

/* A rule expired: every client's firewall again, without it. */
static void on_expire(struct loop_watch *w, uint32_t events)
{
    (void)events;
    struct network *n = w->ctx;
    loop_timer_cancel(n->app->loop, &n->expire_timer);
    n->next_expire = 0;
    for (size_t i = 0; i < n->app->n_qubes; i++)
        publish_firewall(n, n->app->qubes[i]);
}

/* client's link to netvm: the pair, then its address admitted on its vif. */
static int attach(struct network *n, const struct app *app, const struct qube *client,
                  const struct qube *netvm, struct qerror *err)
{
    _cleanup_free_ char *ip = prop_text(app, client, "visible_ip");
    _cleanup_free_ char *gateway = prop_text(app, client, "visible_gateway");
    if (!ip || !gateway)
        return qerror_set(err, ERR_QUBES_EXCEPTION, "%s has no address on %s", client->name,
                          netvm->name);
    _cleanup_close_ int client_ns = lifecycle_netns_fd(client, err);
    _cleanup_close_ int netvm_ns = client_ns < 0 ? -1 : lifecycle_netns_fd(netvm, err);
    if (netvm_ns < 0)
        return -1;
    struct vif_config c = { client_ns, netvm_ns, client->xid, ip, gateway };
    char vif[16];
    vif_name(client->xid, vif);
    if (vif_attach(&c, err) < 0)
        return -1;
    if (provider_allow(netvm_ns, vif, ip, true, err) < 0) {
        struct qerror ignored;
        vif_detach(netvm_ns, client->xid, &ignored);
        return -1;
    }
    link_set(n, client, netvm, ip);
    publish_connected(n, (struct qube *)netvm);
    publish_firewall(n, client);
    log_info("qube=%s op=network-attach netvm=%s ip=%s vif=%s", client->name, netvm->name, ip, vif);
    return 0;
}

/* The link goes with the vif; the address it had is no longer admitted. */
static void detach(struct network *n, const struct app *app, const struct qube *client)
{
    char netvm_name[32], ip[16];
    int xid;
    if (!link_of(n, client->name, netvm_name, ip, &xid))
        return;
    kv_del(&n->links, client->name);
    struct qube *netvm = app_find(app, netvm_name);
    struct qerror err = { 0 };
    _cleanup_close_ int netvm_ns = netvm ? lifecycle_netns_fd(netvm, &err) : -1;
    if (netvm_ns < 0)
        return; /* the netvm is gone, and the link with it */
    publish_connected(n, netvm);
    if (netvm_qdb_client_gone(netvm, ip, &err) < 0) {
        log_warning("qube=%s op=qubesdb-forget netvm=%s result=error: %s", client->name, netvm_name,
                    err.message);
        qerror_clear(&err);
    }
    char vif[16];
    vif_name(xid, vif);              /* the xid the client had: a stopped one has none now */
    vif_detach(netvm_ns, xid, &err); /* gone already when the client stopped */
    qerror_clear(&err);
    if (provider_allow(netvm_ns, vif, ip, false, &err) < 0)
        log_warning("qube=%s op=network-detach netvm=%s result=error: %s", client->name, netvm_name,
                    err.message);
    else
        log_info("qube=%s op=network-detach netvm=%s", client->name, netvm_name);
}

/* A top qube's NAT slot outlives qubesd as a file, so a later qubesd that
 * finds the qube running frees the slot's table when it stops. */
static char *slot_file(const struct qube *q)
{
    _cleanup_free_ char *rel = xasprintf("run/qubes/uplink-slot.%s", q->name);
    return qroot_path(rel);
}

static void slot_remember(struct network *n, const struct qube *q, int slot)
{
    char text[16];
    snprintf(text, sizeof(text), "%d", slot);
    kv_set(&n->nat_slots, q->name, text);
    _cleanup_free_ char *path = slot_file(q);
    FILE *f = fopen(path, "we");
    bool ok = f && fprintf(f, "%d\n", slot) > 0;
    if (f && fclose(f) != 0)
        ok = false;
    if (!ok)
        log_warning("qube=%s op=uplink file=%s result=error: %s", q->name, path, strerror(errno));
}

static void slot_recall(struct network *n, const struct qube *q)
{
    _cleanup_free_ char *path = slot_file(q);
    FILE *f = fopen(path, "re");
    char text[16];
    long long slot;
    if (f && fgets(text, sizeof(text), f)) {
        text[strcspn(text, "\n")] = '\0';
        if (parse_ll(text, 0, UPLINK_SLOTS - 1, 0, &slot) == 0)
            kv_set(&n->nat_slots, q->name, text);
    }
    if (f)
        fclose(f);
}

static void slot_release(struct network *n, const struct qube *q)
{
    const char *text = kv_get(&n->nat_slots, q->name);
    long long slot;
    if (!text || parse_ll(text, 0, UPLINK_SLOTS - 1, 0, &slot) < 0)
        return;
    uplink_nat_release((int)slot);
    kv_del(&n->nat_slots, q->name);
    _cleanup_free_ char *path = slot_file(q);
    unlink(path);
}

/* The uplink of a top qube, and the resolvers behind it (dns). */
static int uplink_up(struct network *n, const struct qube *q, int ns, char dns[2][16],
                     struct qerror *err)
{
    const char *mode = kv_get(&q->features, F_UPLINK);
    dns[0][0] = dns[1][0] = '\0';
    if (mode && strcmp(mode, "none") == 0)
        return 0;
    if (!mode || strcmp(mode, "nat") == 0) {
        int slot;
        if (uplink_nat(ns, q->qid, &slot, err) < 0)
            return -1;
        slot_remember(n, q, slot);
        host_resolvers(dns);
        log_info("qube=%s op=uplink mode=nat slot=%d", q->name, slot);
        return 0;
    }
    const char *address = kv_get(&q->features, F_UPLINK_ADDRESS);
    const char *gateway = kv_get(&q->features, F_UPLINK_GATEWAY);
    if (!address || !gateway)
        return qerror_set(err, ERR_QUBES_VALUE_ERROR, "uplink %s of %s needs features %s and %s",
                          mode, q->name, F_UPLINK_ADDRESS, F_UPLINK_GATEWAY);
    const char *resolvers = kv_get(&q->features, F_UPLINK_DNS);
    if (resolvers && sscanf(resolvers, "%15s %15s", dns[0], dns[1]) < 1)
        return qerror_set(err, ERR_QUBES_VALUE_ERROR, "feature %s of %s: %s", F_UPLINK_DNS, q->name,
                          resolvers);
    if (uplink_move(ns, mode, address, gateway, err) < 0)
        return -1;
    log_info("qube=%s op=uplink mode=interface interface=%s address=%s", q->name, mode, address);
    return 0;
}

static int provider_up(struct network *n, const struct app *app, const struct qube *q,
                       struct qerror *err)
{
    struct provider_config c = { 0 };
    char dns[2][16];
    _cleanup_close_ int ns = lifecycle_netns_fd(q, err);
    if (ns < 0)
        return -1;
    if (!qube_netvm(app, q)) {
        if (uplink_up(n, q, ns, dns, err) < 0) {
            qerror_prefix(err, "uplink of %s: ", q->name);
            return -1;
        }
        c.dns[0] = dns[0][0] ? dns[0] : NULL;
        c.dns[1] = dns[1][0] ? dns[1] : c.dns[0];
    }
    if (provider_setup(ns, &c, err) < 0) {
        qerror_prefix(err, "network of %s: ", q->name);
        return -1;
    }
    /* clients left running while it was down get their link again */
    for (size_t i = 0; i < app->n_qubes; i++) {
        const struct qube *c2 = app->qubes[i];
        struct qerror client_err = { 0 };
        if (c2 != q && qube_power(c2) == POWER_RUNNING && qube_netvm(app, c2) == q &&
            attach(n, app, c2, q, &client_err) < 0)
            log_warning("qube=%s op=network-attach netvm=%s result=error: %s", c2->name, q->name,
                        client_err.message);
    }
    return 0;
}

static const struct qube *named(const struct app *app, const struct qube_event *ev, const char *key)
{
    for (size_t i = 0; i < ev->n; i++)
        if (strcmp(ev->keys[i], key) == 0)
            return strcmp(ev->values[i], "None") ? app_find(app, ev->values[i]) : NULL;
    return NULL;
}

static bool is_event(const struct qube_event *ev, const char *a, const char *b)
{
    return strcmp(ev->name, a) == 0 || (b && strcmp(ev->name, b) == 0);
}

static int check(void *ctx, const struct app *app, const struct qube_event *ev, struct qerror *err)
{
    struct network *n = ctx;
    struct qube *q = (struct qube *)ev->subject;
    if (!q)
        return 0;
    if (is_event(ev, "domain-pre-running", NULL)) {
        if (provides_network(app, q) && provider_up(n, app, q, err) < 0)
            return -1;
        const struct qube *netvm = qube_netvm(app, q);
        if (netvm && attach(n, app, q, netvm, err) < 0) {
            qerror_prefix(err, "network: ");
            return -1;
        }
        return 0;
    }
    if (is_event(ev, "property-pre-set:netvm", NULL) && qube_power(q) != POWER_HALTED) {
        /* net.py: a running qube attaches to a running netvm only */
        const struct qube *next = named(app, ev, "newvalue");
        if (next && qube_power(next) != POWER_RUNNING)
            return qerror_set(err, ERR_QUBES_VM_NOT_STARTED_ERROR,
                              "Cannot dynamically attach to stopped NetVM: '%s'", next->name);
    }
    return 0;
}

static void on_event(void *ctx, struct app *app, const struct qube_event *ev)
{
    struct network *n = ctx;
    const struct qube *q = ev->subject;
    if (!q || q->cls == QUBE_ADMINVM)
        return;
    if (is_event(ev, "property-set:netvm", "property-reset:netvm") &&
        qube_power(q) == POWER_RUNNING) {
        detach(n, app, q);
        const struct qube *netvm = qube_netvm(app, q);
        struct qerror err = { 0 };
        if (netvm && qube_power(netvm) == POWER_RUNNING && attach(n, app, q, netvm, &err) < 0)
            log_warning("qube=%s op=network-attach netvm=%s result=error: %s", q->name, netvm->name,
                        err.message);
    } else if (is_event(ev, "firewall-changed", NULL)) {
        publish_firewall(n, q);
    } else if (is_event(ev, "domain-shutdown", NULL)) {
        detach(n, app, q);
        slot_release(n, q);
    }
}

struct network *network_open(struct app *app)
{
    struct network *n = xcalloc(1, sizeof(*n));
    n->app = app;
    n->expire_timer.fd = -1;
    n->sub = (struct event_subscriber){ .on_event = on_event, .check = check, .ctx = n };
    events_subscribe(app, &n->sub);
    /* the links and uplinks of qubes an earlier qubesd left running are theirs still */
    for (size_t i = 0; i < app->n_qubes; i++) {
        const struct qube *q = app->qubes[i];
        if (qube_power(q) == POWER_RUNNING)
            slot_recall(n, q);
        const struct qube *netvm = qube_netvm(app, q);
        _cleanup_free_ char *ip = prop_text(app, q, "visible_ip");
        if (netvm && ip && qube_power(q) == POWER_RUNNING && qube_power(netvm) == POWER_RUNNING)
            link_set(n, q, netvm, ip);
    }
    return n;
}

void network_close(struct network *n)
{
    if (!n)
        return;
    events_unsubscribe(n->app, &n->sub);
    loop_timer_cancel(n->app->loop, &n->expire_timer);
    kv_free(&n->nat_slots);
    kv_free(&n->links);
    free(n);
}
