/* The qubesdb database: a sorted array of entries (binary search, at most QDB_MAX_ENTRIES of
 * them, so an insert's memmove stays small) and a flat list of watches. */
#include "qubesdb/qdb_store.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

const struct qdb_limits qdb_limits_full = { QDB_MAX_ENTRIES, QDB_MAX_BYTES };
const struct qdb_limits qdb_limits_qube = { QDB_QUBE_MAX_ENTRIES, QDB_QUBE_MAX_BYTES };

void qdb_store_init(struct qdb_store *s)
{
    memset(s, 0, sizeof(*s));
}

void qdb_store_free(struct qdb_store *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->entries[i].value);
    free(s->entries);
    free(s->watches);
    memset(s, 0, sizeof(*s));
}

/* The first index whose path is not below path. */
static size_t lower_bound(const struct qdb_store *s, const char *path)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(s->entries[mid].path, path) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

const struct qdb_entry *qdb_store_get(const struct qdb_store *s, const char *key)
{
    size_t i = lower_bound(s, key);
    if (i < s->n && strcmp(s->entries[i].path, key) == 0)
        return &s->entries[i];
    return NULL;
}

int qdb_store_write(struct qdb_store *s, const char *key, const char *value, size_t len,
                    const struct qdb_limits *lim)
{
    if (!qdb_key_ok(key) || !qdb_value_ok(value, len))
        return -EINVAL;
    size_t klen = strlen(key);
    size_t i = lower_bound(s, key);
    bool exists = i < s->n && strcmp(s->entries[i].path, key) == 0;
    size_t old = exists ? klen + s->entries[i].len : 0;
    size_t bytes = s->bytes - old + klen + len;
    /* a write that does not grow the database is never refused, even above the limits */
    if (!exists && s->n >= lim->max_entries)
        return -ENOSPC;
    if (bytes > s->bytes && bytes > lim->max_bytes)
        return -ENOSPC;

    char *copy = xmalloc(len + 1);
    memcpy(copy, value, len);
    copy[len] = '\0';
    if (!exists) {
        if (s->n == s->cap) {
            s->cap = s->cap ? s->cap * 2 : 16;
            s->entries = xrealloc(s->entries, s->cap * sizeof(*s->entries));
        }
        memmove(&s->entries[i + 1], &s->entries[i], (s->n - i) * sizeof(*s->entries));
        s->n++;
        memset(&s->entries[i], 0, sizeof(s->entries[i]));
        memcpy(s->entries[i].path, key, klen);
    } else {
        free(s->entries[i].value);
    }
    s->entries[i].value = copy;
    s->entries[i].len = (uint32_t)len;
    s->bytes = bytes;
    return 0;
}

void qdb_store_prefix_range(const struct qdb_store *s, const char *prefix, size_t *first,
                            size_t *end)
{
    size_t n = strlen(prefix);
    size_t i = lower_bound(s, prefix);
    size_t j = i;
    /* every path with the prefix sorts at or after it, and they are contiguous */
    while (j < s->n && strncmp(s->entries[j].path, prefix, n) == 0)
        j++;
    *first = i;
    *end = j;
}

int qdb_store_rm(struct qdb_store *s, const char *path)
{
    size_t first, end;
    if (qdb_dir_ok(path)) {
        qdb_store_prefix_range(s, path, &first, &end);
    } else if (qdb_key_ok(path)) {
        first = lower_bound(s, path);
        end = first < s->n && strcmp(s->entries[first].path, path) == 0 ? first + 1 : first;
    } else {
        return -EINVAL;
    }
    if (first == end)
        return 0;
    for (size_t i = first; i < end; i++) {
        s->bytes -= strlen(s->entries[i].path) + s->entries[i].len;
        free(s->entries[i].value);
    }
    memmove(&s->entries[first], &s->entries[end], (s->n - end) * sizeof(*s->entries));
    s->n -= end - first;
    return (int)(end - first);
}

int qdb_store_watch_add(struct qdb_store *s, const char *path, const void *owner)
{
    if (!qdb_key_or_dir_ok(path))
        return -EINVAL;
    size_t held = 0;
    for (size_t i = 0; i < s->nwatches; i++)
        held += s->watches[i].owner == owner;
    if (held >= QDB_MAX_WATCHES_PER_OWNER)
        return -ENOSPC;
    if (s->nwatches == s->wcap) {
        s->wcap = s->wcap ? s->wcap * 2 : 16;
        s->watches = xrealloc(s->watches, s->wcap * sizeof(*s->watches));
    }
    struct qdb_watch *w = &s->watches[s->nwatches++];
    memset(w, 0, sizeof(*w));
    memcpy(w->path, path, strlen(path));
    w->owner = owner;
    return 0;
}

int qdb_store_watch_rm(struct qdb_store *s, const char *path, const void *owner)
{
    for (size_t i = 0; i < s->nwatches; i++) {
        if (s->watches[i].owner == owner && strcmp(s->watches[i].path, path) == 0) {
            memmove(&s->watches[i], &s->watches[i + 1],
                    (s->nwatches - i - 1) * sizeof(*s->watches));
            s->nwatches--;
            return 1;
        }
    }
    return 0;
}

void qdb_store_watch_rm_owner(struct qdb_store *s, const void *owner)
{
    size_t kept = 0;
    for (size_t i = 0; i < s->nwatches; i++)
        if (s->watches[i].owner != owner)
            s->watches[kept++] = s->watches[i];
    s->nwatches = kept;
}

size_t qdb_store_fire(const struct qdb_store *s, const char *changed_path, qdb_fire_fn fire,
                      void *ctx)
{
    size_t fired = 0;
    for (size_t i = 0; i < s->nwatches; i++) {
        if (qdb_watch_matches(s->watches[i].path, changed_path)) {
            fire(s->watches[i].owner, changed_path, ctx);
            fired++;
        }
    }
    return fired;
}
