/* One qubesdb database: keys in ascending strcmp order with their values, bounded, and the
 * watches registered on it. Upstream's semantics (daemon/db-core.c), no I/O. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "qubesdb/qdb_proto.h"

/* What one database holds at most: keys, and bytes of keys and values together. A write past
 * either is refused (RESP_ERROR); the database is left as it was. */
#define QDB_MAX_ENTRIES 4096u
#define QDB_MAX_BYTES (1024u * 1024u)
/* What a qube's own writes may fill (its local clients', mirrored into dom0's copy): three
 * quarters, so that dom0's writes to the qube always find room. */
#define QDB_QUBE_MAX_ENTRIES (QDB_MAX_ENTRIES / 4u * 3u)
#define QDB_QUBE_MAX_BYTES (QDB_MAX_BYTES / 4u * 3u)
/* Watches one client may hold. */
#define QDB_MAX_WATCHES_PER_OWNER 256u

struct qdb_limits {
    size_t max_entries;
    size_t max_bytes;
};

extern const struct qdb_limits qdb_limits_full; /* QDB_MAX_ENTRIES, QDB_MAX_BYTES */
extern const struct qdb_limits qdb_limits_qube; /* QDB_QUBE_MAX_ENTRIES, QDB_QUBE_MAX_BYTES */

struct qdb_entry {
    char path[QDB_MAX_PATH];
    uint32_t len;
    char *value; /* len bytes and a NUL after them */
};

struct qdb_watch {
    char path[QDB_MAX_PATH];
    const void *owner;
};

struct qdb_store {
    struct qdb_entry *entries; /* ascending by strcmp of path */
    size_t n, cap;
    size_t bytes; /* sum of strlen(path) + len */
    struct qdb_watch *watches;
    size_t nwatches, wcap;
};

void qdb_store_init(struct qdb_store *s);
void qdb_store_free(struct qdb_store *s);

/* The entry of an exact key, or NULL. */
const struct qdb_entry *qdb_store_get(const struct qdb_store *s, const char *key);

/* Sets key to len bytes of value (replacing any old value). 0; -EINVAL for an invalid key or
 * value (qdb_key_ok, qdb_value_ok); -ENOSPC when the database would pass lim. */
int qdb_store_write(struct qdb_store *s, const char *key, const char *value, size_t len,
                    const struct qdb_limits *lim);

/* Removes the key path, or every key under path when it ends in '/'. The number removed
 * (0: nothing matched), or -EINVAL for a path that is neither (qdb_key_or_dir_ok). */
int qdb_store_rm(struct qdb_store *s, const char *path);

/* The entries whose path starts with prefix, as a string ("/qubes-ip" also takes
 * "/qubes-ip6"): s->entries[*first .. *end), ascending. An empty prefix is everything. */
void qdb_store_prefix_range(const struct qdb_store *s, const char *prefix, size_t *first,
                            size_t *end);

/* Registers a watch of owner on a key or a subtree (path ending in '/'); a path may be watched
 * before it exists, and twice (each fires). 0; -EINVAL for an invalid path; -ENOSPC when
 * owner holds QDB_MAX_WATCHES_PER_OWNER already. */
int qdb_store_watch_add(struct qdb_store *s, const char *path, const void *owner);
/* Removes one watch of owner on exactly path: 1, or 0 if it had none. */
int qdb_store_watch_rm(struct qdb_store *s, const char *path, const void *owner);
/* Removes every watch of owner (a client went away). */
void qdb_store_watch_rm_owner(struct qdb_store *s, const void *owner);

/* Calls fire(owner, changed_path, ctx) for each watch that changed_path fires
 * (qdb_watch_matches); the number called. fire must not add or remove watches. */
typedef void (*qdb_fire_fn)(const void *owner, const char *changed_path, void *ctx);
size_t qdb_store_fire(const struct qdb_store *s, const char *changed_path, qdb_fire_fn fire,
                      void *ctx);
