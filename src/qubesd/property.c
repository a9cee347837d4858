/* The property table and the generic machinery: effective values, defaults,
 * serialisation, sanitising and change checks. Per-property semantics (the
 * default and check functions) are in property_rules.c. */
#include "qubesd/property.h"

#include <ctype.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "common/admin_wire.h"
#include "common/cleanup.h"
#include "common/names.h"
#include "common/parse.h"
#include "common/py_repr.h"
#include "qubesd/property_rules.h"

#define Q ON_QUBESVM
#define ALL ON_ALL_QUBES
#define TPL_CHILDREN (ON(QUBE_APPVM) | ON(QUBE_DISPVM))
#define DVM_TEMPLATES (ON(QUBE_APPVM) | ON(QUBE_STANDALONEVM))

/* clang-format off */
static struct prop_def table[] = {
    /* identity (BaseVM) */
    { "name", PROP_STR, ALL, PROP_WRITE_ONCE | PROP_IDENTITY, 2, default_identity, NULL, NULL, 0,
      "User-specified name of the domain." },
    { "qid", PROP_INT, ALL, PROP_WRITE_ONCE | PROP_IDENTITY, 2, default_identity, NULL, NULL, 0,
      "Internal, persistent identificator of particular domain. Note this is different from "
      "Xen domid." },
    { "uuid", PROP_STR, ALL, PROP_WRITE_ONCE | PROP_IDENTITY, 2, default_identity, NULL, NULL, 0,
      "UUID from libvirt." },
    { "label", PROP_LABEL, ALL, 0, 2, default_none, NULL, NULL, 0,
      "Colourful label assigned to VM. This is where the colour of the padlock is set." },
    { "klass", PROP_STR, ALL, PROP_READONLY, 2, default_klass, NULL, NULL, 0,
      "Domain class name" },
    { "icon", PROP_STR, ALL, PROP_READONLY, 2, default_icon, NULL, NULL, 0,
      "freedesktop icon name, suitable for use in PyQt4.QtGui.QIcon.fromTheme" },
    { "updateable", PROP_BOOL, ALL, PROP_READONLY, 2, default_updateable, NULL, NULL, 0,
      "True if this machine may be updated on its own." },
    { "include_in_backups", PROP_BOOL, ALL, 0, 2, default_include_in_backups, NULL, NULL, 0,
      "If this domain is to be included in default backup." },
    { "default_dispvm", PROP_VM, ALL, PROP_ALLOW_NONE, 4, default_default_dispvm, NULL,
      check_dispvm_template, 0,
      "Default VM to be used as Disposable VM for service calls." },

