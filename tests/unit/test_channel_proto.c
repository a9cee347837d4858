/* The channel's frame format and state machine: exact bytes, every protocol error by name,
 * credit accounting, the life of a stream id, and frames cut at any byte. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "channel/channel_proto.h"

/* Frames as a peer would send them, appended to one buffer. */
struct wire {
    uint8_t b[4 * (CHANNEL_HDR_SIZE + CHANNEL_MAX_PAYLOAD)];
    size_t len;
};

static void put_frame(struct wire *w, uint16_t stream, uint8_t type, uint8_t flags,
                      const void *payload, uint32_t len)
{
    assert_true(w->len + CHANNEL_HDR_SIZE + len <= sizeof(w->b));
    channel_hdr_encode(w->b + w->len, stream, type, len);
    w->b[w->len + 3] = flags;
    if (len && payload)
        memcpy(w->b + w->len + CHANNEL_HDR_SIZE, payload, len);
    else if (len)
        memset(w->b + w->len + CHANNEL_HDR_SIZE, 'x', len);
    w->len += CHANNEL_HDR_SIZE + len;
}

static void put_hello(struct wire *w)
{
    channel_hello_encode(w->b + w->len);
    w->len += CHANNEL_HELLO_FRAME_SIZE;
}

static void put_u32_frame(struct wire *w, uint16_t stream, uint8_t type, uint32_t v)
{
    uint8_t p[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };
    put_frame(w, stream, type, 0, p, 4);
}

/* Parses every frame in w; returns the error of the first refused one (CHANNEL_OK if none) and
 * checks that nothing is left over. */
static enum channel_error parse_all(struct channel_session *s, struct wire *w)
{
    size_t off = 0;
    while (off < w->len) {
        struct channel_frame f;
        size_t used = 0;
        enum channel_error why = CHANNEL_OK;
        int rc = channel_parse(s, w->b + off, w->len - off, &f, &used, &why);
        if (rc < 0) {
            assert_int_not_equal(why, CHANNEL_OK);
            return why;
        }
        assert_int_equal(rc, 1);
        assert_int_equal(used, CHANNEL_HDR_SIZE + f.hdr.len);
        off += used;
    }
    w->len = 0;
    return CHANNEL_OK;
}

/* A session of side that has had the peer's HELLO. */
static void start(struct channel_session *s, enum channel_side side)
{
    struct wire w = { .len = 0 };
    channel_session_init(s, side);
    put_hello(&w);
    assert_int_equal(parse_all(s, &w), CHANNEL_OK);
}

/* The error of one frame sent to a fresh session of side. */
static enum channel_error one_frame(enum channel_side side, uint16_t stream, uint8_t type,
                                    uint8_t flags, uint32_t len)
{
    static struct channel_session s;
    static struct wire w;
    start(&s, side);
    w.len = 0;
    put_frame(&w, stream, type, flags, NULL, len);
    return parse_all(&s, &w);
}

static void test_exact_bytes(void **state)
{
    (void)state;
    uint8_t h[CHANNEL_HDR_SIZE];
    channel_hdr_encode(h, 0x0102, CHANNEL_DATA, 0x00010000);
    const uint8_t want_h[] = { 0x02, 0x01, 2, 0, 0x00, 0x00, 0x01, 0x00 };
    assert_memory_equal(h, want_h, sizeof(h));
    struct channel_hdr d = channel_hdr_decode(want_h);
    assert_int_equal(d.stream, 0x0102);
    assert_int_equal(d.type, CHANNEL_DATA);
    assert_int_equal(d.flags, 0);
    assert_int_equal(d.len, 65536);

    uint8_t hello[CHANNEL_HELLO_FRAME_SIZE];
    channel_hello_encode(hello);
    const uint8_t want_hello[] = { 0, 0, 1, 0, 8, 0, 0, 0, 'Q', 'C', 'H', '1', 1, 0, 0, 0 };
    assert_memory_equal(hello, want_hello, sizeof(hello));

    uint8_t credit[CHANNEL_CREDIT_FRAME_SIZE];
    channel_credit_encode(credit, 7, 0x12345);
    const uint8_t want_credit[] = { 7, 0, 6, 0, 4, 0, 0, 0, 0x45, 0x23, 0x01, 0 };
    assert_memory_equal(credit, want_credit, sizeof(credit));
}

