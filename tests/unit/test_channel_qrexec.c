/* The real qrexec-daemon and qrexec-agent over the channel relays (a socketpair for the wire):
 * they do not know they are tunnelled. qrexec-client calls run through them, many at once,
 * with their data, exit codes and the end of the channel when the daemon goes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "channel/relay.h"

extern char **environ;

struct relay_run {
    struct channel_relay_config cfg;
    struct qerror err;
    int rc;
    pthread_t th;
};

static void *relay_main(void *p)
{
    struct relay_run *r = p;
    r->rc = channel_relay_run(&r->cfg, &r->err);
    return NULL;
}

static char root[] = "/tmp/test_channel_qrexec.XXXXXX";

static char *root_file(const char *name)
{
    static char path[8][PATH_MAX];
    static int next;
    char *p = path[next++ % 8];
    snprintf(p, PATH_MAX, "%s/%s", root, name);
    return p;
}

/* Starts argv with fd `channel` as its fd 3 (or none), stdin/stdout from the given files
 * (NULL: /dev/null) and stderr into the root's log. */
static pid_t spawn(char *const argv[], int channel, const char *in, const char *out)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, in ? in : "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, out ? out : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC,
                                     0600);
    posix_spawn_file_actions_addopen(&fa, 2, root_file("log"), O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (channel >= 0) {
        assert_int_not_equal(channel, 3); /* dup2 onto itself would keep O_CLOEXEC */
        posix_spawn_file_actions_adddup2(&fa, channel, 3);
    }
    pid_t pid;
    assert_int_equal(posix_spawn(&pid, argv[0], &fa, NULL, argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    return pid;
}

static int wait_exit(pid_t pid)
{
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    return WEXITSTATUS(st);
}

static void write_file(const char *path, size_t len, unsigned seed)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (size_t i = 0; i < len; i++)
        fputc((int)((i * 131 + seed * 7 + (i >> 10)) & 0xff), f);
    fclose(f);
}

static bool same_files(const char *a, const char *b)
{
    FILE *fa = fopen(a, "r"), *fb = fopen(b, "r");
    bool same = fa && fb;
    while (same) {
        int x = fgetc(fa), y = fgetc(fb);
        same = x == y;
        if (x == EOF)
            break;
    }
    if (fa)
        fclose(fa);
    if (fb)
        fclose(fb);
    return same;
}

#define CALLS 16

static void test_real_daemon_and_agent(void **state)
{
    (void)state;
    assert_non_null(mkdtemp(root));
    setenv("QUBES_ROOT", root, 1);
    int wire[2], dom0[2], guest[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, wire), 0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, dom0), 0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, guest), 0);
    struct relay_run d = { .cfg = { .side = CHANNEL_SIDE_DOM0,
                                    .wire_fd = wire[0],
                                    .local_fd = dom0[1],
                                    .control_fd = -1 } };
    struct relay_run g = { .cfg = { .side = CHANNEL_SIDE_GUEST,
                                    .wire_fd = wire[1],
                                    .local_fd = guest[1],
                                    .control_fd = -1 } };
    assert_int_equal(pthread_create(&d.th, NULL, relay_main, &d), 0);
    assert_int_equal(pthread_create(&g.th, NULL, relay_main, &g), 0);

    char *agent_argv[] = { QREXEC_AGENT,       "--channel-fd",       "3",
                           "--trigger-socket", root_file("trigger"), NULL };
    pid_t agent = spawn(agent_argv, guest[0], NULL, NULL);
    close(guest[0]);
    char *daemon_argv[] = { QREXEC_DAEMON, "--qube", "work", "--channel-fd", "3",
                            "--domid",     "7",      "-q",   "-n",           NULL };
    pid_t daemon = spawn(daemon_argv, dom0[0], NULL, NULL);
    close(dom0[0]);
    const char *sock = root_file("run/qubes/qrexec.work");
    struct stat sb;
    for (int i = 0; i < 500 && stat(sock, &sb) < 0; i++)
        usleep(10000);
    assert_int_equal(stat(sock, &sb), 0);

    /* many calls at once, each with its own data stream both ways */
    pid_t client[CALLS];
    for (unsigned i = 0; i < CALLS; i++) {
        char in[32], out[32];
        snprintf(in, sizeof(in), "in%u", i);
        snprintf(out, sizeof(out), "out%u", i);
        write_file(root_file(in), 100000u * (i % 4) + i, i);
        char *argv[] = { QREXEC_CLIENT, "-d", "work", "root:cat", NULL };
        client[i] = spawn(argv, -1, root_file(in), root_file(out));
    }
    for (unsigned i = 0; i < CALLS; i++) {
        char in[32], out[32];
        snprintf(in, sizeof(in), "in%u", i);
        snprintf(out, sizeof(out), "out%u", i);
        assert_int_equal(wait_exit(client[i]), 0);
        assert_true(same_files(root_file(in), root_file(out)));
    }

    /* the service's exit code and stderr-free output come back as over the sandbox channel */
    char *code_argv[] = { QREXEC_CLIENT, "-d", "work", "root:echo tunnelled; exit 7", NULL };
    pid_t c = spawn(code_argv, -1, NULL, root_file("code.out"));
    assert_int_equal(wait_exit(c), 7);
    FILE *f = fopen(root_file("code.out"), "r");
    assert_non_null(f);
    char line[64] = "";
    assert_non_null(fgets(line, sizeof(line), f));
    fclose(f);
    assert_string_equal(line, "tunnelled\n");

    /* the daemon goes: both relays end, and the agent sees its channel close */
    kill(daemon, SIGTERM);
    waitpid(daemon, NULL, 0);
    pthread_join(d.th, NULL);
    pthread_join(g.th, NULL);
    assert_int_equal(d.rc, 0);
    assert_int_equal(g.rc, 0);
    wait_exit(agent);
    for (int i = 0; i < 2; i++) {
        close(wire[i]);
    }
    close(dom0[1]);
    close(guest[1]);
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    alarm(120); /* a hang is a failure */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_real_daemon_and_agent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
