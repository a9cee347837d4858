/* libFuzzer target for qfile-unpacker: arbitrary bytes as the qubes.Filecopy
 * stream, unpacked into a fresh directory each run. Aborts if anything appears
 * outside it, or if what it holds breaks a rule: no device, fifo or socket, no
 * setuid/setgid/sticky bit, no symlink whose target leaves its top-level entry
 * (checked lexically here, independently of path_check.c). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "filecopy/filecopy.h"
#include "filecopy/unpack.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define UNPACKER_FLAGS \
    (COPY_ALLOW_SYMLINKS | COPY_ALLOW_DIRECTORIES | COPY_ALLOW_NON_CANONICAL_SYMLINKS)

static char base[64]; /* BASE/{run,outside/secret} */
static int base_fd = -1;
static int stream_fd = -1;
static int null_fd = -1;
static struct stat secret_before;

static void die(const char *what)
{
    fprintf(stderr, "fuzz_filecopy_unpack: %s: %s\n", what, strerror(errno));
    abort();
}

/* at exit, not after a crash: then the tree is worth a look */
static void remove_base(void)
{
    unlinkat(base_fd, "outside/secret", 0);
    unlinkat(base_fd, "outside", AT_REMOVEDIR);
    rmdir(base);
}

static void setup_once(void)
{
    /* tmpfs when there is one: the unpacker syncfs()es after every run */
    snprintf(base, sizeof(base), "%s/qubicle-fuzz-filecopy.XXXXXX",
             access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    if (!mkdtemp(base))
        die("mkdtemp");
    base_fd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (base_fd < 0 || mkdirat(base_fd, "outside", 0700) < 0)
        die(base);
    int fd = openat(base_fd, "outside/secret", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 || write(fd, "secret", 6) != 6)
        die("secret");
    close(fd);
    if (fstatat(base_fd, "outside/secret", &secret_before, 0) < 0)
        die("secret");
    stream_fd = memfd_create("stream", MFD_CLOEXEC);
    null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (stream_fd < 0 || null_fd < 0)
        die("memfd or /dev/null");
    atexit(remove_base);
}

/* Aborts on any entry of dirfd other than a and b (b may be NULL). */
static void check_only(int dirfd, const char *a, const char *b)
{
    int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = fd < 0 ? NULL : fdopendir(fd);
    if (!d)
        die("opendir");
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") || !strcmp(e->d_name, a) ||
            (b && !strcmp(e->d_name, b)))
            continue;
        fprintf(stderr, "unexpected entry %s outside the destination\n", e->d_name);
        abort();
    }
    closedir(d);
}

/* The target of a symlink at path (relative to the destination), resolved
 * lexically, must stay inside path's top-level entry. */
static void check_symlink(const char *path, const char *target)
{
    if (target[0] == '/') {
        fprintf(stderr, "absolute symlink %s -> %s\n", path, target);
        abort();
    }
    /* depth of the directory holding the link, below the destination */
    long depth = 0;
    for (const char *p = path; *p; p++)
        if (*p == '/')
            depth++;
    if (depth == 0) {
        fprintf(stderr, "top-level symlink %s\n", path);
        abort();
    }
    /* walk the target: ".." may not climb to the destination itself */
    const char *p = target;
    while (*p) {
        const char *end = strchr(p, '/');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == 2 && p[0] == '.' && p[1] == '.')
            depth--;
        else if (!(len == 0 || (len == 1 && p[0] == '.')))
            depth++;
        if (depth < 1) {
            fprintf(stderr, "symlink %s -> %s leaves its top-level entry\n", path, target);
            abort();
        }
        p += len;
        if (*p == '/')
            p++;
    }
}

/* Checks and removes everything below parent_fd/name (path: its name below
 * the destination). */
