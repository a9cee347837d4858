/* Moving qrexec messages over AF_UNIX stream sockets, with the one descriptor a dom0 side
 * may attach (SCM_RIGHTS), and a non-blocking reader that bounds what a peer can make us
 * allocate. Every descriptor that arrives is collected, so the caller can refuse it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "qrexec/qrexec_proto.h"

#define QREXEC_FDS_MAX 4

/* Descriptors that came with received bytes. overflow: more than we take (the kernel
 * dropped some) or a control message we do not understand. */
struct qrexec_fds {
    int fd[QREXEC_FDS_MAX];
    size_t n;
    bool overflow;
};

void qrexec_fds_close(struct qrexec_fds *fds);
/* Any descriptor at all, or a sign that some were dropped. */
bool qrexec_fds_any(const struct qrexec_fds *fds);

/* Writes all of data (blocking, retrying EINTR/EAGAIN with poll), attaching pass_fd (if >= 0)
 * to the first byte. 0, or -1 with errno. */
int qrexec_send_all(int sock, const void *data, size_t len, int pass_fd);

/* Reads exactly len bytes (blocking); received descriptors go to fds (which may be NULL: then
 * they are closed and counted as overflow is not possible). 0; -1 with errno (0 = EOF). */
int qrexec_recv_all(int sock, void *data, size_t len, struct qrexec_fds *fds);

/* Blocking read of one whole message for role: header checked with qrexec_check_header
 * before the payload is read (except MSG_HELLO, which only needs len == 4). *payload is
 * heap (caller frees), NUL-terminated for convenience. 0; -1 with *why set. */
int qrexec_recv_msg(int sock, enum qrexec_role role, uint32_t version, struct msg_header *hdr,
                    uint8_t **payload, struct qrexec_fds *fds, const char **why);

/* Non-blocking accumulation of one message at a time. */
struct qrexec_reader {
    uint8_t hdr_bytes[QREXEC_HDR_SIZE];
    size_t got;            /* bytes of the current message so far (header included) */
    struct msg_header hdr; /* valid once got >= QREXEC_HDR_SIZE */
    uint8_t *payload;      /* hdr.len + 1 bytes */
    size_t max_len;        /* larger announced payloads are refused at once */
    struct qrexec_fds fds; /* descriptors that arrived with this message */
};

void qrexec_reader_init(struct qrexec_reader *r, size_t max_len);
void qrexec_reader_free(struct qrexec_reader *r);
/* Reads what fd has. 1: a message is complete in r->hdr / r->payload (call
 * qrexec_reader_next before feeding again); 0: need more; -1: EOF (errno 0), error, or a
 * length above max_len (errno EMSGSIZE). */
int qrexec_reader_feed(struct qrexec_reader *r, int fd);
void qrexec_reader_next(struct qrexec_reader *r);

int qrexec_set_nonblock(int fd, bool on);

/* The MSG_HELLO exchange that opens a data connection: send ours, read the peer's (sockets
 * buffer, so upstream's who-sends-first order for vchan does not matter here). role is what
 * this side reads (QREXEC_DATA_TO_SERVICE or QREXEC_DATA_TO_CLIENT). 0, or -1 with *why. */
int qrexec_data_handshake(int fd, enum qrexec_role role, uint32_t *version, const char **why);
/* Its two halves, for a side with work to do between them (the service side starts the
 * service while the caller's HELLO is on its way). */
int qrexec_data_hello_send(int fd, const char **why);
int qrexec_data_hello_recv(int fd, enum qrexec_role role, uint32_t *version, const char **why);
