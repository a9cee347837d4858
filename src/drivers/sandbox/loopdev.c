/* Loop devices through LOOP_CTL_GET_FREE and LOOP_CONFIGURE. */
#include "drivers/sandbox/loopdev.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/loop.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "common/cleanup.h"

int loop_attach(const char *image, bool read_only, char *path, struct qerror *err)
{
    _cleanup_close_ int file = open(image, (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
    if (file < 0)
        return qerror_errno(err, errno, "open %s", image);
    _cleanup_close_ int control = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
    if (control < 0)
        return qerror_errno(err, errno, "open /dev/loop-control");
    /* another process may take the free device first: retry a few times */
    for (int attempt = 0; attempt < 16; attempt++) {
        int n = ioctl(control, LOOP_CTL_GET_FREE);
        if (n < 0)
            return qerror_errno(err, errno, "LOOP_CTL_GET_FREE");
        snprintf(path, 32, "/dev/loop%d", n);
        int dev = open(path, (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
        if (dev < 0)
            return qerror_errno(err, errno, "open %s", path);
        struct loop_config config = {
            .fd = (unsigned)file,
            .info = { .lo_flags = LO_FLAGS_AUTOCLEAR | (read_only ? LO_FLAGS_READ_ONLY : 0) },
        };
        snprintf((char *)config.info.lo_file_name, LO_NAME_SIZE, "%s", image);
        if (ioctl(dev, LOOP_CONFIGURE, &config) == 0)
            return dev;
        int e = errno;
        close(dev);
        if (e != EBUSY)
            return qerror_errno(err, e, "LOOP_CONFIGURE %s on %s", image, path);
    }
    return qerror_set(err, ERR_QUBES_EXCEPTION, "no free loop device for %s", image);
}
