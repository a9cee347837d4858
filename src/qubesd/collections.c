/* Sorted small maps and sets used by the model (features, tags, pools). */
#include <stdlib.h>
#include <string.h>

#include "qubesd/app.h"

size_t sorted_lower_bound(const void *array, size_t lo, size_t hi, const char *key,
                          const char *(*key_at)(const void *array, size_t i), bool *found)
{
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(key_at(array, mid), key);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

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

static const char *set_item_at(const void *array, size_t i)
{
    return ((char *const *)array)[i];
}

static size_t set_lower_bound(const struct str_set *s, const char *item, bool *found)
{
    return sorted_lower_bound(s->items, 0, s->n, item, set_item_at, found);
}

bool str_set_has(const struct str_set *s, const char *item)
{
    bool found;
    set_lower_bound(s, item, &found);
    return found;
}

bool str_set_add(struct str_set *s, const char *item)
{
    bool found;
    size_t i = set_lower_bound(s, item, &found);
    if (found)
        return false;
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 4;
        s->items = xrealloc(s->items, s->cap * sizeof(*s->items));
    }
    memmove(&s->items[i + 1], &s->items[i], (s->n - i) * sizeof(*s->items));
    s->items[i] = xstrdup(item);
    s->n++;
    return true;
}

bool str_set_del(struct str_set *s, const char *item)
{
    bool found;
    size_t i = set_lower_bound(s, item, &found);
    if (!found)
        return false;
    free(s->items[i]);
    memmove(&s->items[i], &s->items[i + 1], (s->n - i - 1) * sizeof(*s->items));
    s->n--;
    return true;
}

void str_set_free(struct str_set *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->items[i]);
    free(s->items);
    memset(s, 0, sizeof(*s));
}
