/* cli_getopt's argparse behaviour: negative numbers are arguments, nargs='+' values,
 * and getopt's permutation of positional arguments around them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tools/cli.h"

/* argv strings must be writable, as real ones are */
struct args {
    int argc;
    char *argv[16];
    char storage[16][32];
};

static void args_init(struct args *a, const char *const *words)
{
    memset(a, 0, sizeof(*a));
    for (; words[a->argc]; a->argc++) {
        strcpy(a->storage[a->argc], words[a->argc]);
        a->argv[a->argc] = a->storage[a->argc];
    }
    optind = 0; /* a fresh scan */
}

static const struct option longopts[] = {
    { "class", required_argument, NULL, 'C' },
    { "size", required_argument, NULL, 's' },
    { "flag", no_argument, NULL, 'f' },
    CLI_COMMON_LONGOPTS,
};

static void test_negative_number_is_positional(void **state)
{
    (void)state;
    static const char *const words[] = { "qvm-prefs", "work", "qrexec_timeout", "-1", NULL };
    struct args a;
    args_init(&a, words);
    struct cli cli = { .prog = "t", .usage = "usage: t" };
    assert_int_equal(cli_getopt(&cli, a.argc, a.argv, "s:f" CLI_COMMON_SHORTOPTS, longopts), -1);
    assert_int_equal(a.argc - optind, 3);
    assert_string_equal(a.argv[optind + 2], "-1");
}

static void test_negative_values(void **state)
{
    (void)state;
    static const char *const words[] = { "t", "--size", "-2.5", "-.5", "-f", "x", NULL };
    struct args a;
    args_init(&a, words);
    struct cli cli = { .prog = "t", .usage = "usage: t" };
    assert_int_equal(cli_getopt(&cli, a.argc, a.argv, "s:f" CLI_COMMON_SHORTOPTS, longopts), 's');
    assert_string_equal(optarg, "-2.5");
    assert_int_equal(cli_getopt(&cli, a.argc, a.argv, "s:f" CLI_COMMON_SHORTOPTS, longopts), 'f');
    assert_int_equal(cli_getopt(&cli, a.argc, a.argv, "s:f" CLI_COMMON_SHORTOPTS, longopts), -1);
    assert_int_equal(a.argc - optind, 2);
    assert_string_equal(a.argv[optind], "-.5");
    assert_string_equal(a.argv[optind + 1], "x");
}

static void test_take_values_and_permutation(void **state)
{
    (void)state;
    /* argparse: --class takes what follows up to the next option; "work" before it stays
     * positional */
    static const char *const words[] = { "qvm-ls", "work",   "--class", "AppVM", "TemplateVM",
                                         "-1",     "--flag", "other",   NULL };
    struct args a;
    args_init(&a, words);
    struct cli cli = { .prog = "t", .usage = "usage: t" };
    char **values = NULL;
    size_t n = 0;
    assert_int_equal(cli_getopt(&cli, a.argc, a.argv, "C:f" CLI_COMMON_SHORTOPTS, longopts), 'C');
    cli_take_values(a.argc, a.argv, &values, &n);
    assert_int_equal(n, 3);
    assert_string_equal(values[0], "AppVM");
    assert_string_equal(values[1], "TemplateVM");
    assert_string_equal(values[2], "-1");
    assert_null(values[3]);
    assert_int_equal(cli_getopt(&cli, a.argc, a.argv, "C:f" CLI_COMMON_SHORTOPTS, longopts), 'f');
    assert_int_equal(cli_getopt(&cli, a.argc, a.argv, "C:f" CLI_COMMON_SHORTOPTS, longopts), -1);
    assert_int_equal(a.argc - optind, 2);
    assert_string_equal(a.argv[optind], "work");
    assert_string_equal(a.argv[optind + 1], "other");
    free(values);
}

static void test_take_values_again_replaces(void **state)
{
    (void)state;
    static const char *const words[] = { "t", "--class", "A", "--class", "B", NULL };
    struct args a;
    args_init(&a, words);
    struct cli cli = { .prog = "t", .usage = "usage: t" };
    char **values = NULL;
    size_t n = 0;
    while (cli_getopt(&cli, a.argc, a.argv, "C:" CLI_COMMON_SHORTOPTS, longopts) == 'C')
        cli_take_values(a.argc, a.argv, &values, &n);
    assert_int_equal(n, 1);
    assert_string_equal(values[0], "B");
    free(values);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_negative_number_is_positional),
        cmocka_unit_test(test_negative_values),
        cmocka_unit_test(test_take_values_and_permutation),
        cmocka_unit_test(test_take_values_again_replaces),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
