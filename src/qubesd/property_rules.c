/* What each property defaults to and what it accepts, after
 * qubes/vm/qubesvm.py, qubes/vm/mix/net.py and qubes/app.py. */
#include "qubesd/property_rules.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>

#include "common/cleanup.h"
#include "common/names.h"
#include "common/parse.h"
#include "common/root.h"
#include "qubesd/xid.h"

/* ---- defaults ---- */

int default_none(const struct app *app, const struct qube *q, const struct prop_def *def,
                 struct buf *out)
{
    (void)app, (void)q, (void)def, (void)out;
    return 1;
}

int default_identity(const struct app *app, const struct qube *q, const struct prop_def *def,
                     struct buf *out)
{
    (void)app;
    if (strcmp(def->name, "name") == 0)
        buf_append_str(out, q->name);
    else if (strcmp(def->name, "qid") == 0)
        buf_printf(out, "%d", q->qid);
    else
        buf_append_str(out, q->uuid);
    return 0;
}

int default_const(const struct app *app, const struct qube *q, const struct prop_def *def,
                  struct buf *out)
{
    (void)app, (void)q;
    buf_append_str(out, def->default_text ? def->default_text : "");
    return 0;
}

int default_const_none(const struct app *app, const struct qube *q, const struct prop_def *def,
                       struct buf *out)
{
    (void)app, (void)q, (void)def, (void)out;
    return 0; /* a default that is None: an empty value */
}

int default_from_global(const struct app *app, const struct qube *q, const struct prop_def *def,
                        struct buf *out)
{
    (void)q;
    const struct prop_def *g = prop_find_global(def->default_text);
    return g ? prop_value(app, NULL, g, out) : 1;
}

int default_klass(const struct app *app, const struct qube *q, const struct prop_def *def,
                  struct buf *out)
{
    (void)app, (void)def;
    buf_append_str(out, qube_class_name(q->cls));
    return 0;
}

static const char *label_of(const struct app *app, const struct qube *q)
{
    const struct prop_def *def = prop_find(q->cls, "label");
    const char *l = def ? q->props[def->index] : NULL;
    (void)app;
    return l ? l : "black";
}

int default_icon(const struct app *app, const struct qube *q, const struct prop_def *def,
                 struct buf *out)
{
    (void)def;
    const char *kind = "appvm";
    switch (q->cls) {
    case QUBE_ADMINVM: buf_append_str(out, "adminvm-black"); return 0;
    case QUBE_TEMPLATEVM: kind = "templatevm"; break;
    case QUBE_DISPVM: kind = "dispvm"; break;
    case QUBE_STANDALONEVM: kind = "standalonevm"; break;
    case QUBE_APPVM: kind = "appvm"; break;
    case QUBE_CLASS_COUNT: break;
    }
    if (q->cls == QUBE_APPVM && prop_value_bool(app, q, "template_for_dispvms"))
        kind = "templatevm";
    if (kv_get(&q->features, "servicevm") && strcmp(kv_get(&q->features, "servicevm"), "") != 0)
        kind = "servicevm";
    buf_printf(out, "%s-%s", kind, label_of(app, q));
    return 0;
}

int default_updateable(const struct app *app, const struct qube *q, const struct prop_def *def,
                       struct buf *out)
{
    (void)app, (void)def;
    bool own_root =
        q->cls == QUBE_ADMINVM || q->cls == QUBE_TEMPLATEVM || q->cls == QUBE_STANDALONEVM;
    buf_append_str(out, own_root ? "True" : "False");
    return 0;
}

int default_include_in_backups(const struct app *app, const struct qube *q,
                               const struct prop_def *def, struct buf *out)
{
    (void)def;
    bool include = q->cls != QUBE_DISPVM || !prop_value_bool(app, q, "auto_cleanup");
    buf_append_str(out, include ? "True" : "False");
    return 0;
}

int default_default_dispvm(const struct app *app, const struct qube *q, const struct prop_def *def,
                           struct buf *out)
{
    (void)def;
    if (q->cls == QUBE_DISPVM) {
        const struct qube *t = qube_template(app, q);
        if (t)
            buf_append_str(out, t->name);
        return 0;
    }
    return prop_value(app, NULL, prop_find_global("default_dispvm"), out);
}

int default_netvm(const struct app *app, const struct qube *q, const struct prop_def *def,
                  struct buf *out)
{
    (void)def;
    if (q->cls == QUBE_TEMPLATEVM)
        return 0; /* templates are offline by default; they update over qrexec */
    return prop_value(app, NULL, prop_find_global("default_netvm"), out);
}

