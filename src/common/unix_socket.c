/* Unix stream sockets by path: connect and listen with the checks every caller needs. */
#include "common/unix_socket.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static int fill_addr(struct sockaddr_un *sa, const char *path, struct qerror *err)
{
    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sa->sun_path)) {
        if (err)
            qerror_set(err, ERR_QUBES_EXCEPTION, "socket path too long: %s", path);
        errno = ENAMETOOLONG;
        return -1;
    }
    strcpy(sa->sun_path, path);
    return 0;
}

/* Closes fd (when open), fills err and returns -1 with errno still e. */
static int fail(int fd, int e, struct qerror *err, const char *what, const char *path)
{
    if (fd >= 0)
        close(fd);
    if (err) {
        if (path)
            qerror_errno(err, e, "%s %s", what, path);
        else
            qerror_errno(err, e, "%s", what);
    }
    errno = e;
    return -1;
}

int unix_connect(const char *path, int flags, struct qerror *err)
{
    struct sockaddr_un sa;
    if (fill_addr(&sa, path, err) < 0)
        return -1;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return fail(-1, errno, err, "socket", NULL);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        return fail(fd, errno, err, "connect to", path);
    if ((flags & UNIX_NONBLOCK) && fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0)
        return fail(fd, errno, err, "connect to", path);
    return fd;
}

int unix_listen(const char *path, mode_t mode, int backlog, struct qerror *err)
{
    struct sockaddr_un sa;
    if (fill_addr(&sa, path, err) < 0)
        return -1;
    /* Bound at PATH~ and renamed onto path once it listens with its mode: whoever waits for
     * the path to exist finds a socket that accepts, and a stale one is replaced at once. A
     * path too long for the suffix is bound in place. */
    char staged[sizeof(sa.sun_path)];
    int n = snprintf(staged, sizeof(staged), "%s~", path);
    bool stage = n > 0 && (size_t)n < sizeof(staged);
    if (stage)
        strcpy(sa.sun_path, staged);
    const char *bound = stage ? staged : path;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return fail(-1, errno, err, "socket", NULL);
    unlink(bound);
    mode_t old = umask(0177);
    int rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
    umask(old);
    if (rc < 0)
        return fail(fd, errno, err, "listen on", path);
    if (listen(fd, backlog) < 0 || chmod(bound, mode) < 0 || (stage && rename(staged, path) < 0)) {
        int e = errno;
        unlink(bound);
        return fail(fd, e, err, "listen on", path);
    }
    return fd;
}
