/* admin.vm.volume.* (reference §2.1, upstream qubes/api/admin.py) and the
 * dom0-only import flow internal.vm.volume.ImportBegin/ImportEnd.
 *
 * Import: qubesd takes at most 64 KiB per request, so volume data never
 * travels through it. As upstream's admin.vm.volume.Import(WithSize) script
 * does, the caller (qvm-volume import, running as root in dom0) asks
 * internal.vm.volume.ImportBegin+<volume> (payload: the size in bytes, or
 * empty for the volume's current size) and gets "<size> <path>": a fresh
 * sparse -import.img of that size. It writes the data there itself (sparse,
 * fdatasync), then calls internal.vm.volume.ImportEnd+<volume> with payload
 * "ok" (commit: the import becomes the volume's image, the old one a
 * revision) or "fail\n<reason>" (the import file is removed). As upstream's
 * qubesd.internal.sock, whose input is trusted, they take any source (the
 * dom0 service passes the calling qube); they are never qrexec services
 * (admin_services.c), so only dom0's own processes reach them. */
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "common/parse.h"
#include "qubesd/api.h"
#include "qubesd/change.h"
#include "qubesd/events.h"
#include "qubesd/storage_glue.h"

#define MAX_PENDING_CLONES 256

/* The destination's volumes, and the one named by the argument. */
struct volume_call {
    struct qube_storage s;
    struct storage_volume *v;
};

static void volume_call_close(struct volume_call *vc)
{
    qube_storage_close(&vc->s);
}
#define _cleanup_volume_call_ __attribute__((cleanup(volume_call_close)))

/* A volume the destination does not have: admin.py's enforce_arg hides
 * whether it exists (PermissionDenied); internal.py, whose caller is dom0,
 * says so (ProtocolError). Both name it "Argument not in <qube> volumes". */
static int find_volume(struct api_call *call, struct volume_call *vc, enum qerror_kind unknown,
                       struct qerror *err)
{
    memset(vc, 0, sizeof(*vc));
    if (qube_storage_open(call->app, call->dest, &vc->s, err) < 0)
        return -1;
    vc->v = qube_storage_find(&vc->s, call->arg);
    if (!vc->v)
        return unknown == ERR_PERMISSION_DENIED
                   ? qerror_set(err, unknown, "Argument not in '%s volumes'", call->dest->name)
                   : qerror_set(err, unknown, "Argument not in %s volumes", call->dest->name);
    return 0;
}

static int open_volume(struct api_call *call, struct volume_call *vc, struct qerror *err)
{
    return find_volume(call, vc, ERR_PERMISSION_DENIED, err);
}

static int require_halted(const struct api_call *call, const struct volume_call *vc,
                          struct qerror *err)
{
    if (qube_storage_started(&vc->s))
        return qerror_set(err, ERR_QUBES_VM_NOT_HALTED_ERROR, "Domain is not powered off: '%s'",
                          call->dest->name);
    return 0;
}

/* The payload with surrounding whitespace removed (Python's strip()). */
static char *stripped_payload(const struct api_call *call, struct qerror *err)
{
    char *s;
    if (api_payload_string(call, &s, err) < 0)
        return NULL;
    size_t len = strlen(s), start = 0;
    while (len && isspace((unsigned char)s[len - 1]))
        s[--len] = '\0';
    while (s[start] && isspace((unsigned char)s[start]))
        start++;
    memmove(s, s + start, len - start + 1);
    return s;
}

/* Upstream validate_number: decimal digits, at most 19, no leading zeros;
 * name starts its messages ("Size", "Size of new data"). */
