/* qrexec protocol 3 wire format: exact bytes of every message we encode, the handshake,
 * the size rules per role, chunking, command lines, descriptors over the transport, and the
 * data pump's splice paths (pipe -> socket, socket -> pipe). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "qrexec/pump.h"
#include "qrexec/qrexec_cmdline.h"
#include "qrexec/qrexec_proto.h"
#include "qrexec/transport.h"

static void assert_bytes(const struct buf *b, const uint8_t *want, size_t n)
{
    assert_int_equal(b->len, n);
    assert_memory_equal(b->data, want, n);
}

static void test_encode_exact_bytes(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    qrexec_hello_encode(&b, 3);
    const uint8_t hello[] = { 0x00, 0x03, 0, 0, 4, 0, 0, 0, 3, 0, 0, 0 };
    assert_bytes(&b, hello, sizeof(hello));
    buf_reset(&b);

    qrexec_exec_encode(&b, MSG_EXEC_CMDLINE, 0, 513, "user:echo hi");
    const uint8_t exec[] = { 0x00, 0x02, 0,    0,    21,  0,   0,   0,   0,   0,
                             0,    0,    0x01, 0x02, 0,   0,   'u', 's', 'e', 'r',
                             ':',  'e',  'c',  'h',  'o', ' ', 'h', 'i', 0 };
    assert_bytes(&b, exec, sizeof(exec));
    buf_reset(&b);

    qrexec_exec_encode(&b, MSG_JUST_EXEC, 7, 600, "u:x");
    const uint8_t just[] = { 0x01, 0x02, 0,    0,    12, 0, 0,   0,   7,   0,
                             0,    0,    0x58, 0x02, 0,  0, 'u', ':', 'x', 0 };
    assert_bytes(&b, just, sizeof(just));
    buf_reset(&b);

    qrexec_params_encode(&b, MSG_CONNECTION_TERMINATED, 0, 514);
    const uint8_t term[] = { 0x11, 0x02, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x02, 0, 0 };
    assert_bytes(&b, term, sizeof(term));
    buf_reset(&b);

    qrexec_exit_code_encode(&b, 127);
    const uint8_t code[] = { 0x93, 0x01, 0, 0, 4, 0, 0, 0, 127, 0, 0, 0 };
    assert_bytes(&b, code, sizeof(code));
    buf_reset(&b);

    qrexec_msg_encode(&b, MSG_DATA_STDOUT, "ab", 2);
    qrexec_msg_encode(&b, MSG_DATA_STDERR, NULL, 0);
    const uint8_t data[] = { 0x91, 0x01, 0, 0, 2, 0, 0, 0, 'a', 'b', 0x92, 0x01, 0, 0, 0, 0, 0, 0 };
    assert_bytes(&b, data, sizeof(data));
    buf_free(&b);

    uint8_t h[8];
    qrexec_hdr_encode(h, MSG_TRIGGER_SERVICE3, 0x01020304);
    struct msg_header d = qrexec_hdr_decode(h);
    assert_int_equal(d.type, 0x212);
    assert_int_equal(d.len, 0x01020304);
    assert_int_equal(h[4], 4);
    assert_int_equal(h[7], 1);
}

static void test_hello_negotiation(void **state)
{
    (void)state;
    struct msg_header h = { MSG_HELLO, 4 };
    uint8_t p[4];
    uint32_t v = 0;
    const char *why = NULL;
    qrexec_put_u32(p, 2);
    assert_int_equal(qrexec_hello_decode(&h, p, 3, 2, &v, &why), 0);
    assert_int_equal(v, 2);
    qrexec_put_u32(p, 4);
    assert_int_equal(qrexec_hello_decode(&h, p, 3, 2, &v, &why), 0);
    assert_int_equal(v, 3);
    qrexec_put_u32(p, 3);
    assert_int_equal(qrexec_hello_decode(&h, p, 3, 2, &v, &why), 0);
    assert_int_equal(v, 3);
    qrexec_put_u32(p, 1);
    assert_int_equal(qrexec_hello_decode(&h, p, 3, 2, &v, &why), -1);
    assert_string_equal(why, "incompatible protocol version");
    qrexec_put_u32(p, 0xffffffff);
    assert_int_equal(qrexec_hello_decode(&h, p, 3, 3, &v, &why), 0);
    assert_int_equal(v, 3);
    struct msg_header bad = { MSG_HELLO, 5 };
    assert_int_equal(qrexec_hello_decode(&bad, p, 3, 2, &v, &why), -1);
    assert_string_equal(why, "wrong size of HELLO");
    struct msg_header wrong = { MSG_EXEC_CMDLINE, 4 };
    assert_int_equal(qrexec_hello_decode(&wrong, p, 3, 2, &v, &why), -1);
    assert_string_equal(why, "expected HELLO");
}

static int check(enum qrexec_role role, uint32_t type, uint32_t len, uint32_t version)
{
    struct msg_header h = { type, len };
    const char *why = NULL;
    int rc = qrexec_check_header(role, &h, version, &why);
    if (rc < 0)
        assert_non_null(why);
    return rc;
}

static void test_sizes_from_agent(void **state)
{
    (void)state;
    assert_int_equal(check(QREXEC_FROM_AGENT, MSG_CONNECTION_TERMINATED, 8, 3), 0);
    assert_int_equal(check(QREXEC_FROM_AGENT, MSG_CONNECTION_TERMINATED, 7, 3), -1);
    assert_int_equal(check(QREXEC_FROM_AGENT, MSG_CONNECTION_TERMINATED, 9, 3), -1);
    assert_int_equal(check(QREXEC_FROM_AGENT, MSG_TRIGGER_SERVICE3, 96, 3), -1);
    assert_int_equal(check(QREXEC_FROM_AGENT, MSG_TRIGGER_SERVICE3, 97, 3), 0);
    assert_int_equal(check(QREXEC_FROM_AGENT, MSG_TRIGGER_SERVICE3, 96 + 65000, 3), 0);
    assert_int_equal(check(QREXEC_FROM_AGENT, MSG_TRIGGER_SERVICE3, 96 + 65001, 3), -1);
    assert_int_equal(check(QREXEC_FROM_AGENT, MSG_TRIGGER_SERVICE3, 97, 2), -1);
    assert_int_equal(check(QREXEC_FROM_AGENT, MSG_TRIGGER_SERVICE, 128, 2), 0);
    assert_int_equal(check(QREXEC_FROM_AGENT, MSG_TRIGGER_SERVICE, 128, 3), -1);
    assert_int_equal(check(QREXEC_FROM_AGENT, MSG_TRIGGER_SERVICE, 127, 2), -1);
    assert_int_equal(check(QREXEC_FROM_AGENT, MSG_HELLO, 4, 3), -1);
    assert_int_equal(check(QREXEC_FROM_AGENT, MSG_EXEC_CMDLINE, 20, 3), -1);
    assert_int_equal(check(QREXEC_FROM_AGENT, MSG_DATA_STDOUT, 2, 3), -1);
    assert_int_equal(check(QREXEC_FROM_AGENT, 0x999, 8, 3), -1);
}

static void test_sizes_other_roles(void **state)
{
    (void)state;
    assert_int_equal(check(QREXEC_FROM_DAEMON, MSG_EXEC_CMDLINE, 8, 3), -1);
    assert_int_equal(check(QREXEC_FROM_DAEMON, MSG_EXEC_CMDLINE, 9, 3), 0);
    assert_int_equal(check(QREXEC_FROM_DAEMON, MSG_JUST_EXEC, 8 + 65535, 3), 0);
    assert_int_equal(check(QREXEC_FROM_DAEMON, MSG_JUST_EXEC, 8 + 65536, 3), -1);
    assert_int_equal(check(QREXEC_FROM_DAEMON, MSG_SERVICE_CONNECT, 40, 3), 0);
    assert_int_equal(check(QREXEC_FROM_DAEMON, MSG_SERVICE_CONNECT, 41, 3), -1);
    assert_int_equal(check(QREXEC_FROM_DAEMON, MSG_SERVICE_REFUSED, 32, 3), 0);
    assert_int_equal(check(QREXEC_FROM_DAEMON, MSG_SERVICE_REFUSED, 31, 3), -1);
    assert_int_equal(check(QREXEC_FROM_DAEMON, MSG_CONNECTION_TERMINATED, 8, 3), -1);
    assert_int_equal(check(QREXEC_FROM_CLIENT, MSG_EXEC_CMDLINE, 10, 3), 0);
    assert_int_equal(check(QREXEC_FROM_CLIENT, MSG_SERVICE_CONNECT, 40, 3), -1);
    assert_int_equal(check(QREXEC_FROM_DAEMON_LOCAL, MSG_EXEC_CMDLINE, 8, 3), 0);
    assert_int_equal(check(QREXEC_FROM_DAEMON_LOCAL, MSG_EXEC_CMDLINE, 9, 3), -1);
    assert_int_equal(check(QREXEC_DATA_TO_CLIENT, MSG_DATA_EXIT_CODE, 4, 3), 0);
    assert_int_equal(check(QREXEC_DATA_TO_CLIENT, MSG_DATA_EXIT_CODE, 5, 3), -1);
    assert_int_equal(check(QREXEC_DATA_TO_CLIENT, MSG_DATA_STDERR, 0, 3), 0);
    assert_int_equal(check(QREXEC_DATA_TO_SERVICE, MSG_DATA_STDIN, 10, 3), 0);
    assert_int_equal(check(QREXEC_DATA_TO_SERVICE, MSG_DATA_STDOUT, 10, 3), 0);
    assert_int_equal(check(QREXEC_DATA_TO_SERVICE, MSG_DATA_STDERR, 10, 3), -1);
    assert_int_equal(check(QREXEC_DATA_TO_SERVICE, MSG_DATA_EXIT_CODE, 4, 3), -1);
}

static void test_chunk_limits(void **state)
{
    (void)state;
    assert_int_equal(qrexec_max_chunk(2), 4096);
    assert_int_equal(qrexec_max_chunk(3), 65536);
    assert_int_equal(check(QREXEC_DATA_TO_CLIENT, MSG_DATA_STDOUT, 65536, 3), 0);
    assert_int_equal(check(QREXEC_DATA_TO_CLIENT, MSG_DATA_STDOUT, 65537, 3), -1);
    assert_int_equal(check(QREXEC_DATA_TO_CLIENT, MSG_DATA_STDOUT, 4096, 2), 0);
    assert_int_equal(check(QREXEC_DATA_TO_CLIENT, MSG_DATA_STDOUT, 4097, 2), -1);
    assert_int_equal(check(QREXEC_DATA_TO_SERVICE, MSG_DATA_STDIN, 65537, 3), -1);
    uint8_t four[4] = { 7, 0, 0, 0 };
    assert_int_equal(qrexec_exit_code_decode(four, 4), 7);
    assert_int_equal(qrexec_exit_code_decode(four, 3), 255);
    assert_true(qrexec_port_valid(513));
    assert_true(qrexec_port_valid(768));
    assert_false(qrexec_port_valid(512));
    assert_false(qrexec_port_valid(769));
}

static void test_exec_decode(void **state)
{
    (void)state;
    struct qrexec_exec_req req;
    const char *why = NULL;
    uint8_t p[32] = { 1, 0, 0, 0, 2, 2, 0, 0 };
    memcpy(p + 8, "user:true", 10);
    assert_int_equal(qrexec_exec_decode(p, 18, &req, &why), 0);
    assert_int_equal(req.connect_domain, 1);
    assert_int_equal(req.connect_port, 514);
    assert_string_equal(req.cmdline, "user:true");
    assert_int_equal(req.cmdline_len, 9);
    assert_int_equal(qrexec_exec_decode(p, 17, &req, &why), -1);
    assert_string_equal(why, "command line not NUL-terminated");
    p[12] = 0;
    assert_int_equal(qrexec_exec_decode(p, 18, &req, &why), -1);
    assert_string_equal(why, "NUL inside the command line");
    p[8] = 0;
    assert_int_equal(qrexec_exec_decode(p, 9, &req, &why), -1);
    assert_string_equal(why, "empty command line");
    assert_int_equal(qrexec_exec_decode(p, 8, &req, &why), -1);
    uint32_t dom, port;
    assert_int_equal(qrexec_params_decode(p, 8, &dom, &port, &why), 0);
    assert_int_equal(port, 514);
    assert_int_equal(qrexec_params_decode(p, 9, &dom, &port, &why), -1);
}

static void test_trigger3(void **state)
{
    (void)state;
    uint8_t p[96 + 16] = { 0 };
    memcpy(p, "work/../x y", 11);
    memcpy(p + 64, "SOCKET11", 8);
    memcpy(p + 96, "qubes.Fo/o+a b", 15);
    struct qrexec_trigger3 t;
    const char *why = NULL;
    assert_int_equal(qrexec_trigger3_decode(p, 96 + 15, &t, &why), 0);
    assert_string_equal(t.target_domain, "work_.._x_y");
    assert_string_equal(t.ident, "SOCKET11");
    assert_true(t.ident_ok);
    assert_string_equal(t.service_name, "qubes.Fo_o+a_b");
    free(t.service_name);
    p[64 + 20] = 'x'; /* garbage after the ident's NUL */
    assert_int_equal(qrexec_trigger3_decode(p, 96 + 15, &t, &why), 0);
    assert_false(t.ident_ok);
    free(t.service_name);
    assert_int_equal(qrexec_trigger3_decode(p, 96 + 14, &t, &why), -1);
    p[96] = '+';
    assert_int_equal(qrexec_trigger3_decode(p, 96 + 15, &t, &why), -1);
    assert_string_equal(why, "service name starts with '+'");
    p[96] = 0;
    assert_int_equal(qrexec_trigger3_decode(p, 97, &t, &why), -1);
    assert_string_equal(why, "empty service name");
}

