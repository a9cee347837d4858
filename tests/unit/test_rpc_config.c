/* qrexec service config files: upstream toml.c's accepted syntax and its refusals, the
 * force-user incompatibilities, and the lookup of "svc+arg" then "svc" along a path list. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "qrexec/rpc_config.h"

static int parse(const char *text, struct qrexec_rpc_config *cfg, struct qerror *err)
{
    return qrexec_rpc_config_parse(text, strlen(text), "f", cfg, err);
}

static void expect_ok(const char *text, bool wait, const char *user, bool skip, bool client_eof,
                      bool service_eof)
{
    struct qrexec_rpc_config cfg;
    struct qerror err = { 0 };
    if (parse(text, &cfg, &err) < 0)
        fail_msg("'%s': %s", text, err.message);
    assert_int_equal(cfg.wait_for_session, wait);
    if (user)
        assert_string_equal(cfg.force_user, user);
    else
        assert_null(cfg.force_user);
    assert_int_equal(cfg.skip_service_descriptor, skip);
    assert_int_equal(cfg.exit_on_client_eof, client_eof);
    assert_int_equal(cfg.exit_on_service_eof, service_eof);
    assert_null(cfg.file);
    qrexec_rpc_config_free(&cfg);
}

static void expect_wait(const char *text, bool wait)
{
    expect_ok(text, wait, NULL, false, false, false);
}

static void expect_error(const char *text, const char *message)
{
    struct qrexec_rpc_config cfg;
    struct qerror err = { 0 };
    assert_int_equal(qrexec_rpc_config_parse(text, strlen(text), "f", &cfg, &err), -1);
    assert_string_equal(err.message, message);
    /* a refused file leaves nothing set */
    assert_false(cfg.wait_for_session);
    assert_null(cfg.force_user);
}

static void test_syntax(void **state)
{
    (void)state;
    expect_wait("", false);
    expect_wait("\n\n# comment\n#wait-for-session=true\n", false);
    expect_wait("wait-for-session=true\n", true);
    expect_wait("wait-for-session=1\n", true);
    expect_wait("wait-for-session=0\n", false);
    expect_wait("wait-for-session=false", false);
    expect_wait("wait-for-session = true", true);
    expect_wait("wait-for-session\t=\t\ttrue \t\n", true);
    expect_wait("wait-for-session=true# comment\n", true);
    expect_wait("wait-for-session=1 # comment\n", true);
    expect_wait("wait-for-session=true\r\n", true);
    expect_wait("wait-for-session=1\r\n\r\n", true);
    expect_ok("force-user='root'\n", false, "root", false, false, false);
    expect_ok("force-user = 'user' # the default user\n", false, "user", false, false, false);
    expect_ok("skip-service-descriptor=true\nexit-on-client-eof=true\nexit-on-service-eof=true\n",
              false, NULL, true, true, true);
    expect_ok("skip-service-descriptor=false\nexit-on-client-eof=false\n"
              "exit-on-service-eof=false\nforce-user='u1000'\nwait-for-session=true\n",
              true, "u1000", false, false, false);
    /* unknown keys are ignored, with a warning, if their value is valid */
    expect_wait("new-key=12345\nOther_Key.x='#'\nwait-for-session=true\nk=false\n", true);
    expect_wait("\r\n#x\r\n", false);
}

