/* The qubesdb database: order, string-prefix ranges, exact and subtree rm, every bound, and
 * watches. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qubesdb/qdb_store.h"

static const struct qdb_limits *full = &qdb_limits_full;

static void put(struct qdb_store *s, const char *key, const char *value)
{
    assert_int_equal(qdb_store_write(s, key, value, strlen(value), full), 0);
}

static void assert_keys(const struct qdb_store *s, const char *const *keys, size_t n)
{
    assert_int_equal(s->n, n);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(s->entries[i].path, keys[i]);
}

static void test_sorted_read_write(void **state)
{
    (void)state;
    struct qdb_store s;
    qdb_store_init(&s);
    put(&s, "/qubes-ip6", "fd09::3");
    put(&s, "/name", "work");
    put(&s, "/qubes-ip", "10.137.0.3");
    put(&s, "/a", "");
    const char *keys[] = { "/a", "/name", "/qubes-ip", "/qubes-ip6" };
    assert_keys(&s, keys, 4);
    const struct qdb_entry *e = qdb_store_get(&s, "/name");
    assert_non_null(e);
    assert_int_equal(e->len, 4);
    assert_string_equal(e->value, "work");
    assert_int_equal(qdb_store_get(&s, "/a")->len, 0); /* an empty value exists */
    assert_null(qdb_store_get(&s, "/nam"));
    assert_null(qdb_store_get(&s, "/names"));
    /* overwrite keeps one entry and the byte count right */
    put(&s, "/name", "personal");
    assert_int_equal(s.n, 4);
    assert_string_equal(qdb_store_get(&s, "/name")->value, "personal");
    assert_int_equal(s.bytes, strlen("/a") + strlen("/name") + 8 + strlen("/qubes-ip") + 10 +
                                  strlen("/qubes-ip6") + 7);
    /* values are bytes, not strings */
    assert_int_equal(qdb_store_write(&s, "/bin", "\x01\xff\n", 3, full), 0);
    assert_memory_equal(qdb_store_get(&s, "/bin")->value, "\x01\xff\n", 4);
    /* invalid keys and values change nothing */
    size_t n = s.n, bytes = s.bytes;
    assert_int_equal(qdb_store_write(&s, "/dir/", "x", 1, full), -EINVAL);
    assert_int_equal(qdb_store_write(&s, "rel", "x", 1, full), -EINVAL);
    assert_int_equal(qdb_store_write(&s, "/", "x", 1, full), -EINVAL);
    assert_int_equal(qdb_store_write(&s, "/a b", "x", 1, full), -EINVAL);
    assert_int_equal(qdb_store_write(&s, "/nul", "a\0b", 3, full), -EINVAL);
    assert_int_equal(s.n, n);
    assert_int_equal(s.bytes, bytes);
    qdb_store_free(&s);
}

static void test_prefix_range(void **state)
{
    (void)state;
    struct qdb_store s;
    qdb_store_init(&s);
    put(&s, "/qubes-ip", "1");
    put(&s, "/qubes-ip6", "2");
    put(&s, "/qubes-ipx/y", "3");
    put(&s, "/qubes-iq", "4");
    put(&s, "/qubes-firewall/10.137.0.3", "");
    put(&s, "/qubes-firewall/10.137.0.3/policy", "drop");
    put(&s, "/qubes-firewall-handled/10.137.0.3", "1");
    size_t first, end;
    /* a string prefix: /qubes-ip also takes /qubes-ip6 */
    qdb_store_prefix_range(&s, "/qubes-ip", &first, &end);
    assert_int_equal(end - first, 3);
    assert_string_equal(s.entries[first].path, "/qubes-ip");
    assert_string_equal(s.entries[first + 1].path, "/qubes-ip6");
    assert_string_equal(s.entries[first + 2].path, "/qubes-ipx/y");
    /* a subtree prefix does not take the key of its own name nor a sibling with a longer name */
    qdb_store_prefix_range(&s, "/qubes-firewall/", &first, &end);
    assert_int_equal(end - first, 2);
    assert_string_equal(s.entries[first].path, "/qubes-firewall/10.137.0.3");
    qdb_store_prefix_range(&s, "/nothing", &first, &end);
    assert_int_equal(end, first);
    qdb_store_prefix_range(&s, "", &first, &end);
    assert_int_equal(first, 0);
    assert_int_equal(end, s.n);
    qdb_store_prefix_range(&s, "/zzz", &first, &end);
    assert_int_equal(first, s.n);
    assert_int_equal(end, s.n);
    qdb_store_free(&s);
}