static void test_cmdline(void **state)
{
    (void)state;
    struct qrexec_cmd c;
    struct qerror err = { 0 };
    assert_int_equal(qrexec_cmd_parse("user:echo hi", &c, &err), 0);
    assert_string_equal(c.user, "user");
    assert_string_equal(c.command, "echo hi");
    assert_false(c.is_rpc);
    qrexec_cmd_free(&c);
    assert_int_equal(
        qrexec_cmd_parse("root:nogui:QUBESRPC qubes.VMExec+echo+a work name x", &c, &err), 0);
    assert_true(c.nogui && c.is_rpc);
    assert_string_equal(c.service_name, "qubes.VMExec");
    assert_string_equal(c.service_arg, "echo+a");
    assert_string_equal(c.service_full, "qubes.VMExec+echo+a");
    assert_string_equal(c.source, "work");
    qrexec_cmd_free(&c);
    assert_int_equal(qrexec_cmd_parse("u:QUBESRPC qubes.X dom0", &c, &err), 0);
    assert_string_equal(c.service_full, "qubes.X+");
    assert_string_equal(c.service_arg, "");
    qrexec_cmd_free(&c);
    const char *bad[] = { "noуser",
                          ":x",
                          "u:",
                          "-u:x",
                          "u/x:y",
                          "u:QUBESRPC ../x dom0",
                          "u:QUBESRPC a/b dom0",
                          "u:QUBESRPC .. dom0",
                          "u:QUBESRPC x+a/b dom0",
                          "u:QUBESRPC x",
                          "u:QUBESRPC x ",
                          "u:QUBESRPC  dom0",
                          "u:QUBESRPC +a dom0",
                          "u:QUBESRPC x dom/0" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(qrexec_cmd_parse(bad[i], &c, &err), -1);
        assert_null(c.user);
    }
    char *e = qrexec_cmdline_expand_default("DEFAULT:QUBESRPC x dom0", "user");
    assert_string_equal(e, "user:QUBESRPC x dom0");
    free(e);
    e = qrexec_cmdline_expand_default("root:DEFAULT:x", "user");
    assert_string_equal(e, "root:DEFAULT:x");
    free(e);
}