    /* QubesVM */
    { "template", PROP_VM, TPL_CHILDREN, PROP_NO_RESET | PROP_HALTED_ONLY, 4, default_none, NULL, check_template,
      0, "Template, on which this AppVM is based." },
    { "template_for_dispvms", PROP_BOOL, DVM_TEMPLATES, 0, 2, default_const, "False",
      check_template_for_dispvms, 0, "Should this VM be allowed to start as Disposable VM" },
    { "dispid", PROP_INT, ON(QUBE_DISPVM), PROP_WRITE_ONCE, 2, default_none, NULL, NULL, 0,
      "Internal, persistent identifier of particular DispVM." },
    { "auto_cleanup", PROP_BOOL, ON(QUBE_DISPVM), 0, 2, default_const, "False", NULL, 0,
      "automatically remove this VM upon shutdown" },
    { "netvm", PROP_VM, Q, PROP_ALLOW_NONE, 4, default_netvm, NULL, check_netvm, 0,
      "VM that provides network connection to this domain. When None, machine is "
      "disconnected. When absent, domain uses default NetVM." },
    { "provides_network", PROP_BOOL, Q, 0, 2, default_const, "False", check_provides_network,
      0, "If this domain can act as network provider (formerly known as NetVM or ProxyVM)" },
    { "ip", PROP_STR, Q, 0, 2, default_ip, NULL, check_ip, 0, "IP address of this domain." },
    { "mac", PROP_STR, Q, PROP_LOWERCASE, 2, default_const, "00:16:3e:5e:6c:00", check_mac, 0,
      "MAC address of the NIC emulated inside VM" },
    { "visible_ip", PROP_STR, Q, PROP_READONLY, 2, default_visible_ip, NULL, NULL, 0,
      "IP address of this domain as seen by the domain." },
    { "visible_gateway", PROP_STR, Q, PROP_READONLY, 2, default_visible_gateway, NULL, NULL, 0,
      "Default gateway of this domain as seen by the domain." },
    { "gateway", PROP_STR, Q, PROP_READONLY, 2, default_gateway, NULL, NULL, 0,
      "Gateway for other domains that use this domain as netvm." },
    { "dns", PROP_STR, Q, PROP_READONLY, 2, default_dns, NULL, NULL, 0,
      "DNS servers set up for this domain." },
    { "memory", PROP_INT, Q, PROP_INHERIT, 2, default_const, "400", check_positive, 0,
      "Memory currently available for this VM. TemplateBasedVMs use its template's value by "
      "default." },
    { "maxmem", PROP_INT, Q, PROP_INHERIT, 2, default_maxmem, NULL, check_non_negative, 0,
      "Maximum amount of memory available for this VM (for the purpose of the memory "
      "balancer). Set to 0 to disable memory balancing for this qube. TemplateBasedVMs use its "
      "template's value by default (unless memory balancing not supported for this qube)." },
    { "vcpus", PROP_INT, Q, PROP_INHERIT, 2, default_const, "2", check_positive, 0,
      "Number of virtual CPUs for a qube. TemplateBasedVMs use its template's value by "
      "default." },
    { "virt_mode", PROP_STR, Q, PROP_INHERIT | PROP_LOWERCASE, 2, default_from_global, "default_virt_mode",
      check_virt_mode, 0,
      "Virtualisation mode: a sandbox of Linux namespaces (\"sandbox\") or a micro-VM under "
      "QEMU (\"vm\"). TemplateBasedVMs use its template's value by default." },
    { "kernel", PROP_STR, Q, PROP_INHERIT, 2, default_from_global, "default_kernel",
      check_kernel, 0,
      "Kernel used by this domain. TemplateBasedVMs use its template's value by default." },
    { "kernelopts", PROP_STR, Q, PROP_INHERIT, 4, default_const, "", check_kernelopts, 0,
      "Kernel command line passed to domain. TemplateBasedVMs use its template's value by "
      "default." },
    { "qrexec_timeout", PROP_INT, Q, PROP_INHERIT, 2, default_from_global,
      "default_qrexec_timeout", check_positive, 0,
      "Time in seconds after which qrexec connection attempt is deemed failed. Operating "
      "system inside VM should be able to boot in this time." },
    { "shutdown_timeout", PROP_INT, Q, PROP_INHERIT, 2, default_from_global,
      "default_shutdown_timeout", check_positive, 0,
      "Time in seconds for shutdown of the VM, after which VM may be forcefully powered off. "
      "Operating system inside VM should be able to fully shutdown in this time." },
    { "default_user", PROP_STR, Q, PROP_INHERIT, 2, default_const, "user", check_default_user,
      0, "Default user to start applications as. TemplateBasedVMs use its template's value by "
      "default." },
    { "debug", PROP_BOOL, Q, 0, 2, default_const, "False", NULL, 0,
      "Turns on debugging features." },
    { "autostart", PROP_BOOL, Q, 0, 2, default_const, "False", NULL, 0,
      "Setting this to True means that VM should be autostarted on dom0 boot." },
    { "installed_by_rpm", PROP_BOOL, Q, 0, 2, default_const, "False", NULL, 0,
      "If this domain's image was installed from package tracked by package manager." },
    { "backup_timestamp", PROP_INT, Q, 0, 2, default_const_none, NULL, NULL, 0,
      "Time of last backup of the qube, in seconds since unix epoch" },
    { "guivm", PROP_VM, Q, PROP_ALLOW_NONE, 4, default_from_global, "default_guivm", NULL, 0,
      "VM used for Gui" },
    { "audiovm", PROP_VM, Q, PROP_ALLOW_NONE, 4, default_from_global, "default_audiovm", NULL,
      0, "VM used for Audio" },
    { "management_dispvm", PROP_VM, Q, PROP_ALLOW_NONE | PROP_INHERIT, 4, default_from_global,
      "management_dispvm", check_dispvm_template, 0,
      "Default DVM template for Disposable VM for managing this VM." },
    { "xid", PROP_INT, Q, PROP_READONLY, 2, default_xid, NULL, NULL, 0,
      "Xen ID. Or not Xen, but ID." },
    { "start_time", PROP_STR, Q, PROP_READONLY, 2, default_start_time, NULL, NULL, 0,
      "Tell when machine was started." },

