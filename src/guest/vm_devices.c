/* The devices of a bare VM as vm-boot finds them (see vm_devices.h): only
 * sysfs is read, never anything the qube wrote: vm-boot runs before the
 * qube's own root is mounted. */
#include "guest/vm_devices.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/mono_time.h"

/* How often a wait looks again: under TCG a sysfs scan costs about 1 ms. */
#define POLL_NS (5 * 1000 * 1000)

void vm_say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("vm-boot: ", stdout);
    vprintf(fmt, ap);
    fputc('\n', stdout);
    fflush(stdout);
    va_end(ap);
}

static int ko_name(const struct dirent *e)
{
    size_t n = strlen(e->d_name);
    return n > 3 && strcmp(e->d_name + n - 3, ".ko") == 0;
}

int vm_load_modules(const char *dir)
{
    struct dirent **names;
    int n = scandir(dir, &names, ko_name, alphasort);
    if (n < 0) {
        vm_say("modules: %s: %s", dir, strerror(errno));
        return -1;
    }
    int rc = 0;
    for (int i = 0; i < n; i++) {
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
        int fd = rc < 0 ? -1 : open(path, O_RDONLY | O_CLOEXEC);
        if (rc == 0 && (fd < 0 || (syscall(SYS_finit_module, fd, "", 0) < 0 && errno != EEXIST))) {
            vm_say("load module %s: %s", names[i]->d_name, strerror(errno));
            rc = -1;
        }
        if (fd >= 0)
            close(fd);
        free(names[i]);
    }
    free(names);
    return rc;
}

/* The first line of a sysfs attribute, without its newline, into buf. */
static int read_attr(const char *path, char *buf, size_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, len - 1);
    close(fd);
    if (n < 0)
        return -1;
    buf[n] = '\0';
    buf[strcspn(buf, "\n")] = '\0';
    return 0;
}

static void pause_a_little(void)
{
    struct timespec ts = { 0, POLL_NS };
    nanosleep(&ts, NULL);
}

/* Name of the entry of dir whose attr (a path under it) reads value. */
static int scan(const char *dir, const char *prefix, const char *attr, const char *value,
                char *name, size_t len)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int found = 0;
    struct dirent *e;
    while (!found && (e = readdir(d))) {
        if (strncmp(e->d_name, prefix, strlen(prefix)) != 0 || strlen(e->d_name) >= len)
            continue;
        char path[512], got[128];
        snprintf(path, sizeof(path), "%s/%s/%s", dir, e->d_name, attr);
        if (read_attr(path, got, sizeof(got)) == 0 && strcmp(got, value) == 0) {
            snprintf(name, len, "%s", e->d_name);
            found = 1;
        }
    }
    closedir(d);
    return found;
}

int vm_find_disk(const char *serial, bool wait, int64_t deadline_ms, char *name, size_t len)
{
    for (;;) {
        if (scan("/sys/block", "vd", "serial", serial, name, len))
            return 1;
        if (!wait || mono_ms_left(deadline_ms) <= 0)
            return 0;
        pause_a_little();
    }
}

int vm_open_port(const char *name, int64_t deadline_ms)
{
    char port[64];
    while (!scan("/sys/class/virtio-ports", "vport", "name", name, port, sizeof(port))) {
        if (mono_ms_left(deadline_ms) <= 0)
            return -1;
        pause_a_little();
    }
    char path[96];
    snprintf(path, sizeof(path), "/dev/%s", port);
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        vm_say("open %s (%s): %s", path, name, strerror(errno));
    return fd;
}

int vm_open_power_button(void)
{
    char event[64];
    if (!scan("/sys/class/input", "event", "device/name", "Power Button", event, sizeof(event)))
        return -1;
    char path[96];
    snprintf(path, sizeof(path), "/dev/input/%s", event);
    return open(path, O_RDONLY | O_CLOEXEC);
}
