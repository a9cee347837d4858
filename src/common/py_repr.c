/* Python's repr() of a str (py_repr.h). */
#include "common/py_repr.h"

#include <stdbool.h>
#include <string.h>

void py_repr(struct buf *out, const char *s, size_t len)
{
    bool has_single = memchr(s, '\'', len) != NULL;
    bool has_double = memchr(s, '"', len) != NULL;
    char quote = has_single && !has_double ? '"' : '\'';
    buf_append_char(out, quote);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\\' || c == (unsigned char)quote)
            buf_printf(out, "\\%c", c);
        else if (c == '\n')
            buf_append_str(out, "\\n");
        else if (c == '\r')
            buf_append_str(out, "\\r");
        else if (c == '\t')
            buf_append_str(out, "\\t");
        else if (c < 0x20 || c >= 0x7f)
            buf_printf(out, "\\x%02x", c);
        else
            buf_append_char(out, (char)c);
    }
    buf_append_char(out, quote);
}

char *py_repr_dup(const char *s)
{
    struct buf b = BUF_INIT;
    py_repr(&b, s, strlen(s));
    return buf_steal(&b);
}
