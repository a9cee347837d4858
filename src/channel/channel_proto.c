/* The channel's frames: encoding, and the one place that decides whether a peer's frame is
 * allowed given what both sides have said so far. */
#include "channel/channel_proto.h"

#include <string.h>

static uint16_t get_le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (uint16_t)p[1] << 8);
}

static uint32_t get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

const char *channel_error_name(enum channel_error err)
{
    switch (err) {
    case CHANNEL_OK: return "no error";
    case CHANNEL_ERR_UNKNOWN_TYPE: return "unknown frame type";
    case CHANNEL_ERR_FLAGS: return "flags not zero";
    case CHANNEL_ERR_TOO_LONG: return "frame longer than the maximum payload";
    case CHANNEL_ERR_EMPTY_DATA: return "empty data frame";
    case CHANNEL_ERR_BAD_LENGTH: return "wrong length for the frame type";
    case CHANNEL_ERR_NO_HELLO: return "first frame is not hello";
    case CHANNEL_ERR_HELLO_AGAIN: return "second hello";
    case CHANNEL_ERR_BAD_MAGIC: return "hello without the channel magic";
    case CHANNEL_ERR_BAD_VERSION: return "unsupported channel version";
    case CHANNEL_ERR_STREAM_RANGE: return "stream id out of range";
    case CHANNEL_ERR_UNKNOWN_STREAM: return "frame for a stream not open";
    case CHANNEL_ERR_OPEN_LIVE: return "open of a stream already open";
    case CHANNEL_ERR_FORBIDDEN: return "frame type the guest may not send";
    case CHANNEL_ERR_NOT_STREAM0: return "hello or poweroff on a stream other than 0";
    case CHANNEL_ERR_OPEN_WITHOUT_DATA: return "open not followed by data on stream 0";
    case CHANNEL_ERR_OVER_CREDIT: return "data beyond credit";
    case CHANNEL_ERR_AFTER_EOF: return "data or eof after eof";
    case CHANNEL_ERR_AFTER_CLOSE: return "frame after close";
    case CHANNEL_ERR_EOF_STREAM0: return "eof on stream 0";
    case CHANNEL_ERR_ZERO_CREDIT: return "credit of zero bytes";
    case CHANNEL_ERR_CREDIT_OVERFLOW: return "credit beyond the window";
    case CHANNEL_ERR_ENDED: return "frame after the channel closed";
    default: return "unknown channel error";
    }
}

void channel_hdr_encode(uint8_t out[CHANNEL_HDR_SIZE], uint16_t stream, uint8_t type, uint32_t len)
{
    out[0] = (uint8_t)stream;
    out[1] = (uint8_t)(stream >> 8);
    out[2] = type;
    out[3] = 0;
    put_le32(out + 4, len);
}

struct channel_hdr channel_hdr_decode(const uint8_t in[CHANNEL_HDR_SIZE])
{
    return (struct channel_hdr){
        .stream = get_le16(in), .type = in[2], .flags = in[3], .len = get_le32(in + 4)
    };
}

void channel_hello_encode(uint8_t out[CHANNEL_HELLO_FRAME_SIZE])
{
    channel_hdr_encode(out, 0, CHANNEL_HELLO, CHANNEL_HELLO_SIZE);
    put_le32(out + CHANNEL_HDR_SIZE, CHANNEL_MAGIC);
    put_le32(out + CHANNEL_HDR_SIZE + 4, CHANNEL_VERSION);
}

void channel_credit_encode(uint8_t out[CHANNEL_CREDIT_FRAME_SIZE], uint16_t stream, uint32_t n)
{
    channel_hdr_encode(out, stream, CHANNEL_CREDIT, CHANNEL_CREDIT_SIZE);
    put_le32(out + CHANNEL_HDR_SIZE, n);
}

static void stream_reset_live(struct channel_stream_state *st)
{
    *st = (struct channel_stream_state){ .live = true,
                                         .rx_allowed = CHANNEL_WINDOW,
                                         .tx_credit = CHANNEL_WINDOW };
}

void channel_session_init(struct channel_session *s, enum channel_side side)
{
    memset(s, 0, sizeof(*s));
    s->side = side;
    stream_reset_live(&s->stream[0]);
    s->n_live = 1;
}

