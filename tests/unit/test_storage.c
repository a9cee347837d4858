/* The file-reflink driver on a temporary directory: create, start, stop and
 * commit, revisions and their pruning, revert, resize, snapshots (copied, or
 * read-only on the pinned committed image), volatile volumes, import, sparse
 * copies that keep holes, and that no operation writes a committed image in
 * place. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/buf.h"
#include "storage/fileops.h"
#include "storage/pool.h"

#define MIB (1024ull * 1024)

struct fixture {
    char dir[64];
    struct storage_pool pool;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/qubicle-storage.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    const char *keys[] = { "dir_path", "revisions_to_keep" };
    const char *values[] = { f->dir, "2" };
    struct qerror err = { 0 };
    assert_int_equal(storage_pool_open("p", "file-reflink", 2, keys, values, &f->pool, &err), 0);
    f->pool.setup_check = false; /* /tmp need not share extents */
    if (f->pool.driver->setup(&f->pool, &err) < 0)
        fail_msg("setup: %s", err.message);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    storage_pool_close(&f->pool);
    free(f);
    return 0;
}

static void volume(struct fixture *f, struct storage_volume *v, const char *qube, const char *name,
                   bool snap, bool save, uint64_t size)
{
    memset(v, 0, sizeof(*v));
    v->name = name;
    v->qube = qube;
    v->dir_prefix = "appvms";
    v->kernel = "";
    v->pool = &f->pool;
    v->rw = true;
    v->snap_on_start = snap;
    v->save_on_stop = save;
    v->size = size;
    v->revisions_to_keep = f->pool.revisions_to_keep;
    storage_volume_init(v);
}

static char *path_of(struct fixture *f, const char *rel)
{
    return xasprintf("%s/%s", f->dir, rel);
}

static void write_at(const char *path, off_t off, const char *data)
{
    int fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, data, strlen(data), off), (ssize_t)strlen(data));
    close(fd);
}

static char *read_at(const char *path, off_t off, size_t n)
{
    char *b = calloc(1, n + 1);
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(pread(fd, b, n, off), (ssize_t)n);
    close(fd);
    return b;
}

static size_t n_revisions(struct fixture *f, struct storage_volume *v)
{
    struct storage_revision *r;
    size_t n;
    struct qerror err = { 0 };
    assert_int_equal(f->pool.driver->revisions(&f->pool, v, &r, &n, &err), 0);
    free(r);
    return n;
}

static void test_vid_and_create(void **state)
{
    struct fixture *f = *state;
    struct storage_volume v;
    volume(f, &v, "work", "private", false, true, 64 * MIB);
    assert_string_equal(v.vid, "appvms/work/private");
    struct qerror err = { 0 };
    assert_int_equal(f->pool.driver->create(&f->pool, &v, &err), 0);
    char *clean = path_of(f, "appvms/work/private.img");
    struct stat st;
    assert_int_equal(stat(clean, &st), 0);
    assert_int_equal(st.st_size, 64 * MIB);
    assert_int_equal(st.st_blocks, 0); /* sparse: nothing allocated */
    assert_int_equal(f->pool.driver->remove(&f->pool, &v, &err), 0);
    assert_false(fileops_exists(clean));
    char *dir = path_of(f, "appvms/work");
    assert_false(fileops_exists(dir));
    free(dir);
    free(clean);
    storage_volume_clear(&v);
}

static void test_create_formats_ext4(void **state)
{
    struct fixture *f = *state;
    struct storage_volume v;
    volume(f, &v, "work", "private", false, true, 64 * MIB);
    v.format = true;
    v.fs_uid = 1000;
    struct qerror err = { 0 };
    if (f->pool.driver->create(&f->pool, &v, &err) < 0)
        fail_msg("create: %s", err.message);
    char *clean = path_of(f, "appvms/work/private.img");
    char *magic = read_at(clean, 1024 + 0x38, 2); /* ext4 superblock magic 0xEF53 */
    assert_int_equal((unsigned char)magic[0], 0x53);
    assert_int_equal((unsigned char)magic[1], 0xef);
    struct stat st;
    assert_int_equal(stat(clean, &st), 0);
    assert_true((uint64_t)st.st_blocks * 512 < 16 * MIB); /* still mostly holes */
    free(magic);
    free(clean);
    assert_int_equal(f->pool.driver->remove(&f->pool, &v, &err), 0);
    storage_volume_clear(&v);
}

