/* qrexec-client: dom0's way to run a command or service in a qube through its qrexec-daemon.
 * Receives the data socket from the daemon (SCM_RIGHTS) and runs the client side of the data
 * phase; exits with the remote exit code, 125 on a qrexec problem. */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/names.h"
#include "common/root.h"
#include "qrexec/exec.h"
#include "qrexec/pump.h"
#include "qrexec/qrexec_proto.h"
#include "qrexec/transport.h"

#define DEFAULT_CONNECT_TIMEOUT 10

static void usage(FILE *f)
{
    fprintf(f,
            "usage: qrexec-client -d NAME [-l LOCAL_PROGRAM | -e] [-W] [-w SECONDS] USER:COMMAND\n"
            "Runs COMMAND (or \"QUBESRPC service+arg source\") as USER in qube NAME through\n"
            "its qrexec-daemon ($QUBES_ROOT/run/qubes/qrexec.NAME).\n"
            "  -d NAME        the target qube (required)\n"
            "  -l PROGRAM     connect the remote's stdin/stdout to PROGRAM (run by /bin/sh -c)\n"
            "  -e             only start the command (stdio on /dev/null); exit 0 once accepted\n"
            "  -W             also wait until the daemon reports the call's end\n"
            "  -w SECONDS     how long to wait for the daemon (default 10)\n"
            "  -h, --help     this text\n"
            "Exit status: the remote exit code; 125 qrexec problem; 126 refused; 127 service\n"
            "not found.\n");
}

static int fail(const char *what, const char *detail)
{
    fprintf(stderr, "qrexec-client: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    return QREXEC_EXIT_PROBLEM;
}

static long ms_left(const struct timespec *deadline)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (deadline->tv_sec - now.tv_sec) * 1000 + (deadline->tv_nsec - now.tv_nsec) / 1000000;
}

/* Connects to the daemon's socket, retrying while it is not there yet. */
static int connect_daemon(const char *qube, const struct timespec *deadline)
{
    char *rel = xasprintf("run/qubes/qrexec.%s", qube);
    char *path = qroot_path(rel);
    free(rel);
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof(sa.sun_path)) {
        free(path);
        errno = ENAMETOOLONG;
        return -1;
    }
    strcpy(sa.sun_path, path);
    free(path);
    for (;;) {
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return -1;
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
            return fd;
        int e = errno;
        close(fd);
        if ((e != ENOENT && e != ECONNREFUSED) || ms_left(deadline) <= 0) {
            errno = e;
            return -1;
        }
        usleep(50000);
    }
}

static bool wait_readable(int fd, const struct timespec *deadline)
{
    for (;;) {
        long left = ms_left(deadline);
        if (left <= 0)
            return false;
        struct pollfd p = { .fd = fd, .events = POLLIN };
        int r = poll(&p, 1, (int)left);
        if (r > 0)
            return true;
        if (r < 0 && errno != EINTR)
            return false;
    }
}

/* Reads one message from the daemon within the deadline. */
static int recv_daemon(int fd, const struct timespec *deadline, struct msg_header *hdr,
                       uint8_t **payload, struct qrexec_fds *fds, const char **why)
{
    if (!wait_readable(fd, deadline)) {
        *why = "timeout waiting for the daemon";
        return -1;
    }
    return qrexec_recv_msg(fd, QREXEC_FROM_DAEMON_LOCAL, QREXEC_PROTOCOL_VERSION, hdr, payload,
                           fds, why);
}

static int data_handshake(int fd, uint32_t *version, const char **why)
{
    struct buf m = BUF_INIT;
    qrexec_hello_encode(&m, QREXEC_PROTOCOL_VERSION);
    int rc = qrexec_send_all(fd, m.data, m.len, -1);
    buf_free(&m);
    if (rc < 0) {
        *why = "cannot send HELLO";
        return -1;
    }
    struct msg_header hdr;
    uint8_t *payload = NULL;
    rc = qrexec_recv_msg(fd, QREXEC_DATA_TO_CLIENT, QREXEC_PROTOCOL_VERSION, &hdr, &payload,
                         NULL, why);
    if (rc == 0)
        rc = qrexec_hello_decode(&hdr, payload, QREXEC_PROTOCOL_VERSION, QREXEC_DATA_MIN_VERSION,
                                 version, why);
    free(payload);
    return rc;
}

