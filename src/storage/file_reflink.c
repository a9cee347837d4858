/* The file-reflink driver (reference §4.3, upstream qubes/storage/reflink.py):
 * a volume is a set of files under <dir_path>/<vid>: <vid>.img (committed),
 * -dirty.img (in use, the path the qube sees), -precache.img (a ready copy
 * for the next start), -import.img, and revisions <vid>.img.<N>@<time>Z.
 * Copies are reflinks where the filesystem has them, sparse copies elsewhere.
 *
 * A committed image is never written in place: a commit, revert, import or
 * resize writes a new file and renames it over. So a snapshot may use the
 * committed inode itself, read-only, for as long as its hardlink pins it. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>

#include "common/cleanup.h"
#include "storage/drivers.h"
#include "storage/fileops.h"

enum img_kind { IMG_CLEAN, IMG_DIRTY, IMG_PRECACHE, IMG_IMPORT };

static char *img_path(const struct storage_pool *p, const struct storage_volume *v,
                      enum img_kind kind)
{
    static const char *const suffix[] = {
        [IMG_CLEAN] = ".img",
        [IMG_DIRTY] = "-dirty.img",
        [IMG_PRECACHE] = "-precache.img",
        [IMG_IMPORT] = "-import.img",
    };
    return xasprintf("%s/%s%s", p->dir_path, v->vid, suffix[kind]);
}

static char *vm_dir(const struct storage_pool *p, const struct storage_volume *v)
{
    _cleanup_free_ char *path = xasprintf("%s/%s", p->dir_path, v->vid);
    char *slash = strrchr(path, '/');
    return xstrndup(path, (size_t)(slash - path));
}

static int make_vm_dir(const struct storage_pool *p, const struct storage_volume *v,
                       struct qerror *err)
{
    _cleanup_free_ char *dir = vm_dir(p, v);
    return fileops_mkdirs(dir, err);
}

static void reflink_volume_init(const struct storage_pool *p, struct storage_volume *v)
{
    (void)p;
    v->vid = xasprintf("%s/%s/%s", v->dir_prefix, v->qube, v->name);
}

/* ---- revisions ---- */

static int cmp_revision(const void *a, const void *b)
{
    long long x = atoll(((const struct storage_revision *)a)->id);
    long long y = atoll(((const struct storage_revision *)b)->id);
    return (x > y) - (x < y);
}

/* Parses "<N>@YYYY-MM-DDTHH:MM:SSZ" (the part after "<vid>.img."). */
static bool parse_revision_suffix(const char *s, struct storage_revision *r)
{
    const char *at = strchr(s, '@');
    if (!at || at == s || (size_t)(at - s) >= sizeof(r->id))
        return false;
    for (const char *c = s; c < at; c++)
        if (*c < '0' || *c > '9')
            return false;
    const char *ts = at + 1;
    static const char shape[] = "dddd-dd-ddTdd:dd:ddZ";
    if (strlen(ts) != sizeof(shape) - 1)
        return false;
    for (size_t i = 0; shape[i]; i++)
        if (shape[i] == 'd' ? (ts[i] < '0' || ts[i] > '9') : ts[i] != shape[i])
            return false;
    memcpy(r->id, s, (size_t)(at - s));
    r->id[at - s] = '\0';
    memcpy(r->timestamp, ts, sizeof(shape) - 2);
    r->timestamp[sizeof(shape) - 2] = '\0';
    return true;
}

static int reflink_revisions(const struct storage_pool *p, const struct storage_volume *v,
                             struct storage_revision **out, size_t *n, struct qerror *err)
{
    *out = NULL;
    *n = 0;
    _cleanup_free_ char *dir = vm_dir(p, v);
    _cleanup_free_ char *prefix = xasprintf("%s.img.", strrchr(v->vid, '/') + 1);
    DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT || errno == ENOTDIR)
            return 0;
        return qerror_errno(err, errno, "list %s", dir);
    }
    size_t cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, prefix, strlen(prefix)) != 0)
            continue;
        struct storage_revision r;
        if (!parse_revision_suffix(e->d_name + strlen(prefix), &r))
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 8;
            *out = xrealloc(*out, cap * sizeof(**out));
        }
        (*out)[(*n)++] = r;
    }
    closedir(d);
    if (*n)
        qsort(*out, *n, sizeof(**out), cmp_revision);
    return 0;
}

