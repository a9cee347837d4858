/* The network subscriber: links made and unmade as qubes start, stop and
 * change their netvm. */
#include "qubesd/network.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "net/provider.h"
#include "net/uplink.h"
#include "net/vif.h"
#include "qubesd/events.h"
#include "qubesd/lifecycle.h"
#include "qubesd/property.h"

struct network {
    struct app *app;
    struct event_subscriber sub;
    struct kv_list nat_slots; /* top qube -> its NAT uplink's slot */
    struct kv_list links;     /* client -> "<netvm> <ip>" of its link, while it has one */
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
    struct vif_config c = { client_ns, netvm_ns, client->qid, ip, gateway };
    char vif[16];
    vif_name(client->qid, vif);
    if (vif_attach(&c, err) < 0)
        return -1;
    if (provider_allow(netvm_ns, vif, ip, true, err) < 0) {
        struct qerror ignored;
        vif_detach(netvm_ns, client->qid, &ignored);
        return -1;
    }
    _cleanup_free_ char *link = xasprintf("%s %s", netvm->name, ip);
    kv_set(&n->links, client->name, link);
    log_info("qube=%s op=network-attach netvm=%s ip=%s vif=%s", client->name, netvm->name, ip,
             vif);
    return 0;
}

/* The link goes with the vif; the address it had is no longer admitted. */
static void detach(struct network *n, const struct app *app, const struct qube *client)
{
    const char *link = kv_get(&n->links, client->name);
    char netvm_name[32], ip[16];
    if (!link || sscanf(link, "%31s %15s", netvm_name, ip) != 2)
        return;
    kv_del(&n->links, client->name);
    const struct qube *netvm = app_find(app, netvm_name);
    struct qerror err = { 0 };
    _cleanup_close_ int netvm_ns = netvm ? lifecycle_netns_fd(netvm, &err) : -1;
    if (netvm_ns < 0)
        return; /* the netvm is gone, and the link with it */
    char vif[16];
    vif_name(client->qid, vif);
    vif_detach(netvm_ns, client->qid, &err); /* gone already when the client stopped */
    qerror_clear(&err);
    if (provider_allow(netvm_ns, vif, ip, false, &err) < 0)
        log_warning("qube=%s op=network-detach netvm=%s result=error: %s", client->name,
                    netvm_name, err.message);
    else
        log_info("qube=%s op=network-detach netvm=%s", client->name, netvm_name);
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
        char text[16];
        snprintf(text, sizeof(text), "%d", slot);
        kv_set(&n->nat_slots, q->name, text);
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
        return qerror_set(err, ERR_QUBES_VALUE_ERROR, "feature %s of %s: %s", F_UPLINK_DNS,
                          q->name, resolvers);
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
            log_warning("qube=%s op=network-attach netvm=%s result=error: %s", c2->name,
                        q->name, client_err.message);
    }
    return 0;
}

static const struct qube *named(const struct app *app, const struct qube_event *ev,
                                const char *key)
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

static int check(void *ctx, const struct app *app, const struct qube_event *ev,
                 struct qerror *err)
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
            log_warning("qube=%s op=network-attach netvm=%s result=error: %s", q->name,
                        netvm->name, err.message);
    } else if (is_event(ev, "domain-shutdown", NULL)) {
        detach(n, app, q);
        const char *slot = kv_get(&n->nat_slots, q->name);
        if (slot) {
            uplink_nat_release(atoi(slot));
            kv_del(&n->nat_slots, q->name);
        }
    }
}

struct network *network_open(struct app *app)
{
    struct network *n = xcalloc(1, sizeof(*n));
    n->app = app;
    n->sub = (struct event_subscriber){ .on_event = on_event, .check = check, .ctx = n };
    events_subscribe(app, &n->sub);
    return n;
}

void network_close(struct network *n)
{
    if (!n)
        return;
    events_unsubscribe(n->app, &n->sub);
    kv_free(&n->nat_slots);
    kv_free(&n->links);
    free(n);
}
