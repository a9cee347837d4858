/* A set of strings kept sorted (qube tags, policy target lists), and the binary search it is
 * built on, which other sorted arrays (the qube list, kv lists, the property table) share. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Zero-initialised is empty. items[0..n) are distinct heap strings in strcmp order. */
struct str_set {
    char **items;
    size_t n, cap;
};

bool str_set_has(const struct str_set *s, const char *item);
/* Adds a copy of item; false when it was there already. */
bool str_set_add(struct str_set *s, const char *item);
/* Removes item (which may be one of s's own items); false when it was not there. */
bool str_set_del(struct str_set *s, const char *item);
void str_set_free(struct str_set *s);

/* Binary search of key among entries [lo, hi) of array sorted (strcmp) by key_at(array, i):
 * the index of key when *found, else where it would go. */
size_t sorted_lower_bound(const void *array, size_t lo, size_t hi, const char *key,
                          const char *(*key_at)(const void *array, size_t i), bool *found);