static char *revision_path(const struct storage_pool *p, const struct storage_volume *v,
                           const struct storage_revision *r)
{
    return xasprintf("%s/%s.img.%s@%sZ", p->dir_path, v->vid, r->id, r->timestamp);
}

/* Keeps the newest `keep` revisions (none if keep <= 0). */
static int prune_revisions(const struct storage_pool *p, const struct storage_volume *v,
                           long long keep, struct qerror *err)
{
    struct storage_revision *revs;
    size_t n;
    if (reflink_revisions(p, v, &revs, &n, err) < 0)
        return -1;
    size_t drop = keep <= 0 ? n : n > (size_t)keep ? n - (size_t)keep : 0;
    int rc = 0;
    for (size_t i = 0; i < drop && rc == 0; i++) {
        _cleanup_free_ char *path = revision_path(p, v, &revs[i]);
        rc = fileops_remove(path, err);
    }
    free(revs);
    return rc;
}

/* The committed image becomes the next revision. A hardlink suffices: a
 * committed image is never written in place, only replaced by rename. */
static int add_revision(const struct storage_pool *p, const struct storage_volume *v,
                        struct qerror *err)
{
    if (v->revisions_to_keep <= 0)
        return 0;
    _cleanup_free_ char *clean = img_path(p, v, IMG_CLEAN);
    struct stat st;
    if (stat(clean, &st) < 0)
        return errno == ENOENT ? 0 : qerror_errno(err, errno, "stat %s", clean);
    struct storage_revision *revs;
    size_t n;
    if (reflink_revisions(p, v, &revs, &n, err) < 0)
        return -1;
    struct storage_revision r;
    snprintf(r.id, sizeof(r.id), "%lld", n ? atoll(revs[n - 1].id) + 1 : 1);
    free(revs);
    struct tm tm;
    time_t mtime = st.st_mtim.tv_sec;
    gmtime_r(&mtime, &tm);
    strftime(r.timestamp, sizeof(r.timestamp), "%Y-%m-%dT%H:%M:%S", &tm);
    _cleanup_free_ char *path = revision_path(p, v, &r);
    return fileops_hardlink(clean, path, err);
}

/* ---- the precache: a ready copy of the committed image ---- */

static int drop_precache(const struct storage_pool *p, const struct storage_volume *v,
                         struct qerror *err)
{
    _cleanup_free_ char *pre = img_path(p, v, IMG_PRECACHE);
    return fileops_remove(pre, err);
}

static int refresh_precache(const struct storage_pool *p, const struct storage_volume *v,
                            struct qerror *err)
{
    _cleanup_free_ char *clean = img_path(p, v, IMG_CLEAN);
    _cleanup_free_ char *pre = img_path(p, v, IMG_PRECACHE);
    return fileops_copy(clean, pre, UINT64_MAX, NULL, err);
}

/* A precache whose size or mtime differs from the committed image is stale. */
static int remove_stale_precache(const struct storage_pool *p, const struct storage_volume *v,
                                 struct qerror *err)
{
    _cleanup_free_ char *clean = img_path(p, v, IMG_CLEAN);
    _cleanup_free_ char *pre = img_path(p, v, IMG_PRECACHE);
    struct stat a, b;
    if (stat(pre, &b) < 0)
        return 0;
    if (stat(clean, &a) < 0 || a.st_size != b.st_size || a.st_mtim.tv_sec > b.st_mtim.tv_sec)
        return fileops_remove(pre, err);
    return 0;
}

/* Moves path_from into place as the committed image, keeping revisions. */
static int commit(const struct storage_pool *p, const struct storage_volume *v,
                  const char *path_from, struct qerror *err)
{
    _cleanup_free_ char *clean = img_path(p, v, IMG_CLEAN);
    if (add_revision(p, v, err) < 0 || prune_revisions(p, v, v->revisions_to_keep, err) < 0 ||
        drop_precache(p, v, err) < 0 || fileops_rename(path_from, clean, err) < 0)
        return -1;
    return refresh_precache(p, v, err);
}