static void test_error_names(void **state)
{
    (void)state;
    for (int a = CHANNEL_OK; a <= CHANNEL_ERR_ENDED; a++) {
        const char *na = channel_error_name((enum channel_error)a);
        assert_string_not_equal(na, "unknown channel error");
        for (int b = a + 1; b <= CHANNEL_ERR_ENDED; b++)
            assert_string_not_equal(na, channel_error_name((enum channel_error)b));
    }
    assert_string_equal(channel_error_name(CHANNEL_ERR_OVER_CREDIT), "data beyond credit");
}

static void test_hello(void **state)
{
    (void)state;
    struct channel_session s;
    struct wire w = { .len = 0 };

    channel_session_init(&s, CHANNEL_SIDE_DOM0);
    put_frame(&w, 0, CHANNEL_DATA, 0, "hi", 2);
    assert_int_equal(parse_all(&s, &w), CHANNEL_ERR_NO_HELLO);

    channel_session_init(&s, CHANNEL_SIDE_DOM0);
    w.len = 0;
    put_hello(&w);
    put_hello(&w);
    assert_int_equal(parse_all(&s, &w), CHANNEL_ERR_HELLO_AGAIN);

    channel_session_init(&s, CHANNEL_SIDE_DOM0);
    w.len = 0;
    put_hello(&w);
    w.b[CHANNEL_HDR_SIZE] = 'X';
    assert_int_equal(parse_all(&s, &w), CHANNEL_ERR_BAD_MAGIC);

    channel_session_init(&s, CHANNEL_SIDE_GUEST);
    w.len = 0;
    put_hello(&w);
    w.b[CHANNEL_HDR_SIZE + 4] = 2;
    assert_int_equal(parse_all(&s, &w), CHANNEL_ERR_BAD_VERSION);

    channel_session_init(&s, CHANNEL_SIDE_GUEST);
    w.len = 0;
    put_hello(&w);
    w.b[0] = 1; /* stream 1 */
    assert_int_equal(parse_all(&s, &w), CHANNEL_ERR_NOT_STREAM0);

    /* shape errors come first, even before the hello */
    channel_session_init(&s, CHANNEL_SIDE_DOM0);
    w.len = 0;
    put_frame(&w, 0, CHANNEL_HELLO, 0, NULL, 7);
    assert_int_equal(parse_all(&s, &w), CHANNEL_ERR_BAD_LENGTH);
}