static void test_transport_fds(void **state)
{
    (void)state;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    int p[2];
    assert_int_equal(pipe(p), 0);
    struct buf m = BUF_INIT;
    qrexec_exec_encode(&m, MSG_EXEC_CMDLINE, 0, 513, "user:x");
    assert_int_equal(qrexec_send_all(sv[0], m.data, m.len, p[0]), 0);
    buf_free(&m);
    struct msg_header h;
    uint8_t *payload = NULL;
    struct qrexec_fds fds = { .n = 0 };
    const char *why = NULL;
    assert_int_equal(qrexec_recv_msg(sv[1], QREXEC_FROM_DAEMON, 3, &h, &payload, &fds, &why), 0);
    assert_int_equal(h.type, MSG_EXEC_CMDLINE);
    assert_int_equal(fds.n, 1);
    assert_true(qrexec_fds_any(&fds));
    assert_int_equal(write(p[1], "z", 1), 1);
    char c = 0;
    assert_int_equal(read(fds.fd[0], &c, 1), 1);
    assert_int_equal(c, 'z');
    qrexec_fds_close(&fds);
    free(payload);

    /* the non-blocking reader refuses an oversized length at once */
    struct qrexec_reader r;
    qrexec_reader_init(&r, 100);
    uint8_t big[8];
    qrexec_hdr_encode(big, MSG_TRIGGER_SERVICE3, 101);
    assert_int_equal(write(sv[0], big, 8), 8);
    qrexec_set_nonblock(sv[1], true);
    assert_int_equal(qrexec_reader_feed(&r, sv[1]), -1);
    assert_int_equal(errno, EMSGSIZE);
    qrexec_reader_free(&r);

    /* a message split in pieces is assembled, the descriptor kept */
    qrexec_reader_init(&r, 100);
    m = (struct buf)BUF_INIT;
    qrexec_params_encode(&m, MSG_CONNECTION_TERMINATED, 0, 600);
    assert_int_equal(qrexec_send_all(sv[0], m.data, 5, p[1]), 0);
    assert_int_equal(qrexec_reader_feed(&r, sv[1]), 0);
    assert_int_equal(write(sv[0], m.data + 5, m.len - 5), (ssize_t)(m.len - 5));
    assert_int_equal(qrexec_reader_feed(&r, sv[1]), 1);
    assert_int_equal(r.hdr.type, MSG_CONNECTION_TERMINATED);
    assert_int_equal(qrexec_get_u32(r.payload + 4), 600);
    assert_true(qrexec_fds_any(&r.fds));
    qrexec_reader_next(&r);
    close(sv[0]);
    assert_int_equal(qrexec_reader_feed(&r, sv[1]), -1);
    assert_int_equal(errno, 0);
    qrexec_reader_free(&r);
    buf_free(&m);
    close(sv[1]);
    close(p[0]);
    close(p[1]);
}

