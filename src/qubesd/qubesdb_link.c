/* Spawning dom0's qubesdb-daemon and writing a qube's first entries. */
#include "qubesd/qubesdb_link.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/paths.h"
#include "common/root.h"
#include "common/spawn.h"
#include "qubesd/qdb_entries.h"
#include "qubesdb/qdb_client.h"

int qubesdb_link_start(const struct app *app, const struct qube *q, int channel,
                       struct qubesdb_link *out, struct qerror *err)
{
    *out = (struct qubesdb_link){ 0 };
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return qerror_errno(err, errno, "qubesdb control socketpair");
    _cleanup_free_ char *program = qubicle_program("qubesdb-daemon");
    _cleanup_free_ char *rel = xasprintf("var/log/qubes/qubesdb.%s.log", q->name);
    _cleanup_free_ char *log_path = qroot_path(rel);
    _cleanup_close_ int log = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (log < 0) {
        close(sv[0]);
        close(sv[1]);
        return qerror_errno(err, errno, "open %s", log_path);
    }
    const char *argv[] = { "qubesdb-daemon", "--qube", q->name, "--channel-fd", "3",
                           "--control-fd",   "4",      NULL };
    const int fds[] = { channel, sv[1] };
    pid_t pid = spawn_helper(program, (char **)argv, log, fds, 2);
    close(sv[1]);
    if (pid < 0) {
        close(sv[0]);
        return qerror_errno(err, errno, "fork");
    }
    out->pid = pid;
    out->client = qdb_open_fd(sv[0]);
    struct qdb_entries e;
    qdb_entries_of(app, q, &e);
    int rc = 0;
    for (size_t i = 0; i < e.n && rc == 0; i++)
        rc = qdb_write(out->client, e.v[i].key, e.v[i].value, strlen(e.v[i].value), err);
    qdb_entries_free(&e);
    if (rc < 0) {
        qerror_prefix(err, "qubesdb of %s: ", q->name);
        qubesdb_link_stop(out);
        return -1;
    }
    return 0;
}

struct qdb_client *qubesdb_link_client(struct qubesdb_link *l, const char *qube, struct qerror *err)
{
    if (!l->client) {
        _cleanup_free_ char *path = qdb_qube_socket(qube, err);
        l->client = path ? qdb_open(path, err) : NULL;
    }
    return l->client;
}

void qubesdb_link_release(struct qubesdb_link *l)
{
    if (l->client)
        qdb_close(l->client);
    *l = (struct qubesdb_link){ 0 };
}

void qubesdb_link_stop(struct qubesdb_link *l)
{
    if (l->pid > 0) {
        kill(l->pid, SIGTERM);
        while (waitpid(l->pid, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    qubesdb_link_release(l);
}
