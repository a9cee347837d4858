/* Between the domain model and the pool drivers: which volumes a qube has
 * (per class, reference §4.1), where their configuration is kept (the
 * qube's volume_config, table volume_config), and the calls the rest of
 * qubesd makes: create/remove with the qube, start/stop with its life cycle. */
#pragma once

#include "qubesd/app.h"
#include "storage/pool.h"

#define QUBE_VOLUMES_MAX 4

/* The volumes of one qube, resolved: pools opened, snapshot sources linked
 * (tmpl holds the source qube's own volumes). */
struct qube_storage {
    size_t n;
    struct storage_volume vol[QUBE_VOLUMES_MAX];
    struct storage_pool pool[QUBE_VOLUMES_MAX];
    char *kernel;
    struct qube_storage *tmpl;
};

int qube_storage_open(const struct app *app, const struct qube *q, struct qube_storage *out,
                      struct qerror *err);
void qube_storage_close(struct qube_storage *s);
struct storage_volume *qube_storage_find(struct qube_storage *s, const char *name);
/* Whether any volume of the qube is in use (a started, not stopped qube). */
bool qube_storage_started(const struct qube_storage *s);

/* Opens a pool of the model by name. */
int storage_pool_open_model(const struct app *app, const struct pool *p, struct storage_pool *out,
                            struct qerror *err);

/* At admin.vm.Create*: fills q->volume_config (pools from CreateInPool and
 * the default_pool* properties, sizes and flags of its class), then creates
 * the images; on failure nothing is left on disk. */
int storage_create_qube(struct app *app, struct qube *q, struct qerror *err);
/* At admin.vm.Remove: removes every image of the qube. Errors are reported
 * after trying every volume. */
int storage_remove_qube(const struct app *app, const struct qube *q, struct qerror *err);

/* ---- for the life-cycle code ----
 *
 * storage_start() prepares every volume of a halted qube for use and returns
 * what to attach, in volume order (root, private, volatile, kernel):
 *   - name:        the volume name;
 *   - path:        the image file the qube uses as its own (file-reflink:
 *                  <vid>-dirty.img; kernel: <dir>/<kernel>/modules.img, ""
 *                  when the qube has no kernel); NULL for a read-only snapshot;
 *   - rw:          whether to attach path writable;
 *   - source_path: a read-only snapshot (AppVM/DispVM root, DispVM private,
 *                  when the driver overlays snapshots): the source's committed
 *                  image, pinned for the run and written by nobody; attach it
 *                  read-only under the driver's discarded writable layer
 *                  (qube_launch.root_snapshot / private_snapshot). Else NULL.
 *                  Without an overlaying driver a snapshot volume is a private
 *                  copy at path instead, discarded at stop.
 * root/private hold ext4; volatile is a fresh sparse raw file of its size
 * (the qube formats it); all file-reflink images are sparse raw files.
 * On failure, volumes already started are stopped again.
 *
 * storage_stop() commits origin volumes (private; root of templates and
 * standalones: a new revision, pruned to revisions_to_keep) and discards
 * snapshot and volatile ones. Call it once the qube is down; calling it on a
 * halted qube is harmless. */
struct storage_attachments {
    size_t n;
    struct {
        char name[16];
        struct storage_attach a;
    } v[QUBE_VOLUMES_MAX];
};
/* snapshot_read_only: the driver layers its own writable layer over snapshot
 * volumes (driver_ops.overlays_snapshots), so they are handed out read-only,
 * uncopied, as source_path. */
int storage_start(const struct app *app, const struct qube *q, bool snapshot_read_only,
                  struct storage_attachments *out, struct qerror *err);
void storage_attachments_free(struct storage_attachments *a);
int storage_stop(const struct app *app, const struct qube *q, struct qerror *err);

/* Replaces a volume's data with an ext4 image built from the contents of dir
 * (mkfs.ext4 -d), keeping the volume's size: for the template builder. */
int storage_import_dir(const struct app *app, const struct qube *q, const char *volume,
                       const char *dir, struct qerror *err);
