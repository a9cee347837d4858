/* The capped, rotating log file: cuts, repeat collapsing with its window, rotation, several
 * writers of one file, and the test override of the cap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "common/log.h"
#include "common/log_file.h"

struct fixture {
    char dir[64];
    char *path;
    char *rotated;
};

static int setup(void **state)
{
    struct fixture *f = xcalloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/test_log_file.XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    f->path = xasprintf("%s/x.log", f->dir);
    f->rotated = xasprintf("%s/x.log.1", f->dir);
    unsetenv(LOG_FILE_MAX_BYTES_ENV);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    unlink(f->path);
    unlink(f->rotated);
    rmdir(f->dir);
    free(f->path);
    free(f->rotated);
    free(f);
    return 0;
}

/* The file's lines without their timestamps, joined by '|'; "" if there is no file. */
static char *bodies(const char *path)
{
    _cleanup_fclose_ FILE *in = fopen(path, "r");
    struct buf out = BUF_INIT;
    buf_append_str(&out, "");
    if (!in)
        return buf_steal(&out);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, in)) > 0) {
        assert_int_equal(line[n - 1], '\n');
        line[n - 1] = '\0';
        /* 2024-01-02T03:04:05.678Z */
        char *sp = strchr(line, ' ');
        assert_non_null(sp);
        assert_int_equal(sp - line, 24);
        assert_int_equal(line[23], 'Z');
        buf_printf(&out, "%s%s", out.len ? "|" : "", sp + 1);
    }
    free(line);
    return buf_steal(&out);
}

static long long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

static struct log_time at(long sec)
{
    struct log_time t = { .real = { .tv_sec = 1700000000 + sec }, .mono_ms = sec * 1000LL };
    return t;
}

static void put(struct log_file *lf, const char *body, long sec)
{
    struct log_time t = at(sec);
    log_file_line_at(lf, body, strlen(body), &t);
}

static void open_small(struct log_file *lf, const char *path, size_t max)
{
    struct qerror err = { 0 };
    struct log_file_opts opts = { .max_bytes = max, .mirror_fd = -1 };
    assert_int_equal(log_file_open(lf, path, &opts, &err), 0);
}

static void expect_bodies(const char *path, const char *want)
{
    _cleanup_free_ char *got = bodies(path);
    assert_string_equal(got, want);
}