/* The service side of the data phase cuts 200000 bytes into chunks of at most 64 KiB, then
 * sends EOF on both streams and the exit code. */
static void test_pump_chunking(void **state)
{
    (void)state;
    int sv[2], out[2], err[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(pipe(out), 0);
    assert_int_equal(pipe(err), 0);
    pid_t writer = fork();
    assert_true(writer >= 0);
    if (writer == 0) {
        close(out[0]);
        static char data[200000];
        memset(data, 'x', sizeof(data));
        size_t off = 0;
        while (off < sizeof(data)) {
            ssize_t n = write(out[1], data + off, sizeof(data) - off);
            if (n <= 0)
                _exit(1);
            off += (size_t)n;
        }
        _exit(0);
    }
    close(out[1]);
    close(err[1]);
    pid_t pumper = fork();
    assert_true(pumper >= 0);
    if (pumper == 0) {
        close(sv[1]);
        struct qrexec_pump_cfg cfg = { .remote_fd = sv[0],
                                       .version = 3,
                                       .is_service = true,
                                       .in_fd = -1,
                                       .out_fd = out[0],
                                       .err_fd = err[0],
                                       .child = -1,
                                       .preset_code = 42 };
        const char *why;
        _exit(qrexec_pump_run(&cfg, &why) == 0 ? 0 : 1);
    }
    close(sv[0]);
    close(out[0]);
    close(err[0]);
    size_t total = 0, max = 0;
    bool out_eof = false, err_eof = false;
    int code = -1;
    for (;;) {
        uint8_t h[8];
        if (qrexec_recv_all(sv[1], h, 8, NULL) < 0)
            break;
        struct msg_header mh = qrexec_hdr_decode(h);
        assert_true(mh.len <= 65536);
        uint8_t *p = malloc(mh.len + 1);
        assert_int_equal(qrexec_recv_all(sv[1], p, mh.len, NULL), 0);
        if (mh.type == MSG_DATA_STDOUT) {
            assert_false(out_eof);
            if (mh.len == 0)
                out_eof = true;
            total += mh.len;
            if (mh.len > max)
                max = mh.len;
        } else if (mh.type == MSG_DATA_STDERR) {
            assert_int_equal(mh.len, 0);
            err_eof = true;
        } else {
            assert_int_equal(mh.type, MSG_DATA_EXIT_CODE);
            code = qrexec_exit_code_decode(p, mh.len);
        }
        free(p);
    }
    assert_int_equal(total, 200000);
    assert_true(max <= 65536);
    assert_true(out_eof && err_eof);
    assert_int_equal(code, 42);
    int st;
    assert_int_equal(waitpid(pumper, &st, 0), pumper);
    assert_int_equal(st, 0);
    assert_int_equal(waitpid(writer, &st, 0), writer);
    close(sv[1]);
}

/* Runs a client-side pump on sv0 with its stdout to a pipe (the socket -> pipe splice
 * path), feeds it msgs on sv1 (then closes sv1) and collects what reaches the pipe.
 * Returns the pump's result. */
static int pump_client_to_pipe(const struct buf *msgs, struct buf *got)
{
    int sv[2], out[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(pipe(out), 0);
    pid_t pumper = fork();
    assert_true(pumper >= 0);
    if (pumper == 0) {
        close(sv[1]);
        close(out[0]);
        struct qrexec_pump_cfg cfg = { .remote_fd = sv[0],
                                       .version = 3,
                                       .is_service = false,
                                       .in_fd = -1,
                                       .out_fd = out[1],
                                       .err_fd = -1,
                                       .child = -1 };
        const char *why;
        int code = qrexec_pump_run(&cfg, &why);
        _exit(code < 0 ? 255 : code);
    }
    close(sv[0]);
    close(out[1]);
    /* write the messages and read the pipe at once: neither may stall the other */
    qrexec_set_nonblock(sv[1], true);
    size_t sent = 0;
    for (;;) {
        struct pollfd pfd[2] = { { .fd = out[0], .events = POLLIN },
                                 { .fd = sent < msgs->len ? sv[1] : -1, .events = POLLOUT } };
        assert_true(poll(pfd, 2, 10000) > 0);
        if (pfd[1].revents & POLLOUT) {
            ssize_t n = send(sv[1], msgs->data + sent, msgs->len - sent, MSG_NOSIGNAL);
            assert_true(n > 0);
            sent += (size_t)n;
            if (sent == msgs->len)
                close(sv[1]);
        }
        if (pfd[0].revents) {
            buf_reserve(got, 65536);
            ssize_t n = read(out[0], got->data + got->len, 65536);
            assert_true(n >= 0);
            if (n == 0)
                break;
            got->len += (size_t)n;
        }
    }
    if (sent < msgs->len)
        close(sv[1]);
    close(out[0]);
    int st;
    assert_int_equal(waitpid(pumper, &st, 0), pumper);
    assert_true(WIFEXITED(st));
    return WEXITSTATUS(st) == 255 ? -1 : WEXITSTATUS(st);
}

/* Messages of every size up to the 64 KiB limit reach a pipe byte for byte and in order
 * (spliced from the socket), and the exit code after them is the pump's result. */
static void test_pump_splice_to_pipe(void **state)
{
    (void)state;
    struct buf msgs = BUF_INIT, want = BUF_INIT, got = BUF_INIT;
    static uint8_t chunk[65536];
    uint32_t x = 12345;
    const size_t sizes[] = { 1, 65536, 7, 4096, 65535, 65536, 300, 65536, 1 };
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        for (size_t k = 0; k < sizes[i]; k++) {
            x = x * 1103515245u + 12345u;
            chunk[k] = (uint8_t)(x >> 16);
        }
        qrexec_msg_encode(&msgs, MSG_DATA_STDOUT, chunk, sizes[i]);
        buf_append(&want, chunk, sizes[i]);
    }
    qrexec_msg_encode(&msgs, MSG_DATA_STDERR, "dropped: no stderr", 18);
    qrexec_msg_encode(&msgs, MSG_DATA_STDOUT, NULL, 0);
    qrexec_exit_code_encode(&msgs, 7);
    assert_int_equal(pump_client_to_pipe(&msgs, &got), 7);
    assert_int_equal(got.len, want.len);
    assert_memory_equal(got.data, want.data, want.len);
    buf_free(&msgs);
    buf_free(&want);
    buf_free(&got);
}

/* A stream cut inside a message's payload: what came of it reaches the pipe, nothing after,
 * and the call fails (no exit code). A header over the size limit is a protocol violation
 * before any of its payload is passed on. */
static void test_pump_splice_cut_and_oversize(void **state)
{
    (void)state;
    struct buf msgs = BUF_INIT, got = BUF_INIT;
    static uint8_t chunk[65536];
    memset(chunk, 'a', sizeof(chunk));
    qrexec_msg_encode(&msgs, MSG_DATA_STDOUT, chunk, 100);
    qrexec_msg_encode(&msgs, MSG_DATA_STDOUT, chunk, 65536);
    msgs.len -= 65536 - 1000; /* the second payload stops after 1000 bytes */
    assert_int_equal(pump_client_to_pipe(&msgs, &got), -1);
    assert_int_equal(got.len, 1100);
    buf_reset(&msgs);
    buf_reset(&got);

    qrexec_msg_encode(&msgs, MSG_DATA_STDOUT, chunk, 10);
    uint8_t hdr[QREXEC_HDR_SIZE];
    qrexec_hdr_encode(hdr, MSG_DATA_STDOUT, 65537);
    buf_append(&msgs, hdr, sizeof(hdr));
    buf_append(&msgs, chunk, 65536);
    buf_append(&msgs, "x", 1);
    qrexec_exit_code_encode(&msgs, 0);
    assert_int_equal(pump_client_to_pipe(&msgs, &got), -1);
    assert_int_equal(got.len, 10);
    buf_free(&msgs);
    buf_free(&got);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode_exact_bytes),
        cmocka_unit_test(test_hello_negotiation),
        cmocka_unit_test(test_sizes_from_agent),
        cmocka_unit_test(test_sizes_other_roles),
        cmocka_unit_test(test_chunk_limits),
        cmocka_unit_test(test_exec_decode),
        cmocka_unit_test(test_trigger3),
        cmocka_unit_test(test_cmdline),
        cmocka_unit_test(test_transport_fds),
        cmocka_unit_test(test_pump_chunking),
        cmocka_unit_test(test_pump_splice_to_pipe),
        cmocka_unit_test(test_pump_splice_cut_and_oversize),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
