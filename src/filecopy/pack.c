/* qfile-agent's engine: the tree walk of upstream's pack.c (names relative to
 * the argument's directory, directories sent twice, symlinks as their target,
 * an all-zero end marker), a CRC over every byte written, and the reading of
 * the receiver's result. */
#include "filecopy/pack.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libdeflate.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "filecopy/filecopy.h"

#define PACK_BUF_SIZE (256 * 1024)
#define KIND ERR_QUBES_EXCEPTION

_Static_assert(PACK_BUF_SIZE >= sizeof(struct file_header) + 2 * MAX_PATH_LENGTH,
               "a header, a name and a symlink target fit in the buffer");

struct filecopy_pack *filecopy_pack_new(int out_fd, int in_fd)
{
    struct filecopy_pack *p = calloc(1, sizeof(*p) + MAX_PATH_LENGTH);
    if (!p)
        return NULL;
    p->buf = malloc(PACK_BUF_SIZE);
    if (!p->buf) {
        free(p);
        return NULL;
    }
    p->out_fd = out_fd;
    p->in_fd = in_fd;
    p->crc = 0; /* the CRC-32 of nothing */
    p->next_check = PROGRESS_NOTIFY_DELTA;
    return p;
}

void filecopy_pack_free(struct filecopy_pack *p)
{
    if (!p)
        return;
    free(p->buf);
    free(p);
}

static void wait_for(int fd, short events)
{
    struct pollfd pfd = { .fd = fd, .events = events };
    while (poll(&pfd, 1, -1) < 0 && errno == EINTR)
        ;
}

/* 0, or 1 at EOF before n bytes, or -errno. Works on non-blocking fds too. */
static int read_exact(int fd, void *dst, size_t n)
{
    uint8_t *d = dst;
    while (n > 0) {
        ssize_t r = read(fd, d, n);
        if (r > 0) {
            d += r;
            n -= (size_t)r;
        } else if (r == 0) {
            return 1;
        } else if (errno == EAGAIN) {
            wait_for(fd, POLLIN);
        } else if (errno != EINTR) {
            return -errno;
        }
    }
    return 0;
}

static int write_exact(int fd, const void *data, size_t n)
{
    const uint8_t *s = data;
    while (n > 0) {
        ssize_t w = write(fd, s, n);
        if (w > 0) {
            s += w;
            n -= (size_t)w;
        } else if (w == 0) {
            return -EIO;
        } else if (errno == EAGAIN) {
            wait_for(fd, POLLOUT);
        } else if (errno != EINTR) {
            return -errno;
        }
    }
    return 0;
}

static void sanitize_remote_name(char *untrusted_name)
{
    for (; *untrusted_name; untrusted_name++)
        if (*untrusted_name < ' ' || *untrusted_name > '~' || *untrusted_name == '"')
            *untrusted_name = '_';
}

void filecopy_result_message(uint32_t code, const char *last_name, char *out, size_t out_size)
{
    char last[MAX_PATH_LENGTH + 32] = "";
    if (*last_name)
        snprintf(last, sizeof(last), "; Last file: \"%s\"", last_name);
    switch (code) {
    case EEXIST:
        snprintf(out, out_size, "A file named \"%s\" already exists in QubesIncoming dir",
                 last_name);
        break;
    case EINVAL: snprintf(out, out_size, "File copy: Corrupted data from packer%s", last); break;
    case EILSEQ:
        snprintf(out, out_size, "File copy: Forbidden character in file or link target%s", last);
        break;
    case ENOLINK:
        snprintf(out, out_size,
                 "File copy: Cannot verify that link \"%s\" would not be broken by copy",
                 last_name);
        break;
    case LEGAL_EOF:
        snprintf(out, out_size, "File copy: the stream ended before the transfer did%s", last);
        break;
    default: snprintf(out, out_size, "File copy: %s%s", strerror((int)code), last); break;
    }
}

int filecopy_pack_wait_result(struct filecopy_pack *p, struct qerror *err)
{
    struct result_header hdr;
    if (read_exact(p->in_fd, &hdr, sizeof(hdr)) != 0)
        return qerror_set(err, KIND, "File copy: no result from the receiving qube");
    struct result_header_ext ext;
    size_t namelen = 0;
    /* a receiver older than result_header_ext sends none */
    if (read_exact(p->in_fd, &ext, sizeof(ext)) == 0)
        namelen = ext.last_namelen < MAX_PATH_LENGTH ? ext.last_namelen : MAX_PATH_LENGTH;
    char *untrusted_name = (char *)p->buf;
    if (namelen && read_exact(p->in_fd, untrusted_name, namelen) != 0)
        namelen = 0;
    untrusted_name[namelen] = '\0';
    sanitize_remote_name(untrusted_name);
    const char *last_name = untrusted_name; /* printable ASCII now */

    if (hdr.error_code != 0) {
        p->remote_error = hdr.error_code;
        char msg[QERROR_MAX];
        filecopy_result_message(hdr.error_code, last_name, msg, sizeof(msg));
        return qerror_set(err, KIND, "%s", msg);
    }
    if (hdr.crc32 != (uint64_t)p->crc)
        return qerror_set(err, KIND, "File transfer failed: checksum mismatch");
    return 0;
}