static void test_cut(void **state)
{
    (void)state;
    _cleanup_free_ char *same = log_cut("test.Echo+x", 11);
    assert_string_equal(same, "test.Echo+x");
    _cleanup_free_ char *cut = log_cut("test.Echo+x", 4);
    assert_string_equal(cut, "test\xe2\x80\xa6(cut, 11 bytes)");
    _cleanup_free_ char *empty = log_cut("", 0);
    assert_string_equal(empty, "");
    char big[70000];
    memset(big, 'A', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    _cleanup_free_ char *b = log_cut(big, 255);
    assert_int_equal(strlen(b), 255 + strlen(LOG_CUT_MARK "69999 bytes)"));
    assert_string_equal(b + 255, LOG_CUT_MARK "69999 bytes)");
}

static void test_repeats_collapse_until_the_run_ends(void **state)
{
    struct fixture *f = *state;
    struct log_file lf;
    open_small(&lf, f->path, 0);
    put(&lf, "a", 0);
    put(&lf, "a", 1);
    put(&lf, "a", 2);
    put(&lf, "b", 3);
    put(&lf, "a", 4);
    put(&lf, "b", 5);
    put(&lf, "b", 6);
    expect_bodies(f->path, "a|message repeated 2 times: [a]|b|a|b");
    log_file_close(&lf); /* the pending repeat is summed up */
    expect_bodies(f->path, "a|message repeated 2 times: [a]|b|a|b|message repeated 1 times: [b]");
}

static void test_repeats_summed_up_at_least_every_window(void **state)
{
    struct fixture *f = *state;
    struct log_file lf;
    open_small(&lf, f->path, 0);
    put(&lf, "a", 0);
    for (long s = 1; s < LOG_REPEAT_WINDOW_S; s++)
        put(&lf, "a", s);
    expect_bodies(f->path, "a");
    put(&lf, "a", LOG_REPEAT_WINDOW_S); /* the window is over: summed up, a new one starts */
    expect_bodies(f->path, "a|message repeated 30 times: [a]");
    put(&lf, "a", LOG_REPEAT_WINDOW_S + 1);
    struct log_time t = at(LOG_REPEAT_WINDOW_S + 2);
    assert_int_equal(log_file_tick_at(&lf, &t), (LOG_REPEAT_WINDOW_S - 2) * 1000L);
    expect_bodies(f->path, "a|message repeated 30 times: [a]");
    t = at(2 * LOG_REPEAT_WINDOW_S);
    assert_int_equal(log_file_tick_at(&lf, &t), -1); /* due: written without another line */
    expect_bodies(f->path, "a|message repeated 30 times: [a]|message repeated 1 times: [a]");
    assert_int_equal(log_file_tick_at(&lf, &t), -1);
    log_file_close(&lf);
    expect_bodies(f->path, "a|message repeated 30 times: [a]|message repeated 1 times: [a]");
}

static void test_same_line_after_a_quiet_window_is_written(void **state)
{
    struct fixture *f = *state;
    struct log_file lf;
    open_small(&lf, f->path, 0);
    put(&lf, "a", 0);
    put(&lf, "a", LOG_REPEAT_WINDOW_S + 5);
    struct log_time t = at(LOG_REPEAT_WINDOW_S + 6);
    assert_int_equal(log_file_tick_at(&lf, &t), -1);
    log_file_close(&lf);
    expect_bodies(f->path, "a|a");
}

static void test_forked_child_leaves_the_run_to_its_parent(void **state)
{
    struct fixture *f = *state;
    struct log_file lf;
    open_small(&lf, f->path, 0);
    put(&lf, "a", 0);
    put(&lf, "a", 1);
    /* the child closed its descriptors and opened something else at the log's number (a
     * socket to another daemon, say): not a byte of log may go there */
    int fd = lf.fd;
    int other[2];
    assert_int_equal(pipe(other), 0);
    assert_int_equal(dup2(other[1], fd), fd);
    log_file_after_fork(&lf);
    put(&lf, "c", 2);
    log_file_close(&lf);
    expect_bodies(f->path, "a|c");
    char b[8];
    assert_int_equal(fcntl(other[0], F_SETFL, O_NONBLOCK), 0);
    assert_int_equal(read(other[0], b, sizeof(b)), -1);
    close(fd);
    close(other[0]);
    close(other[1]);
}

static void test_long_line_cut(void **state)
{
    struct fixture *f = *state;
    struct log_file lf;
    open_small(&lf, f->path, 0);
    char big[LOG_LINE_MAX + 100];
    memset(big, 'x', sizeof(big));
    struct log_time t = at(0);
    log_file_line_at(&lf, big, sizeof(big), &t);
    log_file_close(&lf);
    _cleanup_free_ char *got = bodies(f->path);
    assert_int_equal(strlen(got), LOG_LINE_MAX + strlen(LOG_CUT_MARK "4196 bytes)"));
    assert_string_equal(got + LOG_LINE_MAX, LOG_CUT_MARK "4196 bytes)");
}

/* 24 bytes of stamp, a space, "line NN" and a newline: 33 bytes a line. */
static void test_rotation(void **state)
{
    struct fixture *f = *state;
    struct log_file lf;
    open_small(&lf, f->path, 100);
    char body[16];
    for (int i = 0; i < 10; i++) {
        snprintf(body, sizeof(body), "line %02d", i);
        put(&lf, body, i);
        assert_true(file_size(f->path) <= 100);
    }
    log_file_close(&lf);
    /* 3 lines a file (99 bytes); the oldest rotated away for good */
    expect_bodies(f->rotated, "line 06|line 07|line 08");
    expect_bodies(f->path, "line 09");
    assert_int_equal(file_size(f->rotated), 3 * 33);
}

static void test_rotation_with_repeats(void **state)
{
    struct fixture *f = *state;
    struct log_file lf;
    open_small(&lf, f->path, 150); /* 1000 lines of 30 bytes, three written */
    for (int i = 0; i < 1000; i++)
        put(&lf, "same", 0);
    put(&lf, "other", 1);
    log_file_close(&lf);
    expect_bodies(f->path, "same|message repeated 999 times: [same]|other");
    assert_int_equal(file_size(f->rotated), -1);
}

/* Two processes writing one file: each has its own log_file. Whoever rotates, the other
 * notices and writes on in the new file, not into PATH.1. */
static void test_two_writers_of_one_file(void **state)
{
    struct fixture *f = *state;
    struct log_file a, b;
    open_small(&a, f->path, 100);
    open_small(&b, f->path, 100);
    put(&a, "a 1", 0);
    put(&b, "b 1", 0);
    put(&a, "a 2", 1);
    expect_bodies(f->path, "a 1|b 1|a 2"); /* 3 x 29 bytes */
    put(&b, "b 2", 1);                     /* b rotates */
    expect_bodies(f->rotated, "a 1|b 1|a 2");
    expect_bodies(f->path, "b 2");
    put(&a, "a 3", 2); /* a writes to the new file too */
    expect_bodies(f->path, "b 2|a 3");
    put(&a, "a 4", 3);
    put(&b, "b 3", 3); /* b's file is current: it rotates again */
    expect_bodies(f->rotated, "b 2|a 3|a 4");
    expect_bodies(f->path, "b 3");
    for (int i = 0; i < 50; i++) {
        put(i % 2 ? &a : &b, i % 2 ? "a n" : "b n", 10 + i);
        assert_true(file_size(f->path) <= 100);
        assert_true(file_size(f->rotated) <= 100);
    }
    log_file_close(&a);
    log_file_close(&b);
}

static void test_file_removed_is_made_again(void **state)
{
    struct fixture *f = *state;
    struct log_file lf;
    open_small(&lf, f->path, 0);
    put(&lf, "a", 0);
    unlink(f->path);
    put(&lf, "b", 1);
    log_file_close(&lf);
    expect_bodies(f->path, "b");
}

static void test_cap_from_the_environment(void **state)
{
    struct fixture *f = *state;
    struct log_file lf;
    struct qerror err = { 0 };
    struct {
        const char *value;
        size_t want;
    } cases[] = {
        { "16384", 16384 },
        { "4096", LOG_FILE_MIN_BYTES },
        { "4095", LOG_FILE_MAX_BYTES },        /* below the minimum */
        { "99999999999", LOG_FILE_MAX_BYTES }, /* never larger than the constant */
        { "-5000", LOG_FILE_MAX_BYTES },
        { " 5000", LOG_FILE_MAX_BYTES },
        { "5000x", LOG_FILE_MAX_BYTES },
        { "", LOG_FILE_MAX_BYTES },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        setenv(LOG_FILE_MAX_BYTES_ENV, cases[i].value, 1);
        assert_int_equal(log_file_open(&lf, f->path, NULL, &err), 0);
        assert_int_equal(lf.max_bytes, cases[i].want);
        log_file_close(&lf);
    }
    unsetenv(LOG_FILE_MAX_BYTES_ENV);
    assert_int_equal(log_file_open(&lf, f->path, NULL, &err), 0);
    assert_int_equal(lf.max_bytes, LOG_FILE_MAX_BYTES);
    log_file_close(&lf);
}

/* log.h on top of it: a message too long for a line is cut with the mark, repeats of the
 * daemons' messages collapse. */
static void test_log_messages(void **state)
{
    struct fixture *f = *state;
    log_open_file(f->path, LOG_FILE_AND_STDERR);
    char big[3000];
    memset(big, 'm', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    log_info("qube=x %s", big);
    log_warning("op=y");
    log_warning("op=y");
    log_debug("not logged at the default level");
    log_close();
    _cleanup_free_ char *got = bodies(f->path);
    const char *mark = LOG_CUT_MARK "3006 bytes)|warning op=y|message repeated 1 times: "
                                    "[warning op=y]";
    assert_non_null(strstr(got, mark));
    assert_int_equal(strstr(got, mark) - got, 2047 - strlen(LOG_CUT_MARK "3006 bytes)"));
    assert_memory_equal(got, "info qube=x mmm", 15);
}

static void test_unopenable_file(void **state)
{
    struct fixture *f = *state;
    struct log_file lf;
    struct qerror err = { 0 };
    _cleanup_free_ char *path = xasprintf("%s/no/such/dir.log", f->dir);
    assert_int_equal(log_file_open(&lf, path, NULL, &err), -1);
    assert_non_null(strstr(err.message, "No such file or directory"));
    put(&lf, "lost", 0); /* retried, and lost without harm */
    log_file_close(&lf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cut),
        cmocka_unit_test_setup_teardown(test_repeats_collapse_until_the_run_ends, setup, teardown),
        cmocka_unit_test_setup_teardown(test_repeats_summed_up_at_least_every_window, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_same_line_after_a_quiet_window_is_written, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_forked_child_leaves_the_run_to_its_parent, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_long_line_cut, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotation_with_repeats, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_writers_of_one_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_removed_is_made_again, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cap_from_the_environment, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_messages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unopenable_file, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
