/* The channel's frame format and the state machine that decides which frames a peer may send:
 * many unix-socket-like streams over one byte stream (a virtio-serial port). Pure: no I/O.
 *
 * Wire format. Every frame is an 8-byte header followed by exactly `len` payload bytes:
 *
 *   offset 0  le16  stream   0 = the qrexec control connection, 1..CHANNEL_MAX_STREAMS-1 calls
 *   offset 2  u8    type     enum channel_frame_type
 *   offset 3  u8    flags    always 0
 *   offset 4  le32  len      payload bytes that follow
 *
 *   HELLO     stream 0, len 8: le32 CHANNEL_MAGIC, le32 CHANNEL_VERSION. Each side's first frame.
 *   DATA      len 1..CHANNEL_MAX_PAYLOAD: bytes of the stream, within the sender's credit.
 *   OPEN      dom0 only, len 0, a stream id not live: a new stream, carrying the descriptor that
 *             dom0's local side attached to the stream-0 bytes of the DATA frame on stream 0
 *             that must come next (the guest attaches its new socket to that DATA's first byte).
 *   EOF       len 0, stream != 0: the sender's local end will send no more (shutdown(SHUT_WR)
 *             on the receiver's local end once its buffered bytes are written).
 *   CLOSE     len 0: the sender is done with the stream and sends nothing more on it. An id is
 *             free again once each side has both sent and received CLOSE for it; CLOSE on
 *             stream 0 ends the channel.
 *   CREDIT    len 4: le32 bytes (>= 1) the receiver has consumed, which the sender may send again.
 *   POWEROFF  dom0 only, stream 0, len 0: dom0 asks the guest to shut down.
 *
 * Flow control: each side may have at most CHANNEL_WINDOW bytes of each stream in flight or in
 * the peer's buffers; DATA beyond that is a protocol error, so a peer can never make the other
 * side buffer more than CHANNEL_WINDOW per stream, and a stream whose local reader is slow only
 * stops itself. Stream 0 and every OPENed stream start with a full window in both directions.
 *
 * Every violation is a protocol error; the side that sees it ends the channel and names it
 * (channel_error_name). Nothing is repaired or skipped. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CHANNEL_HDR_SIZE 8u
#define CHANNEL_MAX_PAYLOAD 65536u /* one DATA frame; as QREXEC_MAX_DATA_CHUNK_V3 */
/* Ids 0..CHANNEL_MAX_STREAMS-1: twice qrexec's QREXEC_MAX_CLIENTS data ports, so closing ids
 * that wait for the guest's CLOSE never starve new calls. */
#define CHANNEL_MAX_STREAMS 512u
#define CHANNEL_WINDOW (256u * 1024u) /* per stream and direction */
/* A receiver grants credit back in pieces at least this large (the last of a stream may be
 * smaller, never needed): at most CHANNEL_WINDOW / CHANNEL_GRANT_MIN grants wait per stream. */
#define CHANNEL_GRANT_MIN (CHANNEL_WINDOW / 4u)
#define CHANNEL_MAGIC 0x31484351u /* "QCH1" little-endian */
#define CHANNEL_VERSION 1u
#define CHANNEL_HELLO_SIZE 8u
#define CHANNEL_CREDIT_SIZE 4u

_Static_assert(CHANNEL_MAX_STREAMS <= 65536u, "stream ids are 16 bits");
_Static_assert(CHANNEL_MAX_PAYLOAD <= CHANNEL_WINDOW, "a frame fits in a window");

enum channel_frame_type {
    CHANNEL_HELLO = 1,
    CHANNEL_DATA = 2,
    CHANNEL_OPEN = 3,
    CHANNEL_EOF = 4,
    CHANNEL_CLOSE = 5,
    CHANNEL_CREDIT = 6,
    CHANNEL_POWEROFF = 7,
};

/* Which end of the channel a session is: it decides what the peer may send. */
enum channel_side {
    CHANNEL_SIDE_DOM0,  /* the peer is the guest: hostile */
    CHANNEL_SIDE_GUEST, /* the peer is dom0 */
};

/* Every way a peer's bytes can be refused, each with a name (channel_error_name). */
enum channel_error {
    CHANNEL_OK = 0,
    CHANNEL_ERR_UNKNOWN_TYPE,      /* type not in enum channel_frame_type */
    CHANNEL_ERR_FLAGS,             /* flags byte not 0 */
    CHANNEL_ERR_TOO_LONG,          /* DATA longer than CHANNEL_MAX_PAYLOAD */
    CHANNEL_ERR_EMPTY_DATA,        /* DATA with no payload */
    CHANNEL_ERR_BAD_LENGTH,        /* a fixed-size frame of another size */
    CHANNEL_ERR_NO_HELLO,          /* first frame not HELLO */
    CHANNEL_ERR_HELLO_AGAIN,       /* a second HELLO */
    CHANNEL_ERR_BAD_MAGIC,         /* HELLO without CHANNEL_MAGIC */
    CHANNEL_ERR_BAD_VERSION,       /* HELLO of another CHANNEL_VERSION */
    CHANNEL_ERR_STREAM_RANGE,      /* id >= CHANNEL_MAX_STREAMS */
    CHANNEL_ERR_UNKNOWN_STREAM,    /* an id not live */
    CHANNEL_ERR_OPEN_LIVE,         /* OPEN of an id that is live (0 always is) */
    CHANNEL_ERR_FORBIDDEN,         /* OPEN or POWEROFF from the guest */
    CHANNEL_ERR_NOT_STREAM0,       /* HELLO or POWEROFF on a stream other than 0 */
    CHANNEL_ERR_OPEN_WITHOUT_DATA, /* OPEN not followed by DATA on stream 0 */
    CHANNEL_ERR_OVER_CREDIT,       /* DATA beyond what the receiver granted */
    CHANNEL_ERR_AFTER_EOF,         /* DATA or EOF after the sender's EOF */
    CHANNEL_ERR_AFTER_CLOSE,       /* any frame on a stream after the sender's CLOSE */
    CHANNEL_ERR_EOF_STREAM0,       /* EOF on stream 0 (it ends only by CLOSE) */
    CHANNEL_ERR_ZERO_CREDIT,       /* CREDIT of 0 bytes */
    CHANNEL_ERR_CREDIT_OVERFLOW,   /* CREDIT for more than was sent */
    CHANNEL_ERR_ENDED,             /* a frame after CLOSE of stream 0 */
};

