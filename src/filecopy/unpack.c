/* qfile-unpacker's engine: parses the qubes.Filecopy stream with explicit
 * lengths and creates every entry relative to one directory descriptor, with
 * openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS ...) instead of Qubes' chroot and
 * bind mount (our qubes may not mount). */
#include "filecopy/unpack.h"

#include <errno.h>
#include <fcntl.h>
#include <libdeflate.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "filecopy/filecopy.h"
#include "filecopy/path_check.h"

/* Large reads: a pipe hands over up to its capacity per read(), a file or a
 * socket more; 256 KiB keeps the copy loop at a few syscalls per MiB and the
 * buffer in L2. */
#define UNPACK_BUF_SIZE (256 * 1024)

#define RESOLVE_STRICT \
    (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV)

struct unpacker {
    int dest_fd;
    int in_fd;
    unsigned flags;      /* enum copy_flags */
    unsigned path_flags; /* enum path_check_flags */
    struct filecopy_limits limits;
    uint64_t total_bytes;
    uint64_t total_files;
    uint32_t crc; /* CRC-32 (zlib's) of every byte read */

    uint8_t *buf; /* buffered input: unread bytes are buf[pos, len) */
    size_t pos;
    size_t len;

    /* The innermost directory this transfer created and has not closed (its
     * second header not seen yet); its ancestors are the other open ones.
     * top_len 0 = dest itself. top_fd is -1 while it needs reopening. */
    int top_fd;
    size_t top_len;
    char top_path[MAX_PATH_LENGTH];

    const char *last_name; /* what the result reports: untrusted_name or "" */
    char untrusted_name[MAX_PATH_LENGTH];
    char untrusted_target[MAX_PATH_LENGTH];
};

static int sys_openat2(int dirfd, const char *path, uint64_t flags, uint64_t mode)
{
    struct open_how how = { .flags = flags, .mode = mode, .resolve = RESOLVE_STRICT };
    long fd;
    do
        fd = syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
    while (fd < 0 && errno == EINTR);
    return (int)fd;
}

/* Opens directory path (relative, canonical, symlink-free by construction)
 * beneath dirfd. Paths longer than the kernel's PATH_MAX are opened in pieces,
 * each piece beneath the directory the previous one opened. */
static int open_dir_beneath(int dirfd, const char *path)
{
    const uint64_t dir_flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY;
    char piece[PATH_MAX];
    int fd = dirfd;
    for (;;) {
        size_t len = strlen(path);
        const char *next = NULL;
        if (len >= sizeof(piece)) {
            /* cut at the last '/' that leaves a piece of at most PATH_MAX - 1 bytes */
            len = sizeof(piece) - 1;
            while (len > 0 && path[len] != '/')
                len--;
            if (len == 0) {
                errno = ENAMETOOLONG;
                goto fail;
            }
            next = path + len + 1;
        }
        memcpy(piece, path, len);
        piece[len] = '\0';
        int nfd = sys_openat2(fd, piece, dir_flags, 0);
        if (nfd < 0)
            goto fail;
        if (fd != dirfd)
            close(fd);
        fd = nfd;
        if (!next)
            return fd;
        path = next;
    }
fail:;
    int saved = errno;
    if (fd != dirfd)
        close(fd);
    errno = saved;
    return -1;
}

/* Bytes available in the buffer after reading more if it was empty: >0, 0 at
 * EOF, -errno on a read error. */
static ssize_t fill(struct unpacker *u)
{
    if (u->pos < u->len)
        return (ssize_t)(u->len - u->pos);
    u->pos = u->len = 0;
    for (;;) {
        ssize_t n = read(u->in_fd, u->buf, UNPACK_BUF_SIZE);
        if (n >= 0) {
            u->len = (size_t)n;
            return n;
        }
        if (errno != EINTR)
            return -errno;
    }
}

/* Consumes exactly n bytes into dst. 0, or 1 if the stream ended first, or -errno. */
static int read_exact(struct unpacker *u, void *dst, size_t n)
{
    uint8_t *d = dst;
    while (n > 0) {
        ssize_t avail = fill(u);
        if (avail <= 0)
            return avail == 0 ? 1 : (int)avail;
        size_t take = (size_t)avail < n ? (size_t)avail : n;
        memcpy(d, u->buf + u->pos, take);
        u->crc = libdeflate_crc32(u->crc, u->buf + u->pos, take);
        u->pos += take;
        d += take;
        n -= take;
    }
    return 0;
}