static int parse_number(const char *s, const char *name, bool allow_negative, long long *out,
                        struct qerror *err)
{
    bool negative = allow_negative && s[0] == '-';
    const char *d = negative ? s + 1 : s;
    bool digits = *d != '\0';
    for (const char *c = d; *c; c++)
        digits = digits && *c >= '0' && *c <= '9';
    if (!digits)
        return qerror_set(err, ERR_PROTOCOL_ERROR, "%s contains non ASCII digits", name);
    if (strlen(d) >= 20)
        return qerror_set(err, ERR_PROTOCOL_ERROR, "%s is bigger than 19 decimal digits", name);
    if (d[0] == '0' && d[1])
        return qerror_set(err, ERR_PROTOCOL_ERROR, "%s contains spurious leading zeros", name);
    long long v;
    if (parse_ll(d, 0, LLONG_MAX, PARSE_NO_LEADING_ZEROS, &v) < 0)
        return qerror_set(err, ERR_PROTOCOL_ERROR, "%s is bigger than 19 decimal digits", name);
    *out = negative ? -v : v;
    return 0;
}

static int parse_size(const char *s, bool allow_negative, long long *out, struct qerror *err)
{
    return parse_number(s, "Size", allow_negative, out, err);
}

static int volume_list(struct api_call *call, struct qerror *err)
{
    struct qube_storage s;
    if (qube_storage_open(call->app, call->dest, &s, err) < 0)
        return -1;
    for (size_t i = 0; i < s.n; i++)
        buf_printf(&call->out, "%s\n", s.vol[i].name);
    qube_storage_close(&s);
    return 0;
}

static int volume_info(struct api_call *call, struct qerror *err)
{
    _cleanup_volume_call_ struct volume_call vc = { 0 };
    if (open_volume(call, &vc, err) < 0)
        return -1;
    const struct storage_volume *v = vc.v;
    const struct pool_driver *d = v->pool->driver;
    uint64_t size, usage;
    d->usage(v->pool, v, &size, &usage);
    _cleanup_free_ char *path = d->path(v->pool, v);
    struct buf *o = &call->out;
    buf_printf(o, "pool=%s\n", v->pool->name);
    buf_printf(o, "vid=%s\n", v->vid);
    buf_printf(o, "size=%llu\n", (unsigned long long)size);
    buf_printf(o, "usage=%llu\n", (unsigned long long)usage);
    buf_printf(o, "rw=%s\n", storage_bool_str(v->rw));
    buf_printf(o, "source=%s\n", v->source ? v->source->vid : "");
    buf_printf(o, "path=%s\n", path);
    buf_printf(o, "save_on_stop=%s\n", storage_bool_str(v->save_on_stop));
    buf_printf(o, "snap_on_start=%s\n", storage_bool_str(v->snap_on_start));
    buf_printf(o, "revisions_to_keep=%lld\n", v->revisions_to_keep);
    buf_printf(o, "ephemeral=%s\n", storage_bool_str(v->ephemeral));
    int outdated = d->is_outdated(v->pool, v);
    if (outdated >= 0)
        buf_printf(o, "is_outdated=%s\n", storage_bool_str(outdated));
    return 0;
}

static int volume_list_snapshots(struct api_call *call, struct qerror *err)
{
    _cleanup_volume_call_ struct volume_call vc = { 0 };
    if (open_volume(call, &vc, err) < 0)
        return -1;
    struct storage_revision *revs;
    size_t n;
    if (vc.v->pool->driver->revisions(vc.v->pool, vc.v, &revs, &n, err) < 0)
        return -1;
    for (size_t i = 0; i < n; i++)
        buf_printf(&call->out, "%s\n", revs[i].id);
    free(revs);
    return 0;
}

static int volume_revert(struct api_call *call, struct qerror *err)
{
    _cleanup_volume_call_ struct volume_call vc = { 0 };
    if (open_volume(call, &vc, err) < 0)
        return -1;
    _cleanup_free_ char *rev = stripped_payload(call, err);
    if (!rev)
        return -1;
    for (const char *c = rev; *c; c++)
        if (!isalnum((unsigned char)*c) && !strchr(":_.-", *c))
            return api_protocol_error(err, "Invalid revision");
    if (vc.v->pool->driver->revert(vc.v->pool, vc.v, rev, err) < 0)
        return -1;
    log_info("qube=%s op=volume-revert volume=%s revision=%s", call->dest->name, vc.v->name, rev);
    return 0;
}

