/* File primitives of the file-based pool drivers. Every change that must
 * survive a crash is written through a temporary name, fsynced, renamed, and
 * its directory fsynced. */
#include "storage/fileops.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/cleanup.h"

static void fsync_dir_of(const char *path)
{
    _cleanup_free_ char *dir = xstrdup(path);
    char *slash = strrchr(dir, '/');
    if (slash == dir)
        slash[1] = '\0';
    else if (slash)
        *slash = '\0';
    else
        strcpy(dir, ".");
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

int fileops_mkdir(const char *path, struct qerror *err)
{
    if (mkdir(path, 0755) == 0) {
        fsync_dir_of(path);
        return 1;
    }
    struct stat st;
    if (errno == EEXIST && stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return 0;
    return qerror_errno(err, errno, "mkdir %s", path);
}

int fileops_mkdirs(const char *path, struct qerror *err)
{
    _cleanup_free_ char *p = xstrdup(path);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        int rc = fileops_mkdir(p, err);
        *s = '/';
        if (rc < 0)
            return -1;
    }
    return fileops_mkdir(p, err) < 0 ? -1 : 0;
}

int fileops_rmdir_if_empty(const char *path, struct qerror *err)
{
    if (rmdir(path) == 0) {
        fsync_dir_of(path);
        return 0;
    }
    if (errno == ENOENT || errno == ENOTEMPTY || errno == EEXIST)
        return 0;
    return qerror_errno(err, errno, "rmdir %s", path);
}

int fileops_remove(const char *path, struct qerror *err)
{
    if (unlink(path) == 0) {
        fsync_dir_of(path);
        return 0;
    }
    if (errno == ENOENT || errno == ENOTDIR)
        return 0;
    return qerror_errno(err, errno, "remove %s", path);
}

int fileops_rename(const char *from, const char *to, struct qerror *err)
{
    if (rename(from, to) < 0)
        return qerror_errno(err, errno, "rename %s to %s", from, to);
    fsync_dir_of(to);
    fsync_dir_of(from);
    return 0;
}

int fileops_hardlink(const char *from, const char *to, struct qerror *err)
{
    if (link(from, to) < 0)
        return qerror_errno(err, errno, "link %s to %s", from, to);
    fsync_dir_of(to);
    return 0;
}

bool fileops_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

int fileops_sizes(const char *path, uint64_t *size, uint64_t *usage)
{
    struct stat st;
    if (stat(path, &st) < 0)
        return -1;
    if (size)
        *size = (uint64_t)st.st_size;
    if (usage)
        *usage = (uint64_t)st.st_blocks * 512;
    return 0;
}

/* A temporary file next to dst ("<dst>~XXXXXX"); its name goes to *tmp. */
static int open_temp(const char *dst, char **tmp, struct qerror *err)
{
    *tmp = xasprintf("%s~XXXXXX", dst);
    int fd = mkostemp(*tmp, O_CLOEXEC);
    if (fd < 0) {
        qerror_errno(err, errno, "create %s", *tmp);
        free(*tmp);
        *tmp = NULL;
        return -1;
    }
    fchmod(fd, 0600);
    return fd;
}

/* fsync, close and rename the temporary file into place; on failure it is
 * removed. */
static int commit_temp(int fd, char *tmp, const char *dst, struct qerror *err)
{
    int rc = 0;
    if (fsync(fd) < 0)
        rc = qerror_errno(err, errno, "fsync %s", tmp);
    if (close(fd) < 0 && rc == 0)
        rc = qerror_errno(err, errno, "close %s", tmp);
    if (rc == 0 && rename(tmp, dst) < 0)
        rc = qerror_errno(err, errno, "rename %s to %s", tmp, dst);
    if (rc < 0)
        unlink(tmp);
    else
        fsync_dir_of(dst);
    free(tmp);
    return rc;
}

static void abandon_temp(int fd, char *tmp)
{
    close(fd);
    unlink(tmp);
    free(tmp);
}

int fileops_create_sparse(const char *path, uint64_t size, struct qerror *err)
{
    if (size > (uint64_t)LLONG_MAX)
        return qerror_set(err, ERR_STORAGE_POOL_EXCEPTION, "size too large: %llu",
                          (unsigned long long)size);
    char *tmp;
    int fd = open_temp(path, &tmp, err);
    if (fd < 0)
        return -1;
    if (ftruncate(fd, (off_t)size) < 0) {
        qerror_errno(err, errno, "truncate %s", tmp);
        abandon_temp(fd, tmp);
        return -1;
    }
    return commit_temp(fd, tmp, path, err);
}

/* Copies [off, off+len) with copy_file_range, falling back to read/write. */
static int copy_range(int in, int out, off_t off, off_t len)
{
    while (len > 0) {
        off_t in_off = off, out_off = off;
        ssize_t n = copy_file_range(in, &in_off, out, &out_off, (size_t)len, 0);
        if (n < 0 &&
            (errno == EXDEV || errno == ENOSYS || errno == EOPNOTSUPP || errno == EINVAL)) {
            char buf[65536];
            size_t want = len < (off_t)sizeof(buf) ? (size_t)len : sizeof(buf);
            n = pread(in, buf, want, off);
            if (n > 0 && pwrite(out, buf, (size_t)n, off) != n)
                return -1;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            break; /* the source shrank under us */
        off += n;
        len -= n;
    }
    return 0;
}

/* The data regions only: holes are skipped, so the copy stays sparse. */
static int sparse_copy(int in, int out, off_t size)
{
    off_t off = 0;
    while (off < size) {
        off_t data = lseek(in, off, SEEK_DATA);
        if (data < 0) {
            if (errno == ENXIO)
                break; /* only a hole is left */
            return -1;
        }
        off_t hole = lseek(in, data, SEEK_HOLE);
        if (hole < 0)
            return -1;
        if (hole > size)
            hole = size;
        if (copy_range(in, out, data, hole - data) < 0)
            return -1;
        off = hole;
    }
    return 0;
}

int fileops_copy(const char *src, const char *dst, uint64_t dst_size, bool *reflinked,
                 struct qerror *err)
{
    _cleanup_close_ int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return qerror_errno(err, errno, "open %s", src);
    struct stat st;
    if (fstat(in, &st) < 0)
        return qerror_errno(err, errno, "stat %s", src);
    char *tmp;
    int out = open_temp(dst, &tmp, err);
    if (out < 0)
        return -1;
    bool cloned = ioctl(out, FICLONE, in) == 0;
    if (!cloned && sparse_copy(in, out, st.st_size) < 0) {
        qerror_errno(err, errno, "copy %s to %s", src, dst);
        abandon_temp(out, tmp);
        return -1;
    }
    off_t size = dst_size == UINT64_MAX ? st.st_size : (off_t)dst_size;
    if (ftruncate(out, size) < 0) {
        qerror_errno(err, errno, "truncate %s", tmp);
        abandon_temp(out, tmp);
        return -1;
    }
    if (reflinked)
        *reflinked = cloned;
    return commit_temp(out, tmp, dst, err);
}

int fileops_truncate(const char *path, uint64_t size, struct qerror *err)
{
    _cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return qerror_errno(err, errno, "open %s", path);
    if (ftruncate(fd, (off_t)size) < 0 || fsync(fd) < 0)
        return qerror_errno(err, errno, "resize %s", path);
    return 0;
}

bool fileops_reflink_supported(const char *dir)
{
    _cleanup_close_ int a = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    _cleanup_close_ int b = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (a < 0 || b < 0)
        return false;
    /* a file with data: some filesystems are clever with empty ones */
    if (write(a, "foo", 3) != 3 || fsync(a) < 0)
        return false;
    return ioctl(b, FICLONE, a) == 0;
}

/* Where a program named without a slash is looked for (qubesd may run with
 * a PATH that lacks the sbin directories). */
static const char *const tool_dirs[] = { "/usr/sbin/", "/sbin/", "/usr/bin/", "/bin/" };

int fileops_run(const char *const *argv, struct qerror *err)
{
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) < 0)
        return qerror_errno(err, errno, "pipe");
    pid_t pid = fork();
    if (pid < 0) {
        close(pipefd[0]);
        close(pipefd[1]);
        return qerror_errno(err, errno, "fork");
    }
    if (pid == 0) {
        sigset_t all;
        sigemptyset(&all);
        sigprocmask(SIG_SETMASK, &all, NULL);
        signal(SIGPIPE, SIG_DFL);
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0)
            dup2(devnull, 0);
        dup2(pipefd[1], 1);
        dup2(pipefd[1], 2);
        char *const *args = (char *const *)argv;
        if (!strchr(argv[0], '/')) {
            for (size_t i = 0; i < ARRAY_SIZE(tool_dirs); i++) {
                char path[PATH_MAX];
                snprintf(path, sizeof(path), "%s%s", tool_dirs[i], argv[0]);
                execv(path, args);
            }
        }
        execvp(argv[0], args);
        dprintf(2, "cannot run %s: %s", argv[0], strerror(errno));
        _exit(127);
    }
    close(pipefd[1]);
    _cleanup_buf_ struct buf out = BUF_INIT;
    for (;;) {
        char chunk[4096];
        ssize_t n = read(pipefd[0], chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        if (out.len < 2048)
            buf_append(&out, chunk, (size_t)n);
    }
    close(pipefd[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return qerror_errno(err, errno, "wait for %s", argv[0]);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    while (out.len && (out.data[out.len - 1] == '\n' || out.data[out.len - 1] == ' '))
        out.data[--out.len] = '\0';
    for (size_t i = 0; i < out.len; i++)
        if (out.data[i] == '\n')
            out.data[i] = ' ';
    if (WIFEXITED(status))
        return qerror_set(err, ERR_STORAGE_POOL_EXCEPTION, "%s failed (exit status %d): %s",
                          argv[0], WEXITSTATUS(status), out.data ? out.data : "");
    return qerror_set(err, ERR_STORAGE_POOL_EXCEPTION, "%s killed by signal %d", argv[0],
                      WTERMSIG(status));
}
