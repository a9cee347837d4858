/* qubes.Filecopy: the name rules, a pack -> unpack round trip of a real tree,
 * every hostile stream we could think of (each must fail with Qubes' error code
 * and leave everything outside the destination untouched), and the sender's
 * reading of the result. In-process, on temp dirs under /tmp; no root needed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include "filecopy/filecopy.h"
#include "filecopy/pack.h"
#include "filecopy/path_check.h"
#include "filecopy/unpack.h"

/* what qfile-unpacker passes */
#define UNPACKER_FLAGS \
    (COPY_ALLOW_SYMLINKS | COPY_ALLOW_DIRECTORIES | COPY_ALLOW_NON_CANONICAL_SYMLINKS)

/* ---- fixture: ROOT/{dest,src,outside/secret} ---- */

struct fixture {
    char root[64];
    int root_fd;
    int dest_fd;
    int src_fd;
    char *outside_before; /* snapshot of ROOT minus dest */
};

/* rm -rf by descriptors: trees deeper than PATH_MAX, r-x directories */
static void rm_tree_at(int parent_fd, const char *name)
{
    struct stat st;
    if (fstatat(parent_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return;
    if (S_ISDIR(st.st_mode)) {
        (void)!fchmodat(parent_fd, name, 0700, 0);
        int fd = openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        DIR *d = fd < 0 ? NULL : fdopendir(fd);
        if (d) {
            bool removed;
            do {
                removed = false;
                rewinddir(d);
                struct dirent *e;
                while ((e = readdir(d))) {
                    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                        continue;
                    rm_tree_at(dirfd(d), e->d_name);
                    removed = true;
                }
            } while (removed);
            closedir(d);
        }
        unlinkat(parent_fd, name, AT_REMOVEDIR);
    } else {
        unlinkat(parent_fd, name, 0);
    }
}

static void rm_rf(const char *path)
{
    rm_tree_at(AT_FDCWD, path);
}

static int snapshot_entry(const char *path, const struct stat *st, int type, struct FTW *ftw);
static FILE *snap_out;
static const char *snap_skip[2];

/* One line per entry under ROOT except the dest and src subtrees: anything created,
 * removed or changed outside the destination shows up as a difference. */
static char *snapshot(const struct fixture *f)
{
    char *text = NULL;
    size_t len = 0;
    char skip_dest[128], skip_src[128];
    snprintf(skip_dest, sizeof(skip_dest), "%s/dest", f->root);
    snprintf(skip_src, sizeof(skip_src), "%s/src", f->root);
    snap_out = open_memstream(&text, &len);
    snap_skip[0] = skip_dest;
    snap_skip[1] = skip_src;
    assert_int_equal(nftw(f->root, snapshot_entry, 16, FTW_PHYS | FTW_ACTIONRETVAL), 0);
    fclose(snap_out);
    return text;
}

static int snapshot_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)type;
    (void)ftw;
    /* dest changes, of course; src is the tests' own doing */
    if (strcmp(path, snap_skip[0]) == 0 || strcmp(path, snap_skip[1]) == 0)
        return FTW_SKIP_SUBTREE;
    fprintf(snap_out, "%s %o %lld %lld.%09ld\n", path, st->st_mode, (long long)st->st_size,
            (long long)st->st_mtim.tv_sec, st->st_mtim.tv_nsec);
    if (S_ISLNK(st->st_mode)) {
        char target[256] = "";
        (void)!readlink(path, target, sizeof(target) - 1);
        fprintf(snap_out, "  -> %s\n", target);
    }
    return 0;
}

