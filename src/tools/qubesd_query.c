/* qubesd-query: send one raw Admin API request (payload from stdin) and copy
 * the raw answer, header included, to stdout; the low-level test tool. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "common/fd_io.h"
#include "common/parse.h"
#include "common/root.h"
#include "common/unix_socket.h"

#define MAX_PAYLOAD_SIZE 65536

static const char usage[] = "usage: qubesd-query [-h] [--connect PATH] [--empty] [--fail]\n"
                            "                    [--max-bytes MAX_BYTES] [--single-line] [--null]\n"
                            "                    SRC METHOD DEST [ARGUMENT]\n";

static const char help[] =
    "\nlow-level qubesd interrogation tool\n\n"
    "positional arguments:\n"
    "  SRC                   source qube\n"
    "  METHOD                method name\n"
    "  DEST                  destination qube\n"
    "  ARGUMENT              argument to method\n\n"
    "options:\n"
    "  -h, --help            show this help message and exit\n"
    "  --connect, -c PATH    path to qubesd UNIX socket (default: "
    "$QUBES_ROOT/run/qubesd.sock)\n"
    "  --empty, -e           do not read from stdin and send empty payload\n"
    "  --fail                Should non-OK qubesd response result in non-zero exit code\n"
    "  --max-bytes MAX_BYTES\n"
    "                        Maximum number of bytes to read from stdin\n"
    "  --single-line         Only read a single line of input\n"
    "  --null                Print an extra NUL byte; useful for shell scripts\n";

static _Noreturn __attribute__((format(printf, 1, 2))) void usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%squbesd-query: error: ", usage);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

/* --single-line: printable ASCII up to a newline, byte by byte so that the
 * rest of stdin stays unread. */
static void read_single_line(struct buf *payload, long max)
{
    for (long i = 0; i < max; i++) {
        unsigned char ch;
        ssize_t r = read(0, &ch, 1);
        if (r < 0 && errno == EINTR) {
            i--;
            continue;
        }
        if (r <= 0)
            usage_error("End of input without a newline");
        if (ch == '\n')
            return;
        if (ch < 0x20 || ch > 0x7e)
            usage_error("Invalid byte %u in input", ch);
        buf_append_char(payload, (char)ch);
    }
    usage_error("No newline found in first %ld bytes", max);
}

int main(int argc, char **argv)
{
    enum { OPT_FAIL = 0x100, OPT_MAX_BYTES, OPT_SINGLE_LINE, OPT_NULL };
    static const struct option longopts[] = {
        { "connect", required_argument, NULL, 'c' },
        { "empty", no_argument, NULL, 'e' },
        { "fail", no_argument, NULL, OPT_FAIL },
        { "max-bytes", required_argument, NULL, OPT_MAX_BYTES },
        { "single-line", no_argument, NULL, OPT_SINGLE_LINE },
        { "null", no_argument, NULL, OPT_NULL },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    _cleanup_free_ char *default_sock = qroot_path("run/qubesd.sock");
    const char *sock = default_sock;
    bool read_payload = true, fail = false, single_line = false, null = false;
    bool has_max = false;
    long max_bytes = 0;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":c:eh", longopts, NULL)) != -1) {
        switch (c) {
        case 'c': sock = optarg; break;
        case 'e': read_payload = false; break;
        case OPT_FAIL: fail = true; break;
        case OPT_MAX_BYTES: {
            long long v;
            if (parse_ll(optarg, LONG_MIN, LONG_MAX, PARSE_PYTHON_INT, &v) < 0)
                usage_error("argument --max-bytes: invalid int value: '%s'", optarg);
            max_bytes = (long)v;
            has_max = true;
            break;
        }
        case OPT_SINGLE_LINE: single_line = true; break;
        case OPT_NULL: null = true; break;
        case 'h': printf("%s%s", usage, help); return 0;
        case ':': usage_error("argument %s: expected one argument", argv[optind - 1]);
        default: usage_error("unrecognized arguments: %s", argv[optind - 1]);
        }
    }
    int npos = argc - optind;
    if (npos < 3) {
        static const char *const names[] = { "SRC", "METHOD", "DEST" };
        struct buf missing = BUF_INIT;
        for (int i = npos; i < 3; i++)
            buf_printf(&missing, "%s%s", i > npos ? ", " : "", names[i]);
        usage_error("the following arguments are required: %s", missing.data);
    }
    if (npos > 4)
        usage_error("unrecognized arguments: %s", argv[optind + 4]);
    const char *src = argv[optind], *method = argv[optind + 1], *dest = argv[optind + 2];
    const char *arg = npos > 3 ? argv[optind + 3] : "";

    long max_payload = single_line ? 1024 : MAX_PAYLOAD_SIZE;
    if (has_max) {
        if (max_bytes > MAX_PAYLOAD_SIZE)
            usage_error("Maximum payload too large (max %ld)", max_payload);
        max_payload = max_bytes;
    }
    _cleanup_buf_ struct buf payload = BUF_INIT;
    if (read_payload) {
        if (single_line) {
            read_single_line(&payload, max_payload);
        } else {
            /* one byte more than allowed, to refuse rather than truncate */
            for (;;) {
                buf_reserve(&payload, 65536);
                size_t room = MAX_PAYLOAD_SIZE + 1 - payload.len;
                if (!room)
                    break;
                ssize_t r = read(0, payload.data + payload.len, room);
                if (r < 0 && errno == EINTR)
                    continue;
                if (r <= 0)
                    break;
                payload.len += (size_t)r;
            }
            if ((long)payload.len > max_payload)
                usage_error("Payload too long (max %ld)", max_payload);
        }
    }

    _cleanup_close_ int fd = unix_connect(sock, 0, NULL);
    if (fd < 0 && errno == ENAMETOOLONG) {
        fprintf(stderr, "qubesd-query: socket path too long: %s\n", sock);
        return 1;
    }
    if (fd < 0) {
        fprintf(stderr, "qubesd-query: cannot connect to %s: %s\n", sock, strerror(errno));
        return 1;
    }
    _cleanup_buf_ struct buf req = BUF_INIT;
    buf_printf(&req, "%s+%s %s name %s", method, arg, src, dest);
    buf_append(&req, "", 1);
    if (payload.len)
        buf_append(&req, payload.data, payload.len);
    /* a peer that hangs up early is fine: its answer is still read below */
    (void)!send(fd, req.data, req.len, MSG_NOSIGNAL);
    shutdown(fd, SHUT_WR);

    char data[4096];
    ssize_t r;
    do
        r = read(fd, data, 1);
    while (r < 0 && errno == EINTR);
    if (r != 1 || data[0] < '0' || data[0] > '9')
        return 1;
    int returncode = data[0] - '0';
    if (fd_write_all(1, data, 1) < 0)
        return 1;
    for (;;) {
        r = read(fd, data, sizeof(data));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        if (fd_write_all(1, data, (size_t)r) < 0)
            return 1;
    }
    if (fail)
        return returncode;
    if (null && fd_write_all(1, "", 1) < 0)
        return 1;
    return 0;
}