    /* the app (admin.property.*) */
    { "check_updates_vm", PROP_BOOL, ON_GLOBAL, 0, 3, default_const, "True", NULL, 0,
      "Check for updates inside qubes" },
    { "clockvm", PROP_VM, ON_GLOBAL, PROP_ALLOW_NONE, 3, default_const_none, NULL, NULL, 0,
      "Which VM to use as NTP proxy for updating AdminVM" },
    { "default_audiovm", PROP_VM, ON_GLOBAL, PROP_ALLOW_NONE, 3, default_const, "dom0", NULL, 0,
      "Default AudioVM for VMs." },
    { "default_dispvm", PROP_VM, ON_GLOBAL, PROP_ALLOW_NONE, 3, default_const_none, NULL,
      check_dispvm_template, 0, "Default DispVM base for service calls" },
    { "default_guivm", PROP_VM, ON_GLOBAL, PROP_ALLOW_NONE, 3, default_const, "dom0", NULL, 0,
      "Default GuiVM for VMs." },
    { "default_kernel", PROP_STR, ON_GLOBAL, 0, 3, default_none, NULL, check_kernel, 0,
      "Which kernel to use when not overriden in VM" },
    { "default_netvm", PROP_VM, ON_GLOBAL, PROP_ALLOW_NONE, 3, default_const_none, NULL,
      check_default_netvm, 0,
      "Default NetVM for AppVMs. Initial state is None, which means that AppVMs are not "
      "connected to the Internet." },
    { "default_pool", PROP_STR, ON_GLOBAL, 0, 3, default_pool, NULL, check_pool, 0,
      "Default storage pool" },
    { "default_pool_kernel", PROP_STR, ON_GLOBAL, 0, 3, default_from_global, "default_pool",
      check_pool, 0, "Default storage pool for kernel volumes" },
    { "default_pool_private", PROP_STR, ON_GLOBAL, 0, 3, default_from_global, "default_pool",
      check_pool, 0, "Default storage pool for private volumes" },
    { "default_pool_root", PROP_STR, ON_GLOBAL, 0, 3, default_from_global, "default_pool",
      check_pool, 0, "Default storage pool for root volumes" },
    { "default_pool_volatile", PROP_STR, ON_GLOBAL, 0, 3, default_from_global, "default_pool",
      check_pool, 0, "Default storage pool for volatile volumes" },
    { "default_qrexec_timeout", PROP_INT, ON_GLOBAL, 0, 3, default_const, "60", check_positive,
      0, "Default time in seconds after which qrexec connection attempt is deemed failed" },
    { "default_shutdown_timeout", PROP_INT, ON_GLOBAL, 0, 3, default_const, "60",
      check_positive, 0, "Default time in seconds for VM shutdown to complete" },
    { "default_template", PROP_VM, ON_GLOBAL, PROP_ALLOW_NONE, 3, default_none, NULL, NULL,
      ON(QUBE_TEMPLATEVM), "Default template for new AppVMs" },
    { "default_virt_mode", PROP_STR, ON_GLOBAL, PROP_LOWERCASE, 3, default_const, "sandbox",
      check_virt_mode, 0,
      "Default isolation of new qubes: \"sandbox\" (Linux namespaces) or \"vm\" (QEMU "
      "micro-VM)" },
    { "management_dispvm", PROP_VM, ON_GLOBAL, PROP_ALLOW_NONE, 3, default_const_none, NULL,
      check_dispvm_template, 0, "Default DispVM base for managing VMs" },
    { "maxmem", PROP_INT, ON_GLOBAL, PROP_READONLY, 3, default_host_memory, NULL, NULL, 0,
      "Maximum number of memory available for VMs" },
    { "no_cpus", PROP_INT, ON_GLOBAL, PROP_READONLY, 3, default_host_cpus, NULL, NULL, 0,
      "Number of CPUs available for VMs" },
    { "stats_interval", PROP_INT, ON_GLOBAL, 0, 3, default_const, "3", check_positive, 0,
      "Interval in seconds for VM stats reporting (memory, CPU usage)" },
    { "updatevm", PROP_VM, ON_GLOBAL, PROP_ALLOW_NONE, 3, default_const_none, NULL, NULL, 0,
      "Which VM to use as yum proxy for updating AdminVM and TemplateVMs" },
};
/* clang-format on */