/* ---- removal ---- */

static int remove_incomplete(const struct storage_pool *p, const struct storage_volume *v,
                             struct qerror *err)
{
    _cleanup_free_ char *dir = vm_dir(p, v);
    const char *base = strrchr(v->vid, '/') + 1;
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        size_t blen = strlen(base);
        while ((e = readdir(d)) != NULL) {
            /* "<volume>...img...~XXXXXX": a temporary file of a crashed copy */
            if (strncmp(e->d_name, base, blen) == 0 && strchr(e->d_name + blen, '~') &&
                strstr(e->d_name + blen, ".img")) {
                _cleanup_free_ char *path = xasprintf("%s/%s", dir, e->d_name);
                if (fileops_remove(path, err) < 0) {
                    closedir(d);
                    return -1;
                }
            }
        }
        closedir(d);
    }
    _cleanup_free_ char *imp = img_path(p, v, IMG_IMPORT);
    return fileops_remove(imp, err);
}

static int remove_all_images(const struct storage_pool *p, const struct storage_volume *v,
                             struct qerror *err)
{
    static const enum img_kind kinds[] = { IMG_CLEAN, IMG_PRECACHE, IMG_DIRTY };
    if (remove_incomplete(p, v, err) < 0 || prune_revisions(p, v, 0, err) < 0)
        return -1;
    for (size_t i = 0; i < ARRAY_SIZE(kinds); i++) {
        _cleanup_free_ char *path = img_path(p, v, kinds[i]);
        if (fileops_remove(path, err) < 0)
            return -1;
    }
    return 0;
}

static int reflink_remove(const struct storage_pool *p, const struct storage_volume *v,
                          struct qerror *err)
{
    if (remove_all_images(p, v, err) < 0)
        return -1;
    _cleanup_free_ char *dir = vm_dir(p, v);
    return fileops_rmdir_if_empty(dir, err);
}

/* ---- life cycle ---- */

static int reflink_create(const struct storage_pool *p, const struct storage_volume *v,
                          struct qerror *err)
{
    if (remove_all_images(p, v, err) < 0 || make_vm_dir(p, v, err) < 0)
        return -1;
    if (!v->save_on_stop || v->snap_on_start)
        return 0;
    /* built under the import name, so a crash leaves no half-made image */
    _cleanup_free_ char *imp = img_path(p, v, IMG_IMPORT);
    _cleanup_free_ char *clean = img_path(p, v, IMG_CLEAN);
    if (fileops_create_sparse(imp, v->size, err) < 0)
        return -1;
    if (v->format && storage_mkfs_ext4(imp, v->name, v->fs_uid, v->fs_uid, NULL, err) < 0) {
        struct qerror ignored;
        fileops_remove(imp, &ignored);
        return -1;
    }
    if (fileops_rename(imp, clean, err) < 0)
        return -1;
    return refresh_precache(p, v, err);
}

static bool reflink_is_dirty(const struct storage_pool *p, const struct storage_volume *v)
{
    _cleanup_free_ char *dirty = img_path(p, v, IMG_DIRTY);
    return v->save_on_stop && fileops_exists(dirty);
}

/* Whether another name (a running snapshot's hardlink, a revision) holds
 * this image's inode: then it must not become a writable image in place. */
static bool image_shared(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && st.st_nlink > 1;
}

/* A snapshot volume: its own name for the source's committed image pins
 * that inode for the run. Read-only snapshots (the driver layers a writable
 * layer over them) stop there; otherwise the qube gets a private copy. */
