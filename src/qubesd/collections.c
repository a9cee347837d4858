/* Sorted small maps used by the model (features, volume pools); the sets are str_set's. */
#include <stdlib.h>
#include <string.h>

#include "qubesd/app.h"

static const char *kv_key_at(const void *array, size_t i)
{
    return ((const struct kv *)array)[i].key;
}

static size_t kv_lower_bound(const struct kv_list *l, const char *key, bool *found)
{
    return sorted_lower_bound(l->items, 0, l->n, key, kv_key_at, found);
}

const char *kv_get(const struct kv_list *l, const char *key)
{
    bool found;
    size_t i = kv_lower_bound(l, key, &found);
    return found ? l->items[i].value : NULL;
}

bool kv_has(const struct kv_list *l, const char *key)
{
    return kv_get(l, key) != NULL;
}

void kv_set(struct kv_list *l, const char *key, const char *value)
{
    bool found;
    size_t i = kv_lower_bound(l, key, &found);
    if (found) {
        free(l->items[i].value);
        l->items[i].value = xstrdup(value);
        return;
    }
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 4;
        l->items = xrealloc(l->items, l->cap * sizeof(*l->items));
    }
    memmove(&l->items[i + 1], &l->items[i], (l->n - i) * sizeof(*l->items));
    l->items[i].key = xstrdup(key);
    l->items[i].value = xstrdup(value);
    l->n++;
}

bool kv_del(struct kv_list *l, const char *key)
{
    bool found;
    size_t i = kv_lower_bound(l, key, &found);
    if (!found)
        return false;
    free(l->items[i].key);
    free(l->items[i].value);
    memmove(&l->items[i], &l->items[i + 1], (l->n - i - 1) * sizeof(*l->items));
    l->n--;
    return true;
}

void kv_free(struct kv_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->items[i].key);
        free(l->items[i].value);
    }
    free(l->items);
    memset(l, 0, sizeof(*l));
}
