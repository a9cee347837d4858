/* The linux-kernel driver (upstream qubes/storage/kernels.py): a read-only
 * volume naming a kernel installed under <dir_path>/<kernel>/ (vmlinuz,
 * initramfs, modules.img). Nothing is created or removed per qube. */
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

#include "common/cleanup.h"
#include "storage/drivers.h"
#include "storage/fileops.h"

static void kernel_volume_init(const struct storage_pool *p, struct storage_volume *v)
{
    (void)p;
    v->vid = xstrdup(v->kernel ? v->kernel : "");
}

static int kernel_noop(const struct storage_pool *p, const struct storage_volume *v,
                       struct qerror *err)
{
    (void)p, (void)v, (void)err;
    return 0;
}

static char *kernel_path(const struct storage_pool *p, const struct storage_volume *v)
{
    if (!v->vid[0])
        return xstrdup("");
    return xasprintf("%s/%s/modules.img", p->dir_path, v->vid);
}

static int kernel_start(const struct storage_pool *p, const struct storage_volume *v,
                        struct storage_attach *out, struct qerror *err)
{
    (void)err;
    memset(out, 0, sizeof(*out));
    out->path = kernel_path(p, v);
    out->rw = false;
    return 0;
}

static int kernel_unsupported(const struct storage_volume *v, const char *what, struct qerror *err)
{
    return qerror_set(err, ERR_STORAGE_POOL_EXCEPTION, "Cannot %s: %s is a kernel volume", what,
                      v->vid);
}

static int kernel_resize(const struct storage_pool *p, const struct storage_volume *v,
                         uint64_t size, struct qerror *err)
{
    (void)p, (void)size;
    return qerror_set(err, ERR_STORAGE_POOL_EXCEPTION, "Cannot resize: %s is read-only",
                      v->vid[0] ? v->vid : "kernel volume");
}

static int kernel_revert(const struct storage_pool *p, const struct storage_volume *v,
                         const char *revision, struct qerror *err)
{
    (void)p, (void)revision;
    return kernel_unsupported(v, "revert", err);
}

static int kernel_revisions(const struct storage_pool *p, const struct storage_volume *v,
                            struct storage_revision **out, size_t *n, struct qerror *err)
{
    (void)p, (void)v, (void)err;
    *out = NULL;
    *n = 0;
    return 0;
}

static int kernel_import_begin(const struct storage_pool *p, const struct storage_volume *v,
                               uint64_t size, char **path, struct qerror *err)
{
    (void)p, (void)size, (void)path;
    return kernel_unsupported(v, "import_data", err);
}

static int kernel_import_end(const struct storage_pool *p, const struct storage_volume *v,
                             bool success, struct qerror *err)
{
    (void)p, (void)success;
    return kernel_unsupported(v, "import_data", err);
}

static int kernel_export_path(const struct storage_pool *p, const struct storage_volume *v,
                              char **path, struct qerror *err)
{
    (void)p, (void)path;
    return kernel_unsupported(v, "export", err);
}

static int kernel_clone_from(const struct storage_pool *p, const struct storage_volume *v,
                             const char *src_path, struct qerror *err)
{
    (void)p, (void)src_path;
    return kernel_unsupported(v, "import_volume", err);
}

static void kernel_usage(const struct storage_pool *p, const struct storage_volume *v,
                         uint64_t *size, uint64_t *usage)
{
    _cleanup_free_ char *path = kernel_path(p, v);
    if (!path[0] || fileops_sizes(path, size, usage) < 0) {
        *size = 0;
        *usage = 0;
    }
}

static bool kernel_is_dirty(const struct storage_pool *p, const struct storage_volume *v)
{
    (void)p, (void)v;
    return false;
}

static int kernel_is_outdated(const struct storage_pool *p, const struct storage_volume *v)
{
    (void)p, (void)v;
    return -1;
}

static int kernel_usage_details(const struct storage_pool *p, uint64_t *size, uint64_t *usage)
{
    struct statvfs st;
    if (statvfs(p->dir_path, &st) < 0)
        return -1;
    *size = (uint64_t)st.f_frsize * st.f_blocks;
    *usage = (uint64_t)st.f_frsize * (st.f_blocks - st.f_bfree);
    return 0;
}

static int kernel_setup(const struct storage_pool *p, struct qerror *err)
{
    return fileops_mkdirs(p->dir_path, err);
}

static const char *const kernel_params[] = { "dir_path", NULL };
static const char *const kernel_config_keys[] = { "dir_path", NULL };

const struct pool_driver linux_kernel_driver = {
    .name = "linux-kernel",
    .params = kernel_params,
    .required = kernel_params,
    .config_keys = kernel_config_keys,
    .setup = kernel_setup,
    .volume_init = kernel_volume_init,
    .create = kernel_noop,
    .remove = kernel_noop,
    .start = kernel_start,
    .stop = kernel_noop,
    .resize = kernel_resize,
    .revert = kernel_revert,
    .revisions = kernel_revisions,
    .import_begin = kernel_import_begin,
    .import_end = kernel_import_end,
    .export_path = kernel_export_path,
    .clone_from = kernel_clone_from,
    .usage = kernel_usage,
    .path = kernel_path,
    .is_dirty = kernel_is_dirty,
    .is_outdated = kernel_is_outdated,
    .usage_details = kernel_usage_details,
};
