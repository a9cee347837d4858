/* qubesdb end to end: the real qubesdb-daemon in dom0 mode and in qube mode joined by a
 * socketpair, as the sandbox driver joins them. dom0's entries written on the control
 * descriptor are read back in the qube through the tools and the client library, watches fire
 * on dom0's updates, the qube's writes reach dom0's copy; and a hostile qube (the test on the
 * channel) ends the dom0 daemon with status 1 and no change beyond what was valid. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "qubesdb/qdb_client.h"
#include "qubesdb/qdb_proto.h"

static char root[64];
static char qube_socket[160];
static char dom0_socket[160];

struct daemon {
    pid_t pid;
    int other_end; /* the test's end: the channel (hostile tests) or unused */
    struct qdb_client *control;
    char log[160];
};

static int setup(void **state)
{
    (void)state;
    snprintf(root, sizeof(root), "/tmp/qdb-test.XXXXXX");
    assert_non_null(mkdtemp(root));
    setenv("QUBES_ROOT", root, 1);
    snprintf(qube_socket, sizeof(qube_socket), "%s/run/qubes/qubesdb.sock", root);
    snprintf(dom0_socket, sizeof(dom0_socket), "%s/run/qubes/qubesdb.work.sock", root);
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
    return system(cmd) == 0 ? 0 : -1;
}

/* Starts argv with the descriptors in keep inherited, stderr to log. */
static pid_t spawn(char *const argv[], const int *keep, size_t nkeep, const char *log)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        for (size_t i = 0; i < nkeep; i++)
            fcntl(keep[i], F_SETFD, 0);
        if (log) {
            int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
            dup2(fd, 2);
        }
        execv(argv[0], argv);
        _exit(127);
    }
    return pid;
}

/* The exit status of pid within ms, or -1 (then it is killed). */
static int wait_exit(pid_t pid, int ms)
{
    for (int t = 0; t < ms; t += 10) {
        int status;
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        struct timespec ts = { 0, 10 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1;
}

static bool file_contains(const char *path, const char *what)
{
    _cleanup_buf_ struct buf b = BUF_INIT;
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        buf_append(&b, chunk, n);
    fclose(f);
    return b.data && strstr(b.data, what);
}

/* dom0's daemon for qube "work": *chan is the qube's end of the channel. */
static void start_dom0(struct daemon *d, int *chan)
{
    int ch[2], ctl[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ch), 0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ctl), 0);
    char chan_fd[16], ctl_fd[16];
    snprintf(chan_fd, sizeof(chan_fd), "%d", ch[0]);
    snprintf(ctl_fd, sizeof(ctl_fd), "%d", ctl[0]);
    snprintf(d->log, sizeof(d->log), "%s/dom0.log", root);
    unlink(d->log);
    char *argv[] = { QDB_DAEMON, "--qube",       "work", "--channel-fd",
                     chan_fd,    "--control-fd", ctl_fd, NULL };
    int keep[] = { ch[0], ctl[0] };
    d->pid = spawn(argv, keep, 2, d->log);
    close(ch[0]);
    close(ctl[0]);
    *chan = ch[1];
    d->control = qdb_open_fd(ctl[1]);
    d->other_end = -1;
}

/* The qube's daemon on chan, returned once it says it is synced. */
static void start_qube(struct daemon *q, int chan)
{
    int ready[2];
    assert_int_equal(pipe2(ready, O_CLOEXEC), 0);
    char chan_fd[16], ready_fd[16];
    snprintf(chan_fd, sizeof(chan_fd), "%d", chan);
    snprintf(ready_fd, sizeof(ready_fd), "%d", ready[1]);
    snprintf(q->log, sizeof(q->log), "%s/qube.log", root);
    char *argv[] = { QDB_DAEMON,  "--channel-fd", chan_fd,  "--socket",
                     qube_socket, "--ready-fd",   ready_fd, NULL };
    int keep[] = { chan, ready[1] };
    q->pid = spawn(argv, keep, 2, q->log);
    close(chan);
    close(ready[1]);
    struct pollfd p = { .fd = ready[0], .events = POLLIN };
    assert_int_equal(poll(&p, 1, 5000), 1);
    char b = 0;
    assert_int_equal(read(ready[0], &b, 1), 1);
    assert_int_equal(b, '\n');
    close(ready[0]);
    q->control = NULL;
}

