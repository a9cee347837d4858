/* Lookups beneath a directory descriptor with openat2(2): the kernel, not a
 * path walk of ours, guarantees that nothing outside the tree is reached. */
#include "common/beneath.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/cleanup.h"

#define BENEATH_RESOLVE \
    (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV)

/* Why a lookup of the first len bytes of path failed, in words. */
static int refused(struct qerror *err, int errnum, const char *path, int len)
{
    switch (errnum) {
    case ELOOP:
        return qerror_set(err, ERR_QUBES_EXCEPTION, "%.*s is a symbolic link: refused", len, path);
    case EXDEV:
        return qerror_set(err, ERR_QUBES_EXCEPTION, "%.*s leads out of the volume: refused", len,
                          path);
    case ENOTDIR: return qerror_set(err, ERR_QUBES_EXCEPTION, "%.*s is not a directory", len, path);
    default: return qerror_errno(err, errnum, "%.*s", len, path);
    }
}

static int whole(const char *path)
{
    return *path ? (int)strlen(path) : 1;
}

static int open2(int dirfd, const char *path, int flags, mode_t mode)
{
    struct open_how how = { .flags = (unsigned)(flags | O_CLOEXEC),
                            .mode = mode,
                            .resolve = BENEATH_RESOLVE };
    int fd;
    do
        fd = (int)syscall(SYS_openat2, dirfd, *path ? path : ".", &how, sizeof(how));
    while (fd < 0 && errno == EAGAIN);
    return fd;
}

/* Only plain names: "." and ".." have no place in a path we make. */
static bool plain_path(const char *path)
{
    for (const char *p = path; *p;) {
        size_t n = strcspn(p, "/");
        if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
            return false;
        p += n;
        p += strspn(p, "/");
    }
    return path[0] != '/';
}

int beneath_open(int dirfd, const char *path, int flags, struct qerror *err)
{
    if (!plain_path(path))
        return qerror_set(err, ERR_QUBES_EXCEPTION, "%s: not a plain relative path", path);
    int fd = open2(dirfd, path, flags, 0);
    return fd < 0 ? refused(err, errno, *path ? path : ".", whole(path)) : fd;
}

int beneath_open_optional(int dirfd, const char *path, struct qerror *err)
{
    if (!plain_path(path))
        return qerror_set(err, ERR_QUBES_EXCEPTION, "%s: not a plain relative path", path);
    int fd = open2(dirfd, path, O_PATH, 0);
    if (fd < 0 && errno != ENOENT)
        return refused(err, errno, path, whole(path));
    return fd;
}

int beneath_mkdirs(int dirfd, const char *path, mode_t mode, uid_t owner, struct qerror *err)
{
    if (!plain_path(path))
        return qerror_set(err, ERR_QUBES_EXCEPTION, "%s: not a plain relative path", path);
    _cleanup_free_ char *copy = xstrdup(path);
    int cur = open2(dirfd, "", O_PATH | O_DIRECTORY, 0);
    if (cur < 0)
        return refused(err, errno, ".", 1);
    char *save = NULL;
    for (char *name = strtok_r(copy, "/", &save); name; name = strtok_r(NULL, "/", &save)) {
        int shown = (int)(name - copy + (ptrdiff_t)strlen(name)); /* path up to this name */
        bool made = mkdirat(cur, name, mode) == 0;
        if (!made && errno != EEXIST) {
            int e = errno;
            close(cur);
            return qerror_errno(err, e, "mkdir %.*s", shown, path);
        }
        int next = open2(cur, name, O_PATH | O_DIRECTORY, 0);
        int e = errno;
        close(cur);
        if (next < 0)
            return refused(err, e, path, shown);
        cur = next;
        if (made && owner != (uid_t)-1 &&
            fchownat(cur, "", owner, owner, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0) {
            e = errno;
            close(cur);
            return qerror_errno(err, e, "chown %s", path);
        }
    }
    return cur;
}

int beneath_mkfile(int dirfd, const char *path, mode_t mode, struct qerror *err)
{
    if (!plain_path(path) || !*path)
        return qerror_set(err, ERR_QUBES_EXCEPTION, "%s: not a plain relative path", path);
    const char *slash = strrchr(path, '/');
    _cleanup_free_ char *parent =
        slash ? xasprintf("%.*s", (int)(slash - path), path) : xstrdup("");
    const char *name = slash ? slash + 1 : path;
    _cleanup_close_ int dir = beneath_open(dirfd, parent, O_PATH | O_DIRECTORY, err);
    if (dir < 0)
        return -1;
    /* O_EXCL: an existing name, a symbolic link included, is refused */
    int fd = openat(dir, name, O_RDONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0)
        return qerror_errno(err, errno, "create %s", path);
    return fd;
}
