/* qubes.VMExec argument decoding (upstream vmexec.py's cases and error order) and the
 * qubes.OpenInVM name block that vm-file-editor accepts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "guest/open_in_vm.h"
#include "guest/vmexec.h"

static void expect_argv(const char *arg, const char *const *want)
{
    size_t argc = 0;
    const char *why = NULL;
    char **argv = vmexec_decode(arg, &argc, &why);
    if (!argv)
        fail_msg("%s: %s", arg, why);
    size_t n = 0;
    while (want[n])
        n++;
    assert_int_equal(argc, n);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(argv[i], want[i]);
    assert_null(argv[n]);
    free(argv);
}

static void expect_error(const char *arg, const char *why_want)
{
    size_t argc = 99;
    const char *why = NULL;
    char **argv = vmexec_decode(arg, &argc, &why);
    assert_null(argv);
    assert_int_equal(argc, 99);
    assert_string_equal(why, why_want);
}

static void test_decode(void **state)
{
    (void)state;
    expect_argv("ls", (const char *[]){ "ls", NULL });
    expect_argv("ls+-2Fhome", (const char *[]){ "ls", "/home", NULL });
    expect_argv("echo+Hello-20World-21", (const char *[]){ "echo", "Hello World!", NULL });
    expect_argv("a--b+--+----", (const char *[]){ "a-b", "-", "--", NULL });
    expect_argv("---41", (const char *[]){ "-A", NULL });
    expect_argv("--41", (const char *[]){ "-41", NULL });
    expect_argv("x+-FF-80", (const char *[]){ "x", "\xff\x80", NULL });
    expect_argv("a.b_c+0123456789", (const char *[]){ "a.b_c", "0123456789", NULL });
    /* empty parts stay: "+" is two empty words, "" one */
    expect_argv("", (const char *[]){ "", NULL });
    expect_argv("+", (const char *[]){ "", "", NULL });
    expect_argv("a++b", (const char *[]){ "a", "", "b", NULL });
    expect_argv("-2B", (const char *[]){ "+", NULL });
}

static void test_decode_errors(void **state)
{
    (void)state;
    const char *illegal = "illegal characters found";
    const char *dash = "'-' can be used only in '-HH' or '--'";
    expect_error("ls /", illegal);
    expect_error("a:b", illegal);
    expect_error("\xc3\xa9", illegal);
    expect_error("-", dash);
    expect_error("a-", dash);
    expect_error("-4", dash);
    expect_error("-4a", dash); /* lower-case hex is no escape */
    expect_error("-G0", dash);
    expect_error("-4-41", dash);
    expect_error("-00", "NUL byte in argument");
    expect_error("a+-00", "NUL byte in argument");
    /* part by part: the first bad part decides, and within a part characters come first */
    expect_error("-x+a b", dash);
    expect_error("a b+-x", illegal);
    expect_error("-x b", illegal);
}

static void test_decode_bounds(void **state)
{
    (void)state;
    char *big = malloc(VMEXEC_MAX_ENCODED + 2);
    assert_non_null(big);
    memset(big, '+', VMEXEC_MAX_ENCODED);
    big[VMEXEC_MAX_ENCODED] = '\0';
    size_t argc = 0;
    const char *why = NULL;
    char **argv = vmexec_decode(big, &argc, &why);
    assert_non_null(argv);
    assert_int_equal(argc, VMEXEC_MAX_ENCODED + 1);
    assert_string_equal(argv[VMEXEC_MAX_ENCODED], "");
    assert_null(argv[VMEXEC_MAX_ENCODED + 1]);
    free(argv);
    big[VMEXEC_MAX_ENCODED] = 'a';
    big[VMEXEC_MAX_ENCODED + 1] = '\0';
    expect_error(big, "argument too long");
    free(big);
}

static void expect_name(const char *block_text, size_t block_len, const char *want,
                        bool want_view_only)
{
    char block[DVM_FILENAME_SIZE] = { 0 };
    memcpy(block, block_text, block_len);
    char name[DVM_FILENAME_SIZE];
    bool view_only = !want_view_only;
    const char *why = NULL;
    if (dvm_name_from_block(block, name, &view_only, &why) < 0)
        fail_msg("%s: %s", block_text, why);
    assert_string_equal(name, want);
    assert_int_equal(view_only, want_view_only);
}

static void expect_name_error(const char *block_text, const char *why_want)
{
    char block[DVM_FILENAME_SIZE] = { 0 };
    memcpy(block, block_text, strlen(block_text));
    char name[DVM_FILENAME_SIZE];
    bool view_only = false;
    const char *why = NULL;
    assert_int_equal(dvm_name_from_block(block, name, &view_only, &why), -1);
    assert_string_equal(why, why_want);
}

static void test_name_block(void **state)
{
    (void)state;
    expect_name("report.pdf", 10, "report.pdf", false);
    expect_name("view-only-report.pdf", 20, "report.pdf", true);
    expect_name("a b;c$(x)`y`.txt", 16, "a_b_c__x__y_.txt", false);
    expect_name("user@host+1-2_3.tar.gz", 22, "user@host+1-2_3.tar.gz", false);
    expect_name("\xc3\xa9t\xc3\xa9\n", 7, "__t___", false);
    expect_name("-rf", 3, "-rf", false);
    expect_name("view-only", 9, "view-only", false);
    /* what follows the first NUL is ignored */
    expect_name("a\0/../b", 7, "a", false);

    /* a full block: the last byte is taken as NUL */
    char block[DVM_FILENAME_SIZE];
    memset(block, 'x', sizeof(block));
    char name[DVM_FILENAME_SIZE];
    bool view_only = true;
    const char *why = NULL;
    assert_int_equal(dvm_name_from_block(block, name, &view_only, &why), 0);
    assert_int_equal(strlen(name), DVM_FILENAME_SIZE - 1);
    assert_false(view_only);

    expect_name_error("a/b", "filename contains /");
    expect_name_error("view-only-../x", "filename contains /");
    expect_name_error("", "invalid file name");
    expect_name_error(".", "invalid file name");
    expect_name_error("..", "invalid file name");
    expect_name_error("view-only-", "invalid file name");
    expect_name_error("view-only-..", "invalid file name");
}

static void test_digest(void **state)
{
    (void)state;
    uint64_t a = guest_digest(GUEST_DIGEST_INIT, "hello", 5);
    uint64_t b = guest_digest(guest_digest(GUEST_DIGEST_INIT, "hel", 3), "lo", 2);
    assert_true(a == b);
    assert_true(a != guest_digest(GUEST_DIGEST_INIT, "hellp", 5));
    assert_true(guest_digest(GUEST_DIGEST_INIT, "", 0) == GUEST_DIGEST_INIT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode),        cmocka_unit_test(test_decode_errors),
        cmocka_unit_test(test_decode_bounds), cmocka_unit_test(test_name_block),
        cmocka_unit_test(test_digest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