static void check_and_remove(int parent_fd, const char *name, char *path, size_t path_len)
{
    struct stat st;
    if (fstatat(parent_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        die("fstatat");
    if (st.st_mode & (S_ISUID | S_ISGID | S_ISVTX)) {
        fprintf(stderr, "%s has mode %o\n", path, st.st_mode);
        abort();
    }
    switch (st.st_mode & S_IFMT) {
    case S_IFREG: break;
    case S_IFLNK: {
        char target[MAX_PATH_LENGTH];
        ssize_t n = readlinkat(parent_fd, name, target, sizeof(target) - 1);
        if (n < 0)
            die("readlinkat");
        target[n] = '\0';
        check_symlink(path, target);
        break;
    }
    case S_IFDIR: {
        if (fchmodat(parent_fd, name, 0700, 0) < 0)
            die("fchmodat");
        int fd = openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        DIR *d = fd < 0 ? NULL : fdopendir(fd);
        if (!d)
            die("opendir");
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            size_t n = strlen(e->d_name);
            if (path_len + 1 + n >= MAX_PATH_LENGTH) {
                fprintf(stderr, "path longer than any name the stream may carry\n");
                abort();
            }
            path[path_len] = '/';
            memcpy(path + path_len + 1, e->d_name, n + 1);
            check_and_remove(dirfd(d), e->d_name, path, path_len + 1 + n);
            path[path_len] = '\0';
            /* entries were removed: start over, readdir may skip otherwise */
            rewinddir(d);
        }
        closedir(d);
        if (unlinkat(parent_fd, name, AT_REMOVEDIR) < 0)
            die("rmdir");
        return;
    }
    case S_IFCHR:
    case S_IFBLK:
    case S_IFIFO:
    case S_IFSOCK:
    default: fprintf(stderr, "%s has type %o\n", path, st.st_mode & S_IFMT); abort();
    }
    if (unlinkat(parent_fd, name, 0) < 0)
        die("unlink");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (base_fd < 0)
        setup_once();
    if (size > 1024 * 1024)
        return 0;
    if (ftruncate(stream_fd, 0) < 0 ||
        (size && pwrite(stream_fd, data, size, 0) != (ssize_t)size) ||
        lseek(stream_fd, 0, SEEK_SET) != 0)
        die("stream");
    if (mkdirat(base_fd, "run", 0700) < 0)
        die("mkdir run");
    int dest_fd = openat(base_fd, "run", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dest_fd < 0)
        die("open run");

    /* both modes a qube runs: plain, and --allow-all-names */
    unsigned flags = UNPACKER_FLAGS | ((size & 1) ? COPY_ALLOW_UNSAFE_CHARACTERS : 0);
    /* keep runs fast and bounded */
    const struct filecopy_limits limits = { .max_bytes = 1024 * 1024, .max_files = 256 };
    filecopy_unpack(dest_fd, stream_fd, null_fd, flags, &limits);

    /* nothing beside run; outside/ holds only the untouched secret */
    check_only(base_fd, "run", "outside");
    close(dest_fd);
    char path[MAX_PATH_LENGTH];
    path[0] = '\0';
    dest_fd = openat(base_fd, "run", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dest_fd < 0)
        die("open run");
    DIR *d = fdopendir(dest_fd);
    if (!d)
        die("opendir run");
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        size_t n = strlen(e->d_name);
        memcpy(path, e->d_name, n + 1);
        check_and_remove(dirfd(d), e->d_name, path, n);
        rewinddir(d);
    }
    closedir(d);
    if (unlinkat(base_fd, "run", AT_REMOVEDIR) < 0)
        die("rmdir run");
    int out_fd = openat(base_fd, "outside", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (out_fd < 0)
        die("outside");
    check_only(out_fd, "secret", NULL);
    close(out_fd);
    struct stat st;
    if (fstatat(base_fd, "outside/secret", &st, AT_SYMLINK_NOFOLLOW) < 0 ||
        st.st_size != secret_before.st_size || st.st_ino != secret_before.st_ino ||
        st.st_mtim.tv_sec != secret_before.st_mtim.tv_sec ||
        st.st_mtim.tv_nsec != secret_before.st_mtim.tv_nsec ||
        st.st_mode != secret_before.st_mode) {
        fprintf(stderr, "outside/secret changed\n");
        abort();
    }
    return 0;
}
