/* Admin API calls over the local qubesd socket. */
#include "client/qubesd_client.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/admin_wire.h"
#include "common/cleanup.h"
#include "common/root.h"
#include "common/unix_socket.h"

/* Answers larger than this are not legitimate (1000 qubes' GetAll is ~2 MiB). */
#define MAX_RESPONSE (256u << 20)

static int connect_qubesd(struct qerror *err)
{
    _cleanup_free_ char *path = qroot_path("run/qubesd.sock");
    int fd = unix_connect(path, 0, NULL);
    if (fd < 0 && errno == ENAMETOOLONG)
        return qerror_set(err, ERR_QUBES_DAEMON_ACCESS_ERROR, "socket path too long: %s", path);
    if (fd < 0)
        return qerror_set(err, ERR_QUBES_DAEMON_ACCESS_ERROR,
                          "Failed to connect to qubesd service: %s: %s", path, strerror(errno));
    return fd;
}

static int write_all(int fd, const char *data, size_t len)
{
    while (len) {
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

static int send_request(int fd, const char *method, const char *arg, const char *dest,
                        const void *payload, size_t payload_len, struct qerror *err)
{
    _cleanup_buf_ struct buf req = BUF_INIT;
    admin_request_build(&req, method, arg, dest, payload, payload_len);
    if (write_all(fd, req.data, req.len) < 0 || shutdown(fd, SHUT_WR) < 0)
        return qerror_set(err, ERR_QUBES_DAEMON_ACCESS_ERROR,
                          "Failed to send request to qubesd: %s", strerror(errno));
    return 0;
}

int qubesd_call(const char *method, const char *arg, const char *dest, const void *payload,
                size_t payload_len, struct buf *content, struct qerror *err)
{
    _cleanup_close_ int fd = connect_qubesd(err);
    if (fd < 0)
        return -1;
    if (send_request(fd, method, arg, dest, payload, payload_len, err) < 0)
        return -1;

    _cleanup_buf_ struct buf resp = BUF_INIT;
    for (;;) {
        buf_reserve(&resp, 65536);
        ssize_t n = read(fd, resp.data + resp.len, resp.cap - resp.len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return qerror_set(err, ERR_QUBES_DAEMON_ACCESS_ERROR, "Failed to read from qubesd: %s",
                              strerror(errno));
        if (n == 0)
            break;
        resp.len += (size_t)n;
        resp.data[resp.len] = '\0';
        if (resp.len > MAX_RESPONSE)
            return qerror_set(err, ERR_QUBES_DAEMON_COMMUNICATION_ERROR, "Response too long");
    }

    return qubesd_answer(&resp, content, err);
}

int qubesd_answer(const struct buf *resp, struct buf *content, struct qerror *err)
{
    struct admin_response r;
    if (admin_response_parse(resp->data ? resp->data : "", resp->len, &r, err) < 0)
        return -1;
    if (r.type == ADMIN_MSG_EXCEPTION) {
        qerror_set(err, ERR_QUBES_EXCEPTION, "%s", r.message);
        if (r.kind[0])
            qerror_set_peer_kind(err, r.kind);
        return -1;
    }
    if (content) {
        buf_reset(content);
        buf_append(content, r.content, r.content_len);
    }
    return 0;
}

int qubesd_call_str(const char *method, const char *arg, const char *dest, const char *payload,
                    struct buf *content, struct qerror *err)
{
    return qubesd_call(method, arg, dest, payload ? payload : "", payload ? strlen(payload) : 0,
                       content, err);
}

int qubesd_open_events(const char *method, const char *dest, struct qerror *err)
{
    int fd = connect_qubesd(err);
    if (fd < 0)
        return -1;
    if (send_request(fd, method, "", dest, "", 0, err) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}