static void record_size(struct api_call *call, const struct storage_volume *v)
{
    uint64_t size, usage;
    v->pool->driver->usage(v->pool, v, &size, &usage);
    char num[32];
    snprintf(num, sizeof(num), "%llu", (unsigned long long)size);
    struct qerror e = { 0 };
    if (change_set_volume_key(call->app, call->dest, v->name, "size", num, &e) < 0)
        log_warning("qube=%s volume=%s op=record-size result=error: %s", call->dest->name, v->name,
                    e.message);
}

static int volume_resize(struct api_call *call, struct qerror *err)
{
    _cleanup_volume_call_ struct volume_call vc = { 0 };
    if (open_volume(call, &vc, err) < 0)
        return -1;
    _cleanup_free_ char *text = stripped_payload(call, err);
    long long size;
    if (!text || parse_size(text, false, &size, err) < 0)
        return -1;
    if (vc.v->pool->driver->resize(vc.v->pool, vc.v, (uint64_t)size, err) < 0)
        return -1;
    char num[32];
    snprintf(num, sizeof(num), "%lld", size);
    if (change_set_volume_key(call->app, call->dest, vc.v->name, "size", num, err) < 0)
        return -1;
    log_info("qube=%s op=volume-resize volume=%s size=%lld", call->dest->name, vc.v->name, size);
    return 0;
}

static void fire_import(struct api_call *call, const char *event, const char *key,
                        const char *value)
{
    const char *keys[] = { "volume", key }, *values[] = { call->arg, value };
    app_fire(call->app, call->dest, event, 2, keys, values);
}

static int volume_clear(struct api_call *call, struct qerror *err)
{
    _cleanup_volume_call_ struct volume_call vc = { 0 };
    if (open_volume(call, &vc, err) < 0 || require_halted(call, &vc, err) < 0)
        return -1;
    const struct storage_volume *v = vc.v;
    uint64_t size, usage;
    v->pool->driver->usage(v->pool, v, &size, &usage);
    _cleanup_free_ char *path = NULL;
    if (v->pool->driver->import_begin(v->pool, v, size, &path, err) < 0)
        return -1;
    char num[32];
    snprintf(num, sizeof(num), "%llu", (unsigned long long)size);
    fire_import(call, "domain-volume-import-begin", "size", num);
    int rc = v->pool->driver->import_end(v->pool, v, true, err);
    fire_import(call, "domain-volume-import-end", "success", storage_bool_str(rc == 0));
    return rc;
}

static int volume_clone_from(struct api_call *call, struct qerror *err)
{
    _cleanup_volume_call_ struct volume_call vc = { 0 };
    if (open_volume(call, &vc, err) < 0)
        return -1;
    if (call->app->clone_tokens.n >= MAX_PENDING_CLONES)
        return qerror_set(err, ERR_QUBES_EXCEPTION, "Too many pending volume clones");
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    unsigned char rnd[32];
    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
        return qerror_set(err, ERR_QUBES_EXCEPTION, "no randomness for a clone token");
    char token[33];
    for (size_t i = 0; i < 32; i++)
        token[i] = alphabet[rnd[i] % (sizeof(alphabet) - 1)];
    token[32] = '\0';
    _cleanup_free_ char *target = xasprintf("%s:%s", call->dest->uuid, vc.v->name);
    kv_set(&call->app->clone_tokens, token, target);
    buf_append_str(&call->out, token);
    return 0;
}