static void write_file_at(int dirfd, const char *name, const void *data, size_t len, mode_t mode)
{
    int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    assert_int_equal(fchmod(fd, mode), 0);
    close(fd);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    snprintf(f->root, sizeof(f->root), "/tmp/qubicle-filecopy.XXXXXX");
    assert_non_null(mkdtemp(f->root));
    f->root_fd = open(f->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(f->root_fd >= 0);
    assert_int_equal(mkdirat(f->root_fd, "dest", 0700), 0);
    assert_int_equal(mkdirat(f->root_fd, "src", 0700), 0);
    assert_int_equal(mkdirat(f->root_fd, "outside", 0700), 0);
    write_file_at(f->root_fd, "outside/secret", "secret", 6, 0600);
    f->dest_fd = openat(f->root_fd, "dest", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    f->src_fd = openat(f->root_fd, "src", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(f->dest_fd >= 0 && f->src_fd >= 0);
    f->outside_before = snapshot(f);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    close(f->dest_fd);
    close(f->src_fd);
    close(f->root_fd);
    rm_rf(f->root);
    free(f->outside_before);
    free(f);
    return 0;
}

static void assert_outside_untouched(const struct fixture *f)
{
    char *now = snapshot(f);
    assert_string_equal(now, f->outside_before);
    free(now);
}

/* ---- hand-made streams ---- */

struct stream {
    uint8_t *data;
    size_t len;
    size_t cap;
};

static void put(struct stream *s, const void *data, size_t len)
{
    if (s->len + len > s->cap) {
        s->cap = (s->len + len) * 2 + 64;
        s->data = realloc(s->data, s->cap);
        assert_non_null(s->data);
    }
    memcpy(s->data + s->len, data, len);
    s->len += len;
}

static void put_header(struct stream *s, uint32_t namelen, uint32_t mode, uint64_t filelen)
{
    struct file_header h = { .namelen = namelen,
                             .mode = mode,
                             .filelen = filelen,
                             .atime = 1000000000,
                             .atime_nsec = 1,
                             .mtime = 1200000000,
                             .mtime_nsec = 999999999 };
    put(s, &h, sizeof(h));
}

/* a complete entry: header, name and NUL, data (file data or symlink target) */
static void put_entry(struct stream *s, const char *name, uint32_t mode, const char *data)
{
    size_t dlen = data ? strlen(data) : 0;
    put_header(s, (uint32_t)strlen(name) + 1, mode, dlen);
    put(s, name, strlen(name) + 1);
    if (dlen)
        put(s, data, dlen);
}

static void put_end(struct stream *s)
{
    put_header(s, 0, 0, 0);
    /* the end marker is all zeros */
    memset(s->data + s->len - sizeof(struct file_header), 0, sizeof(struct file_header));
}

struct result {
    uint32_t code;
    uint64_t crc;
    char name[MAX_PATH_LENGTH + 1];
};

static int stream_fd(const void *data, size_t len)
{
    int fd = memfd_create("stream", MFD_CLOEXEC);
    assert_true(fd >= 0);
    if (len)
        assert_int_equal(write(fd, data, len), (ssize_t)len);
    assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
    return fd;
}

static void read_all(int fd, void *dst, size_t len)
{
    uint8_t *d = dst;
    while (len) {
        ssize_t n = read(fd, d, len);
        assert_true(n > 0);
        d += n;
        len -= (size_t)n;
    }
}

/* Unpacks s into dest; checks the wire form of the result and that it matches
 * the return value. */
static void unpack_stream(struct fixture *f, const struct stream *s, unsigned flags,
                          const struct filecopy_limits *limits, struct result *res)
{
    int in = stream_fd(s->data, s->len);
    int pfd[2];
    assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
    uint32_t rc = filecopy_unpack(f->dest_fd, in, pfd[1], flags, limits);
    close(pfd[1]);
    close(in);
    struct result_header hdr;
    struct result_header_ext ext;
    read_all(pfd[0], &hdr, sizeof(hdr));
    read_all(pfd[0], &ext, sizeof(ext));
    assert_true(ext.last_namelen < MAX_PATH_LENGTH);
    read_all(pfd[0], res->name, ext.last_namelen);
    res->name[ext.last_namelen] = '\0';
    char extra;
    assert_int_equal(read(pfd[0], &extra, 1), 0); /* nothing after it */
    close(pfd[0]);
    assert_int_equal(hdr._pad, 0);
    assert_int_equal(hdr.error_code, rc);
    res->code = rc;
    res->crc = hdr.crc32;
}

static uint32_t unpack_code(struct fixture *f, const struct stream *s, unsigned flags)
{
    struct result res;
    unpack_stream(f, s, flags, NULL, &res);
    return res.code;
}

static bool exists_at(int dirfd, const char *path)
{
    struct stat st;
    return fstatat(dirfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

static size_t count_entries(int dirfd)
{
    int fd = dup(dirfd);
    DIR *d = fdopendir(fd);
    assert_non_null(d);
    rewinddir(d);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

static void read_file_at(int dirfd, const char *path, char *buf, size_t size)
{
    int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    ssize_t n = read(fd, buf, size - 1);
    assert_true(n >= 0);
    buf[n] = '\0';
    close(fd);
}

/* One hostile stream: the expected code, and nothing at all outside dest. */
static void expect_rejected(struct fixture *f, struct stream *s, uint32_t code)
{
    assert_int_equal(unpack_code(f, s, UNPACKER_FLAGS), code);
    assert_outside_untouched(f);
    free(s->data);
    *s = (struct stream){ 0 };
}

/* ---- name rules ---- */

static void test_names(void **state)
{
    (void)state;
    const char *good[] = { "a",
                           "a/b",
                           "a.b/.c/..d/...",
                           "x y-z_(1)+[2]~",
                           "Grüße",
                           "日本語/한국어/カタカナ/Ελληνικά/Кириллица",
                           "\xf0\xa0\x80\x80" /* U+20000 */,
                           "«quoted» — dash…",
                           "€ £ ¥",
                           "ǅ ĳ ŉ ſ" };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        assert_int_equal(path_check_file_name(good[i], 0), 0);
    const char *bad[] = {
        "",
        "/",
        "/abs",
        "../x",
        "..",
        "a/..",
        "a/../b",
        ".",
        "./a",
        "a/.",
        "a/./b",
        "a//b",
        "a/",
        "a\x01",
        "a\x7f",
        "\x1b[31m",
        "a\nb",
        "\xe2\x80\xae"
        "evil",      /* U+202E right-to-left override */
        "a\xcc\x81", /* U+0301 combining acute */
        "\xd7\x90",  /* U+05D0 Hebrew alef */
        "\xd8\xa7",  /* U+0627 Arabic alef */
        "\xef\xbb\xbf"
        "bom",          /* U+FEFF */
        "\xe2\x80\x8b", /* U+200B zero width space */
        "\xee\x80\x80", /* U+E000 private use */
        "\xef\xbf\xbe", /* U+FFFE noncharacter */
        "\xef\xb7\x90", /* U+FDD0 noncharacter */
        "\xc2\xa0",     /* U+00A0 no-break space */
        "\xc2\x85",     /* U+0085 C1 control */
        "\xc0\xaf",
        "\xe0\x80\xaf",
        "\xf0\x80\x80\xaf", /* overlong '/' */
        "\xed\xa0\x80",     /* surrogate */
        "\xf4\x90\x80\x80", /* above U+10FFFF */
        "\xf3\xb0\x80\x80", /* plane 15 private use */
        "\xc3",
        "\xe6\x97",
        "\xe6\x97"
        "a",
        "\x80",
        "\xff",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (path_check_file_name(bad[i], 0) != -EILSEQ)
            fail_msg("accepted bad name #%zu", i);
    }
    /* --allow-all-names lifts the character checks, never the structure ones */
    assert_int_equal(path_check_file_name("\xe2\x80\xae"
                                          "evil\n\x01",
                                          PATH_ALLOW_UNSAFE_CHARACTERS),
                     0);
    assert_int_equal(path_check_file_name("a//b", PATH_ALLOW_UNSAFE_CHARACTERS), -EILSEQ);
    assert_int_equal(path_check_file_name("../a", PATH_ALLOW_UNSAFE_CHARACTERS), -EILSEQ);
    assert_int_equal(path_check_file_name("a/", PATH_ALLOW_TRAILING_SLASH), -EILSEQ);

    assert_true(path_check_code_point_safe('A'));
    assert_true(path_check_code_point_safe(0x00E9));
    assert_true(path_check_code_point_safe(0x4E2D));
    assert_true(path_check_code_point_safe(0xAC00));
    assert_false(path_check_code_point_safe(0x0000));
    assert_false(path_check_code_point_safe(0x007F));
    assert_false(path_check_code_point_safe(0x0300));
    assert_false(path_check_code_point_safe(0x200E));
    assert_false(path_check_code_point_safe(0xD800));
    assert_false(path_check_code_point_safe(0x10FFFF));
    assert_false(path_check_code_point_safe(0x110000));
    assert_false(path_check_code_point_safe(0xFFFFFFFF));
}

static void test_symlink_rules(void **state)
{
    (void)state;
    const unsigned nc = PATH_ALLOW_NON_CANONICAL_SYMLINKS;
    assert_int_equal(path_check_symlink("a/b", "c", 0), 0);
    assert_int_equal(path_check_symlink("a/b", "c/d/", 0), 0); /* trailing '/' in targets */
    assert_int_equal(path_check_symlink("a/b/c", "../d", 0), 0);
    assert_int_equal(path_check_symlink("a/b/c/d", "../../e", 0), 0);
    assert_int_equal(path_check_symlink("a/b", "../c", 0), -ENOLINK);
    assert_int_equal(path_check_symlink("a/b/c", "../../d", 0), -ENOLINK);
    assert_int_equal(path_check_symlink("a/b/c", "d/../../x", 0), -ENOLINK);
    assert_int_equal(path_check_symlink("a/b/c/d", "../x/../..", 0), -ENOLINK);
    assert_int_equal(path_check_symlink("a/b", "/etc/passwd", 0), -ENOLINK);
    assert_int_equal(path_check_symlink("a/b", "", nc), -ENOLINK);
    assert_int_equal(path_check_symlink("a", "b", 0), -ENOLINK); /* top level */
    assert_int_equal(path_check_symlink("a", "b", PATH_ALLOW_UNSAFE_SYMLINKS), 0);
    assert_int_equal(path_check_symlink("a/b", "/x", PATH_ALLOW_UNSAFE_SYMLINKS), 0);
    assert_int_equal(path_check_symlink("../b", "c", PATH_ALLOW_UNSAFE_SYMLINKS), -EILSEQ);
    assert_int_equal(path_check_symlink("a//b", "c", 0), -EILSEQ);
    assert_int_equal(path_check_symlink("a/b", "\xe2\x80\xae", 0), -EILSEQ);
    /* non-canonical targets only with the flag qfile-unpacker always sets */
    assert_int_equal(path_check_symlink("a/b", "./c", 0), -EILSEQ);
    assert_int_equal(path_check_symlink("a/b", "c//d", 0), -EILSEQ);
    assert_int_equal(path_check_symlink("a/b", "./c", nc), 0);
    assert_int_equal(path_check_symlink("a/b", "c//d/./", nc), 0);
    assert_int_equal(path_check_symlink("a/b/c", "./../d", nc), 0);
    assert_int_equal(path_check_symlink("a/b", "./../d", nc), -ENOLINK);
    assert_int_equal(path_check_symlink("a/b", "//etc", nc), -ENOLINK);
}

static void test_qube_names(void **state)
{
    (void)state;
    assert_true(path_check_qube_name("work"));
    assert_true(path_check_qube_name("sys-net.2_x"));
    assert_true(path_check_qube_name("disp1234"));
    assert_true(path_check_qube_name("a234567890123456789012345678901"));
    assert_false(path_check_qube_name("a2345678901234567890123456789012"));
    assert_false(path_check_qube_name(""));
    assert_false(path_check_qube_name("."));
    assert_false(path_check_qube_name(".."));
    assert_false(path_check_qube_name("a/b"));
    assert_false(path_check_qube_name("1abc"));
    assert_false(path_check_qube_name("-abc"));
    assert_false(path_check_qube_name("a b"));
    assert_false(path_check_qube_name("caf\xc3\xa9"));
}

/* ---- round trip ---- */

struct transfer {
    struct filecopy_pack *p;
    int stream;
    int result_r, result_w;
};

static void transfer_open(struct transfer *t)
{
    t->stream = memfd_create("stream", MFD_CLOEXEC);
    assert_true(t->stream >= 0);
    int pfd[2];
    assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
    t->result_r = pfd[0];
    t->result_w = pfd[1];
    t->p = filecopy_pack_new(t->stream, t->result_r);
    assert_non_null(t->p);
}

static int transfer_pack(struct transfer *t, int cwd_fd, const char *const *args, size_t n,
                         struct qerror *err)
{
    for (size_t i = 0; i < n; i++)
        if (filecopy_pack_arg(t->p, cwd_fd, args[i], err) < 0)
            return -1;
    return filecopy_pack_end(t->p, err);
}

static uint32_t transfer_unpack(struct transfer *t, int dest_fd, unsigned flags)
{
    assert_int_equal(lseek(t->stream, 0, SEEK_SET), 0);
    return filecopy_unpack(dest_fd, t->stream, t->result_w, flags, NULL);
}

static void transfer_close(struct transfer *t)
{
    filecopy_pack_free(t->p);
    close(t->stream);
    close(t->result_r);
    close(t->result_w);
}

static void set_times_at(int dirfd, const char *path, time_t sec, long nsec)
{
    struct timespec ts[2] = { { sec - 5, nsec / 2 }, { sec, nsec } };
    assert_int_equal(utimensat(dirfd, path, ts, AT_SYMLINK_NOFOLLOW), 0);
}

static void fill_pattern(uint8_t *buf, size_t len, uint32_t seed)
{
    for (size_t i = 0; i < len; i++) {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        buf[i] = (uint8_t)seed;
    }
}

#define UNICODE_NAME "Grüße-日本語-Ελληνικά-Кириллица-한국어-カタカナ-\xf0\xa0\x80\x80.txt"
#define BIG_SIZE (3 * 1024 * 1024 + 4321)

/* src/top: files of every size class, modes, a setuid bit, nested and r-x
 * directories, allowed symlinks, a unicode name, fixed times. */
static void make_tree(struct fixture *f)
{
    int s = f->src_fd;
    assert_int_equal(mkdirat(s, "top", 0700), 0);
    assert_int_equal(mkdirat(s, "top/sub", 0700), 0);
    assert_int_equal(mkdirat(s, "top/sub/deep", 0700), 0);
    assert_int_equal(mkdirat(s, "top/emptydir", 0700), 0);
    write_file_at(s, "top/empty", "", 0, 0600);
    write_file_at(s, "top/hello.txt", "hello\n", 6, 0644);
    write_file_at(s, "top/run.sh", "#!/bin/sh\n", 10, 0755);
    write_file_at(s, "top/setuid", "x", 1, 04755);
    write_file_at(s, "top/" UNICODE_NAME, "unicode", 7, 0640);
    write_file_at(s, "top/sub/deep/x", "deep data", 9, 0400);
    uint8_t *big = malloc(BIG_SIZE);
    assert_non_null(big);
    fill_pattern(big, BIG_SIZE, 12345);
    write_file_at(s, "top/sub/big.bin", big, BIG_SIZE, 0600);
    free(big);
    assert_int_equal(symlinkat("hello.txt", s, "top/link-sibling"), 0);
    assert_int_equal(symlinkat("../../hello.txt", s, "top/sub/deep/link-up"), 0);
    assert_int_equal(symlinkat("deep/x", s, "top/sub/link-down"), 0);
    assert_int_equal(symlinkat("nowhere", s, "top/sub/dangling"), 0);
    const char *files[] = { "top/empty",         "top/hello.txt",  "top/run.sh",     "top/setuid",
                            "top/" UNICODE_NAME, "top/sub/deep/x", "top/sub/big.bin" };
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
        set_times_at(s, files[i], 1500000000 + (time_t)i * 1000, 123456789 + (long)i);
    /* directories last, deepest first: filling them changed their times */
    assert_int_equal(fchmodat(s, "top/sub/deep", 0750, 0), 0);
    set_times_at(s, "top/sub/deep", 1400000000, 1);
    assert_int_equal(fchmodat(s, "top/sub", 0555, 0), 0); /* r-x: filled before its mode */
    set_times_at(s, "top/sub", 1400000100, 2);
    set_times_at(s, "top/emptydir", 1400000200, 3);
    assert_int_equal(fchmodat(s, "top", 0751, 0), 0);
    set_times_at(s, "top", 1400000300, 999999999);
}

/* Same names, types, contents, link targets, permission bits (setuid and
 * friends dropped) and mtimes. */
static void compare_trees(int a_dir, int b_dir, const char *path)
{
    struct stat sa, sb;
    assert_int_equal(fstatat(a_dir, path, &sa, AT_SYMLINK_NOFOLLOW), 0);
    if (fstatat(b_dir, path, &sb, AT_SYMLINK_NOFOLLOW) != 0)
        fail_msg("%s: missing after the copy", path);
    assert_int_equal(sa.st_mode & S_IFMT, sb.st_mode & S_IFMT);
    if (S_ISLNK(sa.st_mode)) {
        char ta[256] = "", tb[256] = "";
        assert_true(readlinkat(a_dir, path, ta, sizeof(ta) - 1) > 0);
        assert_true(readlinkat(b_dir, path, tb, sizeof(tb) - 1) > 0);
        assert_string_equal(ta, tb);
        return;
    }
    if ((sa.st_mode & 0777) != (sb.st_mode & 07777))
        fail_msg("%s: mode %o became %o", path, sa.st_mode & 07777, sb.st_mode & 07777);
    if (sa.st_mtim.tv_sec != sb.st_mtim.tv_sec || sa.st_mtim.tv_nsec != sb.st_mtim.tv_nsec)
        fail_msg("%s: mtime differs", path);
    if (S_ISREG(sa.st_mode)) {
        assert_int_equal(sa.st_size, sb.st_size);
        int fa = openat(a_dir, path, O_RDONLY | O_CLOEXEC);
        int fb = openat(b_dir, path, O_RDONLY | O_CLOEXEC);
        assert_true(fa >= 0 && fb >= 0);
        void *ma =
            sa.st_size ? mmap(NULL, (size_t)sa.st_size, PROT_READ, MAP_PRIVATE, fa, 0) : NULL;
        void *mb =
            sb.st_size ? mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fb, 0) : NULL;
        if (sa.st_size) {
            assert_true(ma != MAP_FAILED && mb != MAP_FAILED);
            if (memcmp(ma, mb, (size_t)sa.st_size) != 0)
                fail_msg("%s: content differs", path);
            munmap(ma, (size_t)sa.st_size);
            munmap(mb, (size_t)sb.st_size);
        }
        close(fa);
        close(fb);
        return;
    }
    assert_true(S_ISDIR(sa.st_mode));
    int da = openat(a_dir, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int db = openat(b_dir, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(da >= 0 && db >= 0);
    assert_int_equal(count_entries(da), count_entries(db));
    DIR *d = fdopendir(da);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char child[1024];
        snprintf(child, sizeof(child), "%s/%s", path, e->d_name);
        compare_trees(a_dir, b_dir, child);
    }
    closedir(d);
    close(db);
}

static void test_round_trip(void **state)
{
    struct fixture *f = *state;
    make_tree(f);
    struct transfer t;
    transfer_open(&t);
    struct qerror err = { 0 };
    const char *args[] = { "src/top" };
    if (transfer_pack(&t, f->root_fd, args, 1, &err) < 0)
        fail_msg("pack: %s", err.message);
    assert_int_equal(transfer_unpack(&t, f->dest_fd, UNPACKER_FLAGS), 0);
    if (filecopy_pack_wait_result(t.p, &err) < 0)
        fail_msg("result: %s", err.message);
    assert_true(t.p->bytes_sent > BIG_SIZE);
    transfer_close(&t);

    compare_trees(f->src_fd, f->dest_fd, "top");
    struct stat st;
    assert_int_equal(fstatat(f->dest_fd, "top/setuid", &st, 0), 0);
    assert_int_equal(st.st_mode & 07777, 0755);
    assert_outside_untouched(f);
}

/* The stream is the same bytes whatever the argument's spelling. */
static void test_pack_argument_forms(void **state)
{
    struct fixture *f = *state;
    write_file_at(f->src_fd, "a", "A", 1, 0644);
    assert_int_equal(mkdirat(f->src_fd, "d", 0755), 0);
    const char *forms[] = { "src/a", "src//a", "./src/a", "src/d/", "src/d//" };
    const char *names[] = { "a", "a", "a", "d", "d" };
    for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
        struct transfer t;
        transfer_open(&t);
        struct qerror err = { 0 };
        assert_int_equal(filecopy_pack_arg(t.p, f->root_fd, forms[i], &err), 0);
        struct file_header h;
        char name[8] = "";
        assert_int_equal(pread(t.stream, &h, sizeof(h), 0), (ssize_t)sizeof(h));
        assert_int_equal(h.namelen, 2);
        assert_int_equal(pread(t.stream, name, 2, sizeof(h)), 2);
        assert_string_equal(name, names[i]);
        transfer_close(&t);
    }
    struct transfer t;
    transfer_open(&t);
    struct qerror err = { 0 };
    assert_int_equal(filecopy_pack_arg(t.p, f->root_fd, "", &err), -1);
    assert_int_equal(filecopy_pack_arg(t.p, f->root_fd, "src/..", &err), -1);
    assert_int_equal(filecopy_pack_arg(t.p, f->root_fd, "/", &err), -1);
    assert_int_equal(filecopy_pack_arg(t.p, f->root_fd, "src/missing", &err), -1);
    assert_non_null(strstr(err.message, "No such file or directory"));
    transfer_close(&t);
}

/* The sender walks exactly as upstream: dir, contents, dir again; end marker. */
static void test_pack_stream_layout(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(mkdirat(f->src_fd, "d", 0755), 0);
    write_file_at(f->src_fd, "d/f", "xyz", 3, 0640);
    assert_int_equal(symlinkat("f", f->src_fd, "d/l"), 0);
    assert_int_equal(mkfifoat(f->src_fd, "d/fifo", 0600), 0);
    struct transfer t;
    transfer_open(&t);
    struct qerror err = { 0 };
    const char *args[] = { "src/d" };
    assert_int_equal(transfer_pack(&t, f->root_fd, args, 1, &err), 0);
    off_t len = lseek(t.stream, 0, SEEK_END);
    uint8_t *s = malloc((size_t)len);
    assert_int_equal(pread(t.stream, s, (size_t)len, 0), len);
    /* d, then f and l in readdir order (fifo skipped), d, end */
    size_t off = 0;
    const char *seen[5];
    int n = 0;
    for (;;) {
        struct file_header h;
        memcpy(&h, s + off, sizeof(h));
        off += sizeof(h);
        if (h.namelen == 0) {
            assert_int_equal(h.mode, 0);
            assert_int_equal(h.filelen, 0);
            break;
        }
        assert_true(n < 4);
        seen[n++] = (const char *)s + off;
        assert_int_equal(s[off + h.namelen - 1], 0);
        off += h.namelen;
        if (S_ISREG(h.mode)) {
            assert_int_equal(h.filelen, 3);
            assert_memory_equal(s + off, "xyz", 3);
        } else if (S_ISLNK(h.mode)) {
            assert_int_equal(h.filelen, 1);
            assert_memory_equal(s + off, "f", 1);
        } else {
            assert_true(S_ISDIR(h.mode));
            assert_int_equal(h.filelen, 0);
            assert_int_equal(h.mode & 07777, 0755);
        }
        off += h.filelen;
    }
    assert_int_equal(off, (size_t)len);
    assert_int_equal(n, 4);
    assert_string_equal(seen[0], "d");
    assert_string_equal(seen[3], "d");
    assert_true((!strcmp(seen[1], "d/f") && !strcmp(seen[2], "d/l")) ||
                (!strcmp(seen[1], "d/l") && !strcmp(seen[2], "d/f")));
    /* CRC over every byte written, zlib's crc32 from 0 */
    assert_int_equal(t.p->crc, crc32(0, s, (uInt)len));
    free(s);
    /* --ignore-symlinks */
    transfer_close(&t);
    transfer_open(&t);
    t.p->ignore_symlinks = true;
    assert_int_equal(transfer_pack(&t, f->root_fd, args, 1, &err), 0);
    assert_int_equal(transfer_unpack(&t, f->dest_fd, UNPACKER_FLAGS), 0);
    assert_int_equal(filecopy_pack_wait_result(t.p, &err), 0);
    assert_true(exists_at(f->dest_fd, "d/f"));
    assert_false(exists_at(f->dest_fd, "d/l"));
    assert_false(exists_at(f->dest_fd, "d/fifo"));
    transfer_close(&t);
}

/* Sender sees the receiver's verdict: a forbidden symlink and a forbidden name. */
static void clear_dest(struct fixture *f)
{
    DIR *d = fdopendir(dup(f->dest_fd));
    assert_non_null(d);
    rewinddir(d); /* the dup shares dest_fd's offset */
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            rm_tree_at(f->dest_fd, e->d_name);
    closedir(d);
}

static void test_round_trip_rejections(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(mkdirat(f->src_fd, "d", 0755), 0);
    assert_int_equal(symlinkat("../outside/secret", f->src_fd, "d/escape"), 0);
    assert_int_equal(mkdirat(f->src_fd, "e", 0755), 0);
    write_file_at(f->src_fd,
                  "e/\xe2\x80\xae"
                  "fdp.exe",
                  "x", 1, 0644);
    assert_int_equal(mkdirat(f->src_fd, "g", 0755), 0);
    assert_int_equal(symlinkat("/etc/passwd", f->src_fd, "g/abs"), 0);
    write_file_at(f->src_fd, "toplink-target", "x", 1, 0644);
    assert_int_equal(symlinkat("toplink-target", f->src_fd, "toplink"), 0);

    struct {
        const char *arg;
        unsigned flags;
        uint32_t code;
        const char *message;
    } cases[] = {
        { "src/d", UNPACKER_FLAGS, ENOLINK,
          "File copy: Cannot verify that link \"d/escape\" would not be broken by copy" },
        { "src/g", UNPACKER_FLAGS, ENOLINK,
          "File copy: Cannot verify that link \"g/abs\" would not be broken by copy" },
        { "src/toplink", UNPACKER_FLAGS, ENOLINK,
          "File copy: Cannot verify that link \"toplink\" would not be broken by copy" },
        { "src/e", UNPACKER_FLAGS, EILSEQ,
          "File copy: Forbidden character in file or link target; Last file: \"e/___fdp.exe\"" },
        { "src/e", UNPACKER_FLAGS | COPY_ALLOW_UNSAFE_CHARACTERS, 0, NULL },
        { "src/d", UNPACKER_FLAGS & ~COPY_ALLOW_DIRECTORIES, EINVAL,
          "File copy: Corrupted data from packer; Last file: \"d\"" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct transfer t;
        transfer_open(&t);
        struct qerror err = { 0 };
        assert_int_equal(transfer_pack(&t, f->root_fd, &cases[i].arg, 1, &err), 0);
        assert_int_equal(transfer_unpack(&t, f->dest_fd, cases[i].flags), cases[i].code);
        int rc = filecopy_pack_wait_result(t.p, &err);
        if (cases[i].code == 0) {
            assert_int_equal(rc, 0);
        } else {
            assert_int_equal(rc, -1);
            assert_int_equal(t.p->remote_error, cases[i].code);
            assert_string_equal(err.message, cases[i].message);
        }
        transfer_close(&t);
        assert_false(exists_at(f->dest_fd, "d/escape"));
        assert_false(exists_at(f->dest_fd, "g/abs"));
        assert_false(exists_at(f->dest_fd, "toplink"));
        assert_outside_untouched(f);
        clear_dest(f);
    }
}

/* ---- hostile streams ---- */

static void test_hostile_names(void **state)
{
    struct fixture *f = *state;
    const char *names[] = { "../x",
                            "../outside/secret",
                            "/abs",
                            "/tmp/evil",
                            "a//b",
                            "./a",
                            "a/",
                            ".",
                            "..",
                            "a/../../x",
                            "d/.",
                            "\xe2\x80\xae"
                            "x",
                            "x\x1b[0m",
                            "\xc0\xae\xc0\xae/x" };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        struct stream s = { 0 };
        put_entry(&s, names[i], S_IFREG | 0644, "pwned");
        put_end(&s);
        expect_rejected(f, &s, EILSEQ);
        struct stream d = { 0 };
        put_entry(&d, names[i], S_IFDIR | 0755, NULL);
        put_end(&d);
        expect_rejected(f, &d, EILSEQ);
    }
    /* the name as the sender will print it */
    struct stream s = { 0 };
    put_entry(&s, "../x", S_IFREG | 0644, "pwned");
    struct result res;
    unpack_stream(f, &s, UNPACKER_FLAGS, NULL, &res);
    assert_int_equal(res.code, EILSEQ);
    assert_string_equal(res.name, "../x");
    free(s.data);
    /* a NUL inside the name, an empty name */
    struct stream n = { 0 };
    put_header(&n, 4, S_IFREG | 0644, 0);
    put(&n, "a\0b", 4);
    put_end(&n);
    expect_rejected(f, &n, EILSEQ);
    put_header(&n, 1, S_IFREG | 0644, 0);
    put(&n, "", 1);
    put_end(&n);
    expect_rejected(f, &n, EILSEQ);
    /* no terminating NUL: the last byte is part of the name */
    put_header(&n, 2, S_IFREG | 0644, 0);
    put(&n, "ab", 2);
    put_end(&n);
    expect_rejected(f, &n, EILSEQ);
    assert_int_equal(count_entries(f->dest_fd), 0);
}

static void test_hostile_symlinks(void **state)
{
    struct fixture *f = *state;
    struct stream s = { 0 };
    /* a top-level symlink, whatever it points to */
    put_entry(&s, "l", S_IFLNK | 0777, "x");
    put_end(&s);
    expect_rejected(f, &s, ENOLINK);

    const char *escaping[][2] = {
        { "l", ".." },
        { "l", "../.." },
        { "l", "../outside" },
        { "l", "/etc/passwd" },
        { "l", "/" },
        { "e/l", "../../x" },
        { "e/l", "x/../../.." },
        { "l", "//etc/passwd" },
        { "l", "./../x" },
        { "e/l", "../x/../.." },
        { "e/l", "../../dN/../../outside/secret" },
    };
    for (size_t i = 0; i < sizeof(escaping) / sizeof(escaping[0]); i++) {
        char top[16], sub[32], link[32];
        snprintf(top, sizeof(top), "d%zu", i);
        snprintf(sub, sizeof(sub), "%s/e", top);
        snprintf(link, sizeof(link), "%s/%s", top, escaping[i][0]);
        put_entry(&s, top, S_IFDIR | 0755, NULL);
        put_entry(&s, sub, S_IFDIR | 0755, NULL);
        put_entry(&s, link, S_IFLNK | 0777, escaping[i][1]);
        put_end(&s);
        struct result res;
        unpack_stream(f, &s, UNPACKER_FLAGS, NULL, &res);
        if (res.code != ENOLINK)
            fail_msg("%s -> %s: code %u", link, escaping[i][1], res.code);
        assert_string_equal(res.name, link);
        assert_false(exists_at(f->dest_fd, link));
        assert_outside_untouched(f);
        free(s.data);
        s = (struct stream){ 0 };
    }
    /* allowed ones; and a symlink is never a parent of later entries */
    put_entry(&s, "ok", S_IFDIR | 0755, NULL);
    put_entry(&s, "ok/e", S_IFDIR | 0755, NULL);
    put_entry(&s, "ok/e/up", S_IFLNK | 0777, "../x");
    put_entry(&s, "ok/e/nc", S_IFLNK | 0777, ".//x/./");
    put_entry(&s, "ok/e/dir/", S_IFLNK | 0777, "sub/dir/");
    put_end(&s);
    expect_rejected(f, &s, EILSEQ); /* the name has a trailing '/', the target may */
    put_entry(&s, "ok2", S_IFDIR | 0755, NULL);
    put_entry(&s, "ok2/e", S_IFDIR | 0755, NULL);
    put_entry(&s, "ok2/e/up", S_IFLNK | 0777, "../x");
    put_entry(&s, "ok2/e/nc", S_IFLNK | 0777, ".//x/./");
    put_entry(&s, "ok2/e/slash", S_IFLNK | 0777, "sub/dir/");
    put_entry(&s, "ok2/e", S_IFDIR | 0755, NULL);
    put_entry(&s, "ok2/out", S_IFLNK | 0777, "e");
    put_entry(&s, "ok2/out/file", S_IFREG | 0644, "through a symlink");
    put_end(&s);
    expect_rejected(f, &s, EINVAL);
    char target[64] = "";
    assert_int_equal(readlinkat(f->dest_fd, "ok2/e/up", target, sizeof(target)), 4);
    assert_memory_equal(target, "../x", 4);
    assert_true(exists_at(f->dest_fd, "ok2/e/nc"));
    assert_true(exists_at(f->dest_fd, "ok2/e/slash"));
    assert_false(exists_at(f->dest_fd, "ok2/e/file"));
    /* over-long target: not read at all */
    put_entry(&s, "x2", S_IFDIR | 0755, NULL);
    put_header(&s, 5, S_IFLNK | 0777, MAX_PATH_LENGTH);
    put(&s, "x2/l", 5);
    put_end(&s);
    expect_rejected(f, &s, ENAMETOOLONG);
    /* a NUL inside the target */
    put_entry(&s, "x3", S_IFDIR | 0755, NULL);
    put_header(&s, 5, S_IFLNK | 0777, 3);
    put(&s, "x3/l", 5);
    put(&s, "a\0b", 3);
    put_end(&s);
    expect_rejected(f, &s, EILSEQ);
    /* symlinks not allowed at all */
    put_entry(&s, "x4", S_IFDIR | 0755, NULL);
    put_entry(&s, "x4/l", S_IFLNK | 0777, "x");
    put_end(&s);
    assert_int_equal(unpack_code(f, &s, COPY_ALLOW_DIRECTORIES), EINVAL);
    free(s.data);
    assert_outside_untouched(f);
}

static void test_hostile_types(void **state)
{
    struct fixture *f = *state;
    const uint32_t modes[] = { S_IFCHR | 0666, S_IFBLK | 0666, S_IFIFO | 0644, S_IFSOCK | 0755,
                               0644,           0170000 | 0644, 0110000 };
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        struct stream s = { 0 };
        put_entry(&s, "dev", modes[i], NULL);
        put_end(&s);
        expect_rejected(f, &s, EINVAL);
    }
    assert_int_equal(count_entries(f->dest_fd), 0);
    /* a directory with data */
    struct stream s = { 0 };
    put_header(&s, 2, S_IFDIR | 0755, 1);
    put(&s, "d", 2);
    put(&s, "x", 1);
    put_end(&s);
    expect_rejected(f, &s, EINVAL);
    /* directories not allowed */
    put_entry(&s, "d", S_IFDIR | 0755, NULL);
    put_end(&s);
    assert_int_equal(unpack_code(f, &s, 0), EINVAL);
    free(s.data);
}

static void test_no_overwrite(void **state)
{
    struct fixture *f = *state;
    struct stream s = { 0 };
    put_entry(&s, "f", S_IFREG | 0644, "one");
    put_entry(&s, "f", S_IFREG | 0644, "two");
    put_end(&s);
    struct result res;
    unpack_stream(f, &s, UNPACKER_FLAGS, NULL, &res);
    assert_int_equal(res.code, EEXIST);
    assert_string_equal(res.name, "f");
    char buf[16];
    read_file_at(f->dest_fd, "f", buf, sizeof(buf));
    assert_string_equal(buf, "one");
    free(s.data);
    s = (struct stream){ 0 };

    /* a file, a directory or a symlink over what is there */
    assert_int_equal(mkdirat(f->dest_fd, "olddir", 0700), 0);
    write_file_at(f->dest_fd, "olddir/keep", "keep", 4, 0600);
    write_file_at(f->dest_fd, "oldfile", "old", 3, 0600);
    assert_int_equal(symlinkat("../outside/secret", f->dest_fd, "oldlink"), 0);
    put_entry(&s, "olddir", S_IFREG | 0644, "x");
    put_end(&s);
    expect_rejected(f, &s, EEXIST);
    put_entry(&s, "oldfile", S_IFDIR | 0755, NULL);
    put_end(&s);
    expect_rejected(f, &s, EEXIST);
    put_entry(&s, "oldlink", S_IFREG | 0644, "overwrite the secret");
    put_end(&s);
    expect_rejected(f, &s, EEXIST);
    put_entry(&s, "oldlink", S_IFDIR | 0755, NULL);
    put_end(&s);
    expect_rejected(f, &s, EEXIST);
    /* never merge into a directory that was there before */
    put_entry(&s, "olddir", S_IFDIR | 0755, NULL);
    put_entry(&s, "olddir/new", S_IFREG | 0644, "x");
    put_end(&s);
    expect_rejected(f, &s, EEXIST);
    put_entry(&s, "olddir/new", S_IFREG | 0644, "x");
    put_end(&s);
    expect_rejected(f, &s, EINVAL);
    put_entry(&s, "oldlink/new", S_IFREG | 0644, "x");
    put_end(&s);
    expect_rejected(f, &s, EINVAL);
    put_entry(&s, "olddir/keep", S_IFREG | 0644, "x");
    put_end(&s);
    expect_rejected(f, &s, EINVAL);
    assert_false(exists_at(f->dest_fd, "olddir/new"));
    char buf2[16];
    read_file_at(f->dest_fd, "olddir/keep", buf2, sizeof(buf2));
    assert_string_equal(buf2, "keep");
    struct stat st;
    assert_int_equal(fstatat(f->dest_fd, "olddir", &st, 0), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
}

/* Entries must sit in a directory this transfer made and has not closed. */
static void test_directory_order(void **state)
{
    struct fixture *f = *state;
    struct stream s = { 0 };
    /* parent never sent */
    put_entry(&s, "nodir/x", S_IFREG | 0644, "x");
    put_end(&s);
    expect_rejected(f, &s, EINVAL);
    /* parent closed (its second header came) */
    put_entry(&s, "a", S_IFDIR | 0755, NULL);
    put_entry(&s, "a", S_IFDIR | 0755, NULL);
    put_entry(&s, "a/x", S_IFREG | 0644, "x");
    put_end(&s);
    expect_rejected(f, &s, EINVAL);
    /* a directory sent a third time is a new one: it exists */
    put_entry(&s, "b", S_IFDIR | 0755, NULL);
    put_entry(&s, "b", S_IFDIR | 0755, NULL);
    put_entry(&s, "b", S_IFDIR | 0755, NULL);
    put_end(&s);
    expect_rejected(f, &s, EEXIST);
    /* a grandchild with the child never sent */
    put_entry(&s, "c", S_IFDIR | 0755, NULL);
    put_entry(&s, "c/d/e", S_IFREG | 0644, "x");
    put_end(&s);
    expect_rejected(f, &s, EINVAL);
    /* a sibling's subtree is closed when we move on (legacy: directories sent
     * once stay 0700), and the second header sets mode and times */
    put_entry(&s, "t", S_IFDIR | 0700, NULL);
    put_entry(&s, "t/u", S_IFDIR | 0755, NULL);
    put_entry(&s, "t/u/f", S_IFREG | 0644, "f");
    put_entry(&s, "t/v", S_IFDIR | 0555, NULL);
    put_entry(&s, "t/v/g", S_IFREG | 0600, "g");
    put_entry(&s, "t/v", S_IFDIR | 0555, NULL);
    put_entry(&s, "t/w", S_IFREG | 0644, "w");
    put_entry(&s, "t", S_IFDIR | 0751, NULL);
    put_end(&s);
    assert_int_equal(unpack_code(f, &s, UNPACKER_FLAGS), 0);
    free(s.data);
    struct stat st;
    assert_int_equal(fstatat(f->dest_fd, "t/u", &st, 0), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    assert_int_equal(fstatat(f->dest_fd, "t/v", &st, 0), 0);
    assert_int_equal(st.st_mode & 0777, 0555);
    assert_int_equal(st.st_mtim.tv_sec, 1200000000);
    assert_int_equal(st.st_mtim.tv_nsec, 999999999);
    assert_int_equal(fstatat(f->dest_fd, "t", &st, 0), 0);
    assert_int_equal(st.st_mode & 0777, 0751);
    assert_true(exists_at(f->dest_fd, "t/u/f"));
    assert_true(exists_at(f->dest_fd, "t/v/g"));
    assert_true(exists_at(f->dest_fd, "t/w"));
    assert_outside_untouched(f);
}

static void test_truncated_streams(void **state)
{
    struct fixture *f = *state;
    struct stream s = { 0 };
    /* nothing at all, or a partial header: no end marker */
    expect_rejected(f, &s, EREMOTEIO);
    put_header(&s, 0, 0, 0);
    s.len = 10;
    expect_rejected(f, &s, EREMOTEIO);
    /* namelen 0 is the end marker: an empty transfer */
    put_end(&s);
    struct result res;
    unpack_stream(f, &s, UNPACKER_FLAGS, NULL, &res);
    assert_int_equal(res.code, 0);
    assert_int_equal(res.crc, crc32(0, s.data, (uInt)s.len));
    assert_string_equal(res.name, "");
    free(s.data);
    s = (struct stream){ 0 };
    /* a complete file and no end marker */
    put_entry(&s, "complete", S_IFREG | 0644, "data");
    expect_rejected(f, &s, EREMOTEIO);
    assert_true(exists_at(f->dest_fd, "complete"));
    /* the name cut short */
    put_header(&s, 10, S_IFREG | 0644, 0);
    put(&s, "abc", 3);
    expect_rejected(f, &s, LEGAL_EOF);
    /* filelen larger than the stream: the partial file is removed */
    put_header(&s, 8, S_IFREG | 0644, 1000000);
    put(&s, "partial", 8);
    put(&s, "only this", 9);
    expect_rejected(f, &s, LEGAL_EOF);
    assert_false(exists_at(f->dest_fd, "partial"));
    put_header(&s, 8, S_IFREG | 0644, UINT64_MAX);
    put(&s, "partial", 8);
    expect_rejected(f, &s, EDQUOT);
    put_header(&s, 8, S_IFREG | 0644, (uint64_t)INT64_MAX);
    put(&s, "partial", 8);
    expect_rejected(f, &s, LEGAL_EOF);
    assert_false(exists_at(f->dest_fd, "partial"));
    /* the symlink target cut short */
    put_entry(&s, "d", S_IFDIR | 0755, NULL);
    put_header(&s, 4, S_IFLNK | 0777, 100);
    put(&s, "d/l", 4);
    put(&s, "abc", 3);
    expect_rejected(f, &s, LEGAL_EOF);
}

static void test_hostile_lengths_and_times(void **state)
{
    struct fixture *f = *state;
    struct stream s = { 0 };
    const uint32_t huge[] = { MAX_PATH_LENGTH, MAX_PATH_LENGTH + 1, 0x7fffffff, 0xffffffff };
    for (size_t i = 0; i < sizeof(huge) / sizeof(huge[0]); i++) {
        put_header(&s, huge[i], S_IFREG | 0644, 0);
        put(&s, "aaaa", 4);
        struct result res;
        unpack_stream(f, &s, UNPACKER_FLAGS, NULL, &res);
        assert_int_equal(res.code, ENAMETOOLONG);
        assert_string_equal(res.name, "");
        free(s.data);
        s = (struct stream){ 0 };
    }
    /* the longest name that is read: 16382 bytes + NUL; its components are too
     * long for the filesystem, which says so */
    char *longname = malloc(MAX_PATH_LENGTH - 1);
    memset(longname, 'a', MAX_PATH_LENGTH - 2);
    longname[MAX_PATH_LENGTH - 2] = '\0';
    put_entry(&s, longname, S_IFREG | 0644, "x");
    put_end(&s);
    expect_rejected(f, &s, ENAMETOOLONG);
    /* a tree deeper than the kernel's PATH_MAX, walked as a sender walks it:
     * second headers pop one level each and reopen the parent beneath dest */
#define SEG "0123456789abcdef"
    const size_t depth = 300; /* 300 * 17 bytes */
    for (size_t i = 1; i <= depth; i++) {
        for (size_t k = 0; k < i; k++)
            memcpy(longname + 17 * k, SEG "/", 17);
        longname[17 * i - 1] = '\0';
        put_entry(&s, longname, S_IFDIR | 0755, NULL);
    }
    strcpy(longname + 17 * depth - 1, "/file");
    put_entry(&s, longname, S_IFREG | 0644, "at the bottom");
    for (size_t i = depth; i >= 1; i--) {
        longname[17 * i - 1] = '\0';
        put_entry(&s, longname, S_IFDIR | 0750, NULL);
    }
    put_entry(&s, "sibling", S_IFREG | 0644, "after a deep tree");
    put_end(&s);
    assert_int_equal(unpack_code(f, &s, UNPACKER_FLAGS), 0);
    free(s.data);
    s = (struct stream){ 0 };
    assert_true(exists_at(f->dest_fd, "sibling"));
    int fd = dup(f->dest_fd);
    for (size_t i = 0; i < depth; i++) {
        struct stat st;
        assert_int_equal(fstatat(fd, SEG, &st, AT_SYMLINK_NOFOLLOW), 0);
        assert_int_equal(st.st_mode, S_IFDIR | 0750);
        int next = openat(fd, SEG, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        assert_true(next >= 0);
        close(fd);
        fd = next;
    }
    char bottom[32];
    read_file_at(fd, "file", bottom, sizeof(bottom));
    assert_string_equal(bottom, "at the bottom");
    close(fd);
    free(longname);

    /* nanoseconds beyond a second */
    struct file_header h = { .namelen = 2, .mode = S_IFREG | 0644, .mtime_nsec = 1000000000 };
    put(&s, &h, sizeof(h));
    put(&s, "f", 2);
    put_end(&s);
    expect_rejected(f, &s, EINVAL);
    h.mtime_nsec = 0;
    h.atime_nsec = 0xffffffff;
    put(&s, &h, sizeof(h));
    put(&s, "f", 2);
    put_end(&s);
    expect_rejected(f, &s, EINVAL);
    h.mode = S_IFDIR | 0755;
    put(&s, &h, sizeof(h));
    put(&s, "f", 2);
    put_end(&s);
    expect_rejected(f, &s, EINVAL);
    assert_false(exists_at(f->dest_fd, "f"));
}

static void test_limits(void **state)
{
    struct fixture *f = *state;
    struct stream s = { 0 };
    put_entry(&s, "a", S_IFREG | 0644, "0123456789");
    put_entry(&s, "b", S_IFREG | 0644, "0123456789");
    put_end(&s);
    struct filecopy_limits bytes = { .max_bytes = 15 };
    struct result res;
    unpack_stream(f, &s, UNPACKER_FLAGS, &bytes, &res);
    assert_int_equal(res.code, EDQUOT);
    assert_string_equal(res.name, "b");
    assert_false(exists_at(f->dest_fd, "b"));
    struct filecopy_limits files = { .max_files = 1 };
    assert_int_equal(unlinkat(f->dest_fd, "a", 0), 0);
    unpack_stream(f, &s, UNPACKER_FLAGS, &files, &res);
    assert_int_equal(res.code, EDQUOT);
    struct filecopy_limits enough = { .max_bytes = 20, .max_files = 2 };
    assert_int_equal(unlinkat(f->dest_fd, "a", 0), 0);
    unpack_stream(f, &s, UNPACKER_FLAGS, &enough, &res);
    assert_int_equal(res.code, 0);
    free(s.data);
}

/* The sender catches a corrupted stream, and reads every result form. */
static void test_sender_result(void **state)
{
    struct fixture *f = *state;
    write_file_at(f->src_fd, "file", "precious data", 13, 0644);
    struct transfer t;
    transfer_open(&t);
    struct qerror err = { 0 };
    const char *args[] = { "src/file" };
    assert_int_equal(transfer_pack(&t, f->root_fd, args, 1, &err), 0);
    /* one bit flipped in transit */
    char c;
    off_t at = sizeof(struct file_header) + 5 + 3;
    assert_int_equal(pread(t.stream, &c, 1, at), 1);
    c ^= 0x20;
    assert_int_equal(pwrite(t.stream, &c, 1, at), 1);
    assert_int_equal(transfer_unpack(&t, f->dest_fd, UNPACKER_FLAGS), 0);
    assert_int_equal(filecopy_pack_wait_result(t.p, &err), -1);
    assert_string_equal(err.message, "File transfer failed: checksum mismatch");
    assert_int_equal(t.p->remote_error, 0);
    transfer_close(&t);

    /* hand-written results: old receivers without the extension, hostile names */
    struct {
        struct result_header hdr;
        const char *ext; /* NULL: no extension */
        const char *message;
    } cases[] = {
        { { EEXIST, 0, 0 },
          "a\x1b[2Jb\"c\xc3\xa9",
          "A file named \"a_[2Jb_c__\" already exists in QubesIncoming dir" },
        { { EEXIST, 0, 0 }, NULL, "A file named \"\" already exists in QubesIncoming dir" },
        { { EINVAL, 0, 0 }, "", "File copy: Corrupted data from packer" },
        { { EDQUOT, 0, 0 }, "big", "File copy: Disk quota exceeded; Last file: \"big\"" },
        { { ENOSPC, 0, 0 }, "big", "File copy: No space left on device; Last file: \"big\"" },
        { { LEGAL_EOF, 0, 0 },
          "x",
          "File copy: the stream ended before the transfer did; Last file: \"x\"" },
        { { 0, 0, 1 }, "", "File transfer failed: checksum mismatch" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        transfer_open(&t);
        assert_int_equal(write(t.result_w, &cases[i].hdr, sizeof(cases[i].hdr)), 16);
        if (cases[i].ext) {
            uint32_t n = (uint32_t)strlen(cases[i].ext);
            assert_int_equal(write(t.result_w, &n, 4), 4);
            assert_int_equal(write(t.result_w, cases[i].ext, n), (ssize_t)n);
        }
        close(t.result_w);
        t.result_w = -1;
        assert_int_equal(filecopy_pack_wait_result(t.p, &err), -1);
        assert_string_equal(err.message, cases[i].message);
        transfer_close(&t);
    }
    /* a lying extension length is read no further than MAX_PATH_LENGTH */
    transfer_open(&t);
    struct result_header hdr = { EEXIST, 0, 0 };
    uint32_t n = 0xffffffff;
    assert_int_equal(write(t.result_w, &hdr, sizeof(hdr)), 16);
    assert_int_equal(write(t.result_w, &n, 4), 4);
    assert_int_equal(write(t.result_w, "short", 5), 5);
    close(t.result_w);
    t.result_w = -1;
    assert_int_equal(filecopy_pack_wait_result(t.p, &err), -1);
    assert_string_equal(err.message, "A file named \"\" already exists in QubesIncoming dir");
    transfer_close(&t);
    /* no result at all */
    transfer_open(&t);
    close(t.result_w);
    t.result_w = -1;
    assert_int_equal(filecopy_pack_wait_result(t.p, &err), -1);
    assert_string_equal(err.message, "File copy: no result from the receiving qube");
    transfer_close(&t);
}

/* Through a real pipe with the receiver in a child: its early EEXIST stops a
 * sender that is still sending a big file. */
static void test_early_error(void **state)
{
    struct fixture *f = *state;
    const size_t big = 40u * 1024 * 1024;
    int fd = openat(f->src_fd, "big", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, (off_t)big), 0);
    close(fd);
    write_file_at(f->dest_fd, "big", "already here", 12, 0600);

    int data[2], result[2];
    assert_int_equal(pipe2(data, O_CLOEXEC), 0);
    assert_int_equal(pipe2(result, O_CLOEXEC), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(data[1]);
        close(result[0]);
        uint32_t rc = filecopy_unpack(f->dest_fd, data[0], result[1], UNPACKER_FLAGS, NULL);
        _exit(rc == EEXIST ? 0 : 1);
    }
    close(data[0]);
    close(result[1]);
    struct filecopy_pack *p = filecopy_pack_new(data[1], result[0]);
    struct qerror err = { 0 };
    int rc = filecopy_pack_arg(p, f->root_fd, "src/big", &err);
    if (rc == 0)
        rc = filecopy_pack_end(p, &err);
    if (rc == 0)
        rc = filecopy_pack_wait_result(p, &err);
    assert_int_equal(rc, -1);
    assert_int_equal(p->remote_error, EEXIST);
    assert_string_equal(err.message, "A file named \"big\" already exists in QubesIncoming dir");
    assert_true(p->bytes_sent < big); /* it stopped early */
    filecopy_pack_free(p);
    close(data[1]);
    close(result[0]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    char buf[32];
    read_file_at(f->dest_fd, "big", buf, sizeof(buf));
    assert_string_equal(buf, "already here");
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    umask(022);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_symlink_rules),
        cmocka_unit_test(test_qube_names),
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pack_argument_forms, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pack_stream_layout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_round_trip_rejections, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile_symlinks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile_types, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_overwrite, setup, teardown),
        cmocka_unit_test_setup_teardown(test_directory_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncated_streams, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile_lengths_and_times, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sender_result, setup, teardown),
        cmocka_unit_test_setup_teardown(test_early_error, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