static void test_refused(void **state)
{
    (void)state;
    expect_error("wait-for-session=2\n", "f:1: Unsupported integer value 2 for boolean");
    expect_error("wait-for-session=01\n",
                 "f:1: Unexpected junk after integer; note that only decimal integers with no "
                 "excess leading zeros are supported");
    expect_error("wait-for-session=1x\n",
                 "f:1: Unexpected junk after integer; note that only decimal integers with no "
                 "excess leading zeros are supported");
    expect_error("x=99999999999999999999\n", "f:1: Integer out of range");
    expect_error("wait-for-session='true'\n", "f:1: String not valid for wait-for-session");
    expect_error("wait-for-session=True\n", "f:1: Unsupported start of value: 'T'");
    expect_error("wait-for-session=yes\n", "f:1: Unsupported start of value: 'y'");
    expect_error("wait-for-session=tru\n", "f:1: Unexpected unquoted string");
    expect_error("wait-for-session=falsey\n", "f:1: Unexpected junk after value");
    expect_error("wait-for-session=\n", "f:1: Unsupported byte at start of value: 0");
    expect_error("wait-for-session=-1\n", "f:1: Unsupported start of value: '-'");
    expect_error("wait-for-session true\n", "f:1: Missing '=' after key");
    expect_error("wait for-session=true\n", "f:1: Missing '=' after key");
    expect_error("wait-for-session=true\nwait-for-session=false\n",
                 "f:2: Key wait-for-session already seen");
    expect_error("skip-service-descriptor=1\n",
                 "f:1: Integer not valid for skip-service-descriptor");
    expect_error("exit-on-client-eof='yes'\n", "f:1: String not valid for exit-on-client-eof");
    expect_error("exit-on-service-eof=0\n", "f:1: Integer not valid for exit-on-service-eof");
    expect_error("force-user=true\n", "f:1: Boolean not valid for user name or user ID");
    expect_error("force-user=0\n", "f:1: Integer not valid for user name or user ID");
    expect_error("force-user=\"root\"\n",
                 "f:1: Double-quoted strings not implemented, use single quotes");
    expect_error("force-user='''root'''\n", "f:1: Triple-quoted strings not implemented");
    expect_error("force-user='root\n", "f:1: Unterminated quoted string");
    expect_error("force-user='root' x\n", "f:1: Unexpected junk after value");
    expect_error("force-user=''\n", "f:1: Invalid user name for force-user");
    expect_error("force-user='a b'\n", "f:1: Invalid user name for force-user");
    expect_error("force-user='a'\nforce-user='b'\n", "f:2: Key force-user already seen");
    expect_error("[section]\n", "f:1: TOML section headers not supported");
    expect_error(" wait-for-session=true\n", "f:1: Unexpected whitespace at start of line");
    expect_error("\twait-for-session=true\n", "f:1: Unexpected whitespace at start of line");
    /* blanks at the end go, but never the first character of a line */
    expect_error("\n \n", "f:2: Unexpected whitespace at start of line");
    expect_error("\n\n  \n", "f:3: Unexpected whitespace at start of line");
    expect_error("1key=true\n", "f:1: Invalid character '1' at start of key");
    expect_error("-key=true\n", "f:1: Invalid character '-' at start of key");
    expect_error("\x01key=true\n", "f:1: Invalid byte 0x1 at start of key");
    expect_error("\xc3\xa9=true\n", "f:1: Invalid byte 0xc3 at start of key");
    expect_error("\r\r\n", "f:1: Invalid byte 0xd at start of key");
    /* only CR LF is a line end: a lone CR at the end of the file is junk */
    expect_error("wait-for-session=true\r", "f:1: Unexpected junk after value");
    /* an unknown key still needs a valid value */
    expect_error("other=maybe\n", "f:1: Unsupported start of value: 'm'");
    /* force-user hands the call to another process: the agent's own socket options cannot
     * apply (upstream qubes-rpc-config/README "Conflicting options") */
    expect_error("force-user='user'\nskip-service-descriptor=true\n",
                 "f:2: 'force-user' cannot be combined with 'skip-service-descriptor=true'");
    expect_error("exit-on-service-eof=true\n\nforce-user='user'\n",
                 "f:3: 'force-user' cannot be combined with 'exit-on-service-eof=true'");
    expect_error("force-user='root'\nexit-on-client-eof=true\n",
                 "f:2: 'force-user' cannot be combined with 'exit-on-client-eof=true'");
    expect_ok("force-user='root'\nexit-on-client-eof=false\nskip-service-descriptor=false\n", false,
              "root", false, false, false);

    struct qrexec_rpc_config cfg;
    struct qerror err = { 0 };
    assert_int_equal(qrexec_rpc_config_parse("a=1\n\0", 5, "f", &cfg, &err), -1);
    assert_string_equal(err.message, "f:2: NUL byte in line");
    assert_int_equal(qrexec_rpc_config_parse("a=1\0\n", 5, "f", &cfg, &err), -1);
    assert_string_equal(err.message, "f:1: NUL byte in line");
}