/* Both sides have closed id: it is free for a new OPEN. */
static void stream_maybe_free(struct channel_session *s, uint16_t id)
{
    struct channel_stream_state *st = &s->stream[id];
    if (id != 0 && st->peer_closed && st->sent_closed) {
        memset(st, 0, sizeof(*st));
        s->n_live--;
    }
}

/* What a header alone says: type, flags and a length bound, before any payload is waited for. */
static enum channel_error check_hdr_shape(const struct channel_hdr *h)
{
    if (h->flags != 0)
        return CHANNEL_ERR_FLAGS;
    switch ((enum channel_frame_type)h->type) {
    case CHANNEL_DATA:
        if (h->len > CHANNEL_MAX_PAYLOAD)
            return CHANNEL_ERR_TOO_LONG;
        return h->len == 0 ? CHANNEL_ERR_EMPTY_DATA : CHANNEL_OK;
    case CHANNEL_HELLO: return h->len == CHANNEL_HELLO_SIZE ? CHANNEL_OK : CHANNEL_ERR_BAD_LENGTH;
    case CHANNEL_CREDIT: return h->len == CHANNEL_CREDIT_SIZE ? CHANNEL_OK : CHANNEL_ERR_BAD_LENGTH;
    case CHANNEL_OPEN:
    case CHANNEL_EOF:
    case CHANNEL_CLOSE:
    case CHANNEL_POWEROFF: return h->len == 0 ? CHANNEL_OK : CHANNEL_ERR_BAD_LENGTH;
    default: return CHANNEL_ERR_UNKNOWN_TYPE;
    }
}

/* A whole frame against the session; applies it when allowed. */
static enum channel_error apply_frame(struct channel_session *s,
                                      const struct channel_hdr *untrusted_hdr,
                                      const uint8_t *untrusted_payload, uint32_t *credit)
{
    const struct channel_hdr *h = untrusted_hdr;
    enum channel_frame_type type = (enum channel_frame_type)h->type;
    if (s->ended)
        return CHANNEL_ERR_ENDED;
    if (!s->hello_received) {
        if (type != CHANNEL_HELLO)
            return CHANNEL_ERR_NO_HELLO;
    } else if (type == CHANNEL_HELLO) {
        return CHANNEL_ERR_HELLO_AGAIN;
    }
    if (s->side == CHANNEL_SIDE_DOM0 && (type == CHANNEL_OPEN || type == CHANNEL_POWEROFF))
        return CHANNEL_ERR_FORBIDDEN;
    if (h->stream >= CHANNEL_MAX_STREAMS)
        return CHANNEL_ERR_STREAM_RANGE;
    if (s->expect_open_data && !(type == CHANNEL_DATA && h->stream == 0))
        return CHANNEL_ERR_OPEN_WITHOUT_DATA;
    if ((type == CHANNEL_HELLO || type == CHANNEL_POWEROFF) && h->stream != 0)
        return CHANNEL_ERR_NOT_STREAM0;
    struct channel_stream_state *st = &s->stream[h->stream];
    if (type == CHANNEL_OPEN) {
        if (st->live)
            return CHANNEL_ERR_OPEN_LIVE;
        stream_reset_live(st);
        s->n_live++;
        s->expect_open_data = true;
        return CHANNEL_OK;
    }
    if (!st->live)
        return CHANNEL_ERR_UNKNOWN_STREAM;
    if (st->peer_closed)
        return CHANNEL_ERR_AFTER_CLOSE;
    switch (type) {
    case CHANNEL_HELLO:
        if (get_le32(untrusted_payload) != CHANNEL_MAGIC)
            return CHANNEL_ERR_BAD_MAGIC;
        if (get_le32(untrusted_payload + 4) != CHANNEL_VERSION)
            return CHANNEL_ERR_BAD_VERSION;
        s->hello_received = true;
        return CHANNEL_OK;
    case CHANNEL_DATA:
        if (st->peer_eof)
            return CHANNEL_ERR_AFTER_EOF;
        if (h->len > st->rx_allowed)
            return CHANNEL_ERR_OVER_CREDIT;
        st->rx_allowed -= h->len;
        s->expect_open_data = false;
        return CHANNEL_OK;
    case CHANNEL_EOF:
        if (h->stream == 0)
            return CHANNEL_ERR_EOF_STREAM0;
        if (st->peer_eof)
            return CHANNEL_ERR_AFTER_EOF;
        st->peer_eof = true;
        return CHANNEL_OK;
    case CHANNEL_CLOSE:
        st->peer_closed = true;
        if (h->stream == 0)
            s->ended = true;
        stream_maybe_free(s, h->stream);
        return CHANNEL_OK;
    case CHANNEL_CREDIT: {
        uint32_t n = get_le32(untrusted_payload);
        if (n == 0)
            return CHANNEL_ERR_ZERO_CREDIT;
        if (n > CHANNEL_WINDOW - st->tx_credit)
            return CHANNEL_ERR_CREDIT_OVERFLOW;
        st->tx_credit += n;
        *credit = n;
        return CHANNEL_OK;
    }
    case CHANNEL_POWEROFF: return CHANNEL_OK;
    case CHANNEL_OPEN: break; /* handled above */
    default: break;           /* check_hdr_shape refused it */
    }
    return CHANNEL_ERR_UNKNOWN_TYPE;
}