/* The listing order of each holder kind: [class] for qubes, [COUNT] = app,
 * and the same sets sorted by name for lookups. */
static const struct prop_def *order[QUBE_CLASS_COUNT + 1][PROP_MAX];
static const struct prop_def *by_name[QUBE_CLASS_COUNT + 1][PROP_MAX];
static size_t order_len[QUBE_CLASS_COUNT + 1];

static int by_name_cmp(const void *a, const void *b)
{
    return strcmp((*(const struct prop_def *const *)a)->name,
                  (*(const struct prop_def *const *)b)->name);
}

static int by_stage_then_name(const void *a, const void *b)
{
    const struct prop_def *x = *(const struct prop_def *const *)a;
    const struct prop_def *y = *(const struct prop_def *const *)b;
    if (x->load_stage != y->load_stage)
        return x->load_stage - y->load_stage;
    return strcmp(x->name, y->name);
}

int prop_table_check(struct qerror *err)
{
    if (ARRAY_SIZE(table) > PROP_MAX)
        return qerror_set(err, ERR_QUBES_EXCEPTION, "property table exceeds PROP_MAX");
    memset(order_len, 0, sizeof(order_len));
    for (size_t i = 0; i < ARRAY_SIZE(table); i++) {
        table[i].index = i;
        for (size_t h = 0; h <= QUBE_CLASS_COUNT; h++)
            if (table[i].holders & (1u << h))
                order[h][order_len[h]++] = &table[i];
    }
    for (size_t h = 0; h <= QUBE_CLASS_COUNT; h++) {
        qsort(order[h], order_len[h], sizeof(order[h][0]), by_stage_then_name);
        memcpy(by_name[h], order[h], order_len[h] * sizeof(order[h][0]));
        qsort(by_name[h], order_len[h], sizeof(by_name[h][0]), by_name_cmp);
    }
    return 0;
}

static const char *def_name_at(const void *array, size_t i)
{
    return ((const struct prop_def *const *)array)[i]->name;
}

static const struct prop_def *find_in(size_t holder, const char *name)
{
    bool found;
    size_t i = sorted_lower_bound(by_name[holder], 0, order_len[holder], name, def_name_at, &found);
    return found ? by_name[holder][i] : NULL;
}

const struct prop_def *prop_find(enum qube_class cls, const char *name)
{
    return find_in(cls, name);
}