static void test_shape_errors(void **state)
{
    (void)state;
    assert_int_equal(one_frame(CHANNEL_SIDE_DOM0, 0, 0, 0, 0), CHANNEL_ERR_UNKNOWN_TYPE);
    assert_int_equal(one_frame(CHANNEL_SIDE_DOM0, 0, 8, 0, 0), CHANNEL_ERR_UNKNOWN_TYPE);
    assert_int_equal(one_frame(CHANNEL_SIDE_GUEST, 0, 255, 0, 4), CHANNEL_ERR_UNKNOWN_TYPE);
    assert_int_equal(one_frame(CHANNEL_SIDE_DOM0, 0, CHANNEL_DATA, 1, 1), CHANNEL_ERR_FLAGS);
    assert_int_equal(one_frame(CHANNEL_SIDE_DOM0, 0, CHANNEL_DATA, 0, CHANNEL_MAX_PAYLOAD + 1),
                     CHANNEL_ERR_TOO_LONG);
    assert_int_equal(one_frame(CHANNEL_SIDE_DOM0, 0, CHANNEL_DATA, 0, 0), CHANNEL_ERR_EMPTY_DATA);
    assert_int_equal(one_frame(CHANNEL_SIDE_DOM0, 0, CHANNEL_CREDIT, 0, 3), CHANNEL_ERR_BAD_LENGTH);
    assert_int_equal(one_frame(CHANNEL_SIDE_DOM0, 0, CHANNEL_CREDIT, 0, 5), CHANNEL_ERR_BAD_LENGTH);
    assert_int_equal(one_frame(CHANNEL_SIDE_GUEST, 1, CHANNEL_OPEN, 0, 1), CHANNEL_ERR_BAD_LENGTH);
    assert_int_equal(one_frame(CHANNEL_SIDE_DOM0, 0, CHANNEL_CLOSE, 0, 1), CHANNEL_ERR_BAD_LENGTH);
    assert_int_equal(one_frame(CHANNEL_SIDE_GUEST, 0, CHANNEL_POWEROFF, 0, 2),
                     CHANNEL_ERR_BAD_LENGTH);
    assert_int_equal(one_frame(CHANNEL_SIDE_GUEST, 1, CHANNEL_EOF, 0, 4), CHANNEL_ERR_BAD_LENGTH);
    /* the largest data frame is fine */
    assert_int_equal(one_frame(CHANNEL_SIDE_DOM0, 0, CHANNEL_DATA, 0, CHANNEL_MAX_PAYLOAD),
                     CHANNEL_OK);
}

/* A header that is wrong on its own is refused from its 8 bytes, without the payload. */
static void test_refused_from_header(void **state)
{
    (void)state;
    struct channel_session s;
    start(&s, CHANNEL_SIDE_DOM0);
    uint8_t h[CHANNEL_HDR_SIZE];
    channel_hdr_encode(h, 0, CHANNEL_DATA, 0xffffffffu);
    struct channel_frame f;
    size_t used = 99;
    enum channel_error why = CHANNEL_OK;
    assert_int_equal(channel_parse(&s, h, 7, &f, &used, &why), 0);
    assert_int_equal(used, 0);
    assert_int_equal(channel_parse(&s, h, 8, &f, &used, &why), -1);
    assert_int_equal(why, CHANNEL_ERR_TOO_LONG);
}

/* A frame arrives one byte at a time: nothing until its last byte, then exactly it. */
static void test_incremental(void **state)
{
    (void)state;
    struct channel_session s;
    start(&s, CHANNEL_SIDE_GUEST);
    struct wire w = { .len = 0 };
    put_frame(&w, 0, CHANNEL_DATA, 0, "abcdef", 6);
    put_u32_frame(&w, 0, CHANNEL_CREDIT, 0);
    for (size_t n = 0; n < CHANNEL_HDR_SIZE + 6; n++) {
        struct channel_frame f;
        size_t used = 1;
        enum channel_error why = CHANNEL_OK;
        assert_int_equal(channel_parse(&s, w.b, n, &f, &used, &why), 0);
        assert_int_equal(used, 0);
    }
    struct channel_frame f;
    size_t used = 0;
    enum channel_error why = CHANNEL_OK;
    assert_int_equal(channel_parse(&s, w.b, w.len, &f, &used, &why), 1);
    assert_int_equal(used, 14);
    assert_int_equal(f.hdr.type, CHANNEL_DATA);
    assert_int_equal(f.hdr.len, 6);
    assert_memory_equal(f.payload, "abcdef", 6);
    assert_int_equal(s.stream[0].rx_allowed, CHANNEL_WINDOW - 6);
    /* the credit frame's payload is checked only once whole: 0 is refused then */
    assert_int_equal(channel_parse(&s, w.b + 14, 11, &f, &used, &why), 0);
    assert_int_equal(channel_parse(&s, w.b + 14, 12, &f, &used, &why), -1);
    assert_int_equal(why, CHANNEL_ERR_ZERO_CREDIT);
}

