/* Lookups beneath a directory: every way a tree could point outside itself is
 * refused with a message naming the path, and nothing is made outside. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <dirent.h>
#include <string.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/beneath.h"
#include "common/buf.h"
#include "common/cleanup.h"

struct tree {
    char top[64]; /* holds "vol" (the tree) and "outside" (dom0's) */
    char *vol, *outside;
    int vol_fd;
};

static int setup(void **state)
{
    struct tree *t = xcalloc(1, sizeof(*t));
    snprintf(t->top, sizeof(t->top), "/tmp/test-beneath.XXXXXX");
    if (!mkdtemp(t->top))
        return -1;
    t->vol = xasprintf("%s/vol", t->top);
    t->outside = xasprintf("%s/outside", t->top);
    mkdir(t->vol, 0755);
    mkdir(t->outside, 0755);
    _cleanup_free_ char *d = xasprintf("%s/dir", t->vol);
    mkdir(d, 0755);
    /* the links a hostile tree holds */
    _cleanup_free_ char *abs = xasprintf("%s/abs", t->vol);
    _cleanup_free_ char *rel = xasprintf("%s/rel", t->vol);
    _cleanup_free_ char *inner = xasprintf("%s/inner", t->vol);
    _cleanup_free_ char *magic = xasprintf("%s/magic", t->vol);
    _cleanup_free_ char *file = xasprintf("%s/file", t->vol);
    if (symlink(t->outside, abs) < 0 || symlink("../outside", rel) < 0 ||
        symlink("dir", inner) < 0 || symlink("/proc/self/root", magic) < 0)
        return -1;
    close(open(file, O_CREAT | O_WRONLY, 0644));
    t->vol_fd = open(t->vol, O_PATH | O_DIRECTORY);
    *state = t;
    return t->vol_fd < 0 ? -1 : 0;
}

static int teardown(void **state)
{
    struct tree *t = *state;
    close(t->vol_fd);
    _cleanup_free_ char *cmd = xasprintf("rm -rf '%s'", t->top);
    int rc = system(cmd);
    free(t->vol);
    free(t->outside);
    free(t);
    return rc == 0 ? 0 : -1;
}

static int entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

static void expect_refused(int fd, const struct qerror *err, const char *message)
{
    assert_int_equal(fd, -1);
    assert_string_equal(err->message, message);
}

static void test_plain_paths_open_and_are_made(void **state)
{
    struct tree *t = *state;
    struct qerror err = { 0 };
    int fd = beneath_open(t->vol_fd, "dir", O_PATH | O_DIRECTORY, &err);
    assert_true(fd >= 0);
    close(fd);
    fd = beneath_open(t->vol_fd, "", O_PATH | O_DIRECTORY, &err);
    assert_true(fd >= 0);
    close(fd);
    fd = beneath_mkdirs(t->vol_fd, "dir/a/b", 0750, (uid_t)-1, &err);
    assert_true(fd >= 0);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    close(fd);
    /* existing directories are fine */
    fd = beneath_mkdirs(t->vol_fd, "dir/a", 0750, (uid_t)-1, &err);
    assert_true(fd >= 0);
    close(fd);
    fd = beneath_mkfile(t->vol_fd, "dir/a/node", 0644, &err);
    assert_true(fd >= 0);
    close(fd);
}

static void test_links_are_refused_wherever_they_are(void **state)
{
    struct tree *t = *state;
    struct qerror err = { 0 };
    expect_refused(beneath_open(t->vol_fd, "abs", O_PATH, &err), &err,
                   "abs is a symbolic link: refused");
    expect_refused(beneath_open(t->vol_fd, "rel/x", O_PATH, &err), &err,
                   "rel/x is a symbolic link: refused");
    /* even a link that stays inside */
    expect_refused(beneath_open(t->vol_fd, "inner", O_PATH, &err), &err,
                   "inner is a symbolic link: refused");
    expect_refused(beneath_open(t->vol_fd, "magic/etc", O_PATH, &err), &err,
                   "magic/etc is a symbolic link: refused");
    /* mkdir -p stops at the first link and names the path up to it */
    expect_refused(beneath_mkdirs(t->vol_fd, "abs/local", 0755, (uid_t)-1, &err), &err,
                   "abs is a symbolic link: refused");
    expect_refused(beneath_mkdirs(t->vol_fd, "dir/../rel/local", 0755, (uid_t)-1, &err), &err,
                   "dir/../rel/local: not a plain relative path");
    expect_refused(beneath_mkdirs(t->vol_fd, "rel", 0755, (uid_t)-1, &err), &err,
                   "rel is a symbolic link: refused");
    expect_refused(beneath_mkfile(t->vol_fd, "abs/node", 0644, &err), &err,
                   "abs is a symbolic link: refused");
    assert_int_equal(entries(t->outside), 0);
}

static void test_no_way_up_or_out(void **state)
{
    struct tree *t = *state;
    struct qerror err = { 0 };
    expect_refused(beneath_open(t->vol_fd, "..", O_PATH, &err), &err,
                   "..: not a plain relative path");
    expect_refused(beneath_open(t->vol_fd, "/etc", O_PATH, &err), &err,
                   "/etc: not a plain relative path");
    expect_refused(beneath_open(t->vol_fd, "file/x", O_PATH, &err), &err,
                   "file/x is not a directory");
    expect_refused(beneath_mkdirs(t->vol_fd, "file/x", 0755, (uid_t)-1, &err), &err,
                   "file is not a directory");
    /* an existing name, a file or a link, is not made again */
    assert_int_equal(beneath_mkfile(t->vol_fd, "abs", 0644, &err), -1);
    assert_int_equal(beneath_mkfile(t->vol_fd, "file", 0644, &err), -1);
    /* no crossing into another mount: /proc is one */
    _cleanup_close_ int root = open("/", O_PATH | O_DIRECTORY);
    expect_refused(beneath_open(root, "proc/self", O_PATH, &err), &err,
                   "proc/self leads out of the volume: refused");
    assert_int_equal(beneath_open_optional(t->vol_fd, "missing", &err), -1);
    assert_int_equal(beneath_open_optional(t->vol_fd, "abs", &err), -1);
    assert_string_equal(err.message, "abs is a symbolic link: refused");
    assert_int_equal(entries(t->outside), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_plain_paths_open_and_are_made, setup, teardown),
        cmocka_unit_test_setup_teardown(test_links_are_refused_wherever_they_are, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_way_up_or_out, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
