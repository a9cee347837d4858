/* Decoder of the qubes.VMExec service argument into an argv, byte for byte as upstream's
 * vmexec.py: pure, bounded, and checked part by part in the same order as upstream. */
#include "guest/vmexec.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static bool plain_byte(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_';
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1; /* lower case is not an escape upstream */
}

/* Decodes one part (n bytes, no '+') to out; returns the decoded length or -1. */
static long decode_part(const char *part, size_t n, char *out, const char **why)
{
    for (size_t i = 0; i < n; i++) {
        if (!plain_byte(part[i]) && part[i] != '-') {
            *why = "illegal characters found";
            return -1;
        }
    }
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        if (part[i] != '-') {
            out[k++] = part[i++];
            continue;
        }
        if (i + 1 < n && part[i + 1] == '-') {
            out[k++] = '-';
            i += 2;
            continue;
        }
        int hi = i + 1 < n ? hex_digit(part[i + 1]) : -1;
        int lo = i + 2 < n ? hex_digit(part[i + 2]) : -1;
        if (hi < 0 || lo < 0) {
            *why = "'-' can be used only in '-HH' or '--'";
            return -1;
        }
        if (hi == 0 && lo == 0) {
            *why = "NUL byte in argument";
            return -1;
        }
        out[k++] = (char)(hi * 16 + lo);
        i += 3;
    }
    return (long)k;
}

char **vmexec_decode(const char *untrusted_arg, size_t *argc, const char **why)
{
    size_t len = strnlen(untrusted_arg, VMEXEC_MAX_ENCODED + 1);
    if (len > VMEXEC_MAX_ENCODED) {
        *why = "argument too long";
        return NULL;
    }
    size_t parts = 1;
    for (size_t i = 0; i < len; i++)
        if (untrusted_arg[i] == '+')
            parts++;

    /* one block: the pointers, then the strings; a decoded part is never longer than its
     * encoding, and the '+' separators pay for all NULs but the last */
    size_t ptr_bytes = (parts + 1) * sizeof(char *);
    char **argv = malloc(ptr_bytes + len + 1);
    if (!argv) {
        *why = "out of memory";
        return NULL;
    }
    char *out = (char *)argv + ptr_bytes;
    const char *p = untrusted_arg;
    const char *end = untrusted_arg + len;
    for (size_t i = 0; i < parts; i++) {
        const char *plus = memchr(p, '+', (size_t)(end - p));
        size_t n = plus ? (size_t)(plus - p) : (size_t)(end - p);
        long k = decode_part(p, n, out, why);
        if (k < 0) {
            free(argv);
            return NULL;
        }
        argv[i] = out;
        out[k] = '\0';
        out += k + 1;
        p += n + 1;
    }
    argv[parts] = NULL;
    *argc = parts;
    return argv;
}