/* Blocks until the daemon closes our socket (it does when the call's port is released). */
static void wait_daemon_close(int fd)
{
    char b[64];
    while (read(fd, b, sizeof(b)) > 0 || errno == EINTR)
        ;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *qube = NULL, *local_program = NULL;
    bool just_exec = false, wait_end = false;
    long timeout = DEFAULT_CONNECT_TIMEOUT;
    int opt;
    while ((opt = getopt_long(argc, argv, "+d:l:eWw:h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'd': qube = optarg; break;
        case 'l': local_program = optarg; break;
        case 'e': just_exec = true; break;
        case 'W': wait_end = true; break;
        case 'w': {
            char *end;
            timeout = strtol(optarg, &end, 10);
            if (*optarg == '\0' || *end || timeout <= 0 || timeout > 86400) {
                fprintf(stderr, "qrexec-client: invalid timeout '%s'\n", optarg);
                return 2;
            }
            break;
        }
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!qube || optind + 1 != argc || (just_exec && local_program)) {
        usage(stderr);
        return 2;
    }
    const char *cmdline = argv[optind];
    struct qerror err = { 0 };
    if (validate_qube_name(qube, NULL, &err) < 0)
        return fail("invalid qube name", err.message);
    if (!strchr(cmdline, ':'))
        return fail("command must be USER:COMMAND", NULL);
    if (strlen(cmdline) + 1 > QREXEC_MAX_CMD_LEN)
        return fail("command line too long", NULL);
    signal(SIGPIPE, SIG_IGN);

    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += timeout;
    int sock = connect_daemon(qube, &deadline);
    if (sock < 0)
        return fail("cannot connect to the qrexec daemon", strerror(errno));

    const char *why = NULL;
    struct msg_header hdr;
    uint8_t *payload = NULL;
    struct qrexec_fds fds = { .n = 0 };
    uint32_t v;
    if (recv_daemon(sock, &deadline, &hdr, &payload, &fds, &why) < 0 ||
        qrexec_hello_decode(&hdr, payload, QREXEC_CLIENT_PROTOCOL_VERSION,
                            QREXEC_CLIENT_PROTOCOL_VERSION, &v, &why) < 0 ||
        qrexec_fds_any(&fds)) {
        qrexec_fds_close(&fds);
        free(payload);
        return fail("daemon handshake failed", why);
    }
    free(payload);
    uint32_t type = just_exec ? MSG_JUST_EXEC : MSG_EXEC_CMDLINE;
    struct buf m = BUF_INIT;
    qrexec_hello_encode(&m, QREXEC_CLIENT_PROTOCOL_VERSION);
    qrexec_exec_encode(&m, type, 0, 0, cmdline);
    int rc = qrexec_send_all(sock, m.data, m.len, -1);
    buf_free(&m);
    if (rc < 0)
        return fail("cannot send the request", strerror(errno));

    uint32_t domain, port;
    if (recv_daemon(sock, &deadline, &hdr, &payload, &fds, &why) < 0 || hdr.type != type ||
        qrexec_params_decode(payload, hdr.len, &domain, &port, &why) < 0 || fds.n != 1 ||
        fds.overflow) {
        qrexec_fds_close(&fds);
        free(payload);
        return fail("request refused by the daemon", why);
    }
    free(payload);
    int data_fd = fds.fd[0];
    if (just_exec) {
        close(data_fd);
        if (wait_end)
            wait_daemon_close(sock);
        close(sock);
        return 0;
    }
    if (!wait_end) {
        close(sock);
        sock = -1;
    }

    uint32_t version;
    if (data_handshake(data_fd, &version, &why) < 0)
        return fail("data connection handshake failed", why);

    struct qrexec_pump_cfg cfg = {
        .remote_fd = data_fd, .version = version, .is_service = false,
        .in_fd = 0, .out_fd = 1, .err_fd = 2, .child = -1,
    };
    if (local_program) {
        char *pargv[] = { "sh", "-c", (char *)local_program, NULL };
        struct qrexec_spawn_opts opts = { .path = "/bin/sh", .argv = pargv,
                                          .stderr_inherit = true };
        struct qrexec_child child;
        int code = qrexec_spawn(&opts, &child, &err);
        if (code != 0)
            return fail("cannot start the local program", code < 0 ? err.message : NULL);
        /* the remote's stdout feeds the program's stdin and the program's stdout is sent */
        cfg.in_fd = child.stdout_fd;
        cfg.out_fd = child.stdin_fd;
        cfg.child = child.pid;
    }
    int code = qrexec_pump_run(&cfg, &why);
    close(data_fd);
    if (code < 0) {
        if (sock >= 0)
            close(sock);
        return fail("remote side failed", why);
    }
    if (sock >= 0) {
        wait_daemon_close(sock);
        close(sock);
    }
    return code;
}