/* The stream broke while writing: the receiver has most likely stopped on an
 * error and said which. */
static int stream_broken(struct filecopy_pack *p, int errnum, struct qerror *err)
{
    if (filecopy_pack_wait_result(p, err) < 0 && p->remote_error)
        return -1;
    return qerror_errno(err, errnum, "File copy: sending to the receiving qube");
}

static int send_bytes(struct filecopy_pack *p, const void *data, size_t n, struct qerror *err)
{
    p->crc = libdeflate_crc32(p->crc, data, n);
    int r = write_exact(p->out_fd, data, n);
    return r < 0 ? stream_broken(p, -r, err) : 0;
}

/* A receiver only answers before the end marker when it stopped on an error. */
static int check_early_result(struct filecopy_pack *p, struct qerror *err)
{
    struct pollfd pfd = { .fd = p->in_fd, .events = POLLIN };
    if (poll(&pfd, 1, 0) <= 0 || !(pfd.revents & (POLLIN | POLLHUP | POLLERR)))
        return 0;
    if (filecopy_pack_wait_result(p, err) < 0)
        return -1;
    return qerror_set(err, KIND, "File copy: the receiving qube answered before the end");
}

static void note_progress(struct filecopy_pack *p)
{
    if (p->progress)
        p->progress(p->progress_ctx, p->bytes_sent);
}

/* header + name (+ extra, a symlink target) in one write */
static int send_header(struct filecopy_pack *p, const struct stat *st, const char *extra,
                       size_t extra_len, uint64_t filelen, struct qerror *err)
{
    struct file_header hdr = {
        .namelen = (uint32_t)p->path_len + 1,
        .mode = (uint32_t)st->st_mode,
        .filelen = filelen,
        .atime = (uint32_t)st->st_atim.tv_sec,
        .atime_nsec = (uint32_t)st->st_atim.tv_nsec,
        .mtime = (uint32_t)st->st_mtim.tv_sec,
        .mtime_nsec = (uint32_t)st->st_mtim.tv_nsec,
    };
    uint8_t *b = p->buf;
    memcpy(b, &hdr, sizeof(hdr));
    memcpy(b + sizeof(hdr), p->path, p->path_len + 1);
    size_t n = sizeof(hdr) + p->path_len + 1;
    if (extra_len) {
        memmove(b + n, extra, extra_len);
        n += extra_len;
    }
    return send_bytes(p, b, n, err);
}

static int send_regular(struct filecopy_pack *p, int parent_fd, const char *name,
                        const struct stat *lst, struct qerror *err)
{
    /* O_NONBLOCK: a fifo swapped in after the lstat must not hang us */
    int fd = openat(parent_fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return qerror_errno(err, errno, "open %s", p->path);
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_ino != lst->st_ino ||
        st.st_dev != lst->st_dev) {
        close(fd);
        return qerror_set(err, KIND, "Copying file %s: it changed while being copied", p->path);
    }
    int rc = send_header(p, &st, NULL, 0, (uint64_t)st.st_size, err);
    uint64_t left = (uint64_t)st.st_size;
    while (rc == 0 && left > 0) {
        size_t want = left < PACK_BUF_SIZE ? (size_t)left : PACK_BUF_SIZE;
        ssize_t n = read(fd, p->buf, want);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = qerror_errno(err, errno, "Copying file %s: Error reading", p->path);
            break;
        }
        if (n == 0) {
            rc = qerror_set(err, KIND, "Copying file %s: Unexpected end of data while reading",
                            p->path);
            break;
        }
        rc = send_bytes(p, p->buf, (size_t)n, err);
        left -= (uint64_t)n;
        p->bytes_sent += (uint64_t)n;
        note_progress(p);
        if (rc == 0 && p->bytes_sent >= p->next_check) {
            p->next_check = p->bytes_sent + PROGRESS_NOTIFY_DELTA;
            rc = check_early_result(p, err);
        }
    }
    close(fd);
    return rc;
}

static int send_symlink(struct filecopy_pack *p, int parent_fd, const char *name,
                        const struct stat *st, struct qerror *err)
{
    /* read the target where it will be sent from: after header and name */
    char *target = (char *)p->buf + sizeof(struct file_header) + MAX_PATH_LENGTH;
    ssize_t n = readlinkat(parent_fd, name, target, MAX_PATH_LENGTH);
    if (n < 0)
        return qerror_errno(err, errno, "readlink %s", p->path);
    if (n > MAX_PATH_LENGTH - 1)
        return qerror_set(err, KIND, "readlink %s: target too long", p->path);
    int rc = send_header(p, st, target, (size_t)n, (uint64_t)n, err);
    p->bytes_sent += (uint64_t)n;
    return rc;
}