static void test_start_stop_commit_revisions(void **state)
{
    struct fixture *f = *state;
    struct storage_volume v;
    volume(f, &v, "tpl", "root", false, true, 8 * MIB);
    struct qerror err = { 0 };
    assert_int_equal(f->pool.driver->create(&f->pool, &v, &err), 0);
    char *dirty = path_of(f, "appvms/tpl/root-dirty.img");
    char *clean = path_of(f, "appvms/tpl/root.img");
    for (int round = 1; round <= 4; round++) {
        struct storage_attach a;
        assert_int_equal(f->pool.driver->start(&f->pool, &v, &a, &err), 0);
        assert_string_equal(a.path, dirty);
        assert_true(a.rw);
        assert_null(a.source_path);
        assert_true(f->pool.driver->is_dirty(&f->pool, &v));
        char data[16];
        snprintf(data, sizeof(data), "round%d", round);
        write_at(dirty, 4096, data);
        assert_int_equal(f->pool.driver->stop(&f->pool, &v, &err), 0);
        assert_false(fileops_exists(dirty));
        char *got = read_at(clean, 4096, strlen(data));
        assert_string_equal(got, data);
        free(got);
        storage_attach_clear(&a);
        /* every commit adds the previous state; at most revisions_to_keep stay */
        assert_int_equal(n_revisions(f, &v), round < 2 ? (size_t)round : 2);
    }
    struct storage_revision *r;
    size_t n;
    assert_int_equal(f->pool.driver->revisions(&f->pool, &v, &r, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(r[0].id, "3");
    assert_string_equal(r[1].id, "4");
    assert_int_equal(strlen(r[0].timestamp), 19);
    char *rev = xasprintf("%s.3@%sZ", clean, r[0].timestamp);
    assert_true(fileops_exists(rev));
    /* revision 4 holds round 3; reverting brings it back and keeps the
     * current state as a new revision */
    assert_int_equal(f->pool.driver->revert(&f->pool, &v, "4", &err), 0);
    char *got = read_at(clean, 4096, 6);
    assert_string_equal(got, "round3");
    free(got);
    struct storage_revision *r2;
    assert_int_equal(f->pool.driver->revisions(&f->pool, &v, &r2, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(r2[1].id, "5");
    assert_int_equal(f->pool.driver->revert(&f->pool, &v, "42", &err), -1);
    assert_string_equal(qerror_kind_name(&err), "QubesVolumeRevisionNotFoundError");
    free(r2);
    free(r);
    free(rev);
    assert_int_equal(f->pool.driver->remove(&f->pool, &v, &err), 0);
    char *dir = path_of(f, "appvms/tpl");
    assert_false(fileops_exists(dir));
    free(dir);
    free(dirty);
    free(clean);
    storage_volume_clear(&v);
}

static void test_revert_refused_while_started(void **state)
{
    struct fixture *f = *state;
    struct storage_volume v;
    volume(f, &v, "tpl", "private", false, true, MIB);
    struct qerror err = { 0 };
    struct storage_attach a;
    assert_int_equal(f->pool.driver->create(&f->pool, &v, &err), 0);
    assert_int_equal(f->pool.driver->start(&f->pool, &v, &a, &err), 0);
    assert_int_equal(f->pool.driver->revert(&f->pool, &v, NULL, &err), -1);
    assert_string_equal(err.message, "Cannot revert: appvms/tpl/private is not cleanly stopped");
    assert_int_equal(f->pool.driver->stop(&f->pool, &v, &err), 0);
    storage_attach_clear(&a);
    assert_int_equal(f->pool.driver->remove(&f->pool, &v, &err), 0);
    storage_volume_clear(&v);
}

static void test_snapshot_and_volatile(void **state)
{
    struct fixture *f = *state;
    struct storage_volume src, snap, vol;
    volume(f, &src, "tpl", "root", false, true, 8 * MIB);
    volume(f, &snap, "work", "root", true, false, 0);
    volume(f, &vol, "work", "volatile", false, false, 32 * MIB);
    snap.source = &src;
    struct qerror err = { 0 };
    assert_int_equal(f->pool.driver->create(&f->pool, &src, &err), 0);
    assert_int_equal(f->pool.driver->create(&f->pool, &snap, &err), 0);
    assert_int_equal(f->pool.driver->create(&f->pool, &vol, &err), 0);
    char *src_clean = path_of(f, "appvms/tpl/root.img");
    char *own_clean = path_of(f, "appvms/work/root.img");
    assert_false(fileops_exists(own_clean)); /* snapshots own nothing at rest */
    write_at(src_clean, 0, "template");
    struct storage_attach a, b;
    assert_int_equal(f->pool.driver->start(&f->pool, &snap, &a, &err), 0);
    struct stat s1, s2;
    assert_int_equal(stat(src_clean, &s1), 0);
    assert_int_equal(stat(own_clean, &s2), 0);
    assert_int_equal(s1.st_ino, s2.st_ino); /* hardlinked */
    /* no overlaying driver: the qube gets a copy of its own */
    assert_null(a.source_path);
    assert_true(a.rw);
    assert_int_equal(stat(a.path, &s2), 0);
    assert_int_not_equal(s1.st_ino, s2.st_ino);
    char *got = read_at(a.path, 0, 8);
    assert_string_equal(got, "template");
    free(got);
    assert_int_equal(f->pool.driver->is_outdated(&f->pool, &snap), 0);
    /* the template commits: the running snapshot is now outdated */
    struct storage_attach t;
    assert_int_equal(f->pool.driver->start(&f->pool, &src, &t, &err), 0);
    assert_int_equal(f->pool.driver->stop(&f->pool, &src, &err), 0);
    storage_attach_clear(&t);
    assert_int_equal(f->pool.driver->is_outdated(&f->pool, &snap), 1);
    assert_int_equal(f->pool.driver->stop(&f->pool, &snap, &err), 0);
    assert_false(fileops_exists(own_clean));
    assert_false(fileops_exists(a.path));

    assert_int_equal(f->pool.driver->start(&f->pool, &vol, &b, &err), 0);
    assert_int_equal(stat(b.path, &s1), 0);
    assert_int_equal(s1.st_size, 32 * MIB);
    assert_int_equal(s1.st_blocks, 0);
    assert_int_equal(f->pool.driver->stop(&f->pool, &vol, &err), 0);
    assert_false(fileops_exists(b.path));
    storage_attach_clear(&a);
    storage_attach_clear(&b);
    assert_int_equal(f->pool.driver->remove(&f->pool, &snap, &err), 0);
    assert_int_equal(f->pool.driver->remove(&f->pool, &vol, &err), 0);
    assert_int_equal(f->pool.driver->remove(&f->pool, &src, &err), 0);
    free(src_clean);
    free(own_clean);
    storage_volume_clear(&src);
    storage_volume_clear(&snap);
    storage_volume_clear(&vol);
}

static ino_t inode_of(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return st.st_ino;
}

/* Names left in a directory, sorted, space-separated ("" if none or gone). */
static char *dir_listing(struct fixture *f, const char *rel)
{
    char *cmd = xasprintf("ls -A '%s/%s' 2>/dev/null | tr '\\n' ' '", f->dir, rel);
    FILE *p = popen(cmd, "r");
    char *out = calloc(1, 4096);
    assert_non_null(p);
    size_t n = fread(out, 1, 4095, p);
    out[n] = '\0';
    pclose(p);
    free(cmd);
    return out;
}

/* A DispVM's private with an overlaying driver: the DVM template's committed
 * image itself, read-only and pinned by a hardlink, while the template may
 * run (writing its own dirty image) and commit (a new inode). */
static void test_read_only_snapshot_pins_the_committed_image(void **state)
{
    struct fixture *f = *state;
    struct storage_volume src, snap, snap2;
    volume(f, &src, "dvm", "private", false, true, 8 * MIB);
    volume(f, &snap, "disp1", "private", true, false, 0);
    volume(f, &snap2, "disp2", "private", true, false, 0);
    snap.source = snap2.source = &src;
    snap.snapshot_read_only = snap2.snapshot_read_only = true;
    struct qerror err = { 0 };
    assert_int_equal(f->pool.driver->create(&f->pool, &src, &err), 0);
    assert_int_equal(f->pool.driver->create(&f->pool, &snap, &err), 0);
    char *src_clean = path_of(f, "appvms/dvm/private.img");
    char *own_clean = path_of(f, "appvms/disp1/private.img");
    write_at(src_clean, 0, "commit-1");
    ino_t committed = inode_of(src_clean);

    struct storage_attach a, t, b;
    assert_int_equal(f->pool.driver->start(&f->pool, &snap, &a, &err), 0);
    assert_null(a.path);
    assert_false(a.rw);
    assert_string_equal(a.source_path, own_clean);
    assert_int_equal(inode_of(a.source_path), committed); /* no copy */
    char *listing = dir_listing(f, "appvms/disp1");
    assert_string_equal(listing, "private.img ");
    free(listing);

    /* the DVM template runs: it writes its own dirty image only */
    assert_int_equal(f->pool.driver->start(&f->pool, &src, &t, &err), 0);
    assert_int_not_equal(inode_of(t.path), committed);
    write_at(t.path, 0, "uncommit");
    char *got = read_at(a.source_path, 0, 8);
    assert_string_equal(got, "commit-1");
    free(got);
    /* a disposable started now still gets the last commit */
    assert_int_equal(f->pool.driver->start(&f->pool, &snap2, &b, &err), 0);
    assert_int_equal(inode_of(b.source_path), committed);

    /* the template commits: a new inode; the running disposables keep theirs */
    assert_int_equal(f->pool.driver->stop(&f->pool, &src, &err), 0);
    assert_int_not_equal(inode_of(src_clean), committed);
    got = read_at(src_clean, 0, 8);
    assert_string_equal(got, "uncommit");
    free(got);
    got = read_at(a.source_path, 0, 8);
    assert_string_equal(got, "commit-1");
    free(got);
    assert_int_equal(f->pool.driver->is_outdated(&f->pool, &snap), 1);

    /* stopped, a disposable leaves no file */
    assert_int_equal(f->pool.driver->stop(&f->pool, &snap, &err), 0);
    assert_int_equal(f->pool.driver->stop(&f->pool, &snap2, &err), 0);
    listing = dir_listing(f, "appvms/disp1");
    assert_string_equal(listing, "");
    free(listing);
    listing = dir_listing(f, "appvms/disp2");
    assert_string_equal(listing, "");
    free(listing);
    storage_attach_clear(&a);
    storage_attach_clear(&b);
    storage_attach_clear(&t);
    assert_int_equal(f->pool.driver->remove(&f->pool, &snap, &err), 0);
    assert_int_equal(f->pool.driver->remove(&f->pool, &snap2, &err), 0);
    assert_int_equal(f->pool.driver->remove(&f->pool, &src, &err), 0);
    free(src_clean);
    free(own_clean);
    storage_volume_clear(&src);
    storage_volume_clear(&snap);
    storage_volume_clear(&snap2);
}

/* revisions_to_keep=-1 uses the committed image in place, but never one a
 * running snapshot (or a revision) shares: that would write an ext4 image
 * under a read-only mount of it. A snapshot of a source running in place
 * is refused. */
static void test_snapshots_disabled_never_write_a_shared_image(void **state)
{
    struct fixture *f = *state;
    struct storage_volume src, snap;
    volume(f, &src, "dvm", "private", false, true, 8 * MIB);
    volume(f, &snap, "disp1", "private", true, false, 0);
    src.revisions_to_keep = -1;
    snap.source = &src;
    snap.snapshot_read_only = true;
    struct qerror err = { 0 };
    assert_int_equal(f->pool.driver->create(&f->pool, &src, &err), 0);
    char *src_clean = path_of(f, "appvms/dvm/private.img");
    write_at(src_clean, 0, "commit-1");
    ino_t committed = inode_of(src_clean);

    /* alone: in place, as upstream */
    struct storage_attach t, a;
    assert_int_equal(f->pool.driver->start(&f->pool, &src, &t, &err), 0);
    assert_int_equal(inode_of(t.path), committed);
    assert_false(fileops_exists(src_clean));
    assert_int_equal(f->pool.driver->start(&f->pool, &snap, &a, &err), -1);
    assert_string_equal(err.message, "Cannot start appvms/disp1/private: its source "
                                     "appvms/dvm/private is in use with snapshots disabled "
                                     "(revisions_to_keep=-1)");
    assert_int_equal(f->pool.driver->stop(&f->pool, &src, &err), 0);
    storage_attach_clear(&t);
    assert_int_equal(inode_of(src_clean), committed);

    /* a disposable holds the image: the template gets a copy */
    assert_int_equal(f->pool.driver->start(&f->pool, &snap, &a, &err), 0);
    assert_int_equal(inode_of(a.source_path), committed);
    assert_int_equal(f->pool.driver->start(&f->pool, &src, &t, &err), 0);
    assert_int_not_equal(inode_of(t.path), committed);
    write_at(t.path, 0, "commit-2");
    assert_int_equal(f->pool.driver->stop(&f->pool, &src, &err), 0);
    char *got = read_at(a.source_path, 0, 8);
    assert_string_equal(got, "commit-1");
    free(got);
    got = read_at(src_clean, 0, 8);
    assert_string_equal(got, "commit-2");
    free(got);
    assert_int_equal(f->pool.driver->stop(&f->pool, &snap, &err), 0);
    storage_attach_clear(&t);
    storage_attach_clear(&a);
    assert_int_equal(f->pool.driver->remove(&f->pool, &snap, &err), 0);
    assert_int_equal(f->pool.driver->remove(&f->pool, &src, &err), 0);
    free(src_clean);
    storage_volume_clear(&src);
    storage_volume_clear(&snap);
}

/* Every operation that changes a volume's committed data writes a new file
 * and renames it over: an inode pinned before keeps its bytes. */
static void assert_pin_kept(const char *clean, const char *pin, const char *data)
{
    char *got = read_at(pin, 0, strlen(data));
    assert_string_equal(got, data);
    free(got);
    assert_int_not_equal(inode_of(clean), inode_of(pin));
    assert_int_equal(unlink(pin), 0);
}

static void test_committed_image_is_never_written_in_place(void **state)
{
    struct fixture *f = *state;
    struct storage_volume v, other;
    volume(f, &v, "dvm", "private", false, true, 4 * MIB);
    volume(f, &other, "other", "private", false, true, 4 * MIB);
    struct qerror err = { 0 };
    assert_int_equal(f->pool.driver->create(&f->pool, &v, &err), 0);
    assert_int_equal(f->pool.driver->create(&f->pool, &other, &err), 0);
    char *clean = path_of(f, "appvms/dvm/private.img");
    char *pin = path_of(f, "pin");
    write_at(clean, 0, "state-0");

    /* start, write, commit */
    struct storage_attach t;
    assert_int_equal(link(clean, pin), 0);
    assert_int_equal(f->pool.driver->start(&f->pool, &v, &t, &err), 0);
    write_at(t.path, 0, "state-1");
    assert_int_equal(f->pool.driver->stop(&f->pool, &v, &err), 0);
    storage_attach_clear(&t);
    assert_pin_kept(clean, pin, "state-0");
    /* resize at rest */
    assert_int_equal(link(clean, pin), 0);
    assert_int_equal(f->pool.driver->resize(&f->pool, &v, 8 * MIB, &err), 0);
    assert_pin_kept(clean, pin, "state-1");
    /* revert */
    assert_int_equal(link(clean, pin), 0);
    assert_int_equal(f->pool.driver->revert(&f->pool, &v, NULL, &err), 0);
    assert_pin_kept(clean, pin, "state-1");
    /* import */
    char *imp = NULL;
    assert_int_equal(link(clean, pin), 0);
    assert_int_equal(f->pool.driver->import_begin(&f->pool, &v, 4 * MIB, &imp, &err), 0);
    write_at(imp, 0, "state-2");
    assert_int_equal(f->pool.driver->import_end(&f->pool, &v, true, &err), 0);
    free(imp);
    assert_pin_kept(clean, pin, "state-0"); /* the revert brought back state-0 */
    /* clone from another volume */
    char *other_clean = path_of(f, "appvms/other/private.img");
    write_at(other_clean, 0, "state-3");
    assert_int_equal(link(clean, pin), 0);
    assert_int_equal(f->pool.driver->clone_from(&f->pool, &v, other_clean, &err), 0);
    assert_pin_kept(clean, pin, "state-2");
    char *got = read_at(clean, 0, 7);
    assert_string_equal(got, "state-3");
    free(got);
    assert_int_equal(f->pool.driver->remove(&f->pool, &v, &err), 0);
    assert_int_equal(f->pool.driver->remove(&f->pool, &other, &err), 0);
    free(other_clean);
    free(clean);
    free(pin);
    storage_volume_clear(&v);
    storage_volume_clear(&other);
}

static void test_resize_and_import(void **state)
{
    struct fixture *f = *state;
    struct storage_volume v;
    volume(f, &v, "sa", "private", false, true, 4 * MIB);
    struct qerror err = { 0 };
    assert_int_equal(f->pool.driver->create(&f->pool, &v, &err), 0);
    assert_int_equal(f->pool.driver->resize(&f->pool, &v, 16 * MIB, &err), 0);
    uint64_t size, usage;
    f->pool.driver->usage(&f->pool, &v, &size, &usage);
    assert_int_equal(size, 16 * MIB);
    v.rw = false;
    assert_int_equal(f->pool.driver->resize(&f->pool, &v, 32 * MIB, &err), -1);
    assert_string_equal(err.message, "Cannot resize: appvms/sa/private is read-only");
    v.rw = true;
    char *path = NULL;
    assert_int_equal(f->pool.driver->import_begin(&f->pool, &v, 2 * MIB, &path, &err), 0);
    write_at(path, MIB, "imported");
    assert_int_equal(f->pool.driver->import_end(&f->pool, &v, true, &err), 0);
    assert_false(fileops_exists(path));
    f->pool.driver->usage(&f->pool, &v, &size, &usage);
    assert_int_equal(size, 2 * MIB);
    char *clean = path_of(f, "appvms/sa/private.img");
    char *got = read_at(clean, MIB, 8);
    assert_string_equal(got, "imported");
    free(got);
    free(path);
    /* a failed import changes nothing */
    assert_int_equal(f->pool.driver->import_begin(&f->pool, &v, MIB, &path, &err), 0);
    assert_int_equal(f->pool.driver->import_end(&f->pool, &v, false, &err), 0);
    f->pool.driver->usage(&f->pool, &v, &size, &usage);
    assert_int_equal(size, 2 * MIB);
    free(path);
    free(clean);
    assert_int_equal(f->pool.driver->remove(&f->pool, &v, &err), 0);
    storage_volume_clear(&v);
}

static void test_sparse_copy_keeps_holes(void **state)
{
    struct fixture *f = *state;
    char *src = path_of(f, "sparse-src");
    char *dst = path_of(f, "sparse-dst");
    struct qerror err = { 0 };
    assert_int_equal(fileops_create_sparse(src, 256 * MIB, &err), 0);
    write_at(src, 128 * MIB, "data in the middle");
    write_at(src, 0, "head");
    bool reflinked = true;
    assert_int_equal(fileops_copy(src, dst, UINT64_MAX, &reflinked, &err), 0);
    struct stat a, b;
    assert_int_equal(stat(src, &a), 0);
    assert_int_equal(stat(dst, &b), 0);
    assert_int_equal(b.st_size, 256 * MIB);
    assert_true(b.st_blocks <= a.st_blocks + 16); /* holes stayed holes */
    assert_true((uint64_t)b.st_blocks * 512 < MIB);
    char *got = read_at(dst, 128 * MIB, 18);
    assert_string_equal(got, "data in the middle");
    free(got);
    assert_int_equal(fileops_copy(src, dst, 512 * MIB, NULL, &err), 0);
    assert_int_equal(stat(dst, &b), 0);
    assert_int_equal(b.st_size, 512 * MIB);
    free(src);
    free(dst);
}

static void test_pool_config(void **state)
{
    (void)state;
    struct storage_pool p;
    struct qerror err = { 0 };
    const char *keys[] = { "dir_path", "bogus" }, *values[] = { "/x/", "1" };
    assert_int_equal(storage_pool_open("p", "file-reflink", 2, keys, values, &p, &err), -1);
    assert_string_equal(err.message, "unexpected driver options: bogus");
    assert_int_equal(storage_pool_open("p", "file-reflink", 0, keys, values, &p, &err), -1);
    assert_int_equal(storage_pool_open("p", "nope", 0, keys, values, &p, &err), -1);
    assert_string_equal(err.message, "unexpected driver name: nope");
    assert_int_equal(storage_pool_open("p", "file-reflink", 1, keys, values, &p, &err), 0);
    struct buf b = BUF_INIT;
    storage_pool_config(&p, &b);
    assert_string_equal(b.data, "dir_path=/x\ndriver=file-reflink\nephemeral_volatile=False\n"
                                "name=p\nrevisions_to_keep=1\n");
    buf_free(&b);
    storage_pool_close(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_vid_and_create, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_formats_ext4, setup, teardown),
        cmocka_unit_test_setup_teardown(test_start_stop_commit_revisions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_revert_refused_while_started, setup, teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_and_volatile, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_only_snapshot_pins_the_committed_image, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_snapshots_disabled_never_write_a_shared_image, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_committed_image_is_never_written_in_place, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_resize_and_import, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sparse_copy_keeps_holes, setup, teardown),
        cmocka_unit_test(test_pool_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