void vmid_to_ipv4(const char *prefix, long long id, struct buf *out)
{
    if (id < 255)
        buf_printf(out, "%s.%lld.%lld", prefix, id >> 8, id & 0xff);
    else
        buf_printf(out, "%s.%lld.%lld", prefix, (id - 1) / 254, (id - 1) % 254 + 1);
}

static bool is_networked(const struct app *app, const struct qube *q)
{
    return qube_netvm(app, q) != NULL || prop_value_bool(app, q, "provides_network");
}

int default_ip(const struct app *app, const struct qube *q, const struct prop_def *def,
               struct buf *out)
{
    (void)def;
    if (!is_networked(app, q))
        return 0;
    if (q->cls == QUBE_DISPVM)
        vmid_to_ipv4("10.138", prop_value_int(app, q, "dispid", 0), out);
    else
        vmid_to_ipv4("10.137", q->qid, out);
    return 0;
}

int default_visible_ip(const struct app *app, const struct qube *q, const struct prop_def *def,
                       struct buf *out)
{
    (void)def;
    return prop_value(app, q, prop_find(q->cls, "ip"), out);
}

int default_gateway(const struct app *app, const struct qube *q, const struct prop_def *def,
                    struct buf *out)
{
    (void)def;
    if (!prop_value_bool(app, q, "provides_network"))
        return 0;
    return prop_value(app, q, prop_find(q->cls, "ip"), out);
}

int default_visible_gateway(const struct app *app, const struct qube *q, const struct prop_def *def,
                            struct buf *out)
{
    (void)def;
    const struct qube *netvm = qube_netvm(app, q);
    if (!netvm || netvm->cls == QUBE_ADMINVM)
        return 0;
    return default_gateway(app, netvm, NULL, out);
}

int default_dns(const struct app *app, const struct qube *q, const struct prop_def *def,
                struct buf *out)
{
    (void)def;
    if (is_networked(app, q))
        buf_append_str(out, "10.139.1.1 10.139.1.2");
    return 0;
}

int default_maxmem(const struct app *app, const struct qube *q, const struct prop_def *def,
                   struct buf *out)
{
    (void)q, (void)def;
    long long half = app->host_memory_mib / 2;
    buf_printf(out, "%lld", half < 4000 ? half : 4000);
    return 0;
}

int default_pool(const struct app *app, const struct qube *q, const struct prop_def *def,
                 struct buf *out)
{
    (void)q, (void)def;
    const char *pick = app_pool_find(app, "default")       ? "default"
                       : app_pool_find(app, "varlibqubes") ? "varlibqubes"
                       : app->n_pools                      ? app->pools[0].name
                                                           : NULL;
    if (!pick)
        return 1;
    buf_append_str(out, pick);
    return 0;
}

int default_host_memory(const struct app *app, const struct qube *q, const struct prop_def *def,
                        struct buf *out)
{
    (void)q, (void)def;
    buf_printf(out, "%ld", app->host_memory_mib);
    return 0;
}

int default_host_cpus(const struct app *app, const struct qube *q, const struct prop_def *def,
                      struct buf *out)
{
    (void)q, (void)def;
    buf_printf(out, "%d", app->host_cpus);
    return 0;
}

/* qubesvm.py's stateless xid and start_time: -1 and None while halted. */
int default_xid(const struct app *app, const struct qube *q, const struct prop_def *def,
                struct buf *out)
{
    (void)app, (void)def;
    buf_printf(out, "%d", q->xid > 0 ? q->xid : -1);
    return 0;
}

int default_start_time(const struct app *app, const struct qube *q, const struct prop_def *def,
                       struct buf *out)
{
    (void)app, (void)def;
    qube_start_time_text(q, out);
    return 0;
}

/* ---- checks (value is the effective value with the change in place) ---- */

int check_positive(const struct app *app, const struct qube *q, const struct prop_def *def,
                   const char *value, struct qerror *err)
{
    (void)app, (void)q;
    long long n;
    if (value && parse_ll(value, LLONG_MIN, LLONG_MAX, 0, &n) == 0 && n <= 0)
        return qerror_set(err, ERR_QUBES_PROPERTY_VALUE_ERROR, "%s must be positive", def->name);
    return 0;
}

int check_non_negative(const struct app *app, const struct qube *q, const struct prop_def *def,
                       const char *value, struct qerror *err)
{
    (void)app, (void)q;
    long long n;
    if (value && parse_ll(value, LLONG_MIN, LLONG_MAX, 0, &n) == 0 && n < 0)
        return qerror_set(err, ERR_QUBES_PROPERTY_VALUE_ERROR, "%s must be positive or zero",
                          def->name);
    return 0;
}

