/* trivial-init: the least a VM's PID 1 can do, the baseline of vm boot
 * figures (tests/vm/test_vm_guest.py): says it runs, with the kernel's
 * uptime, and powers the VM off. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <unistd.h>

int main(void)
{
    mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
    mount("proc", "/proc", "proc", 0, NULL);
    int cons = open("/dev/console", O_WRONLY | O_NOCTTY);
    char uptime[64] = "";
    int fd = open("/proc/uptime", O_RDONLY);
    if (fd >= 0) {
        ssize_t n = read(fd, uptime, sizeof(uptime) - 1);
        uptime[n > 0 ? n : 0] = '\0';
        uptime[strcspn(uptime, " ")] = '\0';
        close(fd);
    }
    char line[128];
    int len = snprintf(line, sizeof(line), "trivial-init: running uptime=%s\n", uptime);
    if (cons >= 0 && write(cons, line, (size_t)len) != len)
        return 1;
    sync();
    reboot(RB_POWER_OFF);
    return 1;
}
