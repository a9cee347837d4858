/* AF_UNIX stream transport for qrexec messages: whole-message sends with an optional
 * SCM_RIGHTS descriptor, exact reads that collect (never silently accept) descriptors. */
#include "qrexec/transport.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/buf.h"

void qrexec_fds_close(struct qrexec_fds *fds)
{
    for (size_t i = 0; i < fds->n; i++)
        if (fds->fd[i] >= 0)
            close(fds->fd[i]);
    fds->n = 0;
    fds->overflow = false;
}

bool qrexec_fds_any(const struct qrexec_fds *fds)
{
    return fds->n > 0 || fds->overflow;
}

int qrexec_set_nonblock(int fd, bool on)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0)
        return -1;
    fl = on ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK);
    return fcntl(fd, F_SETFL, fl);
}

static void wait_fd(int fd, short events)
{
    struct pollfd p = { .fd = fd, .events = events };
    while (poll(&p, 1, -1) < 0 && errno == EINTR)
        ;
}

int qrexec_send_all(int sock, const void *data, size_t len, int pass_fd)
{
    const uint8_t *p = data;
    bool fd_sent = pass_fd < 0;
    while (len > 0 || !fd_sent) {
        struct iovec iov = { .iov_base = (void *)p, .iov_len = len };
        union {
            struct cmsghdr align;
            char buf[CMSG_SPACE(sizeof(int))];
        } ctl;
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
        if (!fd_sent) {
            memset(&ctl, 0, sizeof(ctl));
            mh.msg_control = ctl.buf;
            mh.msg_controllen = sizeof(ctl.buf);
            struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
            c->cmsg_level = SOL_SOCKET;
            c->cmsg_type = SCM_RIGHTS;
            c->cmsg_len = CMSG_LEN(sizeof(int));
            memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
        }
        ssize_t n = sendmsg(sock, &mh, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                wait_fd(sock, POLLOUT);
                continue;
            }
            return -1;
        }
        fd_sent = true;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* One recvmsg; descriptors appended to fds (or closed when fds is full). */
static ssize_t recv_some(int sock, void *data, size_t len, struct qrexec_fds *fds)
{
    struct iovec iov = { .iov_base = data, .iov_len = len };
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int) * QREXEC_FDS_MAX)];
    } ctl;
    struct msghdr mh = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf)
    };
    ssize_t n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
    if (n < 0)
        return n;
    if (mh.msg_flags & MSG_CTRUNC)
        fds->overflow = true;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) {
            fds->overflow = true;
            continue;
        }
        size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < count; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
            if (fds->n < QREXEC_FDS_MAX) {
                fds->fd[fds->n++] = fd;
            } else {
                close(fd);
                fds->overflow = true;
            }
        }
    }
    return n;
}

int qrexec_recv_all(int sock, void *data, size_t len, struct qrexec_fds *fds)
{
    struct qrexec_fds scratch = { .n = 0 };
    struct qrexec_fds *into = fds ? fds : &scratch;
    uint8_t *p = data;
    int rc = 0;
    while (len > 0) {
        ssize_t n = recv_some(sock, p, len, into);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                wait_fd(sock, POLLIN);
                continue;
            }
            rc = -1;
            break;
        }
        if (n == 0) {
            errno = 0;
            rc = -1;
            break;
        }
        p += n;
        len -= (size_t)n;
    }
    if (!fds)
        qrexec_fds_close(&scratch);
    return rc;
}

int qrexec_recv_msg(int sock, enum qrexec_role role, uint32_t version, struct msg_header *hdr,
                    uint8_t **payload, struct qrexec_fds *fds, const char **why)
{
    uint8_t h[QREXEC_HDR_SIZE];
    *payload = NULL;
    if (qrexec_recv_all(sock, h, sizeof(h), fds) < 0) {
        *why = errno ? "read error" : "connection closed";
        return -1;
    }
    *hdr = qrexec_hdr_decode(h);
    if (hdr->type == MSG_HELLO) {
        if (hdr->len != QREXEC_HELLO_SIZE) {
            *why = "wrong size of HELLO";
            return -1;
        }
    } else if (qrexec_check_header(role, hdr, version, why) < 0) {
        return -1;
    }
    uint8_t *p = xmalloc((size_t)hdr->len + 1);
    if (qrexec_recv_all(sock, p, hdr->len, fds) < 0) {
        free(p);
        *why = errno ? "read error" : "connection closed inside a message";
        return -1;
    }
    p[hdr->len] = 0;
    *payload = p;
    return 0;
}

void qrexec_reader_init(struct qrexec_reader *r, size_t max_len)
{
    memset(r, 0, sizeof(*r));
    r->max_len = max_len;
}

void qrexec_reader_free(struct qrexec_reader *r)
{
    free(r->payload);
    r->payload = NULL;
    qrexec_fds_close(&r->fds);
}

void qrexec_reader_next(struct qrexec_reader *r)
{
    free(r->payload);
    r->payload = NULL;
    r->got = 0;
    qrexec_fds_close(&r->fds);
}

int qrexec_reader_feed(struct qrexec_reader *r, int fd)
{
    for (;;) {
        ssize_t n;
        if (r->got < QREXEC_HDR_SIZE) {
            n = recv_some(fd, r->hdr_bytes + r->got, QREXEC_HDR_SIZE - r->got, &r->fds);
        } else {
            size_t have = r->got - QREXEC_HDR_SIZE;
            if (have == r->hdr.len)
                return 1;
            n = recv_some(fd, r->payload + have, r->hdr.len - have, &r->fds);
        }
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 0;
            return -1;
        }
        if (n == 0) {
            errno = 0;
            return -1;
        }
        r->got += (size_t)n;
        if (r->got == QREXEC_HDR_SIZE) {
            r->hdr = qrexec_hdr_decode(r->hdr_bytes);
            if (r->hdr.len > r->max_len) {
                errno = EMSGSIZE;
                return -1;
            }
            r->payload = xmalloc((size_t)r->hdr.len + 1);
            r->payload[r->hdr.len] = 0;
        }
        if (r->got >= QREXEC_HDR_SIZE && r->got - QREXEC_HDR_SIZE == r->hdr.len)
            return 1;
    }
}

int qrexec_data_hello_send(int fd, const char **why)
{
    struct buf m = BUF_INIT;
    qrexec_hello_encode(&m, QREXEC_PROTOCOL_VERSION);
    int rc = qrexec_send_all(fd, m.data, m.len, -1);
    buf_free(&m);
    if (rc < 0)
        *why = "cannot send HELLO";
    return rc;
}

int qrexec_data_hello_recv(int fd, enum qrexec_role role, uint32_t *version, const char **why)
{
    struct msg_header hdr;
    uint8_t *payload = NULL;
    int rc = qrexec_recv_msg(fd, role, QREXEC_PROTOCOL_VERSION, &hdr, &payload, NULL, why);
    if (rc == 0)
        rc = qrexec_hello_decode(&hdr, payload, QREXEC_PROTOCOL_VERSION, QREXEC_DATA_MIN_VERSION,
                                 version, why);
    free(payload);
    return rc;
}

int qrexec_data_handshake(int fd, enum qrexec_role role, uint32_t *version, const char **why)
{
    if (qrexec_data_hello_send(fd, why) < 0)
        return -1;
    return qrexec_data_hello_recv(fd, role, version, why);
}
