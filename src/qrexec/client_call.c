/* The client side of a qrexec call: ask the qube's qrexec-daemon to run USER:COMMAND, take the
 * data socket it passes back (SCM_RIGHTS) and run the data phase over the caller's fds. */
#include "qrexec/client_call.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "common/mono_time.h"
#include "common/names.h"
#include "common/root.h"
#include "common/unix_socket.h"
#include "qrexec/exec.h"
#include "qrexec/pump.h"
#include "qrexec/qrexec_proto.h"
#include "qrexec/transport.h"

#define CALL_ERROR ERR_QREXEC_ERROR

/* Connects to the daemon's socket, retrying while it is not there yet. */
static int connect_daemon(const char *qube, int64_t deadline)
{
    char *rel = xasprintf("run/qubes/qrexec.%s", qube);
    _cleanup_free_ char *path = qroot_path(rel);
    free(rel);
    for (;;) {
        int fd = unix_connect(path, 0, NULL);
        if (fd >= 0)
            return fd;
        int e = errno;
        if ((e != ENOENT && e != ECONNREFUSED) || mono_ms_left(deadline) <= 0) {
            errno = e;
            return -1;
        }
        usleep(50000);
    }
}

static bool wait_readable(int fd, int64_t deadline)
{
    for (;;) {
        long left = (long)mono_ms_left(deadline);
        if (left <= 0)
            return false;
        struct pollfd p = { .fd = fd, .events = POLLIN };
        int r = poll(&p, 1, left > INT_MAX ? INT_MAX : (int)left);
        if (r > 0)
            return true;
        if (r < 0 && errno != EINTR)
            return false;
    }
}

/* Reads one message from the daemon within the deadline. */
static int recv_daemon(int fd, int64_t deadline, struct msg_header *hdr, uint8_t **payload,
                       struct qrexec_fds *fds, const char **why)
{
    if (!wait_readable(fd, deadline)) {
        *why = "timeout waiting for the daemon";
        return -1;
    }
    return qrexec_recv_msg(fd, QREXEC_FROM_DAEMON_LOCAL, QREXEC_PROTOCOL_VERSION, hdr, payload, fds,
                           why);
}

/* Sends the stdin prefix as MSG_DATA_STDIN chunks before the pump starts. Blocking is safe:
 * the service side takes up to its writer limit (256 KiB) of stdin without the process
 * reading any, more than a command line (MAX_ARG_STRLEN, 128 KiB) can be. */
static int send_prefix(int fd, uint32_t version, const char *p, size_t n)
{
    size_t chunk = qrexec_max_chunk(version);
    struct buf m = BUF_INIT;
    while (n) {
        size_t k = n < chunk ? n : chunk;
        qrexec_msg_encode(&m, MSG_DATA_STDIN, p, k);
        p += k;
        n -= k;
    }
    int rc = m.len ? qrexec_send_all(fd, m.data, m.len, -1) : 0;
    buf_free(&m);
    return rc;
}

/* Blocks until the daemon closes our socket (it does when the call's port is released). */
static void wait_daemon_close(int fd)
{
    char b[64];
    while (read(fd, b, sizeof(b)) > 0 || errno == EINTR)
        ;
}

static int fail(struct qerror *err, const char *what, const char *detail)
{
    return qerror_set(err, CALL_ERROR, "%s%s%s", what, detail ? ": " : "", detail ? detail : "");
}

/* A copy the pump may close; -1 stays -1 (as does a descriptor that is not open). */
static int copy_fd(int fd)
{
    return fd < 0 ? -1 : fcntl(fd, F_DUPFD_CLOEXEC, 3);
}