static void test_stream_errors(void **state)
{
    (void)state;
    struct channel_session s;
    struct wire w = { .len = 0 };

    assert_int_equal(one_frame(CHANNEL_SIDE_DOM0, CHANNEL_MAX_STREAMS, CHANNEL_DATA, 0, 1),
                     CHANNEL_ERR_STREAM_RANGE);
    assert_int_equal(one_frame(CHANNEL_SIDE_GUEST, 0xffff, CHANNEL_OPEN, 0, 0),
                     CHANNEL_ERR_STREAM_RANGE);
    assert_int_equal(one_frame(CHANNEL_SIDE_DOM0, 5, CHANNEL_DATA, 0, 1),
                     CHANNEL_ERR_UNKNOWN_STREAM);
    assert_int_equal(one_frame(CHANNEL_SIDE_DOM0, 5, CHANNEL_CLOSE, 0, 0),
                     CHANNEL_ERR_UNKNOWN_STREAM);
    assert_int_equal(one_frame(CHANNEL_SIDE_GUEST, 5, CHANNEL_EOF, 0, 0),
                     CHANNEL_ERR_UNKNOWN_STREAM);

    /* the guest may not open streams nor power anything off */
    assert_int_equal(one_frame(CHANNEL_SIDE_DOM0, 3, CHANNEL_OPEN, 0, 0), CHANNEL_ERR_FORBIDDEN);
    assert_int_equal(one_frame(CHANNEL_SIDE_DOM0, 0, CHANNEL_POWEROFF, 0, 0),
                     CHANNEL_ERR_FORBIDDEN);
    assert_int_equal(one_frame(CHANNEL_SIDE_GUEST, 0, CHANNEL_POWEROFF, 0, 0), CHANNEL_OK);
    assert_int_equal(one_frame(CHANNEL_SIDE_GUEST, 3, CHANNEL_POWEROFF, 0, 0),
                     CHANNEL_ERR_NOT_STREAM0);

    /* OPEN of a live id: 0 always is; another after its OPEN */
    assert_int_equal(one_frame(CHANNEL_SIDE_GUEST, 0, CHANNEL_OPEN, 0, 0), CHANNEL_ERR_OPEN_LIVE);
    start(&s, CHANNEL_SIDE_GUEST);
    put_frame(&w, 4, CHANNEL_OPEN, 0, NULL, 0);
    put_frame(&w, 0, CHANNEL_DATA, 0, "m", 1);
    put_frame(&w, 4, CHANNEL_OPEN, 0, NULL, 0);
    assert_int_equal(parse_all(&s, &w), CHANNEL_ERR_OPEN_LIVE);

    /* OPEN must be followed by the stream-0 bytes its descriptor goes with */
    start(&s, CHANNEL_SIDE_GUEST);
    w.len = 0;
    put_frame(&w, 4, CHANNEL_OPEN, 0, NULL, 0);
    put_frame(&w, 4, CHANNEL_DATA, 0, "m", 1);
    assert_int_equal(parse_all(&s, &w), CHANNEL_ERR_OPEN_WITHOUT_DATA);
    start(&s, CHANNEL_SIDE_GUEST);
    w.len = 0;
    put_frame(&w, 4, CHANNEL_OPEN, 0, NULL, 0);
    put_frame(&w, 5, CHANNEL_OPEN, 0, NULL, 0);
    assert_int_equal(parse_all(&s, &w), CHANNEL_ERR_OPEN_WITHOUT_DATA);
    start(&s, CHANNEL_SIDE_GUEST);
    w.len = 0;
    put_frame(&w, 4, CHANNEL_OPEN, 0, NULL, 0);
    put_frame(&w, 0, CHANNEL_DATA, 0, "m", 1);
    put_frame(&w, 4, CHANNEL_DATA, 0, "k", 1);
    put_frame(&w, 5, CHANNEL_OPEN, 0, NULL, 0);
    put_frame(&w, 0, CHANNEL_DATA, 0, "n", 1);
    assert_int_equal(parse_all(&s, &w), CHANNEL_OK);
    assert_int_equal(s.n_live, 3);
}

