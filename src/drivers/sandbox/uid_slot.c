/* uid range allocation: a slot lock per range (common/slot_lock.h). */
#include "drivers/sandbox/uid_slot.h"

#include <errno.h>
#include <sys/stat.h>

#include "common/slot_lock.h"
#include "drivers/sandbox/sandbox_layout.h"

/* Ranges from SANDBOX_ID_FIRST up to, not including, the one holding
 * uid 0xffffffff ((uid_t)-1 means "no uid" to the kernel). */
#define UID_SLOT_COUNT ((int)((0xffff0000u - SANDBOX_ID_FIRST) / SANDBOX_ID_RANGE))

uid_t uid_slot_base(int slot)
{
    return SANDBOX_ID_FIRST + (uid_t)slot * SANDBOX_ID_RANGE;
}

int uid_slot_acquire(int hint, uid_t *base, struct qerror *err)
{
    if (mkdir("/run/qubicle", 0700) < 0 && errno != EEXIST)
        return qerror_errno(err, errno, "create /run/qubicle");
    int slot;
    int fd = slot_lock_acquire(UID_SLOT_DIR, hint % UID_SLOT_COUNT, UID_SLOT_COUNT, &slot, err);
    if (fd < 0) {
        if (!err->kind)
            qerror_set(err, ERR_QUBES_EXCEPTION, "every host uid range is in use");
        return -1;
    }
    *base = uid_slot_base(slot);
    return fd;
}