int qrexec_client_request(const char *qube, uint32_t type, const char *cmdline,
                          uint32_t source_domid, long timeout, int *sock, uint32_t *domain,
                          uint32_t *port, struct qerror *err)
{
    long timeout_s = timeout > 0 ? timeout : QREXEC_CLIENT_DEFAULT_TIMEOUT;
    int64_t deadline = mono_ms() + 1000 * (int64_t)timeout_s;
    *sock = connect_daemon(qube, deadline);
    if (*sock < 0)
        return fail(err, "cannot connect to the qrexec daemon", strerror(errno));

    /* our HELLO and the request go at once, without waiting for the daemon's HELLO: it
     * reads them after sending its own, and the bytes are those of the exchange */
    struct buf m = BUF_INIT;
    qrexec_hello_encode(&m, QREXEC_CLIENT_PROTOCOL_VERSION);
    qrexec_exec_encode(&m, type, source_domid, 0, cmdline);
    int rc = qrexec_send_all(*sock, m.data, m.len, -1);
    int send_errno = errno;
    buf_free(&m);

    const char *why = NULL;
    struct msg_header hdr;
    uint8_t *payload = NULL;
    struct qrexec_fds fds = { .n = 0 };
    uint32_t v;
    if (recv_daemon(*sock, deadline, &hdr, &payload, &fds, &why) < 0 ||
        qrexec_hello_decode(&hdr, payload, QREXEC_CLIENT_PROTOCOL_VERSION,
                            QREXEC_CLIENT_PROTOCOL_VERSION, &v, &why) < 0 ||
        qrexec_fds_any(&fds)) {
        qrexec_fds_close(&fds);
        free(payload);
        return fail(err, "daemon handshake failed", why);
    }
    free(payload);
    payload = NULL;
    if (rc < 0)
        return fail(err, "cannot send the request", strerror(send_errno));

    if (recv_daemon(*sock, deadline, &hdr, &payload, &fds, &why) < 0 || hdr.type != type ||
        qrexec_params_decode(payload, hdr.len, domain, port, &why) < 0 || fds.n != 1 ||
        fds.overflow) {
        qrexec_fds_close(&fds);
        free(payload);
        return fail(err, "request refused by the daemon", why);
    }
    free(payload);
    return fds.fd[0];
}

/* The data phase over data_fd (closed here); the remote exit code or -1. */
static int run_data_phase(const struct qrexec_client_opts *o, int data_fd, struct qerror *err)
{
    const char *why = NULL;
    uint32_t version;
    if (qrexec_data_handshake(data_fd, QREXEC_DATA_TO_CLIENT, &version, &why) < 0) {
        close(data_fd);
        return fail(err, "data connection handshake failed", why);
    }
    if (o->stdin_prefix_len &&
        send_prefix(data_fd, version, o->stdin_prefix, o->stdin_prefix_len) < 0) {
        close(data_fd);
        return fail(err, "cannot send the input", strerror(errno));
    }
    struct qrexec_pump_cfg cfg = {
        .remote_fd = data_fd,
        .version = version,
        .is_service = false,
        .in_fd = -1,
        .out_fd = -1,
        .err_fd = o->err_fd,
        .child = -1,
        .filter_stdout = o->filter_stdout,
        .filter_stderr = o->filter_stderr,
    };
    if (o->local_program) {
        char *pargv[] = { "sh", "-c", (char *)o->local_program, NULL };
        struct qrexec_spawn_opts opts = { .path = "/bin/sh",
                                          .argv = pargv,
                                          .stderr_inherit = true };
        struct qrexec_child child;
        struct qerror serr = { 0 };
        int code = qrexec_spawn(&opts, &child, &serr);
        if (code != 0) {
            close(data_fd);
            return fail(err, "cannot start the local program", code < 0 ? serr.message : NULL);
        }
        /* the remote's stdout feeds the program's stdin and the program's stdout is sent */
        cfg.in_fd = child.stdout_fd;
        cfg.out_fd = child.stdin_fd;
        cfg.child = child.pid;
    } else {
        cfg.in_fd = o->give_fds ? o->in_fd : copy_fd(o->in_fd);
        cfg.out_fd = o->give_fds ? o->out_fd : copy_fd(o->out_fd);
    }
    int code = qrexec_pump_run(&cfg, &why);
    close(data_fd);
    if (code < 0)
        return fail(err, "remote side failed", why);
    return code;
}

int qrexec_client_call(const struct qrexec_client_opts *o, struct qerror *err)
{
    struct qerror verr = { 0 };
    if (validate_qube_name(o->qube, NULL, &verr) < 0)
        return fail(err, "invalid qube name", verr.message);
    if (!strchr(o->cmdline, ':'))
        return fail(err, "command must be USER:COMMAND", NULL);
    if (strlen(o->cmdline) + 1 > QREXEC_MAX_CMD_LEN)
        return fail(err, "command line too long", NULL);

    int sock = -1;
    uint32_t domain, port;
    int data_fd =
        qrexec_client_request(o->qube, o->just_exec ? MSG_JUST_EXEC : MSG_EXEC_CMDLINE, o->cmdline,
                              QREXEC_CLIENT_DOM0, o->timeout, &sock, &domain, &port, err);
    if (data_fd < 0) {
        if (sock >= 0)
            close(sock);
        return -1;
    }
    if (o->just_exec) {
        close(data_fd);
        if (o->wait_end)
            wait_daemon_close(sock);
        close(sock);
        return 0;
    }
    if (!o->wait_end) {
        close(sock);
        sock = -1;
    }
    int code = run_data_phase(o, data_fd, err);
    if (sock >= 0) {
        if (code >= 0)
            wait_daemon_close(sock);
        close(sock);
    }
    return code;
}