static void test_rm(void **state)
{
    (void)state;
    struct qdb_store s;
    qdb_store_init(&s);
    put(&s, "/a", "1");
    put(&s, "/a/b", "2");
    put(&s, "/a/b/c", "3");
    put(&s, "/a/c", "4");
    put(&s, "/ab", "5");
    put(&s, "/b", "6");
    /* one key: exactly it */
    assert_int_equal(qdb_store_rm(&s, "/a/b"), 1);
    const char *k1[] = { "/a", "/a/b/c", "/a/c", "/ab", "/b" };
    assert_keys(&s, k1, 5);
    assert_int_equal(qdb_store_rm(&s, "/a/b"), 0);
    assert_int_equal(qdb_store_rm(&s, "/a/x"), 0);
    /* a subtree: everything under it, not the key of its name, not /ab */
    assert_int_equal(qdb_store_rm(&s, "/a/"), 2);
    const char *k2[] = { "/a", "/ab", "/b" };
    assert_keys(&s, k2, 3);
    assert_int_equal(qdb_store_rm(&s, "/a/"), 0);
    assert_int_equal(s.bytes, 2 + 1 + 3 + 1 + 2 + 1);
    /* invalid paths */
    assert_int_equal(qdb_store_rm(&s, ""), -EINVAL);
    assert_int_equal(qdb_store_rm(&s, "a"), -EINVAL);
    assert_int_equal(qdb_store_rm(&s, "/a b"), -EINVAL);
    assert_int_equal(s.n, 3);
    /* "/" is every key */
    assert_int_equal(qdb_store_rm(&s, "/"), 3);
    assert_int_equal(s.n, 0);
    assert_int_equal(s.bytes, 0);
    assert_int_equal(qdb_store_rm(&s, "/"), 0);
    qdb_store_free(&s);
}

static void test_entry_limit(void **state)
{
    (void)state;
    struct qdb_store s;
    qdb_store_init(&s);
    char key[32];
    for (unsigned i = 0; i < QDB_MAX_ENTRIES; i++) {
        snprintf(key, sizeof(key), "/k%05u", i);
        assert_int_equal(qdb_store_write(&s, key, "", 0, full), 0);
    }
    assert_int_equal(s.n, QDB_MAX_ENTRIES);
    /* one more is refused, an overwrite is not */
    assert_int_equal(qdb_store_write(&s, "/more", "", 0, full), -ENOSPC);
    assert_int_equal(qdb_store_write(&s, "/k00000", "x", 1, full), 0);
    assert_int_equal(s.n, QDB_MAX_ENTRIES);
    assert_null(qdb_store_get(&s, "/more"));
    /* the qube's share is already passed: its new keys are refused, room made by rm is usable */
    assert_int_equal(qdb_store_write(&s, "/q", "", 0, &qdb_limits_qube), -ENOSPC);
    assert_int_equal(qdb_store_rm(&s, "/k00001"), 1);
    assert_int_equal(qdb_store_write(&s, "/more", "", 0, full), 0);
    qdb_store_free(&s);

    qdb_store_init(&s);
    for (unsigned i = 0; i < QDB_QUBE_MAX_ENTRIES; i++) {
        snprintf(key, sizeof(key), "/k%05u", i);
        assert_int_equal(qdb_store_write(&s, key, "", 0, &qdb_limits_qube), 0);
    }
    assert_int_equal(qdb_store_write(&s, "/q", "", 0, &qdb_limits_qube), -ENOSPC);
    assert_int_equal(qdb_store_write(&s, "/q", "", 0, full), 0);
    qdb_store_free(&s);
}

static void test_byte_limit(void **state)
{
    (void)state;
    struct qdb_store s;
    qdb_store_init(&s);
    static char value[QDB_MAX_DATA];
    memset(value, 'v', sizeof(value));
    char key[32];
    /* keys of 8 characters and values of 3064 bytes: 3072 bytes an entry, 341 fit in 1 MiB */
    unsigned i = 0;
    for (;; i++) {
        snprintf(key, sizeof(key), "/k%06u", i);
        int rc = qdb_store_write(&s, key, value, 3064, full);
        if (rc == -ENOSPC)
            break;
        assert_int_equal(rc, 0);
    }
    assert_int_equal(i, QDB_MAX_BYTES / 3072);
    assert_true(s.bytes <= QDB_MAX_BYTES);
    size_t bytes = s.bytes;
    /* what still fits does */
    size_t room = QDB_MAX_BYTES - bytes;
    assert_int_equal(qdb_store_write(&s, "/last", value, room - 5, full), 0);
    assert_int_equal(s.bytes, QDB_MAX_BYTES);
    assert_int_equal(qdb_store_write(&s, "/x", "", 0, full), -ENOSPC);
    /* growing a value is refused, shrinking it is not */
    assert_int_equal(qdb_store_write(&s, "/k000000", value, 3065, full), -ENOSPC);
    assert_int_equal(qdb_store_get(&s, "/k000000")->len, 3064);
    assert_int_equal(qdb_store_write(&s, "/k000000", value, 10, full), 0);
    assert_int_equal(s.bytes, QDB_MAX_BYTES - 3054);
    qdb_store_free(&s);
}

