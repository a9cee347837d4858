/* Slot locks: one file per slot, made on first use and never removed (a
 * removal could race with another process locking it). */
#include "common/slot_lock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"

int slot_lock_acquire(const char *dir, int first, int count, int *slot, struct qerror *err)
{
    if (mkdir(dir, 0700) < 0 && errno != EEXIST)
        return qerror_errno(err, errno, "create %s", dir);
    _cleanup_close_ int dirfd = open(dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dirfd < 0)
        return qerror_errno(err, errno, "open %s", dir);
    for (int k = 0; k < count; k++) {
        int n = (first + k) % count;
        char name[16];
        snprintf(name, sizeof(name), "%d", n);
        int fd = openat(dirfd, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
            return qerror_errno(err, errno, "open %s/%s", dir, name);
        if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
            *slot = n;
            return fd;
        }
        int e = errno;
        close(fd);
        if (e != EWOULDBLOCK)
            return qerror_errno(err, e, "lock %s/%s", dir, name);
    }
    errno = EBUSY;
    return -1;
}
