/* unix_connect and unix_listen: path length, descriptor flags, mode, stale sockets. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/unix_socket.h"

static char dir[] = "/tmp/test_unix_socket.XXXXXX";

static int setup(void **state)
{
    (void)state;
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/s", dir);
    unlink(path);
    return rmdir(dir);
}

static void test_path_too_long(void **state)
{
    (void)state;
    char path[200];
    memset(path, 'a', sizeof(path) - 1);
    path[0] = '/';
    path[sizeof(path) - 1] = '\0';
    struct qerror err = { 0 };
    errno = 0;
    assert_int_equal(unix_connect(path, 0, &err), -1);
    assert_int_equal(errno, ENAMETOOLONG);
    assert_int_equal(err.kind, ERR_QUBES_EXCEPTION);
    assert_true(strncmp(err.message, "socket path too long: /aaa", 26) == 0);
    errno = 0;
    assert_int_equal(unix_listen(path, 0600, 1, NULL), -1);
    assert_int_equal(errno, ENAMETOOLONG);
}

static void test_connect_missing(void **state)
{
    (void)state;
    char path[PATH_MAX], want[PATH_MAX + 64];
    snprintf(path, sizeof(path), "%s/none", dir);
    struct qerror err = { 0 };
    assert_int_equal(unix_connect(path, 0, &err), -1);
    assert_int_equal(errno, ENOENT);
    snprintf(want, sizeof(want), "connect to %s: %s", path, strerror(ENOENT));
    assert_string_equal(err.message, want);
}

static void test_listen_and_connect(void **state)
{
    (void)state;
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/s", dir);
    /* a stale socket from an earlier run is replaced */
    int stale = unix_listen(path, 0600, 1, NULL);
    assert_true(stale >= 0);
    close(stale);
    assert_int_equal(unix_connect(path, 0, NULL), -1);
    assert_int_equal(errno, ECONNREFUSED);

    struct qerror err = { 0 };
    int l = unix_listen(path, 0660, 4, &err);
    assert_true(l >= 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0660);
    char staged[PATH_MAX + 1];
    snprintf(staged, sizeof(staged), "%s~", path);
    assert_int_equal(lstat(staged, &st), -1);
    assert_true(fcntl(l, F_GETFL) & O_NONBLOCK);
    assert_true(fcntl(l, F_GETFD) & FD_CLOEXEC);

    int c = unix_connect(path, 0, &err);
    assert_true(c >= 0);
    assert_false(fcntl(c, F_GETFL) & O_NONBLOCK);
    assert_true(fcntl(c, F_GETFD) & FD_CLOEXEC);
    int a = accept(l, NULL, NULL);
    assert_true(a >= 0);
    assert_int_equal(write(c, "x", 1), 1);
    char ch = 0;
    assert_int_equal(read(a, &ch, 1), 1);
    assert_int_equal(ch, 'x');
    close(a);
    close(c);

    c = unix_connect(path, UNIX_NONBLOCK, NULL);
    assert_true(c >= 0);
    assert_true(fcntl(c, F_GETFL) & O_NONBLOCK);
    close(c);
    close(l);
}

/* a path that fits sun_path but leaves no room for the staging suffix is bound in place */
static void test_listen_longest_path(void **state)
{
    (void)state;
    char path[108];
    int n = snprintf(path, sizeof(path), "%s/", dir);
    memset(path + n, 'l', sizeof(path) - 1 - (size_t)n);
    path[sizeof(path) - 1] = '\0';
    assert_int_equal(strlen(path), 107);
    int l = unix_listen(path, 0600, 1, NULL);
    assert_true(l >= 0);
    int c = unix_connect(path, 0, NULL);
    assert_true(c >= 0);
    close(c);
    close(l);
    assert_int_equal(unlink(path), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_path_too_long),
        cmocka_unit_test(test_connect_missing),
        cmocka_unit_test(test_listen_and_connect),
        cmocka_unit_test(test_listen_longest_path),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
