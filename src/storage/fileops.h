/* File primitives of the file-based pool drivers: reflink-or-sparse copies,
 * sparse images, durable renames and removals, and running mkfs. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"

/* mkdir (one level); 1 if created, 0 if it was a directory already. */
int fileops_mkdir(const char *path, struct qerror *err);
/* mkdir -p. */
int fileops_mkdirs(const char *path, struct qerror *err);
/* rmdir if empty; a missing or non-empty directory is not an error. */
int fileops_rmdir_if_empty(const char *path, struct qerror *err);
/* unlink; a missing file is not an error. */
int fileops_remove(const char *path, struct qerror *err);
/* rename, then fsync the directories involved. */
int fileops_rename(const char *from, const char *to, struct qerror *err);
/* link(2), then fsync the directory. */
int fileops_hardlink(const char *from, const char *to, struct qerror *err);
bool fileops_exists(const char *path);
/* Creates (replacing) a sparse file of size bytes through a temporary name. */
int fileops_create_sparse(const char *path, uint64_t size, struct qerror *err);
/* Copies src to dst (replacing it, through a temporary name): FICLONE where
 * the filesystem shares extents, else a copy of the data regions only
 * (SEEK_DATA/SEEK_HOLE), so holes stay holes. dst_size, if not UINT64_MAX,
 * sets the size of the copy. *reflinked tells which path was taken. */
int fileops_copy(const char *src, const char *dst, uint64_t dst_size, bool *reflinked,
                 struct qerror *err);
/* Sets the size of an existing file and fsyncs it. */
int fileops_truncate(const char *path, uint64_t size, struct qerror *err);
/* Whether FICLONE works between two fresh files in dir. */
bool fileops_reflink_supported(const char *dir);
/* Runs argv (no shell), stdout and stderr captured into the error on
 * failure. */
int fileops_run(const char *const *argv, struct qerror *err);
/* st_size / st_blocks * 512; -1 with errno if the file is missing. */
int fileops_sizes(const char *path, uint64_t *size, uint64_t *usage);
