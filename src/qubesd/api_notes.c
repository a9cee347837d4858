/* admin.vm.notes.*: free text a user keeps about a qube, sanitised so that
 * it is safe to display (what libqubes-pure does for Qubes). */
#include <stdint.h>
#include <string.h>

#include "common/cleanup.h"
#include "qubesd/api.h"
#include "qubesd/change.h"

#define NOTES_MAX 256000

/* Code points a terminal or GUI may show as they are: no controls, no
 * bidirectional overrides, no invisible formatting, no private use or
 * noncharacters. Anything else becomes '_'. */
static bool safe_for_display(uint32_t c)
{
    if (c < 0x20 || (c >= 0x7f && c < 0xa0))
        return false;
    if (c == 0xad || (c >= 0x200b && c <= 0x200f) || (c >= 0x2028 && c <= 0x202e) ||
        (c >= 0x2060 && c <= 0x206f) || c == 0x061c || c == 0xfeff || (c >= 0xfff9 && c <= 0xfffb))
        return false;
    if ((c >= 0xe000 && c <= 0xf8ff) || c >= 0xf0000 || (c >= 0xe0000 && c <= 0xe007f))
        return false;
    if ((c >= 0xfdd0 && c <= 0xfdef) || (c & 0xfffe) == 0xfffe)
        return false;
    return true;
}

/* Decodes one UTF-8 sequence strictly; returns its length or 0 if invalid. */
static size_t utf8_decode(const unsigned char *s, size_t len, uint32_t *cp)
{
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    size_t n = (s[0] & 0xe0) == 0xc0   ? 2
               : (s[0] & 0xf0) == 0xe0 ? 3
               : (s[0] & 0xf8) == 0xf0 ? 4
                                       : 0;
    if (!n || n > len)
        return 0;
    uint32_t c = s[0] & (0x7f >> n);
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3f);
    }
    static const uint32_t min[] = { 0, 0, 0x80, 0x800, 0x10000 };
    if (c < min[n] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return 0;
    *cp = c;
    return n;
}

static int notes_get(struct api_call *call, struct qerror *err)
{
    (void)err;
    if (call->dest->notes)
        buf_append_str(&call->out, call->dest->notes);
    return 0;
}

static int notes_set(struct api_call *call, struct qerror *err)
{
    if (call->payload_len > NOTES_MAX)
        return qerror_set(err, ERR_PROTOCOL_ERROR,
                          "Maximum note size is %d bytes (%zu bytes received)", NOTES_MAX,
                          call->payload_len);
    const unsigned char *p = (const unsigned char *)call->untrusted_payload;
    size_t len = call->payload_len;
    _cleanup_buf_ struct buf text = BUF_INIT;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t n = utf8_decode(p + i, len - i, &cp);
        if (!n)
            return qerror_set(err, ERR_PROTOCOL_ERROR,
                              "Unable to sanitise qube notes: invalid UTF-8 at byte %zu", i);
        if (cp == '\t' || cp == '\n' || safe_for_display(cp))
            buf_append(&text, p + i, n);
        else
            buf_append_char(&text, '_');
        i += n;
    }
    return change_set_notes(call->app, call->dest, text.data ? text.data : "", err);
}

const struct api_method api_notes_methods[] = {
    { "admin.vm.notes.Get", ARG_NONE, WANT_NO, WANT_NO, notes_get },
    { "admin.vm.notes.Set", ARG_NONE, WANT_ANY, WANT_NO, notes_set },
    { NULL, ARG_NONE, WANT_NO, WANT_NO, NULL },
};
