/* A growable byte buffer. Allocation failure aborts (there is no sane
 * recovery in a daemon that is out of memory), so callers never check. */
#pragma once

#include <stdarg.h>
#include <stddef.h>

struct buf {
    char *data; /* always NUL-terminated after any append, for convenience */
    size_t len;
    size_t cap;
};

#define BUF_INIT \
    { \
        NULL, 0, 0 \
    }

void buf_reserve(struct buf *b, size_t extra);
void buf_append(struct buf *b, const void *data, size_t len);
void buf_append_str(struct buf *b, const char *s);
void buf_append_char(struct buf *b, char c);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_vprintf(struct buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
void buf_reset(struct buf *b);
void buf_free(struct buf *b);
/* Removes the first n bytes. */
void buf_consume(struct buf *b, size_t n);
/* Returns the data as a heap string the caller owns and empties the buffer. */
char *buf_steal(struct buf *b);

static inline void cleanup_bufp(struct buf *b)
{
    buf_free(b);
}
#define _cleanup_buf_ __attribute__((cleanup(cleanup_bufp)))

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