static int start_snapshot(const struct storage_pool *p, const struct storage_volume *v,
                          struct storage_attach *out, struct qerror *err)
{
    if (!v->source)
        return qerror_set(err, ERR_STORAGE_POOL_EXCEPTION, "volume %s has no source", v->vid);
    _cleanup_free_ char *clean = img_path(p, v, IMG_CLEAN);
    _cleanup_free_ char *src = img_path(v->source->pool, v->source, IMG_CLEAN);
    if (!fileops_exists(src)) {
        _cleanup_free_ char *src_dirty = img_path(v->source->pool, v->source, IMG_DIRTY);
        if (v->source->revisions_to_keep == -1 && fileops_exists(src_dirty))
            return qerror_set(err, ERR_STORAGE_POOL_EXCEPTION,
                              "Cannot start %s: its source %s is in use with snapshots "
                              "disabled (revisions_to_keep=-1)",
                              v->vid, v->source->vid);
        return qerror_set(err, ERR_STORAGE_POOL_EXCEPTION, "Missing image file '%s' for volume %s",
                          src, v->vid);
    }
    if (fileops_remove(clean, err) < 0 || fileops_hardlink(src, clean, err) < 0)
        return -1;
    if (v->snapshot_read_only) {
        out->source_path = steal_pointer(&clean);
        out->rw = false;
        return 0;
    }
    _cleanup_free_ char *dirty = img_path(p, v, IMG_DIRTY);
    if (fileops_copy(clean, dirty, UINT64_MAX, NULL, err) < 0)
        return -1;
    out->path = steal_pointer(&dirty);
    out->rw = v->rw;
    return 0;
}

static int reflink_start(const struct storage_pool *p, const struct storage_volume *v,
                         struct storage_attach *out, struct qerror *err)
{
    _cleanup_free_ char *clean = img_path(p, v, IMG_CLEAN);
    _cleanup_free_ char *dirty = img_path(p, v, IMG_DIRTY);
    memset(out, 0, sizeof(*out));
    if (make_vm_dir(p, v, err) < 0 || remove_incomplete(p, v, err) < 0)
        return -1;
    if (v->snap_on_start)
        return start_snapshot(p, v, out, err);
    if (v->save_on_stop) {
        if (!reflink_is_dirty(p, v)) {
            if (!fileops_exists(clean))
                return qerror_set(err, ERR_STORAGE_POOL_EXCEPTION,
                                  "Missing image file '%s' for volume %s", clean, v->vid);
            /* snapshots disabled: the committed image is used in place,
             * unless a running snapshot or a revision shares its inode */
            if (v->revisions_to_keep == -1 && !image_shared(clean)) {
                if (drop_precache(p, v, err) < 0 || fileops_rename(clean, dirty, err) < 0)
                    return -1;
            } else {
                _cleanup_free_ char *pre = img_path(p, v, IMG_PRECACHE);
                if (remove_stale_precache(p, v, err) < 0)
                    return -1;
                if (rename(pre, dirty) < 0 && fileops_copy(clean, dirty, UINT64_MAX, NULL, err) < 0)
                    return -1;
            }
        }
    } else if (fileops_create_sparse(dirty, v->size, err) < 0) {
        return -1;
    }
    out->path = steal_pointer(&dirty);
    out->rw = v->rw;
    return 0;
}

static int reflink_stop(const struct storage_pool *p, const struct storage_volume *v,
                        struct qerror *err)
{
    _cleanup_free_ char *clean = img_path(p, v, IMG_CLEAN);
    _cleanup_free_ char *dirty = img_path(p, v, IMG_DIRTY);
    if (reflink_is_dirty(p, v)) {
        if (v->revisions_to_keep == -1) {
            if (fileops_rename(dirty, clean, err) < 0)
                return -1;
            return refresh_precache(p, v, err);
        }
        return commit(p, v, dirty, err);
    }
    if (!v->save_on_stop)
        return fileops_remove(dirty, err) < 0 ? -1 : fileops_remove(clean, err);
    return 0;
}