int check_template(const struct app *app, const struct qube *q, const struct prop_def *def,
                   const char *value, struct qerror *err)
{
    (void)def;
    const struct qube *t = value && *value ? app_find(app, value) : NULL;
    if (!t)
        return 0;
    if (q->cls == QUBE_DISPVM) {
        if (!prop_value_bool(app, t, "template_for_dispvms"))
            return qerror_set(err, ERR_QUBES_PROPERTY_VALUE_ERROR,
                              "template for DispVM must have template_for_dispvms=True");
        return 0;
    }
    if (t->cls != QUBE_TEMPLATEVM)
        return qerror_set(err, ERR_QUBES_PROPERTY_VALUE_ERROR,
                          "wrong VM class: domains['%s'] is of type %s and not TemplateVM", t->name,
                          qube_class_name(t->cls));
    return 0;
}

static bool refers_as_dispvm_template(const struct app *app, const struct qube *holder,
                                      const struct qube *target)
{
    static const char *const props[] = { "default_dispvm", "management_dispvm" };
    for (size_t i = 0; i < ARRAY_SIZE(props); i++) {
        const struct prop_def *def =
            holder ? prop_find(holder->cls, props[i]) : prop_find_global(props[i]);
        if (def && prop_value_qube(app, holder, props[i]) == target)
            return true;
    }
    return false;
}

int check_template_for_dispvms(const struct app *app, const struct qube *q,
                               const struct prop_def *def, const char *value, struct qerror *err)
{
    (void)def;
    if (value && strcmp(value, "True") == 0)
        return 0;
    for (size_t i = 0; i < app->n_qubes; i++) {
        const struct qube *other = app->qubes[i];
        if (other->cls == QUBE_DISPVM && qube_template(app, other) == q)
            return qerror_set(err, ERR_QUBES_VM_IN_USE_ERROR,
                              "Cannot change template_for_dispvms to False while there are "
                              "some DispVMs based on this DVM template");
    }
    for (size_t i = 0; i <= app->n_qubes; i++) {
        const struct qube *holder = i < app->n_qubes ? app->qubes[i] : NULL;
        if (holder == q)
            continue;
        if (refers_as_dispvm_template(app, holder, q))
            return qerror_set(err, ERR_QUBES_VM_IN_USE_ERROR,
                              "Cannot change template_for_dispvms to False while %s uses it as "
                              "default_dispvm or management_dispvm",
                              holder ? holder->name : "the global default");
    }
    return 0;
}

int check_dispvm_template(const struct app *app, const struct qube *q, const struct prop_def *def,
                          const char *value, struct qerror *err)
{
    (void)q, (void)def;
    const struct qube *t = value && *value ? app_find(app, value) : NULL;
    if (t && !prop_value_bool(app, t, "template_for_dispvms"))
        return qerror_set(err, ERR_QUBES_PROPERTY_VALUE_ERROR,
                          "The %s qube is not a disposable template (template_for_dispvms is "
                          "False)",
                          t->name);
    return 0;
}

/* Follows the netvm chain from q; true if it comes back to a qube already
 * seen (a loop), bounded by the number of qubes. */
static bool netvm_loops(const struct app *app, const struct qube *q)
{
    const struct qube *slow = q, *fast = q;
    for (size_t steps = 0; steps <= app->n_qubes; steps++) {
        fast = qube_netvm(app, fast);
        if (!fast)
            return false;
        fast = qube_netvm(app, fast);
        if (!fast)
            return false;
        slow = qube_netvm(app, slow);
        if (slow == fast)
            return true;
    }
    return true;
}

static bool on_netvm_loop(const struct app *app, const struct qube *q)
{
    const struct qube *n = qube_netvm(app, q);
    for (size_t steps = 0; n && steps <= app->n_qubes; steps++) {
        if (n == q)
            return true;
        n = qube_netvm(app, n);
    }
    return false;
}

static int check_provides(const struct app *app, const char *value, struct qerror *err)
{
    const struct qube *n = value && *value ? app_find(app, value) : NULL;
    if (n && (n->cls == QUBE_ADMINVM || !prop_value_bool(app, n, "provides_network")))
        return qerror_set(err, ERR_QUBES_VALUE_ERROR, "The %s qube does not provide network",
                          n->name);
    return 0;
}

int check_netvm(const struct app *app, const struct qube *q, const struct prop_def *def,
                const char *value, struct qerror *err)
{
    (void)def;
    if (check_provides(app, value, err) < 0)
        return -1;
    if (netvm_loops(app, q))
        return qerror_set(err, ERR_QUBES_VALUE_ERROR, "Loops in network are unsupported");
    return 0;
}