static void test_eof_close_errors(void **state)
{
    (void)state;
    struct channel_session s;
    struct wire w = { .len = 0 };

    assert_int_equal(one_frame(CHANNEL_SIDE_DOM0, 0, CHANNEL_EOF, 0, 0), CHANNEL_ERR_EOF_STREAM0);

    start(&s, CHANNEL_SIDE_DOM0);
    assert_true(channel_session_open(&s, 9));
    put_frame(&w, 9, CHANNEL_EOF, 0, NULL, 0);
    put_frame(&w, 9, CHANNEL_DATA, 0, "late", 4);
    assert_int_equal(parse_all(&s, &w), CHANNEL_ERR_AFTER_EOF);

    start(&s, CHANNEL_SIDE_DOM0);
    assert_true(channel_session_open(&s, 9));
    w.len = 0;
    put_frame(&w, 9, CHANNEL_EOF, 0, NULL, 0);
    put_frame(&w, 9, CHANNEL_EOF, 0, NULL, 0);
    assert_int_equal(parse_all(&s, &w), CHANNEL_ERR_AFTER_EOF);

    /* after EOF the peer still grants credit for what we send */
    start(&s, CHANNEL_SIDE_DOM0);
    assert_true(channel_session_open(&s, 9));
    assert_true(channel_session_sent_data(&s, 9, 100));
    w.len = 0;
    put_frame(&w, 9, CHANNEL_EOF, 0, NULL, 0);
    put_u32_frame(&w, 9, CHANNEL_CREDIT, 100);
    assert_int_equal(parse_all(&s, &w), CHANNEL_OK);

    /* nothing on a stream after the peer's CLOSE, while we have not closed it */
    static const uint8_t after[] = { CHANNEL_DATA, CHANNEL_EOF, CHANNEL_CLOSE, CHANNEL_CREDIT };
    for (size_t i = 0; i < sizeof(after); i++) {
        start(&s, CHANNEL_SIDE_DOM0);
        assert_true(channel_session_open(&s, 9));
        assert_true(channel_session_sent_data(&s, 9, 10));
        w.len = 0;
        put_frame(&w, 9, CHANNEL_CLOSE, 0, NULL, 0);
        if (after[i] == CHANNEL_CREDIT)
            put_u32_frame(&w, 9, CHANNEL_CREDIT, 10);
        else
            put_frame(&w, 9, after[i], 0, NULL, after[i] == CHANNEL_DATA ? 1 : 0);
        assert_int_equal(parse_all(&s, &w), CHANNEL_ERR_AFTER_CLOSE);
    }

    /* and once both closed, the id is unknown */
    start(&s, CHANNEL_SIDE_DOM0);
    assert_true(channel_session_open(&s, 9));
    assert_true(channel_session_sent_close(&s, 9));
    w.len = 0;
    put_frame(&w, 9, CHANNEL_DATA, 0, NULL, 3); /* sent before it saw our CLOSE: fine */
    put_frame(&w, 9, CHANNEL_CLOSE, 0, NULL, 0);
    assert_int_equal(parse_all(&s, &w), CHANNEL_OK);
    assert_false(s.stream[9].live);
    put_frame(&w, 9, CHANNEL_DATA, 0, NULL, 1);
    assert_int_equal(parse_all(&s, &w), CHANNEL_ERR_UNKNOWN_STREAM);

    /* CLOSE of stream 0 ends the channel */
    start(&s, CHANNEL_SIDE_GUEST);
    w.len = 0;
    put_frame(&w, 0, CHANNEL_CLOSE, 0, NULL, 0);
    assert_int_equal(parse_all(&s, &w), CHANNEL_OK);
    assert_true(s.ended);
    put_frame(&w, 0, CHANNEL_POWEROFF, 0, NULL, 0);
    assert_int_equal(parse_all(&s, &w), CHANNEL_ERR_ENDED);
}

