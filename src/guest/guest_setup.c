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
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/mono_time.h"
#include "common/names.h"
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

/* qubes-sysinit.sh's defaults, by the type dom0 says the qube is. */
static const char *default_services(const char *type)
{
    if (strcmp(type, "NetVM") == 0)
        return "network-manager qubes-network qubes-update-check qubes-updates-proxy "
               "meminfo-writer qubes-firewall";
    if (strcmp(type, "ProxyVM") == 0)
        return "qubes-network qubes-firewall qubes-update-check meminfo-writer";
    if (strcmp(type, "AppVM") == 0)
        return "cups qubes-update-check meminfo-writer";
    if (strcmp(type, "TemplateVM") == 0)
        return "cups qubes-update-check meminfo-writer updates-proxy-setup";
    return "meminfo-writer";
}

static void set_service(const char *name, size_t len, bool on)
{
    char path[sizeof(GUEST_SERVICE_DIR) + QDB_MAX_PATH];
    if (len == 0 || len >= QDB_MAX_PATH || memchr(name, '/', len) ||
        (name[0] == '.' && (len == 1 || (len == 2 && name[1] == '.'))))
        return;
    snprintf(path, sizeof(path), "%s/%.*s", GUEST_SERVICE_DIR, (int)len, name);
    if (!on) {
        unlink(path);
        return;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0)
        printf("qubes-init: %s: %s\n", path, strerror(errno));
    else
        close(fd);
}

int guest_apply_services(void)
{
    if (mkdir(GUEST_SERVICE_DIR, 0755) < 0 && errno != EEXIST) {
        printf("qubes-init: %s: %s\n", GUEST_SERVICE_DIR, strerror(errno));
        return -1;
    }
    struct qerror err = { 0 };
    struct qdb_client *c = qdb_open(NULL, &err);
    _cleanup_free_ char *type = NULL;
    uint32_t len;
    struct qdb_items items = { 0 };
    if (!c || qdb_read(c, "/qubes-vm-type", &type, &len, &err) < 0 ||
        qdb_multiread(c, "/qubes-service/", &items, &err) < 0) {
        printf("qubes-init: qubesdb: %s\n", err.message);
        if (c)
            qdb_close(c);
        return -1;
    }
    qdb_close(c);
    for (const char *d = default_services(type ? type : ""); *d;) {
        size_t n = strcspn(d, " ");
        set_service(d, n, true);
        d += n + (d[n] == ' ');
    }
    const size_t prefix = strlen("/qubes-service/");
    for (size_t i = 0; i < items.n; i++) {
        const char *name = items.items[i].path + prefix;
        set_service(name, strlen(name), strcmp(items.items[i].value, "1") == 0);
    }
    qdb_items_free(&items);
    return 0;
}

bool guest_service_enabled(const char *name)
{
    char path[sizeof(GUEST_SERVICE_DIR) + QDB_MAX_PATH];
    snprintf(path, sizeof(path), "%s/%s", GUEST_SERVICE_DIR, name);
    return access(path, F_OK) == 0;
}

/* /etc/hosts without its old 127.0.1.1 line, then ours. */
static int write_hosts(const char *name)
{
    _cleanup_buf_ struct buf out = BUF_INIT;
    FILE *in = fopen("/etc/hosts", "re");
    char line[512];
    bool have_localhost = false;
    while (in && fgets(line, sizeof(line), in)) {
        if (strncmp(line, "127.0.1.1", 9) == 0 && (line[9] == ' ' || line[9] == '\t'))
            continue;
        have_localhost = have_localhost || strncmp(line, "127.0.0.1", 9) == 0;
        buf_append_str(&out, line);
        if (line[strlen(line) - 1] != '\n')
            buf_append_char(&out, '\n');
    }
    if (in)
        fclose(in);
    if (!have_localhost)
        buf_append_str(&out, "127.0.0.1\tlocalhost\n");
    buf_printf(&out, "127.0.1.1\t%s\n", name);
    FILE *f = fopen("/etc/hosts", "we");
    if (!f || fwrite(out.data, 1, out.len, f) != out.len || fclose(f) != 0) {
        printf("qubes-init: /etc/hosts: %s\n", strerror(errno));
        return -1;
    }
    return 0;
}

int guest_set_hostname(void)
{
    struct qerror err = { 0 };
    struct qdb_client *c = qdb_open(NULL, &err);
    _cleanup_free_ char *name = NULL;
    uint32_t len;
    int r = c ? qdb_read(c, "/name", &name, &len, &err) : -1;
    if (c)
        qdb_close(c);
    if (r < 0) {
        printf("qubes-init: qubesdb: %s\n", err.message);
        return -1;
    }
    /* dom0 writes a qube name: checked all the same before it reaches a file */
    if (r == 0 || validate_qube_name(name, NULL, &err) < 0) {
        printf("qubes-init: /name: %s\n", r == 0 ? "missing" : err.message);
        return -1;
    }
    if (sethostname(name, len) < 0)
        printf("qubes-init: sethostname: %s\n", strerror(errno));
    return write_hosts(name);
}