int check_default_netvm(const struct app *app, const struct qube *q, const struct prop_def *def,
                        const char *value, struct qerror *err)
{
    (void)q, (void)def;
    if (check_provides(app, value, err) < 0)
        return -1;
    /* name a qube that is itself on the loop, not one merely leading to it */
    for (size_t i = 0; i < app->n_qubes; i++)
        if (on_netvm_loop(app, app->qubes[i]))
            return qerror_set(err, ERR_QUBES_PROPERTY_VALUE_ERROR, "Network loop on '%s'",
                              app->qubes[i]->name);
    return 0;
}

int check_provides_network(const struct app *app, const struct qube *q, const struct prop_def *def,
                           const char *value, struct qerror *err)
{
    (void)def;
    if (value && strcmp(value, "True") == 0)
        return 0;
    for (size_t i = 0; i < app->n_qubes; i++)
        if (app->qubes[i] != q && qube_netvm(app, app->qubes[i]) == q)
            return qerror_set(err, ERR_QUBES_VALUE_ERROR,
                              "The qube is still used by other qubes, change theirs 'netvm' "
                              "first");
    return 0;
}

int check_ip(const struct app *app, const struct qube *q, const struct prop_def *def,
             const char *value, struct qerror *err)
{
    (void)app, (void)q, (void)def;
    struct in_addr addr;
    if (value && *value && inet_pton(AF_INET, value, &addr) != 1)
        return qerror_set(err, ERR_QUBES_VALUE_ERROR, "Invalid IPv4 address: '%s'", value);
    return 0;
}

int check_mac(const struct app *app, const struct qube *q, const struct prop_def *def,
              const char *value, struct qerror *err)
{
    (void)app, (void)q, (void)def;
    bool ok = value && strlen(value) == 17;
    for (size_t i = 0; ok && i < 17; i++)
        ok = i % 3 == 2 ? value[i] == ':'
                        : (isxdigit((unsigned char)value[i]) && !isupper((unsigned char)value[i]));
    if (!ok)
        return qerror_set(err, ERR_QUBES_VALUE_ERROR, "Invalid MAC address value");
    return 0;
}

int check_virt_mode(const struct app *app, const struct qube *q, const struct prop_def *def,
                    const char *value, struct qerror *err)
{
    (void)app, (void)q, (void)def;
    if (value && strcmp(value, "sandbox") != 0 && strcmp(value, "vm") != 0)
        return qerror_set(err, ERR_QUBES_VALUE_ERROR,
                          "Invalid virtualization mode, supported values: sandbox, vm");
    return 0;
}

int check_kernel(const struct app *app, const struct qube *q, const struct prop_def *def,
                 const char *value, struct qerror *err)
{
    (void)app, (void)q, (void)def;
    if (!value || !*value)
        return 0;
    if (strchr(value, '/'))
        return qerror_set(err, ERR_QUBES_PROPERTY_VALUE_ERROR, "Kernel name cannot contain '/'");
    _cleanup_free_ char *rel = xasprintf("var/lib/qubes/vm-kernels/%s", value);
    _cleanup_free_ char *dir = qroot_path(rel);
    _cleanup_free_ char *vmlinuz = xasprintf("%s/vmlinuz", dir);
    struct stat st;
    if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
        return qerror_set(err, ERR_QUBES_PROPERTY_VALUE_ERROR, "Kernel '%s' not installed", value);
    if (stat(vmlinuz, &st) < 0)
        return qerror_set(err, ERR_QUBES_PROPERTY_VALUE_ERROR,
                          "Kernel '%s' not properly installed: missing 'vmlinuz' file", value);
    return 0;
}

int check_kernelopts(const struct app *app, const struct qube *q, const struct prop_def *def,
                     const char *value, struct qerror *err)
{
    (void)app, (void)q, (void)def;
    if (value && strlen(value) > 512)
        return qerror_set(err, ERR_QUBES_PROPERTY_VALUE_ERROR,
                          "Kernelopts value too long (512 chars max)");
    return 0;
}

int check_default_user(const struct app *app, const struct qube *q, const struct prop_def *def,
                       const char *value, struct qerror *err)
{
    (void)app, (void)q, (void)def;
    static const char allowed[] =
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-+,.";
    if (value && strspn(value, allowed) != strlen(value))
        return qerror_set(err, ERR_QUBES_PROPERTY_VALUE_ERROR,
                          "Username can contain only those characters: %s", allowed);
    return 0;
}

int check_pool(const struct app *app, const struct qube *q, const struct prop_def *def,
               const char *value, struct qerror *err)
{
    (void)q, (void)def;
    if (value && !app_pool_find(app, value))
        return qerror_set(err, ERR_QUBES_PROPERTY_VALUE_ERROR, "No such storage pool");
    return 0;
}
