/* The pool-driver seam: a pool is a driver plus its parameters; a volume is
 * one named disk of one qube in one pool. qubesd reaches volumes only through
 * these operations and never tests which driver it holds (DESIGN §2). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/error.h"

struct pool_driver;

/* One pool, opened from its stored configuration (name, driver, key=value). */
struct storage_pool {
    char *name;
    const struct pool_driver *driver;
    char *dir_path;              /* file-based drivers */
    long long revisions_to_keep; /* default of its new volumes */
    bool ephemeral_volatile;
    bool setup_check;
};

/* One volume as configured for a qube (reference §4.1). The owner fields
 * feed the driver's naming; the driver fills vid at storage_volume_init. */
struct storage_volume {
    const char *name;       /* root, private, volatile, kernel */
    const char *qube;       /* the owner's name */
    const char *dir_prefix; /* "appvms" or "vm-templates" */
    const char *kernel;     /* the owner's kernel, "" for none */
    const struct storage_pool *pool;
    char *vid;
    uint64_t size; /* configured size; the image's own size wins where it exists */
    bool rw, snap_on_start, save_on_stop, ephemeral;
    long long revisions_to_keep; /* -1: snapshots disabled (origin volumes) */
    bool format;                 /* create: an origin image starts as an empty ext4 ... */
    /* start, snapshot volumes: the qube's driver layers a writable layer of
     * its own over them (the sandbox overlay), so the pool may hand out the
     * source's committed image read-only instead of a copy. A request: a
     * pool driver that cannot keep that image unchanged for the whole run
     * makes a copy as before (see struct storage_attach). */
    bool snapshot_read_only;
    unsigned fs_uid;                     /* ... whose root directory this uid/gid owns */
    const struct storage_volume *source; /* snap_on_start: the volume it snapshots */
};

/* What a started volume gives the lifecycle code to attach: exactly one of
 * path and source_path (kernel volumes of qubes without a kernel: path ""). */
struct storage_attach {
    char *path; /* the image the qube uses as its own (rw says how) */
    bool rw;
    /* a read-only snapshot (snapshot_read_only was honoured): the source's
     * committed image, pinned for this run and never written by anyone;
     * attach it read-only under the driver's writable layer. path is NULL. */
    char *source_path;
};

/* One revision of an origin volume, oldest first. */
struct storage_revision {
    char id[24];        /* "1", "2", ... */
    char timestamp[24]; /* YYYY-MM-DDTHH:MM:SS */
};

struct pool_driver {
    const char *name;
    /* admin.pool.Add parameters, in upstream's order; required ones too */
    const char *const *params;
    const char *const *required;
    /* the keys of admin.pool.Info besides name and driver */
    const char *const *config_keys;

    /* Creates what the pool needs (directories) and checks it can work. */
    int (*setup)(const struct storage_pool *p, struct qerror *err);
    /* Fills v->vid (heap). */
    void (*volume_init)(const struct storage_pool *p, struct storage_volume *v);
    int (*create)(const struct storage_pool *p, const struct storage_volume *v, struct qerror *err);
    int (*remove)(const struct storage_pool *p, const struct storage_volume *v, struct qerror *err);
    int (*start)(const struct storage_pool *p, const struct storage_volume *v,
                 struct storage_attach *out, struct qerror *err);
    int (*stop)(const struct storage_pool *p, const struct storage_volume *v, struct qerror *err);
    int (*resize)(const struct storage_pool *p, const struct storage_volume *v, uint64_t size,
                  struct qerror *err);
    int (*revert)(const struct storage_pool *p, const struct storage_volume *v,
                  const char *revision, struct qerror *err);
    int (*revisions)(const struct storage_pool *p, const struct storage_volume *v,
                     struct storage_revision **out, size_t *n, struct qerror *err);
    /* A fresh file of size bytes to write volume data into; *path is heap. */
    int (*import_begin)(const struct storage_pool *p, const struct storage_volume *v, uint64_t size,
                        char **path, struct qerror *err);
    int (*import_end)(const struct storage_pool *p, const struct storage_volume *v, bool success,
                      struct qerror *err);
    /* The committed image others may copy from (CloneFrom); *path is heap. */
    int (*export_path)(const struct storage_pool *p, const struct storage_volume *v, char **path,
                       struct qerror *err);
    /* Replaces v's data with a copy of src_path (CloneTo). */
    int (*clone_from)(const struct storage_pool *p, const struct storage_volume *v,
                      const char *src_path, struct qerror *err);
    /* Current size and disk usage of the volume. */
    void (*usage)(const struct storage_pool *p, const struct storage_volume *v, uint64_t *size,
                  uint64_t *usage);
    /* The path exposed to the qube ("" if none); heap. */
    char *(*path)(const struct storage_pool *p, const struct storage_volume *v);
    /* Whether the volume is in use (started and not yet stopped). */
    bool (*is_dirty)(const struct storage_pool *p, const struct storage_volume *v);
    /* 1 outdated, 0 not, -1 the driver cannot tell (no is_outdated= line). */
    int (*is_outdated)(const struct storage_pool *p, const struct storage_volume *v);
    /* Space of the pool: 0 with both set, -1 if unknown. */
    int (*usage_details)(const struct storage_pool *p, uint64_t *size, uint64_t *usage);
};

/* The drivers, sorted by name. */
const struct pool_driver *const *storage_drivers(size_t *n);
const struct pool_driver *storage_driver_find(const char *name);

/* Opens a pool from its configuration; unknown keys, bad values and missing
 * required parameters are errors (StoragePoolException / QubesException). */
int storage_pool_open(const char *name, const char *driver, size_t n, const char *const *keys,
                      const char *const *values, struct storage_pool *out, struct qerror *err);
void storage_pool_close(struct storage_pool *p);
/* admin.pool.Info's key=value lines (sorted), without size/usage. */
void storage_pool_config(const struct storage_pool *p, struct buf *out);

/* Driver-independent wrappers; v->pool must be set. */
void storage_volume_init(struct storage_volume *v);
void storage_volume_clear(struct storage_volume *v);
void storage_attach_clear(struct storage_attach *a);

/* "True"/"False"; read back with parse_bool(s, PARSE_BOOL_EMPTY_FALSE, ...) (common/parse.h). */
const char *storage_bool_str(bool b);

/* Formats an image as ext4 (sparse-friendly: lazy inode tables). owner_uid/gid
 * set the root directory's owner (a private volume's /rw belongs to the
 * qube's user); from_dir, if not NULL, is copied in (mkfs.ext4 -d). */
int storage_mkfs_ext4(const char *image, const char *label, unsigned owner_uid, unsigned owner_gid,
                      const char *from_dir, struct qerror *err);