static int write_all(int fd, const void *data, size_t n)
{
    const uint8_t *p = data;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (w == 0) {
            errno = EIO;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* The file's data: exactly len bytes of the stream, written to fd. */
static uint32_t copy_data(struct unpacker *u, int fd, uint64_t len)
{
    while (len > 0) {
        ssize_t avail = fill(u);
        if (avail <= 0)
            return LEGAL_EOF; /* the sender has said why, if it could */
        size_t take = (uint64_t)avail < len ? (size_t)avail : (size_t)len;
        const uint8_t *chunk = u->buf + u->pos;
        u->crc = libdeflate_crc32(u->crc, chunk, take);
        u->pos += take;
        len -= take;
        if (write_all(fd, chunk, take) < 0)
            return (uint32_t)errno;
    }
    return 0;
}

static bool is_dir_or_ancestor(const char *dir, size_t dir_len, const char *path, size_t path_len)
{
    if (dir_len == 0)
        return true;
    return dir_len <= path_len && memcmp(dir, path, dir_len) == 0 &&
           (dir_len == path_len || path[dir_len] == '/');
}

static void drop_top_fd(struct unpacker *u)
{
    if (u->top_fd >= 0 && u->top_fd != u->dest_fd)
        close(u->top_fd);
    u->top_fd = -1;
}

/* Closes open directories until the top is path (path_len bytes) or one of its
 * ancestors. Leaving a directory without its second header keeps it at 0700,
 * as Qubes does for a sender that sends each directory once. */
static void close_dirs_until_ancestor(struct unpacker *u, const char *path, size_t path_len)
{
    while (!is_dir_or_ancestor(u->top_path, u->top_len, path, path_len)) {
        drop_top_fd(u);
        char *slash = memrchr(u->top_path, '/', u->top_len);
        u->top_len = slash ? (size_t)(slash - u->top_path) : 0;
        u->top_path[u->top_len] = '\0';
    }
}

static uint32_t top_fd(struct unpacker *u, int *fd)
{
    if (u->top_len == 0) {
        *fd = u->dest_fd;
        return 0;
    }
    if (u->top_fd < 0) {
        u->top_fd = open_dir_beneath(u->dest_fd, u->top_path);
        if (u->top_fd < 0)
            return (uint32_t)errno;
    }
    *fd = u->top_fd;
    return 0;
}

/* Makes the directory holding name the top and returns its descriptor and the
 * name's last component. That directory must be dest itself or a directory
 * this transfer created and still has open: anything else (a pre-existing
 * tree, a closed directory, a parent never sent) is not a stream a Qubes
 * sender produces. */
static uint32_t enter_parent(struct unpacker *u, const char *name, int *dirfd, const char **last)
{
    const char *slash = strrchr(name, '/');
    size_t parent_len = slash ? (size_t)(slash - name) : 0;
    *last = slash ? slash + 1 : name;
    close_dirs_until_ancestor(u, name, parent_len);
    if (u->top_len != parent_len)
        return EINVAL;
    return top_fd(u, dirfd);
}

static struct timespec header_time(uint32_t sec, uint32_t nsec)
{
    return (struct timespec){ .tv_sec = (time_t)sec, .tv_nsec = (long)nsec };
}

static uint32_t apply_metadata(int fd, const struct file_header *untrusted_hdr)
{
    const struct timespec times[2] = {
        header_time(untrusted_hdr->atime, untrusted_hdr->atime_nsec),
        header_time(untrusted_hdr->mtime, untrusted_hdr->mtime_nsec),
    };
    /* never setuid, setgid or sticky */
    if (fchmod(fd, untrusted_hdr->mode & 0777) < 0 || futimens(fd, times) < 0)
        return (uint32_t)errno;
    return 0;
}

static bool account(struct unpacker *u, uint64_t bytes)
{
    if (u->limits.max_bytes &&
        (bytes > u->limits.max_bytes || u->total_bytes > u->limits.max_bytes - bytes))
        return false;
    u->total_bytes += bytes;
    return true;
}

static uint32_t unpack_regular(struct unpacker *u, const struct file_header *untrusted_hdr)
{
    if (path_check_file_name(u->untrusted_name, u->path_flags) < 0)
        return EILSEQ;
    const char *name = u->untrusted_name; /* validated */
    /* sizes are signed elsewhere */
    if (untrusted_hdr->filelen > (uint64_t)LLONG_MAX || !account(u, untrusted_hdr->filelen))
        return EDQUOT;
    const uint64_t len = untrusted_hdr->filelen;

    int dirfd;
    const char *last;
    uint32_t rc = enter_parent(u, name, &dirfd, &last);
    if (rc)
        return rc;
    /* mode 0 until the data is in: nobody else opens a half-written file */
    int fd = sys_openat2(dirfd, last,
                         O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0);
    if (fd < 0)
        return (uint32_t)errno;
    rc = copy_data(u, fd, len);
    if (rc == 0)
        rc = apply_metadata(fd, untrusted_hdr);
    if (close(fd) < 0 && rc == 0)
        rc = (uint32_t)errno;
    if (rc)
        unlinkat(dirfd, last, 0); /* ours: created with O_EXCL above */
    return rc;
}

static uint32_t unpack_directory(struct unpacker *u, const struct file_header *untrusted_hdr)
{
    if (path_check_file_name(u->untrusted_name, u->path_flags) < 0)
        return EILSEQ;
    const char *name = u->untrusted_name; /* validated */
    if (untrusted_hdr->filelen != 0)
        return EINVAL;
    size_t name_len = strlen(name);

    /* the second header of an open directory: its contents are in, now its
     * mode and times (it stayed 0700 so that a r-x directory could be filled) */
    close_dirs_until_ancestor(u, name, name_len);
    if (u->top_len == name_len) {
        int fd = -1;
        uint32_t rc = top_fd(u, &fd);
        if (rc == 0)
            rc = apply_metadata(fd, untrusted_hdr);
        if (rc)
            return rc;
        const char *slash = strrchr(name, '/');
        close_dirs_until_ancestor(u, name, slash ? (size_t)(slash - name) : 0);
        return 0;
    }

    int dirfd;
    const char *last;
    uint32_t rc = enter_parent(u, name, &dirfd, &last);
    if (rc)
        return rc;
    /* a directory that exists already, from before this transfer or from
     * earlier in it, is EEXIST: never merge into a tree we did not just make */
    if (mkdirat(dirfd, last, 0700) < 0)
        return (uint32_t)errno;
    int fd =
        sys_openat2(dirfd, last, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0);
    if (fd < 0)
        return (uint32_t)errno;
    drop_top_fd(u);
    u->top_fd = fd;
    memcpy(u->top_path, name, name_len + 1);
    u->top_len = name_len;
    return 0;
}

static uint32_t unpack_symlink(struct unpacker *u, const struct file_header *untrusted_hdr)
{
    if (path_check_file_name(u->untrusted_name, u->path_flags) < 0)
        return EILSEQ;
    const char *name = u->untrusted_name; /* validated */
    if (untrusted_hdr->filelen > MAX_PATH_LENGTH - 1)
        return ENAMETOOLONG;
    const size_t len = (size_t)untrusted_hdr->filelen; /* bounded above */
    if (!account(u, len))
        return EDQUOT;
    int r = read_exact(u, u->untrusted_target, len);
    if (r)
        return LEGAL_EOF;
    u->untrusted_target[len] = '\0';
    if (strlen(u->untrusted_target) != len)
        return EILSEQ; /* a NUL inside the target */
    r = path_check_symlink(name, u->untrusted_target, u->path_flags);
    if (r < 0)
        return (uint32_t)-r;
    const char *target = u->untrusted_target; /* validated with the name */

    int dirfd;
    const char *last;
    uint32_t rc = enter_parent(u, name, &dirfd, &last);
    if (rc)
        return rc;
    if (symlinkat(target, dirfd, last) < 0)
        return (uint32_t)errno;
    return 0;
}

static uint32_t unpack_entry(struct unpacker *u, const struct file_header *untrusted_hdr)
{
    u->last_name = "";
    if (untrusted_hdr->namelen > MAX_PATH_LENGTH - 1)
        return ENAMETOOLONG;                       /* the name is not read at all */
    const size_t namelen = untrusted_hdr->namelen; /* 1..MAX_PATH_LENGTH - 1 */
    if (read_exact(u, u->untrusted_name, namelen))
        return LEGAL_EOF;
    u->untrusted_name[namelen] = '\0';
    u->last_name = u->untrusted_name;
    /* exactly one NUL, the last byte */
    if (strlen(u->untrusted_name) != namelen - 1)
        return EILSEQ;

    u->total_files++;
    if (u->limits.max_files && u->total_files > u->limits.max_files)
        return EDQUOT;
    if (untrusted_hdr->atime_nsec > FILECOPY_MAX_NSEC ||
        untrusted_hdr->mtime_nsec > FILECOPY_MAX_NSEC)
        return EINVAL;

    switch (untrusted_hdr->mode & S_IFMT) {
    case S_IFREG: return unpack_regular(u, untrusted_hdr);
    case S_IFDIR:
        if (!(u->flags & COPY_ALLOW_DIRECTORIES))
            return EINVAL;
        return unpack_directory(u, untrusted_hdr);
    case S_IFLNK:
        if (!(u->flags & COPY_ALLOW_SYMLINKS))
            return EINVAL;
        return unpack_symlink(u, untrusted_hdr);
    default: return EINVAL; /* devices, fifos, sockets, garbage */
    }
}

static void send_result(int out_fd, uint32_t code, uint32_t crc, const char *last_name)
{
    struct result_header hdr = { .error_code = code, ._pad = 0, .crc32 = (uint64_t)crc };
    struct result_header_ext ext = { .last_namelen = (uint32_t)strlen(last_name) };
    /* one write where it fits: header, extension and name arrive together */
    struct iovec iov[3] = {
        { .iov_base = &hdr, .iov_len = sizeof(hdr) },
        { .iov_base = &ext, .iov_len = sizeof(ext) },
        { .iov_base = (void *)last_name, .iov_len = ext.last_namelen },
    };
    size_t total = sizeof(hdr) + sizeof(ext) + ext.last_namelen;
    ssize_t w;
    do
        w = writev(out_fd, iov, 3);
    while (w < 0 && errno == EINTR);
    if (w < 0 || (size_t)w == total)
        return;
    /* a short write: send the rest piece by piece */
    size_t done = (size_t)w;
    for (int i = 0; i < 3; i++) {
        if (done >= iov[i].iov_len) {
            done -= iov[i].iov_len;
            continue;
        }
        if (write_all(out_fd, (const uint8_t *)iov[i].iov_base + done, iov[i].iov_len - done) < 0)
            return;
        done = 0;
    }
}

uint32_t filecopy_unpack(int dest_fd, int in_fd, int out_fd, unsigned flags,
                         const struct filecopy_limits *limits)
{
    struct unpacker *u = calloc(1, sizeof(*u));
    uint8_t *buf = malloc(UNPACK_BUF_SIZE);
    uint32_t rc = 0;
    if (!u || !buf) {
        free(u);
        free(buf);
        if (out_fd >= 0)
            send_result(out_fd, ENOMEM, 0, "");
        return ENOMEM;
    }
    u->dest_fd = dest_fd;
    u->in_fd = in_fd;
    u->flags = flags;
    u->path_flags =
        ((flags & COPY_ALLOW_UNSAFE_CHARACTERS) ? PATH_ALLOW_UNSAFE_CHARACTERS : 0) |
        ((flags & COPY_ALLOW_NON_CANONICAL_SYMLINKS) ? PATH_ALLOW_NON_CANONICAL_SYMLINKS : 0) |
        ((flags & COPY_ALLOW_UNSAFE_SYMLINKS) ? PATH_ALLOW_UNSAFE_SYMLINKS : 0);
    if (limits)
        u->limits = *limits;
    u->crc = 0; /* the CRC-32 of nothing */
    u->buf = buf;
    u->top_fd = -1;
    u->last_name = "";

    for (;;) {
        struct file_header untrusted_hdr;
        int r = read_exact(u, &untrusted_hdr, sizeof(untrusted_hdr));
        if (r) {
            /* the stream ended (or broke) without the end marker */
            rc = r > 0 ? EREMOTEIO : (uint32_t)-r;
            break;
        }
        if (untrusted_hdr.namelen == 0)
            break; /* end of transfer */
        rc = unpack_entry(u, &untrusted_hdr);
        if (rc)
            break;
    }
    drop_top_fd(u);

    syncfs(dest_fd);
    if (out_fd >= 0)
        send_result(out_fd, rc, u->crc, u->last_name);
    free(u->buf);
    free(u);
    return rc;
}
