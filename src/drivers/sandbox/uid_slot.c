/* uid range allocation with flock(2): the kernel drops a lock when its
 * holder dies, even by SIGKILL, so a range is never leaked nor shared. */
#include "drivers/sandbox/uid_slot.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "drivers/sandbox/sandbox_layout.h"

/* Ranges from SANDBOX_ID_FIRST up to, not including, the one holding
 * uid 0xffffffff ((uid_t)-1 means "no uid" to the kernel). */
#define UID_SLOT_COUNT ((int)((0xffff0000u - SANDBOX_ID_FIRST) / SANDBOX_ID_RANGE))

uid_t uid_slot_base(int slot)
{
    return SANDBOX_ID_FIRST + (uid_t)slot * SANDBOX_ID_RANGE;
}

static int open_dir(struct qerror *err)
{
    if ((mkdir("/run/qubicle", 0700) < 0 && errno != EEXIST) ||
        (mkdir(UID_SLOT_DIR, 0700) < 0 && errno != EEXIST))
        return qerror_errno(err, errno, "create %s", UID_SLOT_DIR);
    int dir = open(UID_SLOT_DIR, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dir < 0)
        return qerror_errno(err, errno, "open %s", UID_SLOT_DIR);
    return dir;
}

int uid_slot_acquire(int hint, uid_t *base, struct qerror *err)
{
    _cleanup_close_ int dir = open_dir(err);
    if (dir < 0)
        return -1;
    for (int k = 0; k < UID_SLOT_COUNT; k++) {
        int slot = (hint + k) % UID_SLOT_COUNT;
        char name[16];
        snprintf(name, sizeof(name), "%d", slot);
        int fd = openat(dir, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
            return qerror_errno(err, errno, "open %s/%s", UID_SLOT_DIR, name);
        if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
            *base = uid_slot_base(slot);
            return fd;
        }
        int e = errno;
        close(fd);
        if (e != EWOULDBLOCK)
            return qerror_errno(err, e, "lock %s/%s", UID_SLOT_DIR, name);
    }
    return qerror_set(err, "QubesException", "every host uid range is in use");
}