const struct prop_def *prop_find_global(const char *name)
{
    return find_in(QUBE_CLASS_COUNT, name);
}

const struct prop_def *const *prop_list(const struct qube *q, size_t *n)
{
    size_t h = q ? (size_t)q->cls : QUBE_CLASS_COUNT;
    *n = order_len[h];
    return order[h];
}

const char *prop_type_name(enum prop_type type)
{
    switch (type) {
    case PROP_STR: return "str";
    case PROP_INT: return "int";
    case PROP_BOOL: return "bool";
    case PROP_VM: return "vm";
    case PROP_LABEL: return "label";
    }
    return "str";
}

char **prop_slot(struct app *app, struct qube *q, const struct prop_def *def)
{
    return q ? &q->props[def->index] : &app->props[def->index];
}

static const char *slot_value(const struct app *app, const struct qube *q,
                              const struct prop_def *def)
{
    return q ? q->props[def->index] : app->props[def->index];
}

struct qube *qube_template(const struct app *app, const struct qube *q)
{
    if (!q || !(ON(q->cls) & TPL_CHILDREN))
        return NULL;
    const struct prop_def *def = prop_find(q->cls, "template");
    const char *name = def ? q->props[def->index] : NULL;
    return name && *name ? app_find(app, name) : NULL;
}

int prop_default(const struct app *app, const struct qube *q, const struct prop_def *def,
                 struct buf *out)
{
    buf_reset(out);
    if ((def->flags & PROP_IDENTITY) && q->cls != QUBE_ADMINVM)
        return 1;
    if (def->flags & PROP_INHERIT) {
        /* a template chain is at most two deep (DispVM -> AppVM -> TemplateVM);
         * the bound guards against a corrupted store */
        const struct qube *t = qube_template(app, q);
        for (int depth = 0; t && depth < 8; depth++) {
            const struct prop_def *tdef = prop_find(t->cls, def->name);
            if (!tdef)
                break;
            const char *v = t->props[tdef->index];
            if (v) {
                buf_append_str(out, v);
                return 0;
            }
            if (!(tdef->flags & PROP_INHERIT))
                return tdef->get_default(app, t, tdef, out);
            const struct qube *next = qube_template(app, t);
            if (!next)
                return tdef->get_default(app, t, tdef, out);
            t = next;
        }
    }
    return def->get_default(app, q, def, out);
}

int prop_value(const struct app *app, const struct qube *q, const struct prop_def *def,
               struct buf *out)
{
    if (def->flags & PROP_IDENTITY) {
        buf_reset(out);
        return default_identity(app, q, def, out);
    }
    const char *v = slot_value(app, q, def);
    if (v) {
        buf_reset(out);
        buf_append_str(out, v);
        return 0;
    }
    return prop_default(app, q, def, out);
}

bool prop_is_default(const struct app *app, const struct qube *q, const struct prop_def *def)
{
    /* identity is given at creation, except dom0's, which is fixed */
    if (def->flags & PROP_IDENTITY)
        return q->cls == QUBE_ADMINVM;
    return slot_value(app, q, def) == NULL;
}

static const struct prop_def *find_for(const struct qube *q, const char *name)
{
    return q ? prop_find(q->cls, name) : prop_find_global(name);
}

struct qube *prop_value_qube(const struct app *app, const struct qube *q, const char *name)
{
    const struct prop_def *def = find_for(q, name);
    if (!def)
        return NULL;
    _cleanup_buf_ struct buf v = BUF_INIT;
    if (prop_value(app, q, def, &v) != 0 || v.len == 0)
        return NULL;
    return app_find(app, v.data);
}

long long prop_value_int(const struct app *app, const struct qube *q, const char *name,
                         long long fallback)
{
    const struct prop_def *def = find_for(q, name);
    _cleanup_buf_ struct buf v = BUF_INIT;
    long long n;
    if (!def || prop_value(app, q, def, &v) != 0 ||
        parse_ll(v.data ? v.data : "", LLONG_MIN, LLONG_MAX, 0, &n) < 0)
        return fallback;
    return n;
}