static void test_size_limit(void **state)
{
    (void)state;
    char text[QREXEC_RPC_CONFIG_MAX + 1];
    memset(text, '#', sizeof(text));
    text[QREXEC_RPC_CONFIG_MAX - 1] = '\n';
    struct qrexec_rpc_config cfg;
    struct qerror err = { 0 };
    assert_int_equal(qrexec_rpc_config_parse(text, QREXEC_RPC_CONFIG_MAX, "f", &cfg, &err), 0);
    assert_int_equal(qrexec_rpc_config_parse(text, QREXEC_RPC_CONFIG_MAX + 1, "f", &cfg, &err), -1);
    assert_string_equal(err.message, "f: larger than 4096 bytes");
    /* one line of the whole size: a 4092-byte string */
    text[0] = 'k';
    text[1] = '=';
    text[2] = '\'';
    memset(text + 3, 'v', QREXEC_RPC_CONFIG_MAX - 4);
    text[QREXEC_RPC_CONFIG_MAX - 1] = '\'';
    assert_int_equal(qrexec_rpc_config_parse(text, QREXEC_RPC_CONFIG_MAX, "f", &cfg, &err), 0);
}

/* A scratch tree of config directories. */
static char root[64];

static void write_file(const char *rel, const char *text)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", root, rel);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int setup_tree(void **state)
{
    (void)state;
    snprintf(root, sizeof(root), "/tmp/test_rpc_config.XXXXXX");
    if (!mkdtemp(root))
        return -1;
    char path[256];
    snprintf(path, sizeof(path), "%s/a", root);
    mkdir(path, 0755);
    snprintf(path, sizeof(path), "%s/b", root);
    mkdir(path, 0755);
    snprintf(path, sizeof(path), "%s/b/qubes.Dir", root);
    mkdir(path, 0755);
    write_file("a/qubes.Svc", "wait-for-session=true\n");
    write_file("b/qubes.Svc+arg", "force-user='root'\n");
    write_file("b/qubes.Other", "force-user='nobody'\n");
    write_file("a/qubes.Bad", "\n\nwait-for-session=maybe\n");
    unsetenv("QUBES_RPC_CONFIG_PATH");
    log_set_level(LOG_ERROR);
    return 0;
}

static int teardown_tree(void **state)
{
    (void)state;
    const char *files[] = { "a/qubes.Svc",
                            "b/qubes.Svc+arg",
                            "b/qubes.Other",
                            "a/qubes.Bad",
                            "a/qubes.Big",
                            "b/qubes.Dir",
                            "a",
                            "b" };
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        char path[256];
        snprintf(path, sizeof(path), "%s/%s", root, files[i]);
        if (unlink(path) < 0)
            rmdir(path);
    }
    return rmdir(root);
}