static int walk(struct filecopy_pack *p, int parent_fd, const char *name, struct qerror *err);

static int send_directory(struct filecopy_pack *p, int parent_fd, const char *name,
                          const struct stat *st, struct qerror *err)
{
    int rc = send_header(p, st, NULL, 0, 0, err);
    if (rc == 0)
        rc = check_early_result(p, err);
    if (rc)
        return rc;
    int fd = openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    DIR *dir = fd < 0 ? NULL : fdopendir(fd);
    if (!dir) {
        rc = qerror_errno(err, errno, "opendir %s", p->path);
        if (fd >= 0)
            close(fd);
        return rc;
    }
    const size_t len = p->path_len;
    for (;;) {
        errno = 0;
        struct dirent *ent = readdir(dir);
        if (!ent) {
            if (errno)
                rc = qerror_errno(err, errno, "readdir %s", p->path);
            break;
        }
        if (strcmp(ent->d_name, ".") == 0 || strcmp(ent->d_name, "..") == 0)
            continue;
        size_t n = strlen(ent->d_name);
        /* the receiver takes names of at most MAX_PATH_LENGTH - 2 bytes (+ NUL) */
        if (len + 1 + n > MAX_PATH_LENGTH - 2) {
            rc = qerror_set(err, KIND, "File copy: name too long: %s/%s", p->path, ent->d_name);
            break;
        }
        p->path[len] = '/';
        memcpy(p->path + len + 1, ent->d_name, n + 1);
        p->path_len = len + 1 + n;
        rc = walk(p, dirfd(dir), ent->d_name, err);
        p->path_len = len;
        p->path[len] = '\0';
        if (rc)
            break;
    }
    closedir(dir);
    if (rc)
        return rc;
    /* again, so that the receiver sets mode and times after filling it */
    return send_header(p, st, NULL, 0, 0, err);
}

static int walk(struct filecopy_pack *p, int parent_fd, const char *name, struct qerror *err)
{
    struct stat st;
    if (fstatat(parent_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return qerror_errno(err, errno, "stat %s", p->path);
    int rc;
    switch (st.st_mode & S_IFMT) {
    case S_IFREG: rc = send_regular(p, parent_fd, name, &st, err); break;
    case S_IFDIR: rc = send_directory(p, parent_fd, name, &st, err); break;
    case S_IFLNK:
        if (p->ignore_symlinks)
            return 0;
        rc = send_symlink(p, parent_fd, name, &st, err);
        break;
    default: return 0; /* fifos, devices, sockets: not sent, as upstream */
    }
    if (rc)
        return rc;
    note_progress(p);
    return check_early_result(p, err);
}

int filecopy_pack_arg(struct filecopy_pack *p, int cwd_fd, const char *arg, struct qerror *err)
{
    size_t len = strlen(arg);
    if (len == 0)
        return qerror_set(err, KIND, "Invalid empty argument");
    if (len > MAX_PATH_LENGTH - 2)
        return qerror_set(err, KIND, "File copy: name too long: %s", arg);
    /* dirname and basename, as POSIX: trailing slashes do not count */
    char dir[MAX_PATH_LENGTH];
    memcpy(dir, arg, len + 1);
    while (len > 1 && dir[len - 1] == '/')
        dir[--len] = '\0';
    char *slash = strrchr(dir, '/');
    const char *base;
    if (!slash || slash == dir + len - 1) { /* "name" or "/" */
        base = slash ? "/" : dir;
    } else {
        base = slash + 1;
    }
    if (strcmp(base, "/") == 0 || strcmp(base, ".") == 0 || strcmp(base, "..") == 0)
        return qerror_set(err, KIND, "File copy: cannot send \"%s\": name it by its own name", arg);
    p->path_len = strlen(base);
    memcpy(p->path, base, p->path_len + 1);
    const char *dirname;
    if (!slash) {
        dirname = ".";
    } else if (slash == dir) {
        dirname = "/";
    } else {
        while (slash > dir && *slash == '/')
            *slash-- = '\0';
        dirname = dir;
    }
    int arg_dir_fd = openat(cwd_fd, dirname, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (arg_dir_fd < 0)
        return qerror_errno(err, errno, "chdir to %s", dirname);
    int rc = walk(p, arg_dir_fd, p->path, err);
    close(arg_dir_fd);
    return rc;
}

int filecopy_pack_end(struct filecopy_pack *p, struct qerror *err)
{
    const struct file_header end = { 0 };
    return send_bytes(p, &end, sizeof(end), err);
}