static void test_credit(void **state)
{
    (void)state;
    struct channel_session s;
    struct wire w = { .len = 0 };

    /* the whole window in full frames, then one byte more */
    start(&s, CHANNEL_SIDE_DOM0);
    for (uint32_t i = 0; i < CHANNEL_WINDOW / CHANNEL_MAX_PAYLOAD; i++) {
        put_frame(&w, 0, CHANNEL_DATA, 0, NULL, CHANNEL_MAX_PAYLOAD);
        assert_int_equal(parse_all(&s, &w), CHANNEL_OK);
    }
    assert_int_equal(s.stream[0].rx_allowed, 0);
    put_frame(&w, 0, CHANNEL_DATA, 0, NULL, 1);
    assert_int_equal(parse_all(&s, &w), CHANNEL_ERR_OVER_CREDIT);

    /* a grant lets exactly that much more through */
    start(&s, CHANNEL_SIDE_DOM0);
    w.len = 0;
    for (uint32_t i = 0; i < CHANNEL_WINDOW / CHANNEL_MAX_PAYLOAD; i++)
        put_frame(&w, 0, CHANNEL_DATA, 0, NULL, CHANNEL_MAX_PAYLOAD);
    assert_int_equal(parse_all(&s, &w), CHANNEL_OK);
    assert_true(channel_session_sent_credit(&s, 0, 1000));
    assert_false(channel_session_sent_credit(&s, 0, CHANNEL_WINDOW)); /* more than it used */
    put_frame(&w, 0, CHANNEL_DATA, 0, NULL, 1000);
    assert_int_equal(parse_all(&s, &w), CHANNEL_OK);
    put_frame(&w, 0, CHANNEL_DATA, 0, NULL, 1);
    assert_int_equal(parse_all(&s, &w), CHANNEL_ERR_OVER_CREDIT);

    /* grants we receive: never 0, never more than we sent */
    start(&s, CHANNEL_SIDE_GUEST);
    w.len = 0;
    put_u32_frame(&w, 0, CHANNEL_CREDIT, 1);
    assert_int_equal(parse_all(&s, &w), CHANNEL_ERR_CREDIT_OVERFLOW);
    start(&s, CHANNEL_SIDE_GUEST);
    assert_true(channel_session_sent_data(&s, 0, 10));
    w.len = 0;
    put_u32_frame(&w, 0, CHANNEL_CREDIT, 11);
    assert_int_equal(parse_all(&s, &w), CHANNEL_ERR_CREDIT_OVERFLOW);
    start(&s, CHANNEL_SIDE_GUEST);
    assert_true(channel_session_sent_data(&s, 0, 10));
    w.len = 0;
    put_u32_frame(&w, 0, CHANNEL_CREDIT, 0);
    assert_int_equal(parse_all(&s, &w), CHANNEL_ERR_ZERO_CREDIT);
    start(&s, CHANNEL_SIDE_GUEST);
    assert_true(channel_session_sent_data(&s, 0, 10));
    w.len = 0;
    put_u32_frame(&w, 0, CHANNEL_CREDIT, 4);
    put_u32_frame(&w, 0, CHANNEL_CREDIT, 6);
    assert_int_equal(parse_all(&s, &w), CHANNEL_OK);
    assert_int_equal(s.stream[0].tx_credit, CHANNEL_WINDOW);
    put_u32_frame(&w, 0, CHANNEL_CREDIT, 0xffffffffu);
    assert_int_equal(parse_all(&s, &w), CHANNEL_ERR_CREDIT_OVERFLOW);
}

