/* cli_getopt's argparse behaviour: negative numbers are arguments, nargs='+' values,
 * and getopt's permutation of positional arguments around them; qprops_parse's reading of
 * a GetAll answer. */
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

/* A GetAll answer: escapes undone, empty values kept, sorted by name, lines
 * without a value rejected. */
static void test_qprops_parse(void **state)
{
    (void)state;
    static const char answer[] = "name default=False type=str work\n"
                                 "kernelopts default=False type=str a\\\\b\\nc\n"
                                 "\n"
                                 "ip default=True type=str \n"
                                 "audiovm default=True type=vm dom0\n"
                                 "label default=False type=label red";
    struct qprop *p = NULL;
    size_t n = 0;
    struct qerror err = { 0 };
    assert_int_equal(qprops_parse(answer, strlen(answer), &p, &n, &err), 0);
    assert_int_equal(n, 5);
    const char *names[] = { "audiovm", "ip", "kernelopts", "label", "name" };
    for (size_t i = 0; i < n; i++)
        assert_string_equal(p[i].name, names[i]);
    assert_string_equal(p[0].type, "vm");
    assert_true(p[0].is_default);
    assert_string_equal(p[0].value, "dom0");
    assert_string_equal(p[1].value, "");
    assert_string_equal(p[2].value, "a\\b\nc"); /* \\ and \n undone */
    assert_false(p[2].is_default);
    assert_string_equal(p[3].type, "label");
    assert_string_equal(p[3].value, "red");
    assert_ptr_equal(qprops_find(p, n, "ip"), &p[1]);
    assert_null(qprops_find(p, n, "netvm"));
    qprops_free(p, n);

    static const char bad[] = "name default=False type=str work\nnovalue\n";
    p = NULL;
    assert_int_equal(qprops_parse(bad, strlen(bad), &p, &n, &err), -1);
    assert_int_equal(err.kind, ERR_QUBES_DAEMON_COMMUNICATION_ERROR);
    assert_null(p);
    static const char bad_type[] = "name default=maybe type=str work\n";
    assert_int_equal(qprops_parse(bad_type, strlen(bad_type), &p, &n, &err), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_negative_number_is_positional),
        cmocka_unit_test(test_negative_values),
        cmocka_unit_test(test_take_values_and_permutation),
        cmocka_unit_test(test_take_values_again_replaces),
        cmocka_unit_test(test_qprops_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