static int volume_clone_to(struct api_call *call, struct qerror *err)
{
    _cleanup_volume_call_ struct volume_call vc = { 0 };
    if (open_volume(call, &vc, err) < 0)
        return -1;
    _cleanup_free_ char *token = stripped_payload(call, err);
    if (!token)
        return -1;
    const char *target = kv_get(&call->app->clone_tokens, token);
    if (!target)
        return qerror_set(err, ERR_QUBES_VOLUME_COPY_TOKEN_NOT_FOUND_ERROR,
                          "Token to clone volume of qube was not found");
    /* one use only, whatever happens next */
    _cleanup_free_ char *src_ref = xstrdup(target);
    kv_del(&call->app->clone_tokens, token);
    char *colon = strchr(src_ref, ':');
    *colon = '\0';
    struct qube *src_q = app_find_uuid(call->app, src_ref);
    if (!src_q)
        return api_protocol_error(err, "Source volume of the clone no longer exists");
    if (require_halted(call, &vc, err) < 0)
        return -1;
    struct qube_storage src_s;
    if (qube_storage_open(call->app, src_q, &src_s, err) < 0)
        return -1;
    int rc = -1;
    const struct storage_volume *src = qube_storage_find(&src_s, colon + 1);
    _cleanup_free_ char *src_path = NULL;
    if (!src)
        api_protocol_error(err, "Source volume of the clone no longer exists");
    else if (src->pool->driver->export_path(src->pool, src, &src_path, err) == 0 &&
             vc.v->pool->driver->clone_from(vc.v->pool, vc.v, src_path, err) == 0)
        rc = 0;
    qube_storage_close(&src_s);
    if (rc == 0) {
        record_size(call, vc.v);
        log_info("qube=%s op=volume-clone volume=%s from=%s", call->dest->name, vc.v->name,
                 src_q->name);
    }
    return rc;
}

static int volume_set_revisions_to_keep(struct api_call *call, struct qerror *err)
{
    _cleanup_volume_call_ struct volume_call vc = { 0 };
    if (open_volume(call, &vc, err) < 0)
        return -1;
    _cleanup_free_ char *text = NULL;
    if (api_payload_string(call, &text, err) < 0)
        return -1;
    long long value;
    if (parse_size(text, true, &value, err) < 0)
        return -1;
    if (value < -1)
        return qerror_set(err, ERR_QUBES_VALUE_ERROR, "Invalid value for revisions_to_keep");
    if (value == -1 && !vc.v->save_on_stop)
        return qerror_set(err, ERR_QUBES_VALUE_ERROR,
                          "revisions_to_keep=-1 is only possible for save_on_stop volumes");
    if ((value == -1 || vc.v->revisions_to_keep == -1) && require_halted(call, &vc, err) < 0)
        return -1;
    char num[32];
    snprintf(num, sizeof(num), "%lld", value);
    return change_set_volume_key(call->app, call->dest, vc.v->name, "revisions_to_keep", num, err);
}

static int volume_set_bool(struct api_call *call, const char *key, struct qerror *err)
{
    _cleanup_volume_call_ struct volume_call vc = { 0 };
    if (open_volume(call, &vc, err) < 0)
        return -1;
    _cleanup_free_ char *text = NULL;
    bool value;
    if (api_payload_string(call, &text, err) < 0)
        return -1;
    if (parse_bool(text, PARSE_BOOL_EMPTY_FALSE, &value) < 0)
        return api_protocol_error(err, "Invalid value");
    if (require_halted(call, &vc, err) < 0)
        return -1;
    const struct storage_volume *v = vc.v;
    if (strcmp(key, "ephemeral") == 0 && value && (v->snap_on_start || v->save_on_stop || !v->rw))
        return qerror_set(err, ERR_QUBES_VALUE_ERROR,
                          "Cannot set ephemeral on a volume that is snap_on_start, "
                          "save_on_stop or read-only");
    return change_set_volume_key(call->app, call->dest, v->name, key, storage_bool_str(value), err);
}

static int volume_set_rw(struct api_call *call, struct qerror *err)
{
    return volume_set_bool(call, "rw", err);
}

static int volume_set_ephemeral(struct api_call *call, struct qerror *err)
{
    return volume_set_bool(call, "ephemeral", err);
}

/* ---- import from dom0 ---- */