/* What this side may send: refused sends change nothing. */
static void test_sends(void **state)
{
    (void)state;
    struct channel_session s;
    channel_session_init(&s, CHANNEL_SIDE_GUEST);
    assert_false(channel_session_open(&s, 3)); /* the guest opens nothing */
    channel_session_init(&s, CHANNEL_SIDE_DOM0);
    assert_false(channel_session_open(&s, 0));
    assert_false(channel_session_open(&s, CHANNEL_MAX_STREAMS));
    assert_true(channel_session_open(&s, 3));
    assert_false(channel_session_open(&s, 3));
    assert_false(channel_session_sent_data(&s, 4, 1)); /* not open */
    assert_false(channel_session_sent_data(&s, 3, 0));
    assert_false(channel_session_sent_data(&s, 3, CHANNEL_MAX_PAYLOAD + 1));
    for (uint32_t i = 0; i < CHANNEL_WINDOW / CHANNEL_MAX_PAYLOAD; i++)
        assert_true(channel_session_sent_data(&s, 3, CHANNEL_MAX_PAYLOAD));
    assert_false(channel_session_sent_data(&s, 3, 1));   /* no credit left */
    assert_false(channel_session_sent_credit(&s, 3, 1)); /* nothing received to grant */
    assert_false(channel_session_sent_eof(&s, 0));
    assert_true(channel_session_sent_eof(&s, 3));
    assert_false(channel_session_sent_eof(&s, 3));
    assert_true(channel_session_sent_close(&s, 3));
    assert_false(channel_session_sent_close(&s, 3));
    assert_true(s.stream[3].live); /* until the peer closes it too */
    assert_int_equal(s.n_live, 2);
}

static void test_free_ids(void **state)
{
    (void)state;
    struct channel_session s;
    start(&s, CHANNEL_SIDE_DOM0);
    assert_int_equal(channel_session_free_id(&s, 0), 1);
    assert_int_equal(channel_session_free_id(&s, 7), 7);
    assert_int_equal(channel_session_free_id(&s, CHANNEL_MAX_STREAMS - 1), CHANNEL_MAX_STREAMS - 1);
    assert_true(channel_session_open(&s, CHANNEL_MAX_STREAMS - 1));
    assert_int_equal(channel_session_free_id(&s, CHANNEL_MAX_STREAMS - 1), 1); /* wraps */
    for (uint16_t id = 1; id < CHANNEL_MAX_STREAMS - 1; id++)
        assert_true(channel_session_open(&s, id));
    assert_int_equal(s.n_live, CHANNEL_MAX_STREAMS);
    assert_int_equal(channel_session_free_id(&s, 1), 0);

    /* closed by us first, then by the peer: free, and open again */
    struct wire w = { .len = 0 };
    assert_true(channel_session_sent_close(&s, 200));
    assert_int_equal(channel_session_free_id(&s, 1), 0);
    put_frame(&w, 200, CHANNEL_CLOSE, 0, NULL, 0);
    assert_int_equal(parse_all(&s, &w), CHANNEL_OK);
    assert_int_equal(channel_session_free_id(&s, 1), 200);
    /* closed by the peer first */
    put_frame(&w, 201, CHANNEL_CLOSE, 0, NULL, 0);
    assert_int_equal(parse_all(&s, &w), CHANNEL_OK);
    assert_true(s.stream[201].live);
    assert_true(channel_session_sent_close(&s, 201));
    assert_false(s.stream[201].live);
    assert_int_equal(s.n_live, CHANNEL_MAX_STREAMS - 2);
    assert_true(channel_session_open(&s, 201));
    assert_int_equal(s.stream[201].rx_allowed, CHANNEL_WINDOW);
    assert_int_equal(s.stream[201].tx_credit, CHANNEL_WINDOW);
    assert_false(s.stream[201].peer_closed);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_bytes),
        cmocka_unit_test(test_error_names),
        cmocka_unit_test(test_hello),
        cmocka_unit_test(test_shape_errors),
        cmocka_unit_test(test_refused_from_header),
        cmocka_unit_test(test_incremental),
        cmocka_unit_test(test_stream_errors),
        cmocka_unit_test(test_eof_close_errors),
        cmocka_unit_test(test_credit),
        cmocka_unit_test(test_sends),
        cmocka_unit_test(test_free_ids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