static int reflink_resize(const struct storage_pool *p, const struct storage_volume *v,
                          uint64_t size, struct qerror *err)
{
    if (!v->rw)
        return qerror_set(err, ERR_STORAGE_POOL_EXCEPTION, "Cannot resize: %s is read-only",
                          v->vid);
    _cleanup_free_ char *dirty = img_path(p, v, IMG_DIRTY);
    if (fileops_exists(dirty))
        return fileops_truncate(dirty, size, err);
    if (v->save_on_stop && !v->snap_on_start) {
        /* a new inode: revisions and snapshots hardlinked to the old one
         * keep their size */
        _cleanup_free_ char *clean = img_path(p, v, IMG_CLEAN);
        if (drop_precache(p, v, err) < 0 || fileops_copy(clean, clean, size, NULL, err) < 0)
            return -1;
        return refresh_precache(p, v, err);
    }
    return 0;
}

static int reflink_revert(const struct storage_pool *p, const struct storage_volume *v,
                          const char *revision, struct qerror *err)
{
    if (reflink_is_dirty(p, v))
        return qerror_set(err, ERR_STORAGE_POOL_EXCEPTION,
                          "Cannot revert: %s is not cleanly stopped", v->vid);
    struct storage_revision *revs;
    size_t n;
    if (reflink_revisions(p, v, &revs, &n, err) < 0)
        return -1;
    const struct storage_revision *r = NULL;
    for (size_t i = 0; i < n; i++)
        if (!revision ? i == n - 1 : strcmp(revs[i].id, revision) == 0)
            r = &revs[i];
    if (!r) {
        free(revs);
        return qerror_set(err, ERR_QUBES_VOLUME_REVISION_NOT_FOUND_ERROR,
                          "Revision %s not found for volume %s", revision ? revision : "(latest)",
                          v->vid);
    }
    _cleanup_free_ char *path = revision_path(p, v, r);
    free(revs);
    _cleanup_free_ char *clean = img_path(p, v, IMG_CLEAN);
    if (add_revision(p, v, err) < 0 || drop_precache(p, v, err) < 0 ||
        fileops_rename(path, clean, err) < 0)
        return -1;
    return refresh_precache(p, v, err);
}

static int require_save_on_stop(const struct storage_volume *v, const char *what,
                                struct qerror *err)
{
    if (v->save_on_stop)
        return 0;
    return qerror_set(err, ERR_STORAGE_POOL_EXCEPTION, "Cannot %s: %s is not save_on_stop", what,
                      v->vid);
}

static int reflink_import_begin(const struct storage_pool *p, const struct storage_volume *v,
                                uint64_t size, char **path, struct qerror *err)
{
    if (require_save_on_stop(v, "import_data", err) < 0 || make_vm_dir(p, v, err) < 0)
        return -1;
    _cleanup_free_ char *imp = img_path(p, v, IMG_IMPORT);
    if (fileops_create_sparse(imp, size, err) < 0)
        return -1;
    *path = steal_pointer(&imp);
    return 0;
}

static int reflink_import_end(const struct storage_pool *p, const struct storage_volume *v,
                              bool success, struct qerror *err)
{
    _cleanup_free_ char *imp = img_path(p, v, IMG_IMPORT);
    if (!success)
        return fileops_remove(imp, err);
    if (!fileops_exists(imp))
        return qerror_set(err, ERR_STORAGE_POOL_EXCEPTION, "No import in progress for %s", v->vid);
    return commit(p, v, imp, err);
}

static int reflink_export_path(const struct storage_pool *p, const struct storage_volume *v,
                               char **path, struct qerror *err)
{
    if (require_save_on_stop(v, "export", err) < 0)
        return -1;
    *path = img_path(p, v, IMG_CLEAN);
    return 0;
}

static int reflink_clone_from(const struct storage_pool *p, const struct storage_volume *v,
                              const char *src_path, struct qerror *err)
{
    if (require_save_on_stop(v, "import_volume", err) < 0 || make_vm_dir(p, v, err) < 0)
        return -1;
    _cleanup_free_ char *imp = img_path(p, v, IMG_IMPORT);
    if (fileops_copy(src_path, imp, UINT64_MAX, NULL, err) < 0 || commit(p, v, imp, err) < 0) {
        struct qerror ignored;
        fileops_remove(imp, &ignored);
        return -1;
    }
    return 0;
}