/* A human-readable name of err ("data beyond credit"), for logs and error messages. */
const char *channel_error_name(enum channel_error err);

struct channel_hdr {
    uint16_t stream;
    uint8_t type;
    uint8_t flags;
    uint32_t len;
};

void channel_hdr_encode(uint8_t out[CHANNEL_HDR_SIZE], uint16_t stream, uint8_t type, uint32_t len);
struct channel_hdr channel_hdr_decode(const uint8_t in[CHANNEL_HDR_SIZE]);
/* The whole HELLO frame (header and payload) this version sends. */
#define CHANNEL_HELLO_FRAME_SIZE (CHANNEL_HDR_SIZE + CHANNEL_HELLO_SIZE)
void channel_hello_encode(uint8_t out[CHANNEL_HELLO_FRAME_SIZE]);
/* A whole CREDIT frame granting n bytes of stream. */
#define CHANNEL_CREDIT_FRAME_SIZE (CHANNEL_HDR_SIZE + CHANNEL_CREDIT_SIZE)
void channel_credit_encode(uint8_t out[CHANNEL_CREDIT_FRAME_SIZE], uint16_t stream, uint32_t n);

/* What both ends have said about one stream id. */
struct channel_stream_state {
    bool live;        /* opened (stream 0: always), not yet closed by both */
    bool peer_eof;    /* EOF received */
    bool peer_closed; /* CLOSE received */
    bool sent_eof;
    bool sent_closed;
    uint32_t rx_allowed; /* bytes the peer may still send (our window, minus bytes received
                          * and not yet granted back) */
    uint32_t tx_credit;  /* bytes we may still send */
};

struct channel_session {
    enum channel_side side;
    bool hello_received;
    bool expect_open_data; /* an OPEN was just received: the next frame is DATA on stream 0 */
    bool ended;            /* CLOSE of stream 0 received */
    uint32_t n_live;       /* live ids, stream 0 included */
    struct channel_stream_state stream[CHANNEL_MAX_STREAMS];
};

/* A fresh session: stream 0 live with full windows, waiting for the peer's HELLO. */
void channel_session_init(struct channel_session *s, enum channel_side side);

/* One frame the peer sent, checked and applied to the session. */
struct channel_frame {
    struct channel_hdr hdr;
    const uint8_t *payload; /* hdr.len bytes, pointing into the parsed buffer */
    uint32_t credit;        /* CREDIT: the bytes granted */
};

/* Looks at the first len bytes of untrusted (what the peer sent, in order). Returns 0 when they
 * hold no whole frame yet (*used = 0): call again with more bytes, and keep at least
 * CHANNEL_HDR_SIZE + CHANNEL_MAX_PAYLOAD of room for them, since a header that is wrong on its
 * own (type, flags, length) is refused as soon as its 8 bytes are there. Returns 1 with *frame
 * and *used (its header and payload) for a whole frame that the peer was allowed to send, and
 * the session updated (credit used, EOF/CLOSE/OPEN recorded, an id freed when both sides have
 * closed it). Returns -1 with *why for a protocol error; the session must not be used again. */
int channel_parse(struct channel_session *s, const uint8_t *untrusted, size_t len,
                  struct channel_frame *frame, size_t *used, enum channel_error *why);

/* What this side sends, recorded in the session; each returns false (and changes nothing) for a
 * frame this side may not send now, which is a bug of the caller. */

/* dom0: id becomes live with full windows; the caller sends OPEN and then stream-0 DATA. */
bool channel_session_open(struct channel_session *s, uint16_t id);
/* n bytes of DATA, 1 <= n <= min(tx_credit, CHANNEL_MAX_PAYLOAD). */
bool channel_session_sent_data(struct channel_session *s, uint16_t id, uint32_t n);
bool channel_session_sent_eof(struct channel_session *s, uint16_t id);
/* n bytes of the peer's data consumed and granted back: rx_allowed grows by n. */
bool channel_session_sent_credit(struct channel_session *s, uint16_t id, uint32_t n);
/* Our CLOSE: frees the id if the peer's CLOSE came already. */
bool channel_session_sent_close(struct channel_session *s, uint16_t id);

/* dom0: the lowest id >= from that is free (wrapping, never 0), or 0 when all are live. */
uint16_t channel_session_free_id(const struct channel_session *s, uint16_t from);
