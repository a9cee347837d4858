/* The driver registry, pool configuration, and what every driver shares. */
#include "storage/pool.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/parse.h"
#include "storage/drivers.h"
#include "storage/fileops.h"

static const struct pool_driver *const drivers[] = { &file_reflink_driver, &linux_kernel_driver };

const struct pool_driver *const *storage_drivers(size_t *n)
{
    *n = ARRAY_SIZE(drivers);
    return drivers;
}

const struct pool_driver *storage_driver_find(const char *name)
{
    for (size_t i = 0; i < ARRAY_SIZE(drivers); i++)
        if (strcmp(drivers[i]->name, name) == 0)
            return drivers[i];
    return NULL;
}

static bool in_list(const char *const *list, const char *s)
{
    for (; list && *list; list++)
        if (strcmp(*list, s) == 0)
            return true;
    return false;
}

const char *storage_bool_str(bool b)
{
    return b ? "True" : "False";
}

int storage_pool_open(const char *name, const char *driver, size_t n, const char *const *keys,
                      const char *const *values, struct storage_pool *out, struct qerror *err)
{
    memset(out, 0, sizeof(*out));
    const struct pool_driver *d = storage_driver_find(driver);
    if (!d)
        return qerror_set(err, ERR_QUBES_EXCEPTION, "unexpected driver name: %s", driver);
    out->driver = d;
    out->revisions_to_keep = in_list(d->params, "revisions_to_keep") ? 1 : 0;
    out->setup_check = true;
    for (size_t i = 0; i < n; i++) {
        const char *k = keys[i], *v = values[i];
        if (!in_list(d->params, k)) {
            qerror_set(err, ERR_QUBES_EXCEPTION, "unexpected driver options: %s", k);
            goto fail;
        }
        if (strcmp(k, "dir_path") == 0) {
            if (v[0] != '/') {
                qerror_set(err, ERR_STORAGE_POOL_EXCEPTION, "dir_path must be an absolute path: %s",
                           v);
                goto fail;
            }
            size_t len = strlen(v);
            while (len > 1 && v[len - 1] == '/')
                len--;
            free(out->dir_path);
            out->dir_path = xstrndup(v, len);
        } else if (strcmp(k, "revisions_to_keep") == 0) {
            if (parse_ll(v, -1, LLONG_MAX, 0, &out->revisions_to_keep) < 0) {
                qerror_set(err, ERR_STORAGE_POOL_EXCEPTION, "Invalid revisions_to_keep value: %s",
                           v);
                goto fail;
            }
        } else if (strcmp(k, "ephemeral_volatile") == 0 || strcmp(k, "setup_check") == 0) {
            bool b;
            if (parse_bool(v, PARSE_BOOL_EMPTY_FALSE, &b) < 0) {
                qerror_set(err, ERR_STORAGE_POOL_EXCEPTION, "Invalid %s value: %s", k, v);
                goto fail;
            }
            if (k[0] == 'e')
                out->ephemeral_volatile = b;
            else
                out->setup_check = b;
        }
    }
    for (const char *const *r = d->required; r && *r; r++) {
        if (strcmp(*r, "dir_path") == 0 && !out->dir_path) {
            qerror_set(err, ERR_STORAGE_POOL_EXCEPTION, "missing required driver option: %s", *r);
            goto fail;
        }
    }
    out->name = xstrdup(name);
    return 0;
fail:
    storage_pool_close(out);
    return -1;
}

void storage_pool_close(struct storage_pool *p)
{
    free(p->name);
    free(p->dir_path);
    memset(p, 0, sizeof(*p));
}

/* One config value of a pool as text, or NULL when the pool has no such key. */
static char *config_value(const struct storage_pool *p, const char *key)
{
    if (strcmp(key, "name") == 0)
        return xstrdup(p->name);
    if (strcmp(key, "driver") == 0)
        return xstrdup(p->driver->name);
    if (strcmp(key, "dir_path") == 0)
        return xstrdup(p->dir_path ? p->dir_path : "");
    if (strcmp(key, "revisions_to_keep") == 0)
        return xasprintf("%lld", p->revisions_to_keep);
    if (strcmp(key, "ephemeral_volatile") == 0)
        return xstrdup(storage_bool_str(p->ephemeral_volatile));
    if (strcmp(key, "setup_check") == 0)
        return xstrdup(storage_bool_str(p->setup_check));
    return NULL;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void storage_pool_config(const struct storage_pool *p, struct buf *out)
{
    size_t n_keys = 2;
    for (const char *const *k = p->driver->config_keys; *k; k++)
        n_keys++;
    _cleanup_free_ const char **keys = xcalloc(n_keys, sizeof(*keys));
    size_t n = 0;
    keys[n++] = "name";
    keys[n++] = "driver";
    for (const char *const *k = p->driver->config_keys; *k; k++)
        keys[n++] = *k;
    qsort(keys, n, sizeof(keys[0]), cmp_str);
    for (size_t i = 0; i < n; i++) {
        _cleanup_free_ char *v = config_value(p, keys[i]);
        if (v)
            buf_printf(out, "%s=%s\n", keys[i], v);
    }
}

void storage_volume_init(struct storage_volume *v)
{
    free(v->vid);
    v->vid = NULL;
    v->pool->driver->volume_init(v->pool, v);
}

void storage_volume_clear(struct storage_volume *v)
{
    free(v->vid);
    v->vid = NULL;
}

void storage_attach_clear(struct storage_attach *a)
{
    free(a->path);
    free(a->source_path);
    memset(a, 0, sizeof(*a));
}

int storage_mkfs_ext4(const char *image, const char *label, unsigned owner_uid, unsigned owner_gid,
                      const char *from_dir, struct qerror *err)
{
    char ext[96];
    /* lazy init keeps a fresh image sparse; the kernel fills the tables in
     * on first mount */
    snprintf(ext, sizeof(ext), "root_owner=%u:%u,lazy_itable_init=1,lazy_journal_init=1", owner_uid,
             owner_gid);
    const char *argv[16];
    size_t n = 0;
    argv[n++] = "mkfs.ext4";
    argv[n++] = "-q";
    argv[n++] = "-F";
    argv[n++] = "-E";
    argv[n++] = ext;
    argv[n++] = "-m";
    argv[n++] = "0";
    if (label) {
        argv[n++] = "-L";
        argv[n++] = label;
    }
    if (from_dir) {
        argv[n++] = "-d";
        argv[n++] = from_dir;
    }
    argv[n++] = image;
    argv[n] = NULL;
    if (fileops_run(argv, err) < 0) {
        qerror_prefix(err, "format %s: ", image);
        return -1;
    }
    return 0;
}