/* Runs a tool (argv[0] a name in the tools' directory); its exit status and stdout. */
static int tool(const char *dir, struct buf *out, const char *name, ...)
{
    char *argv[16];
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    argv[0] = path;
    size_t n = 1;
    va_list ap;
    va_start(ap, name);
    const char *a;
    while ((a = va_arg(ap, const char *)) && n < 15)
        argv[n++] = (char *)a;
    va_end(ap);
    argv[n] = NULL;
    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(p[1], 1);
        int nul = open("/dev/null", O_WRONLY);
        dup2(nul, 2);
        execv(argv[0], argv);
        _exit(127);
    }
    close(p[1]);
    buf_reset(out);
    char chunk[4096];
    ssize_t r;
    while ((r = read(p[0], chunk, sizeof(chunk))) > 0)
        buf_append(out, chunk, (size_t)r);
    close(p[0]);
    buf_append(out, "", 0);
    return wait_exit(pid, 5000);
}

static void control_write(struct daemon *d, const char *key, const char *value)
{
    struct qerror err = { 0 };
    assert_int_equal(qdb_write(d->control, key, value, strlen(value), &err), 0);
}

/* The next watch event within ms, into path; false if none came. */
static bool next_event(struct qdb_client *c, char path[QDB_MAX_PATH], int ms)
{
    struct qerror err = { 0 };
    if (!qdb_watch_pending(c)) {
        struct pollfd p = { .fd = qdb_watch_fd(c), .events = POLLIN };
        if (poll(&p, 1, ms) != 1)
            return false;
    }
    return qdb_read_watch(c, path, &err) == 0;
}

