/* The sorted string set and its binary search (str_set.h). */
#include "common/str_set.h"

#include <stdlib.h>
#include <string.h>

#include "common/buf.h"

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
    free(s->items[i]); /* item may be this very string: not used past here */
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