static void reflink_usage(const struct storage_pool *p, const struct storage_volume *v,
                          uint64_t *size, uint64_t *usage)
{
    static const enum img_kind order[] = { IMG_DIRTY, IMG_CLEAN };
    for (size_t i = 0; i < ARRAY_SIZE(order); i++) {
        _cleanup_free_ char *path = img_path(p, v, order[i]);
        if (fileops_sizes(path, size, usage) == 0)
            return;
    }
    *size = v->size;
    *usage = 0;
}

static char *reflink_path(const struct storage_pool *p, const struct storage_volume *v)
{
    return img_path(p, v, IMG_DIRTY);
}

static int reflink_is_outdated(const struct storage_pool *p, const struct storage_volume *v)
{
    if (!v->snap_on_start || !v->source)
        return 0;
    _cleanup_free_ char *own = img_path(p, v, IMG_CLEAN);
    _cleanup_free_ char *src = img_path(v->source->pool, v->source, IMG_CLEAN);
    struct stat a, b;
    if (stat(own, &a) < 0 || stat(src, &b) < 0)
        return 0;
    return a.st_ino != b.st_ino || a.st_dev != b.st_dev;
}

static int reflink_usage_details(const struct storage_pool *p, uint64_t *size, uint64_t *usage)
{
    struct statvfs st;
    if (statvfs(p->dir_path, &st) < 0)
        return -1;
    *size = (uint64_t)st.f_frsize * st.f_blocks;
    *usage = (uint64_t)st.f_frsize * (st.f_blocks - st.f_bfree);
    return 0;
}

static int reflink_setup(const struct storage_pool *p, struct qerror *err)
{
    _cleanup_free_ char *parent = xstrdup(p->dir_path);
    char *slash = strrchr(parent, '/');
    if (slash && slash != parent) {
        *slash = '\0';
        struct stat st;
        if (stat(parent, &st) < 0)
            return qerror_errno(err, errno, "pool directory parent %s", parent);
    }
    int created = fileops_mkdir(p->dir_path, err);
    if (created < 0)
        return -1;
    if (p->setup_check && !fileops_reflink_supported(p->dir_path)) {
        if (created) {
            struct qerror ignored;
            fileops_rmdir_if_empty(p->dir_path, &ignored);
        }
        return qerror_set(err, ERR_STORAGE_POOL_EXCEPTION,
                          "The filesystem for '%s' does not support reflinks. If you can live "
                          "with VM startup delays and wasted disk space, pass the "
                          "\"setup_check=False\" option.",
                          p->dir_path);
    }
    static const char *const prefixes[] = { "appvms", "vm-templates" };
    for (size_t i = 0; i < ARRAY_SIZE(prefixes); i++) {
        _cleanup_free_ char *dir = xasprintf("%s/%s", p->dir_path, prefixes[i]);
        if (fileops_mkdir(dir, err) < 0)
            return -1;
    }
    return 0;
}

static const char *const reflink_params[] = { "revisions_to_keep", "dir_path", "setup_check",
                                              "ephemeral_volatile", NULL };
static const char *const reflink_required[] = { "dir_path", NULL };
static const char *const reflink_config_keys[] = { "dir_path", "revisions_to_keep",
                                                   "ephemeral_volatile", NULL };

const struct pool_driver file_reflink_driver = {
    .name = "file-reflink",
    .params = reflink_params,
    .required = reflink_required,
    .config_keys = reflink_config_keys,
    .setup = reflink_setup,
    .volume_init = reflink_volume_init,
    .create = reflink_create,
    .remove = reflink_remove,
    .start = reflink_start,
    .stop = reflink_stop,
    .resize = reflink_resize,
    .revert = reflink_revert,
    .revisions = reflink_revisions,
    .import_begin = reflink_import_begin,
    .import_end = reflink_import_end,
    .export_path = reflink_export_path,
    .clone_from = reflink_clone_from,
    .usage = reflink_usage,
    .path = reflink_path,
    .is_dirty = reflink_is_dirty,
    .is_outdated = reflink_is_outdated,
    .usage_details = reflink_usage_details,
};