static void test_dom0_to_qube(void **state)
{
    (void)state;
    struct daemon dom0, qube;
    int chan;
    struct qerror err = { 0 };
    _cleanup_buf_ struct buf out = BUF_INIT;
    start_dom0(&dom0, &chan);
    /* what qubesd writes before the qube starts */
    control_write(&dom0, "/name", "work");
    control_write(&dom0, "/qubes-ip", "10.137.0.3");
    control_write(&dom0, "/qubes-ip6", "fd09:24ef:4179::a89:3");
    control_write(&dom0, "/qubes-firewall/10.137.0.3/policy", "drop");
    control_write(&dom0, "/qubes-firewall/10.137.0.3/0000", "action=accept");
    control_write(&dom0, "/qubes-base-template", "");
    control_write(&dom0, "/escaped", "a\nb\x01\xc3\xa9");
    start_qube(&qube, chan);

    /* the tools, dom0's build of them (sanitized in the ASan build) */
    assert_int_equal(tool(QDB_BIN_DIR, &out, "qubesdb-read", "/name", NULL), 0);
    assert_string_equal(out.data, "work\n");
    assert_int_equal(tool(QDB_BIN_DIR, &out, "qubesdb-read", "-f", "/qubes-ip", "/nope", NULL), 1);
    assert_string_equal(out.data, "/qubes-ip = 10.137.0.3\n");
    assert_int_equal(tool(QDB_BIN_DIR, &out, "qubesdb-read", "/escaped", NULL), 0);
    assert_string_equal(out.data, "a\\x0ab\\x01\\xc3\\xa9\n");
    assert_int_equal(tool(QDB_BIN_DIR, &out, "qubesdb-read", "-r", "/escaped", NULL), 0);
    assert_string_equal(out.data, "a\nb\x01\xc3\xa9\n");
    assert_int_equal(tool(QDB_BIN_DIR, &out, "qubesdb-multiread", "/qubes-ip", NULL), 0);
    assert_string_equal(out.data, " = 10.137.0.3\n6 = fd09:24ef:4179::a89:3\n");
    assert_int_equal(tool(QDB_BIN_DIR, &out, "qubesdb-list", "/qubes-firewall/10.137.0.3/", NULL),
                     0);
    assert_string_equal(out.data, "0000\npolicy\n");
    assert_int_equal(tool(QDB_BIN_DIR, &out, "qubesdb-read-bool", "/qubes-base-template", NULL), 1);
    assert_int_equal(tool(QDB_BIN_DIR, &out, "qubesdb-read-bool", "/name", NULL), 0);
    assert_int_equal(tool(QDB_BIN_DIR, &out, "qubesdb-read-bool", "/nope", "5", NULL), 5);
    assert_int_equal(tool(QDB_BIN_DIR, &out, "qubesdb-cmd", NULL), 0);
    /* and the static build that qubes run */
    assert_int_equal(tool(QDB_GUEST_BIN_DIR, &out, "qubesdb-read", "/name", NULL), 0);
    assert_string_equal(out.data, "work\n");

    /* the library: read, multiread, list */
    struct qdb_client *c = qdb_open(NULL, &err);
    assert_non_null(c);
    char *value = NULL;
    uint32_t len = 0;
    assert_int_equal(qdb_read(c, "/qubes-ip", &value, &len, &err), 1);
    assert_string_equal(value, "10.137.0.3");
    assert_int_equal(len, 10);
    free(value);
    assert_int_equal(qdb_read(c, "/missing", &value, &len, &err), 0);
    struct qdb_items items;
    assert_int_equal(qdb_multiread(c, "/qubes-firewall/", &items, &err), 0);
    assert_int_equal(items.n, 2);
    assert_string_equal(items.items[0].path, "/qubes-firewall/10.137.0.3/0000");
    assert_string_equal(items.items[0].value, "action=accept");
    qdb_items_free(&items);

    /* watches fire on dom0's updates, as Qubes' firewall agent uses them */
    assert_int_equal(qdb_watch(c, "/qubes-firewall/", &err), 0);
    assert_int_equal(qdb_watch(c, "/qubes-ip", &err), 0);
    char fired[QDB_MAX_PATH];
    control_write(&dom0, "/qubes-ip6", "fd09::9"); /* no watch on it: no event */
    assert_int_equal(qdb_rm(dom0.control, "/qubes-firewall/10.137.0.3/", &err), 0);
    control_write(&dom0, "/qubes-firewall/10.137.0.3/policy", "accept");
    control_write(&dom0, "/qubes-firewall/10.137.0.3", "");
    control_write(&dom0, "/qubes-ip", "10.137.0.9");
    const char *want[] = { "/qubes-firewall/10.137.0.3/", "/qubes-firewall/10.137.0.3/policy",
                           "/qubes-firewall/10.137.0.3", "/qubes-ip" };
    for (size_t i = 0; i < 4; i++) {
        assert_true(next_event(c, fired, 5000));
        assert_string_equal(fired, want[i]);
    }
    assert_false(next_event(c, fired, 100));
    assert_int_equal(qdb_read(c, "/qubes-firewall/10.137.0.3/0000", &value, &len, &err), 0);
    assert_int_equal(qdb_read(c, "/qubes-ip6", &value, &len, &err), 1);
    assert_string_equal(value, "fd09::9");
    free(value);

    /* a watch through the tool: qubesdb-watch prints the fired path */
    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    pid_t w = fork();
    if (w == 0) {
        dup2(p[1], 1);
        execl(QDB_BIN_DIR "/qubesdb-watch", "qubesdb-watch", "/name", (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    /* once it watches, the write fires it; retry until it has registered */
    char line[64] = "";
    struct pollfd pw = { .fd = p[0], .events = POLLIN };
    for (int i = 0; i < 50 && poll(&pw, 1, 100) == 0; i++)
        control_write(&dom0, "/name", "work");
    assert_true(read(p[0], line, sizeof(line) - 1) > 0);
    assert_string_equal(line, "/name\n");
    close(p[0]);
    assert_int_equal(wait_exit(w, 5000), 0);

    /* the qube's writes reach dom0's copy, and dom0's watchers */
    assert_int_equal(qdb_watch(dom0.control, "/qubes-firewall-handled/", &err), 0);
    assert_int_equal(
        tool(QDB_BIN_DIR, &out, "qubesdb-write", "/qubes-firewall-handled/10.137.0.3", "1", NULL),
        0);
    assert_true(next_event(dom0.control, fired, 5000));
    assert_string_equal(fired, "/qubes-firewall-handled/10.137.0.3");
    assert_int_equal(tool(QDB_BIN_DIR, &out, "qubesdb-read", "-d", "work",
                          "/qubes-firewall-handled/10.137.0.3", NULL),
                     0);
    assert_string_equal(out.data, "1\n");
    assert_int_equal(tool(QDB_BIN_DIR, &out, "qubesdb-rm", "/qubes-firewall-handled/", NULL), 0);
    assert_true(next_event(dom0.control, fired, 5000));
    assert_string_equal(fired, "/qubes-firewall-handled/");
    assert_int_equal(
        qdb_read(dom0.control, "/qubes-firewall-handled/10.137.0.3", &value, &len, &err), 0);
    assert_int_equal(tool(QDB_BIN_DIR, &out, "qubesdb-write", "/odd", NULL), 1);
    assert_int_equal(tool(QDB_BIN_DIR, &out, "qubesdb-write", "/bad path", "x", NULL), 1);
    assert_int_equal(tool(QDB_BIN_DIR, &out, "qubesdb-read", "-d", "other", "/name", NULL), 1);

    /* SIGTERM ends the qube's daemon cleanly and removes its socket; dom0's follows when the
     * channel ends */
    qdb_close(c);
    kill(qube.pid, SIGTERM);
    assert_int_equal(wait_exit(qube.pid, 5000), 0);
    struct stat st;
    assert_int_equal(stat(qube_socket, &st), -1);
    assert_int_equal(wait_exit(dom0.pid, 5000), 0);
    assert_int_equal(stat(dom0_socket, &st), -1);
    assert_true(file_contains(dom0.log, "op=exit reason=channel-closed"));
    qdb_close(dom0.control);
}

static void test_qube_background(void **state)
{
    (void)state;
    struct daemon dom0;
    int chan;
    start_dom0(&dom0, &chan);
    control_write(&dom0, "/name", "bg");
    char chan_fd[16];
    snprintf(chan_fd, sizeof(chan_fd), "%d", chan);
    char *argv[] = { QDB_DAEMON,  "--channel-fd", chan_fd, "--socket",
                     qube_socket, "--background", NULL };
    char log[160];
    snprintf(log, sizeof(log), "%s/bg.log", root);
    pid_t starter = spawn(argv, &chan, 1, log);
    close(chan);
    /* the starting process returns once the database is there */
    assert_int_equal(wait_exit(starter, 5000), 0);
    _cleanup_buf_ struct buf out = BUF_INIT;
    assert_int_equal(tool(QDB_BIN_DIR, &out, "qubesdb-read", "/name", NULL), 0);
    assert_string_equal(out.data, "bg\n");
    /* ending dom0's daemon ends the channel, and with it the qube's daemon */
    kill(dom0.pid, SIGTERM);
    assert_int_equal(wait_exit(dom0.pid, 5000), 0);
    for (int i = 0; i < 500 && access(qube_socket, F_OK) == 0; i++)
        usleep(10000);
    assert_int_equal(access(qube_socket, F_OK), -1);
    qdb_close(dom0.control);

    /* a channel that closes before the dump: the starter says so */
    int ch[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ch), 0);
    snprintf(chan_fd, sizeof(chan_fd), "%d", ch[0]);
    starter = spawn(argv, ch, 1, log);
    close(ch[0]);
    close(ch[1]);
    assert_int_equal(wait_exit(starter, 5000), 1);
}

/* Plays the qube against a fresh dom0 daemon: syncs, writes /valid, sends hostile bytes; the
 * daemon must exit 1 with why in its log, and dom0's watcher see only /valid change. */
static void hostile(const void *bytes, size_t len, const char *why)
{
    struct daemon dom0;
    int chan;
    struct qerror err = { 0 };
    start_dom0(&dom0, &chan);
    control_write(&dom0, "/name", "work");
    assert_int_equal(qdb_watch(dom0.control, "/", &err), 0);

    _cleanup_buf_ struct buf msg = BUF_INIT;
    qdb_msg_encode(&msg, QDB_CMD_MULTIREAD, "", NULL, 0);
    assert_int_equal(write(chan, msg.data, msg.len), (ssize_t)msg.len);
    uint8_t dump[2 * QDB_HDR_SIZE + 4];
    size_t got = 0;
    while (got < sizeof(dump)) {
        ssize_t r = read(chan, dump + got, sizeof(dump) - got);
        assert_true(r > 0);
        got += (size_t)r;
    }
    assert_int_equal(dump[0], QDB_RESP_MULTIREAD);
    assert_string_equal((char *)dump + 1, "/name");
    assert_int_equal(dump[QDB_HDR_SIZE + 4], QDB_RESP_MULTIREAD);
    assert_int_equal(dump[QDB_HDR_SIZE + 5], 0);

    buf_reset(&msg);
    qdb_msg_encode(&msg, QDB_CMD_WRITE, "/valid", "yes", 3);
    buf_append(&msg, bytes, len);
    assert_int_equal(write(chan, msg.data, msg.len), (ssize_t)msg.len);
    assert_int_equal(wait_exit(dom0.pid, 5000), 1);
    if (!file_contains(dom0.log, why))
        fail_msg("dom0 log lacks \"%s\"", why);
    assert_true(file_contains(dom0.log, "result=protocol-violation"));
    /* dom0's watcher saw /valid, and nothing after it */
    char fired[QDB_MAX_PATH];
    assert_true(next_event(dom0.control, fired, 5000));
    assert_string_equal(fired, "/valid");
    assert_false(next_event(dom0.control, fired, 100));
    close(chan);
    qdb_close(dom0.control);
}

static void test_hostile_qube(void **state)
{
    (void)state;
    uint8_t h[QDB_HDR_SIZE + 8];
    uint32_t len;

    memset(h, 0, sizeof(h)); /* a path with a character outside the set */
    h[0] = QDB_CMD_WRITE;
    memcpy(h + 1, "/name x", 7);
    len = 4;
    memcpy(h + 68, &len, 4);
    memcpy(h + 72, "evil", 4);
    hostile(h, QDB_HDR_SIZE + 4, "CMD_WRITE: write of an invalid key");

    memset(h, 0, sizeof(h)); /* an oversize length: refused on the header alone */
    h[0] = QDB_CMD_WRITE;
    memcpy(h + 1, "/name", 5);
    len = 3072;
    memcpy(h + 68, &len, 4);
    hostile(h, QDB_HDR_SIZE, "data length of 3072 bytes or more");

    memset(h, 0, sizeof(h)); /* an unknown type */
    h[0] = 14;
    memcpy(h + 1, "/name", 5);
    hostile(h, QDB_HDR_SIZE, "unknown message type");

    memset(h, 0, sizeof(h)); /* a second MULTIREAD */
    h[0] = QDB_CMD_MULTIREAD;
    hostile(h, QDB_HDR_SIZE, "second CMD_MULTIREAD");

    memset(h, 0, sizeof(h)); /* a NUL inside a value */
    h[0] = QDB_CMD_WRITE;
    memcpy(h + 1, "/name", 5);
    len = 3;
    memcpy(h + 68, &len, 4);
    memcpy(h + 72, "a\0b", 3);
    hostile(h, QDB_HDR_SIZE + 3, "value with a NUL byte");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dom0_to_qube),
        cmocka_unit_test(test_qube_background),
        cmocka_unit_test(test_hostile_qube),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