bool prop_value_bool(const struct app *app, const struct qube *q, const char *name)
{
    const struct prop_def *def = find_for(q, name);
    _cleanup_buf_ struct buf v = BUF_INIT;
    return def && prop_value(app, q, def, &v) == 0 && v.data && strcmp(v.data, "True") == 0;
}

struct qube *qube_netvm(const struct app *app, const struct qube *q)
{
    if (!q || q->cls == QUBE_ADMINVM)
        return NULL;
    return prop_value_qube(app, q, "netvm");
}

void prop_serialize(const struct app *app, const struct qube *q, const struct prop_def *def,
                    struct buf *out)
{
    _cleanup_buf_ struct buf v = BUF_INIT;
    int rc = prop_value(app, q, def, &v);
    /* hot path of GetAll (qvm-ls): plain appends, no printf */
    buf_append_str(out,
                   prop_is_default(app, q, def) ? "default=True type=" : "default=False type=");
    buf_append_str(out, prop_type_name(def->type));
    buf_append_char(out, ' ');
    if (rc == 0 && v.len)
        buf_append(out, v.data, v.len);
}

void prop_help(const struct prop_def *def, struct buf *out)
{
    /* format_doc: collapse all whitespace runs into single spaces */
    const char *p = def->doc ? def->doc : "";
    bool space = false;
    while (*p && isspace((unsigned char)*p))
        p++;
    for (; *p; p++) {
        if (isspace((unsigned char)*p)) {
            space = true;
            continue;
        }
        if (space)
            buf_append_char(out, ' ');
        space = false;
        buf_append_char(out, *p);
    }
}

int prop_sanitize(const struct app *app, const struct qube *q, const struct prop_def *def,
                  const char *untrusted_value, size_t len, struct buf *canonical,
                  struct qerror *err)
{
    buf_reset(canonical);
    if (memchr(untrusted_value, '\0', len) || !all_printable(untrusted_value, len))
        return qerror_set(err, ERR_QUBES_VALUE_ERROR, "Invalid characters in property value");
    _cleanup_free_ char *value = xstrndup(untrusted_value, len);

    switch (def->type) {
    case PROP_BOOL: {
        bool b;
        if (parse_bool(value, 0, &b) == 0) {
            buf_append_str(canonical, b ? "True" : "False");
            return 0;
        }
        _cleanup_buf_ struct buf r = BUF_INIT;
        py_repr(&r, value, len);
        return qerror_set(err, ERR_QUBES_VALUE_ERROR, "Invalid literal for boolean property: %s",
                          r.data);
    }
    case PROP_INT: {
        long long n;
        /* Python's int() accepts surrounding whitespace and a '+' */
        const char *s = value;
        while (isspace((unsigned char)*s))
            s++;
        char *e = value + strlen(value);
        while (e > s && isspace((unsigned char)e[-1]))
            *--e = '\0';
        if (parse_ll(s, LLONG_MIN, LLONG_MAX, PARSE_PLUS, &n) < 0 || strlen(s) > 19)
            return qerror_set(err, ERR_QUBES_VALUE_ERROR, "Failed to parse property value as int");
        buf_printf(canonical, "%lld", n);
        return 0;
    }
    case PROP_VM: {
        if (len == 0) {
            if (!(def->flags & PROP_ALLOW_NONE))
                return qerror_set(err, ERR_QUBES_PROPERTY_VALUE_ERROR,
                                  "Property %s cannot be set to None", def->name);
            return 0;
        }
        if (validate_qube_name(value, NULL, err) < 0)
            return -1;
        const struct qube *target = app_find(app, value);
        if (!target)
            return qerror_set(err, ERR_QUBES_VM_NOT_FOUND_ERROR, "No such domain: '%s'", value);
        if (def->vm_class_mask && !(def->vm_class_mask & ON(target->cls))) {
            /* name the first allowed class, as Qubes names vmclass */
            const char *want = "TemplateVM";
            for (int c = 0; c < QUBE_CLASS_COUNT; c++)
                if (def->vm_class_mask & ON(c)) {
                    want = qube_class_name((enum qube_class)c);
                    break;
                }
            return qerror_set(err, ERR_QUBES_PROPERTY_VALUE_ERROR,
                              "wrong VM class: domains['%s'] is of type %s and not %s", value,
                              qube_class_name(target->cls), want);
        }
        buf_append_str(canonical, target->name);
        return 0;
    }
    case PROP_LABEL: {
        const struct label *l = app_label_lookup(app, value);
        if (!l)
            return qerror_set(err, ERR_QUBES_LABEL_NOT_FOUND_ERROR, "Label does not exist: %s",
                              value);
        buf_append_str(canonical, l->name);
        return 0;
    }
    case PROP_STR:
        /* Python's string.printable lets tab, newline, CR, VT and FF through;
         * a control character in a value (a kernel command line, a user name)
         * is refused as the other unprintable ones are */
        if (!all_printable_ascii(value, len))
            return qerror_set(err, ERR_QUBES_VALUE_ERROR, "Invalid characters in property value");
        if (def->flags & PROP_LOWERCASE)
            for (char *c = value; *c; c++)
                *c = (char)tolower((unsigned char)*c);
        buf_append_str(canonical, value);
        return 0;
    }
    (void)q;
    return 0;
}

