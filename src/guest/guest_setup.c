/* qubes-init's set-up from qubesdb. Runs before any other program of the
 * qube, so nothing here races a user of what it writes. */
#include "guest/guest_setup.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/mono_time.h"
#include "qubesdb/qdb_client.h"

#define GUEST_DIR "/run/qubes-guest"

/* The child's descriptors: the channel as 3, the ready pipe as 4. */
static void __attribute__((noreturn)) exec_daemon(int channel_fd, int ready_fd)
{
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    if (dup2(channel_fd, 3) < 0 || dup2(ready_fd, 4) < 0)
        _exit(127);
    setsid();
    char *const argv[] = { "qubesdb-daemon", "--channel-fd", "3", "--ready-fd", "4", NULL };
    char *const envp[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL };
    execve(GUEST_DIR "/qubesdb-daemon", argv, envp);
    fprintf(stderr, "qubes-init: exec qubesdb-daemon: %s\n", strerror(errno));
    _exit(127);
}

pid_t guest_qubesdb_start(int channel_fd)
{
    int ready[2];
    if (pipe2(ready, O_CLOEXEC) < 0) {
        printf("qubes-init: qubesdb: pipe: %s\n", strerror(errno));
        close(channel_fd);
        return -1;
    }
    /* descriptors 3 and 4 are qubes-init's channels: the pipe goes above them */
    int ready_r = fcntl(ready[0], F_DUPFD_CLOEXEC, 10), ready_w = fcntl(ready[1], F_DUPFD, 10);
    close(ready[0]);
    close(ready[1]);
    pid_t pid = ready_r < 0 || ready_w < 0 ? -1 : fork();
    if (pid == 0)
        exec_daemon(channel_fd, ready_w);
    close(channel_fd);
    if (ready_w >= 0)
        close(ready_w);
    if (pid < 0) {
        printf("qubes-init: qubesdb: cannot start the daemon: %s\n", strerror(errno));
        if (ready_r >= 0)
            close(ready_r);
        return -1;
    }
    /* one byte once synced; end of file if it died first */
    struct pollfd p = { .fd = ready_r, .events = POLLIN };
    long long deadline = mono_ms() + GUEST_QUBESDB_SYNC_MS;
    char byte;
    int r;
    while ((r = poll(&p, 1, (int)mono_ms_left(deadline))) < 0 && errno == EINTR)
        ;
    ssize_t n = r > 0 ? read(ready_r, &byte, 1) : 0;
    close(ready_r);
    if (r == 0) {
        printf("qubes-init: qubesdb: no sync with dom0 after %d ms\n", GUEST_QUBESDB_SYNC_MS);
        return pid;
    }
    if (n != 1) {
        printf("qubes-init: qubesdb: the daemon ended before its first sync\n");
        return -1;
    }
    printf("qubes-init: qubesdb: synced with dom0\n");
    return pid;
}

/* A DNS server's address from qubesdb: IPv4, as dom0 writes it. */
static int read_dns(struct qdb_client *c, const char *path, char out[INET_ADDRSTRLEN])
{
    struct qerror err = { 0 };
    _cleanup_free_ char *value = NULL;
    uint32_t len;
    int r = qdb_read(c, path, &value, &len, &err);
    if (r <= 0)
        return r < 0 ? -1 : 0;
    struct in_addr a;
    if (len >= INET_ADDRSTRLEN || inet_pton(AF_INET, value, &a) != 1) {
        printf("qubes-init: %s is not an IPv4 address: ignored\n", path);
        return 0;
    }
    memcpy(out, value, len + 1);
    return 1;
}

int guest_write_resolv_conf(void)
{
    struct qerror err = { 0 };
    struct qdb_client *c = qdb_open(NULL, &err);
    if (!c) {
        printf("qubes-init: qubesdb: %s\n", err.message);
        return -1;
    }
    char dns[2][INET_ADDRSTRLEN];
    _cleanup_free_ char *ip = NULL;
    uint32_t ip_len;
    int have_ip = qdb_read(c, "/qubes-ip", &ip, &ip_len, &err);
    int n = 0;
    if (have_ip == 1) {
        n += read_dns(c, "/qubes-primary-dns", dns[n]) == 1;
        n += read_dns(c, "/qubes-secondary-dns", dns[n]) == 1;
    }
    qdb_close(c);
    if (have_ip < 0) {
        printf("qubes-init: qubesdb: %s\n", err.message);
        return -1;
    }
    if (have_ip == 0 || n == 0)
        return 0;
    FILE *f = fopen("/etc/resolv.conf", "we");
    if (!f) {
        printf("qubes-init: /etc/resolv.conf: %s\n", strerror(errno));
        return -1;
    }
    for (int i = 0; i < n; i++)
        fprintf(f, "nameserver %s\n", dns[i]);
    if (fclose(f) != 0) {
        printf("qubes-init: /etc/resolv.conf: %s\n", strerror(errno));
        return -1;
    }
    return 0;
}
