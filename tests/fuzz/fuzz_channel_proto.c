/* libFuzzer target for what the dom0 side of the channel parses: a hostile guest's byte
 * stream, cut into reads as the first input byte says, through channel_parse, with dom0 acting
 * as the relay does (consuming data and granting it back, answering EOF and CLOSE, opening the
 * freed ids again); the session's accounting is checked after every frame. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "channel/channel_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define RX_CAP (2 * (CHANNEL_HDR_SIZE + CHANNEL_MAX_PAYLOAD))
#define FIRST_STREAMS 8u

/* What dom0 knows it did, to hold the session to. */
struct dom0_sim {
    uint32_t ungranted[CHANNEL_MAX_STREAMS]; /* received, consumed, not granted back */
    uint32_t in_flight[CHANNEL_MAX_STREAMS]; /* sent, not granted back by the guest */
};

static void send_some(struct channel_session *s, struct dom0_sim *d, uint16_t id, uint32_t n)
{
    while (n > 0) {
        uint32_t k = n < CHANNEL_MAX_PAYLOAD ? n : CHANNEL_MAX_PAYLOAD;
        if (!channel_session_sent_data(s, id, k))
            abort();
        d->in_flight[id] += k;
        n -= k;
    }
}

static void open_stream(struct channel_session *s, struct dom0_sim *d, uint16_t id)
{
    if (!channel_session_open(s, id))
        abort();
    d->ungranted[id] = 0;
    d->in_flight[id] = 0;
    send_some(s, d, id, 1000u * id);
}

static void check(const struct channel_session *s, const struct dom0_sim *d)
{
    uint32_t live = 0;
    for (uint32_t id = 0; id < CHANNEL_MAX_STREAMS; id++) {
        const struct channel_stream_state *st = &s->stream[id];
        if (!st->live) {
            if (st->peer_eof || st->peer_closed || st->sent_eof || st->sent_closed ||
                st->rx_allowed || st->tx_credit)
                abort();
            continue;
        }
        live++;
        if (st->rx_allowed + d->ungranted[id] != CHANNEL_WINDOW ||
            st->tx_credit + d->in_flight[id] != CHANNEL_WINDOW)
            abort();
        if (st->sent_closed && st->peer_closed && id != 0)
            abort(); /* should have been freed */
    }
    if (live != s->n_live || !s->stream[0].live)
        abort();
}

/* dom0's answer to one accepted frame. */
static void react(struct channel_session *s, struct dom0_sim *d, const struct channel_frame *f)
{
    uint16_t id = f->hdr.stream;
    struct channel_stream_state *st = &s->stream[id];
    switch ((enum channel_frame_type)f->hdr.type) {
    case CHANNEL_DATA:
        if (f->hdr.len == 0 || f->hdr.len > CHANNEL_MAX_PAYLOAD)
            abort();
        d->ungranted[id] += f->hdr.len;
        if (d->ungranted[id] >= CHANNEL_GRANT_MIN && !st->sent_closed) {
            if (!channel_session_sent_credit(s, id, d->ungranted[id]))
                abort();
            d->ungranted[id] = 0;
        }
        break;
    case CHANNEL_CREDIT:
        if (f->credit == 0 || f->credit > d->in_flight[id])
            abort();
        d->in_flight[id] -= f->credit;
        break;
    case CHANNEL_EOF:
        if (id == 0)
            abort();
        if (!st->sent_eof && !st->sent_closed && !channel_session_sent_eof(s, id))
            abort();
        break;
    case CHANNEL_CLOSE:
        if (id == 0) {
            if (!s->ended)
                abort();
            break;
        }
        /* still live: only the guest has closed it; else dom0 had, and the parser freed it */
        if (st->live && (st->sent_closed || !channel_session_sent_close(s, id)))
            abort();
        if (st->live)
            abort();
        open_stream(s, d, id); /* dom0 uses the id again at once */
        break;
    case CHANNEL_HELLO: break;
    case CHANNEL_OPEN:
    case CHANNEL_POWEROFF: abort(); /* the guest may not */
    default: abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct channel_session s;
    static struct dom0_sim d;
    static uint8_t rx[RX_CAP];
    if (size < 1)
        return 0;
    size_t step = (size_t)data[0] * 97 + 1; /* 1 .. 24736 bytes per read */
    data++;
    size--;

    channel_session_init(&s, CHANNEL_SIDE_DOM0);
    memset(&d, 0, sizeof(d));
    send_some(&s, &d, 0, 5000);
    for (uint16_t id = 1; id <= FIRST_STREAMS; id++)
        open_stream(&s, &d, id);
    /* and one that dom0 closed already, so that a late guest frame on it is legal */
    open_stream(&s, &d, FIRST_STREAMS + 1);
    if (!channel_session_sent_close(&s, FIRST_STREAMS + 1))
        abort();
    check(&s, &d);

    size_t rx_len = 0, at = 0;
    while (at < size) {
        size_t n = size - at < step ? size - at : step;
        if (n > RX_CAP - rx_len)
            n = RX_CAP - rx_len;
        memcpy(rx + rx_len, data + at, n);
        rx_len += n;
        at += n;
        size_t off = 0;
        for (;;) {
            struct channel_frame f;
            size_t used = 0;
            enum channel_error why = CHANNEL_OK;
            int rc = channel_parse(&s, rx + off, rx_len - off, &f, &used, &why);
            if (rc < 0) {
                if (why == CHANNEL_OK || !channel_error_name(why)[0])
                    abort();
                return 0; /* the relay ends the channel here */
            }
            if (rc == 0) {
                if (used != 0)
                    abort();
                break;
            }
            if (used != CHANNEL_HDR_SIZE + f.hdr.len || used > rx_len - off ||
                f.payload != rx + off + CHANNEL_HDR_SIZE)
                abort();
            react(&s, &d, &f);
            check(&s, &d);
            off += used;
        }
        /* a partial frame always leaves room for the rest of it */
        if (rx_len - off >= CHANNEL_HDR_SIZE + CHANNEL_MAX_PAYLOAD)
            abort();
        memmove(rx, rx + off, rx_len - off);
        rx_len -= off;
    }
    return 0;
}