/* internal.py vm_volume_import: the volume, a halted qube, then the size. */
static int volume_import_begin(struct api_call *call, struct qerror *err)
{
    _cleanup_volume_call_ struct volume_call vc = { 0 };
    if (find_volume(call, &vc, ERR_PROTOCOL_ERROR, err) < 0 || require_halted(call, &vc, err) < 0)
        return -1;
    const struct storage_volume *v = vc.v;
    long long size;
    if (call->payload_len) {
        _cleanup_free_ char *text = stripped_payload(call, err);
        if (!text || parse_number(text, "Size of new data", false, &size, err) < 0)
            return -1;
    } else {
        uint64_t cur, usage;
        v->pool->driver->usage(v->pool, v, &cur, &usage);
        size = (long long)cur;
    }
    _cleanup_free_ char *path = NULL;
    if (v->pool->driver->import_begin(v->pool, v, (uint64_t)size, &path, err) < 0)
        return -1;
    if (strchr(path, ' ')) {
        struct qerror ignored;
        v->pool->driver->import_end(v->pool, v, false, &ignored);
        return api_protocol_error(err, "Path contains whitespace");
    }
    char num[32];
    snprintf(num, sizeof(num), "%lld", size);
    fire_import(call, "domain-volume-import-begin", "size", num);
    buf_printf(&call->out, "%lld %s", size, path);
    return 0;
}

static int volume_import_end(struct api_call *call, struct qerror *err)
{
    _cleanup_volume_call_ struct volume_call vc = { 0 };
    if (find_volume(call, &vc, ERR_PROTOCOL_ERROR, err) < 0)
        return -1;
    bool success = call->payload_len == 2 && memcmp(call->untrusted_payload, "ok", 2) == 0;
    if (vc.v->pool->driver->import_end(vc.v->pool, vc.v, success, err) < 0) {
        fire_import(call, "domain-volume-import-end", "success", "False");
        return -1;
    }
    fire_import(call, "domain-volume-import-end", "success", storage_bool_str(success));
    if (!success) {
        _cleanup_free_ char *reason = NULL;
        if (api_payload_string(call, &reason, err) < 0)
            return -1;
        const char *r = strncmp(reason, "fail\n", 5) == 0 ? reason + 5 : reason;
        return qerror_set(err, ERR_QUBES_EXCEPTION, "Data import failed: %s", r);
    }
    record_size(call, vc.v);
    log_info("qube=%s op=volume-import volume=%s result=ok", call->dest->name, vc.v->name);
    return 0;
}

const struct api_method api_volume_methods[] = {
    { "admin.vm.volume.List", ARG_NONE, WANT_NO, WANT_ANY, volume_list },
    { "admin.vm.volume.Info", ARG_NAME, WANT_NO, WANT_ANY, volume_info },
    { "admin.vm.volume.ListSnapshots", ARG_NAME, WANT_NO, WANT_ANY, volume_list_snapshots },
    { "admin.vm.volume.Revert", ARG_NAME, WANT_YES, WANT_ANY, volume_revert },
    { "admin.vm.volume.Resize", ARG_NAME, WANT_YES, WANT_ANY, volume_resize },
    { "admin.vm.volume.Clear", ARG_NAME, WANT_NO, WANT_ANY, volume_clear },
    { "admin.vm.volume.CloneFrom", ARG_NAME, WANT_NO, WANT_ANY, volume_clone_from },
    { "admin.vm.volume.CloneTo", ARG_NAME, WANT_YES, WANT_ANY, volume_clone_to },
    { "admin.vm.volume.Set.revisions_to_keep", ARG_NAME, WANT_YES, WANT_ANY,
      volume_set_revisions_to_keep },
    { "admin.vm.volume.Set.rw", ARG_NAME, WANT_YES, WANT_ANY, volume_set_rw },
    { "admin.vm.volume.Set.ephemeral", ARG_NAME, WANT_YES, WANT_ANY, volume_set_ephemeral },
    { "internal.vm.volume.ImportBegin", ARG_NAME, WANT_ANY, WANT_ANY, volume_import_begin },
    { "internal.vm.volume.ImportEnd", ARG_NAME, WANT_ANY, WANT_ANY, volume_import_end },
    { NULL, ARG_NONE, WANT_NO, WANT_NO, NULL },
};