int channel_parse(struct channel_session *s, const uint8_t *untrusted, size_t len,
                  struct channel_frame *frame, size_t *used, enum channel_error *why)
{
    *used = 0;
    if (len < CHANNEL_HDR_SIZE)
        return 0;
    struct channel_hdr untrusted_hdr = channel_hdr_decode(untrusted);
    enum channel_error e = check_hdr_shape(&untrusted_hdr);
    if (e != CHANNEL_OK) {
        *why = e;
        return -1;
    }
    if (len - CHANNEL_HDR_SIZE < untrusted_hdr.len)
        return 0;
    uint32_t credit = 0;
    e = apply_frame(s, &untrusted_hdr, untrusted + CHANNEL_HDR_SIZE, &credit);
    if (e != CHANNEL_OK) {
        *why = e;
        return -1;
    }
    *frame = (struct channel_frame){ .hdr = untrusted_hdr,
                                     .payload = untrusted + CHANNEL_HDR_SIZE,
                                     .credit = credit };
    *used = CHANNEL_HDR_SIZE + untrusted_hdr.len;
    return 1;
}

static struct channel_stream_state *live_stream(struct channel_session *s, uint16_t id)
{
    if (id >= CHANNEL_MAX_STREAMS || !s->stream[id].live)
        return NULL;
    return &s->stream[id];
}

bool channel_session_open(struct channel_session *s, uint16_t id)
{
    if (s->side != CHANNEL_SIDE_DOM0 || id == 0 || id >= CHANNEL_MAX_STREAMS || s->stream[id].live)
        return false;
    stream_reset_live(&s->stream[id]);
    s->n_live++;
    return true;
}

bool channel_session_sent_data(struct channel_session *s, uint16_t id, uint32_t n)
{
    struct channel_stream_state *st = live_stream(s, id);
    if (!st || st->sent_eof || st->sent_closed || n == 0 || n > CHANNEL_MAX_PAYLOAD ||
        n > st->tx_credit)
        return false;
    st->tx_credit -= n;
    return true;
}

bool channel_session_sent_eof(struct channel_session *s, uint16_t id)
{
    struct channel_stream_state *st = live_stream(s, id);
    if (!st || id == 0 || st->sent_eof || st->sent_closed)
        return false;
    st->sent_eof = true;
    return true;
}

bool channel_session_sent_credit(struct channel_session *s, uint16_t id, uint32_t n)
{
    struct channel_stream_state *st = live_stream(s, id);
    if (!st || st->sent_closed || n == 0 || n > CHANNEL_WINDOW - st->rx_allowed)
        return false;
    st->rx_allowed += n;
    return true;
}

bool channel_session_sent_close(struct channel_session *s, uint16_t id)
{
    struct channel_stream_state *st = live_stream(s, id);
    if (!st || st->sent_closed)
        return false;
    st->sent_closed = true;
    stream_maybe_free(s, id);
    return true;
}

uint16_t channel_session_free_id(const struct channel_session *s, uint16_t from)
{
    uint32_t start = from == 0 || from >= CHANNEL_MAX_STREAMS ? 1 : from;
    for (uint32_t i = 0; i < CHANNEL_MAX_STREAMS - 1; i++) {
        uint32_t id = 1 + (start - 1 + i) % (CHANNEL_MAX_STREAMS - 1);
        if (!s->stream[id].live)
            return (uint16_t)id;
    }
    return 0;
}
