/* The qubesdb entries of a qube, from the model only. */
#include "qubesd/qdb_entries.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "common/cleanup.h"
#include "net/firewall_rule.h"
#include "net/provider.h"
#include "qubesd/property.h"

static void add(struct qdb_entries *e, const char *path, const char *value)
{
    if (e->n == e->cap) {
        e->cap = e->cap ? e->cap * 2 : 32;
        e->v = xrealloc(e->v, e->cap * sizeof(*e->v));
    }
    e->v[e->n++] = (struct kv){ xstrdup(path), xstrdup(value ? value : "") };
}

void qdb_entries_free(struct qdb_entries *e)
{
    for (size_t i = 0; i < e->n; i++) {
        free(e->v[i].key);
        free(e->v[i].value);
    }
    free(e->v);
    *e = (struct qdb_entries){ 0 };
}

/* A property's value as text ("" when it has none). */
static void add_prop(struct qdb_entries *e, const struct app *app, const struct qube *q,
                     const char *path, const char *name)
{
    _cleanup_buf_ struct buf b = BUF_INIT;
    const struct prop_def *def = prop_find(q->cls, name);
    if (def)
        prop_value(app, q, def, &b);
    add(e, path, b.data ? b.data : "");
}

static bool updateable(const struct qube *q)
{
    return q->cls == QUBE_TEMPLATEVM || q->cls == QUBE_STANDALONEVM;
}

/* r3compatibility.py: what the qube is to Qubes 3's scripts. */
static const char *vm_type(const struct app *app, const struct qube *q, bool provider)
{
    if (q->cls == QUBE_TEMPLATEVM)
        return "TemplateVM";
    if (provider)
        return qube_netvm(app, q) ? "ProxyVM" : "NetVM";
    return "AppVM";
}

static void add_random_seed(struct qdb_entries *e)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    unsigned char seed[64];
    if (getrandom(seed, sizeof(seed), 0) != (ssize_t)sizeof(seed))
        abort(); /* no entropy: nothing sane to do */
    char text[89];
    size_t o = 0;
    for (size_t i = 0; i < sizeof(seed); i += 3) {
        unsigned v = (unsigned)seed[i] << 16 | (i + 1 < sizeof(seed) ? seed[i + 1] << 8 : 0) |
                     (i + 2 < sizeof(seed) ? seed[i + 2] : 0);
        text[o++] = b64[v >> 18 & 63];
        text[o++] = b64[v >> 12 & 63];
        text[o++] = i + 1 < sizeof(seed) ? b64[v >> 6 & 63] : '=';
        text[o++] = i + 2 < sizeof(seed) ? b64[v & 63] : '=';
    }
    text[o] = '\0';
    add(e, "/qubes-random-seed", text);
}

void qdb_entries_of(const struct app *app, const struct qube *q, struct qdb_entries *out)
{
    *out = (struct qdb_entries){ 0 };
    bool provider = prop_value_bool(app, q, "provides_network");
    const struct qube *template = qube_template(app, q);
    add(out, "/name", q->name);
    add(out, "/type", qube_class_name(q->cls));
    add_prop(out, app, q, "/default-user", "default_user");
    add(out, "/qubes-vm-updateable", updateable(q) ? "True" : "False");
    add(out, "/qubes-vm-persistence",
        q->cls == QUBE_DISPVM ? "none"
        : updateable(q)       ? "full"
                              : "rw-only");
    add(out, "/qubes-debug-mode", prop_value_bool(app, q, "debug") ? "1" : "0");
    add(out, "/qubes-base-template", template ? template->name : "");
    add_random_seed(out);
    if (provider) {
        add_prop(out, app, q, "/qubes-netvm-network", "gateway");
        add_prop(out, app, q, "/qubes-netvm-gateway", "gateway");
        add(out, "/qubes-netvm-netmask", "255.255.255.255");
        add(out, "/qubes-netvm-primary-dns", QUBES_DNS1);
        add(out, "/qubes-netvm-secondary-dns", QUBES_DNS2);
    }
    if (qube_netvm(app, q)) {
        add_prop(out, app, q, "/qubes-mac", "mac");
        add_prop(out, app, q, "/qubes-ip", "visible_ip");
        add(out, "/qubes-netmask", "255.255.255.255");
        add_prop(out, app, q, "/qubes-gateway", "visible_gateway");
        add(out, "/qubes-primary-dns", QUBES_DNS1);
        add(out, "/qubes-secondary-dns", QUBES_DNS2);
    }
    add(out, "/qubes-block-devices", "");
    add(out, "/qubes-usb-devices", "");
    /* services.py: each feature service.<name>, and meminfo-writer always */
    bool meminfo = false;
    for (size_t i = 0; i < q->features.n; i++) {
        const char *key = q->features.items[i].key, *v = q->features.items[i].value;
        const char *name = strncmp(key, "service.", 8) == 0 ? key + 8 : NULL;
        if (!name || !*name || strlen(name) > 48 || strchr(name, '/'))
            continue;
        char path[80];
        snprintf(path, sizeof(path), "/qubes-service/%s", name);
        add(out, path, *v ? "1" : "0");
        meminfo = meminfo || strcmp(name, "meminfo-writer") == 0;
    }
    if (!meminfo)
        add(out, "/qubes-service/meminfo-writer", "1");
    add(out, "/qubes-vm-type", vm_type(app, q, provider));
    /* a provider's clients: none yet, qubesd/network.c adds them as they attach */
    add(out, "/connected-ips", "");
    add(out, "/connected-ips6", "");
}

void qdb_entries_firewall(const struct qube *client, const char *ip, long long now,
                          struct qdb_entries *out, long long *next_expire)
{
    *out = (struct qdb_entries){ 0 };
    *next_expire = 0;
    char base[64], path[80];
    snprintf(base, sizeof(base), "/qubes-firewall/%s", ip);
    snprintf(path, sizeof(path), "%s/policy", base);
    add(out, path, "drop");
    /* no rules stored: Qubes' default, accept everything */
    const char *rules = client->firewall ? client->firewall : "action=accept\n";
    int index = 0;
    for (const char *line = rules; *line;) {
        size_t len = strcspn(line, "\n");
        struct fw_rule r;
        struct qerror err = { 0 };
        bool parsed = len && fw_rule_parse(line, len, &r, &err) == 0;
        if (parsed && r.has_expire && !fw_rule_expired(&r, now) &&
            (!*next_expire || r.expire < *next_expire))
            *next_expire = r.expire;
        /* the tree is the IPv4 address's: dst6 rules are left out, as Qubes'
         * qdb_entries(addr_family=4) leaves them (its agent would block the
         * client over one) */
        if (parsed && !fw_rule_expired(&r, now) && r.dst_kind != FW_DST_IPV6) {
            _cleanup_buf_ struct buf text = BUF_INIT;
            fw_rule_format(&r, &text, false);
            snprintf(path, sizeof(path), "%s/%04d", base, index);
            add(out, path, text.data);
        }
        index += len != 0;
        line += len + (line[len] == '\n');
    }
    add(out, base, "");
}