int prop_check_writable(const struct qube *q, const struct prop_def *def, bool reset,
                        struct qerror *err)
{
    const char *holder = q ? qube_class_name(q->cls) : "Qubes";
    if ((def->flags & PROP_READONLY) ||
        (q && q->cls == QUBE_ADMINVM && (def->flags & PROP_WRITE_ONCE)))
        return qerror_set(err, ERR_QUBES_PROPERTY_VALUE_ERROR,
                          "property '%s' on %s instance cannot be set", def->name, holder);
    if (def->flags & PROP_WRITE_ONCE)
        return qerror_set(err, ERR_QUBES_PROPERTY_VALUE_ERROR,
                          "property '%s' is write-once and already set", def->name);
    if (reset && (def->flags & PROP_NO_RESET))
        return qerror_set(err, ERR_QUBES_VALUE_ERROR, "Cannot unset %s", def->name);
    if ((def->flags & PROP_HALTED_ONLY) && q && q->runtime)
        return qerror_set(err, ERR_QUBES_VM_NOT_HALTED_ERROR,
                          "Cannot change %s while qube is running", def->name);
    return 0;
}

int prop_check_change(struct app *app, struct qube *q, const struct prop_def *def,
                      const char *new_value, struct qerror *err)
{
    if (!def->check)
        return 0;
    char **slot = prop_slot(app, q, def);
    char *saved = *slot;
    *slot = (char *)new_value;
    _cleanup_buf_ struct buf v = BUF_INIT;
    int has = prop_value(app, q, def, &v);
    int rc = def->check(app, q, def, has == 0 ? v.data ? v.data : "" : NULL, err);
    *slot = saved;
    return rc;
}

bool prop_find_reference(const struct app *app, const struct qube *q, const char **holder,
                         const char **prop)
{
    for (size_t i = 0; i <= app->n_qubes; i++) {
        const struct qube *h = i < app->n_qubes ? app->qubes[i] : NULL;
        if (h == q)
            continue;
        size_t n;
        const struct prop_def *const *defs = prop_list(h, &n);
        for (size_t d = 0; d < n; d++) {
            if (defs[d]->type != PROP_VM)
                continue;
            if (prop_value_qube(app, h, defs[d]->name) == q) {
                *holder = h ? h->name : "the global properties";
                *prop = defs[d]->name;
                return true;
            }
        }
    }
    return false;
}