static void test_lookup(void **state)
{
    (void)state;
    char dirs[256];
    snprintf(dirs, sizeof(dirs), "::%s/missing:%s/a::%s/b:", root, root, root);
    struct qrexec_rpc_config cfg;
    struct qerror err = { 0 };
    char want[256];

    /* "svc+arg" anywhere in the list wins over "svc" in an earlier directory */
    assert_int_equal(qrexec_rpc_config_load("qubes.Svc+arg", "qubes.Svc", dirs, &cfg, &err), 0);
    assert_string_equal(cfg.force_user, "root");
    assert_false(cfg.wait_for_session);
    snprintf(want, sizeof(want), "%s/b/qubes.Svc+arg", root);
    assert_string_equal(cfg.file, want);
    qrexec_rpc_config_free(&cfg);

    assert_int_equal(qrexec_rpc_config_load("qubes.Svc+", "qubes.Svc", dirs, &cfg, &err), 0);
    assert_true(cfg.wait_for_session);
    assert_null(cfg.force_user);
    qrexec_rpc_config_free(&cfg);

    assert_int_equal(qrexec_rpc_config_load("qubes.Other+x", "qubes.Other", dirs, &cfg, &err), 0);
    assert_string_equal(cfg.force_user, "nobody");
    qrexec_rpc_config_free(&cfg);

    /* no file: defaults */
    assert_int_equal(qrexec_rpc_config_load("qubes.None+", "qubes.None", dirs, &cfg, &err), 0);
    assert_false(cfg.wait_for_session);
    assert_null(cfg.force_user);
    assert_null(cfg.file);

    /* a name longer than a file name can be is looked up without its argument */
    char long_name[300];
    memset(long_name, 'a', sizeof(long_name));
    memcpy(long_name, "qubes.Svc+", 10);
    long_name[sizeof(long_name) - 1] = '\0';
    assert_int_equal(qrexec_rpc_config_load(long_name, "qubes.Svc", dirs, &cfg, &err), 0);
    assert_true(cfg.wait_for_session);
    qrexec_rpc_config_free(&cfg);

    /* a bad file refuses the call, naming file and line */
    assert_int_equal(qrexec_rpc_config_load("qubes.Bad+", "qubes.Bad", dirs, &cfg, &err), -1);
    snprintf(want, sizeof(want), "%s/a/qubes.Bad:3: Unsupported start of value: 'm'", root);
    assert_string_equal(err.message, want);
    assert_null(cfg.file);

    assert_int_equal(qrexec_rpc_config_load("qubes.Dir+", "qubes.Dir", dirs, &cfg, &err), -1);
    snprintf(want, sizeof(want), "%s/b/qubes.Dir: not a regular file", root);
    assert_string_equal(err.message, want);

    char big[QREXEC_RPC_CONFIG_MAX + 2];
    memset(big, '\n', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    write_file("a/qubes.Big", big);
    assert_int_equal(qrexec_rpc_config_load("qubes.Big+", "qubes.Big", dirs, &cfg, &err), -1);
    snprintf(want, sizeof(want), "%s/a/qubes.Big: larger than 4096 bytes", root);
    assert_string_equal(err.message, want);
    big[QREXEC_RPC_CONFIG_MAX] = '\0';
    write_file("a/qubes.Big", big);
    assert_int_equal(qrexec_rpc_config_load("qubes.Big+", "qubes.Big", dirs, &cfg, &err), 0);
    qrexec_rpc_config_free(&cfg);

    assert_int_equal(qrexec_rpc_config_load("../x", "..", dirs, &cfg, &err), -1);
    assert_int_equal(qrexec_rpc_config_load("", "", dirs, &cfg, &err), -1);

    /* the environment overrides the list given */
    snprintf(want, sizeof(want), "%s/b", root);
    setenv("QUBES_RPC_CONFIG_PATH", want, 1);
    assert_int_equal(qrexec_rpc_config_load("qubes.Svc+", "qubes.Svc", dirs, &cfg, &err), 0);
    assert_false(cfg.wait_for_session);
    assert_null(cfg.file);
    assert_int_equal(qrexec_rpc_config_load("qubes.Other+", "qubes.Other", NULL, &cfg, &err), 0);
    assert_string_equal(cfg.force_user, "nobody");
    qrexec_rpc_config_free(&cfg);
    unsetenv("QUBES_RPC_CONFIG_PATH");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_syntax),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_size_limit),
        cmocka_unit_test_setup_teardown(test_lookup, setup_tree, teardown_tree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