struct fired {
    char paths[16][QDB_MAX_PATH];
    const void *owners[16];
    size_t n;
};

static void record(const void *owner, const char *path, void *ctx)
{
    struct fired *f = ctx;
    assert_true(f->n < 16);
    f->owners[f->n] = owner;
    snprintf(f->paths[f->n++], QDB_MAX_PATH, "%s", path);
}

static void test_watches(void **state)
{
    (void)state;
    struct qdb_store s;
    qdb_store_init(&s);
    int a, b; /* two owners */
    assert_int_equal(qdb_store_watch_add(&s, "/qubes-ip", &a), 0);
    assert_int_equal(qdb_store_watch_add(&s, "/qubes-firewall/", &b), 0);
    assert_int_equal(qdb_store_watch_add(&s, "/missing-yet", &a), 0);
    assert_int_equal(qdb_store_watch_add(&s, "/qubes-ip", &b), 0);
    assert_int_equal(qdb_store_watch_add(&s, "/qubes-ip", &b), 0); /* twice: fires twice */
    assert_int_equal(qdb_store_watch_add(&s, "bad", &a), -EINVAL);
    assert_int_equal(qdb_store_watch_add(&s, "", &a), -EINVAL);

    struct fired f = { .n = 0 };
    assert_int_equal(qdb_store_fire(&s, "/qubes-ip", record, &f), 3);
    assert_int_equal(f.n, 3);
    f.n = 0;
    assert_int_equal(qdb_store_fire(&s, "/qubes-ip6", record, &f), 0);
    assert_int_equal(qdb_store_fire(&s, "/qubes-firewall/10.137.0.3/0000", record, &f), 1);
    assert_ptr_equal(f.owners[0], &b);
    assert_int_equal(qdb_store_fire(&s, "/qubes-firewall/", record, &f), 1);
    assert_int_equal(qdb_store_fire(&s, "/qubes-firewall", record, &f), 0);
    assert_int_equal(qdb_store_fire(&s, "/missing-yet", record, &f), 1);
    assert_string_equal(f.paths[2], "/missing-yet");

    /* unwatch removes one registration of that owner on exactly that path */
    assert_int_equal(qdb_store_watch_rm(&s, "/qubes-ip", &b), 1);
    f.n = 0;
    assert_int_equal(qdb_store_fire(&s, "/qubes-ip", record, &f), 2);
    assert_int_equal(qdb_store_watch_rm(&s, "/qubes-ip/", &b), 0);
    assert_int_equal(qdb_store_watch_rm(&s, "/qubes-ip", &b), 1);
    assert_int_equal(qdb_store_watch_rm(&s, "/qubes-ip", &b), 0);
    /* an owner that goes away takes all of its watches along */
    qdb_store_watch_rm_owner(&s, &a);
    f.n = 0;
    assert_int_equal(qdb_store_fire(&s, "/qubes-ip", record, &f), 0);
    assert_int_equal(qdb_store_fire(&s, "/missing-yet", record, &f), 0);
    assert_int_equal(s.nwatches, 1);
    qdb_store_free(&s);
}

static void test_watch_limit(void **state)
{
    (void)state;
    struct qdb_store s;
    qdb_store_init(&s);
    int a, b;
    for (unsigned i = 0; i < QDB_MAX_WATCHES_PER_OWNER; i++)
        assert_int_equal(qdb_store_watch_add(&s, "/x", &a), 0);
    assert_int_equal(qdb_store_watch_add(&s, "/x", &a), -ENOSPC);
    assert_int_equal(qdb_store_watch_add(&s, "/x", &b), 0); /* per owner */
    assert_int_equal(qdb_store_watch_rm(&s, "/x", &a), 1);
    assert_int_equal(qdb_store_watch_add(&s, "/y", &a), 0);
    qdb_store_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sorted_read_write),
        cmocka_unit_test(test_prefix_range),
        cmocka_unit_test(test_rm),
        cmocka_unit_test(test_entry_limit),
        cmocka_unit_test(test_byte_limit),
        cmocka_unit_test(test_watches),
        cmocka_unit_test(test_watch_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
