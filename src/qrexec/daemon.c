/* qrexec-daemon: dom0's end of one qube's control channel. Serves local qrexec-client
 * requests on $QUBES_ROOT/run/qubes/qrexec.<qube>, creates a data socketpair per call and
 * hands one end to each side. Calls the qube asks for (MSG_TRIGGER_SERVICE3) are decided and
 * set up by a forked process each (daemon_call.c), which reports back the data socket to
 * give the agent. Everything from the agent is hostile: a malformed message or a descriptor
 * from it ends this (per-qube) daemon. Calls qubes start may hold only part of the data
 * ports, each source qube only its share (ports.h), so dom0's own calls always find one; and
 * what a qube makes this daemon log is cut, collapsed when repeated and capped (log.h). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
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
#include "common/cleanup.h"
#include "common/log.h"
#include "common/log_file.h"
#include "common/mono_time.h"
#include "common/names.h"
#include "common/parse.h"
#include "common/root.h"
#include "common/spawn.h"
#include "common/unix_socket.h"
#include "qrexec/client_call.h"
#include "qrexec/daemon_call.h"
#include "qrexec/ports.h"
#include "qrexec/qrexec_cmdline.h"
#include "qrexec/qrexec_proto.h"
#include "qrexec/transport.h"

#define DEFAULT_STARTUP_TIMEOUT 60

enum client_state { CLIENT_HELLO, CLIENT_CMDLINE, CLIENT_RUNNING };

struct client {
    int fd;
    enum client_state state;
    struct qrexec_reader rd;
    uint32_t port; /* 0 until a call was started */
};

/* A call from the qube being decided by its own process. */
struct pending_call {
    char ident[QREXEC_SERVICE_PARAMS_SIZE];
    int report_fd;
    pid_t pid;
    char *service; /* as logs show it (cut) */
    char target[QREXEC_LOG_DOMAIN_MAX + 1];
};

struct daemon {
    const char *qube;
    const char *default_user;
    uint32_t domid;
    long timeout;
    int control_fd;
    uint32_t version;
    char *socket_path;
    int listen_fd;
    struct qrexec_reader agent_rd;
    struct client *clients[QREXEC_MAX_CLIENTS];
    size_t nclients;
    struct qrexec_ports ports;
    struct client *port_waiter[QREXEC_MAX_CLIENTS]; /* closed when the port is released */
    pid_t port_process[QREXEC_MAX_CLIENTS];         /* a dom0 service holding the port */
    struct pending_call *pending[QREXEC_MAX_CLIENTS];
    size_t npending;
    bool called;     /* the qube has asked for a call: it gets a spare call process */
    pid_t spare_pid; /* 0: none */
    int spare_sock;
};

static volatile sig_atomic_t stop_signal;
static volatile sig_atomic_t child_exited;

static void on_signal(int sig)
{
    if (sig == SIGCHLD)
        child_exited = 1;
    else
        stop_signal = sig;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: qrexec-daemon --qube NAME --channel-fd FD [--domid ID]\n"
            "                     [--default-user USER] [-q] [-n] [--timeout SECONDS]\n"
            "dom0 side of qrexec for one qube: handshakes with its qrexec-agent over the\n"
            "control socket FD and serves qrexec-client on $QUBES_ROOT/run/qubes/qrexec.NAME.\n"
            "  --qube NAME           the qube's name (required)\n"
            "  --channel-fd FD       the connected control socket (required)\n"
            "  --domid ID            the qube's domain id (its qid; default 0)\n"
            "  --default-user USER   replaces a DEFAULT: user prefix (default: user)\n"
            "  --timeout SECONDS     handshake timeout (default: $QREXEC_STARTUP_TIMEOUT or 60)\n"
            "  -q, --quiet           no progress output while waiting for the agent\n"
            "  -n, --foreground      do not fork; no readiness output\n"
            "  -h, --help            this text\n"
            "Without -n the parent exits 0 once the agent answered and the socket exists,\n"
            "3 on timeout, 1 on other failures.\n");
}

/* 0 ok, -1 failure, -2 timeout. */
static int agent_handshake(struct daemon *d, int timeout_s)
{
    int64_t deadline = mono_ms() + 1000 * (int64_t)timeout_s;
    struct qrexec_reader r;
    qrexec_reader_init(&r, QREXEC_HELLO_SIZE);
    qrexec_set_nonblock(d->control_fd, true);
    int rc;
    for (;;) {
        long left = (long)mono_ms_left(deadline);
        if (left <= 0) {
            rc = -2;
            break;
        }
        struct pollfd p = { .fd = d->control_fd, .events = POLLIN };
        int n = poll(&p, 1, (int)(left > 1000 ? 1000 : left));
        if (n < 0 && errno != EINTR) {
            rc = -1;
            break;
        }
        if (n <= 0)
            continue;
        int f = qrexec_reader_feed(&r, d->control_fd);
        if (f == 0)
            continue;
        if (f < 0) {
            log_error("qube=%s op=hello result=error reason=\"%s\"", d->qube,
                      errno == 0          ? "connection closed"
                      : errno == EMSGSIZE ? "wrong size of HELLO"
                                          : strerror(errno));
            rc = -1;
            break;
        }
        const char *why = NULL;
        if (qrexec_fds_any(&r.fds)) {
            log_error("qube=%s op=hello result=error reason=\"file descriptor from agent\"",
                      d->qube);
            rc = -1;
        } else if (qrexec_hello_decode(&r.hdr, r.payload, QREXEC_PROTOCOL_VERSION,
                                       QREXEC_AGENT_MIN_VERSION, &d->version, &why) < 0) {
            log_error("qube=%s op=hello result=error reason=\"%s\"", d->qube, why);
            rc = -1;
        } else {
            struct buf m = BUF_INIT;
            qrexec_hello_encode(&m, QREXEC_PROTOCOL_VERSION);
            rc = qrexec_send_all(d->control_fd, m.data, m.len, -1);
            buf_free(&m);
            if (rc < 0)
                log_error("qube=%s op=hello result=error reason=\"%s\"", d->qube, strerror(errno));
        }
        break;
    }
    qrexec_reader_free(&r);
    if (rc == 0)
        log_info("qube=%s op=hello result=ok version=%u", d->qube, d->version);
    return rc;
}

static int create_socket(struct daemon *d)
{
    if (qroot_mkdirs("run/qubes", 0755) < 0) {
        log_error("qube=%s op=socket result=error reason=\"mkdir run/qubes: %s\"", d->qube,
                  strerror(errno));
        return -1;
    }
    char *rel = xasprintf("run/qubes/qrexec.%s", d->qube);
    d->socket_path = qroot_path(rel);
    free(rel);
    d->listen_fd = unix_listen(d->socket_path, 0660, 64, NULL);
    if (d->listen_fd < 0 && errno == ENAMETOOLONG) {
        log_error("qube=%s op=socket result=error reason=\"path too long\"", d->qube);
        return -1;
    }
    if (d->listen_fd < 0) {
        log_error("qube=%s op=socket path=%s result=error reason=\"%s\"", d->qube, d->socket_path,
                  strerror(errno));
        return -1;
    }
    return 0;
}

static void drop_client(struct daemon *d, struct client *c)
{
    for (size_t i = 0; i < QREXEC_MAX_CLIENTS; i++)
        if (d->port_waiter[i] == c)
            d->port_waiter[i] = NULL;
    for (size_t i = 0; i < d->nclients; i++)
        if (d->clients[i] == c) {
            d->clients[i] = d->clients[--d->nclients];
            break;
        }
    close(c->fd);
    qrexec_reader_free(&c->rd);
    free(c);
}

static int send_to_agent(struct daemon *d, struct buf *m, int pass_fd)
{
    /* the agent may be slow; it only ever stalls its own daemon */
    qrexec_set_nonblock(d->control_fd, false);
    int rc = qrexec_send_all(d->control_fd, m->data, m->len, pass_fd);
    qrexec_set_nonblock(d->control_fd, true);
    buf_free(m);
    return rc;
}

/* A call from a local client: -1 drops the client, -2 ends the daemon (agent gone). */
static int start_call(struct daemon *d, struct client *c)
{
    const char *why = NULL;
    struct qrexec_exec_req req;
    if (qrexec_check_header(QREXEC_FROM_CLIENT, &c->rd.hdr, QREXEC_PROTOCOL_VERSION, &why) < 0 ||
        qrexec_exec_decode(c->rd.payload, c->rd.hdr.len, &req, &why) < 0) {
        log_warning("qube=%s op=client result=refused reason=\"%s\"", d->qube, why);
        return -1;
    }
    if (req.connect_port != 0) {
        log_warning("qube=%s op=client result=refused reason=\"preset port\"", d->qube);
        return -1;
    }
    /* connect_domain: 0 for dom0's own call, else the qube that asked for it (daemon_call.c
     * of that qube's daemon says which) */
    struct qrexec_port_claim claim = { .by_qube = req.connect_domain != QREXEC_CLIENT_DOM0,
                                       .source = req.connect_domain };
    char *cmdline = qrexec_cmdline_expand_default(req.cmdline, d->default_user);
    if (strlen(cmdline) + 1 > QREXEC_MAX_CMD_LEN) {
        free(cmdline);
        log_warning("qube=%s op=client result=refused reason=\"command line too long\"", d->qube);
        return -1;
    }
    uint32_t port;
    if (qrexec_ports_take(&d->ports, &claim, &port, &why) < 0) {
        free(cmdline);
        /* the refusal of the protocol: the client's connection closes without a reply */
        log_warning("qube=%s op=client source_domid=%u result=refused reason=\"%s\" "
                    "held_by_source=%u held_by_qubes=%u limits=%u/%u",
                    d->qube, req.connect_domain, why,
                    claim.by_qube ? qrexec_ports_held_by(&d->ports, claim.source) : 0,
                    d->ports.n_by_qube, QREXEC_MAX_CALLS_PER_SOURCE, QREXEC_QUBE_PORTS);
        return -1;
    }
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        qrexec_ports_release(&d->ports, port);
        free(cmdline);
        log_error("qube=%s op=call result=error reason=\"socketpair: %s\"", d->qube,
                  strerror(errno));
        return -1;
    }
    uint32_t type = c->rd.hdr.type;
    struct buf m = BUF_INIT;
    qrexec_exec_encode(&m, type, 0, port, cmdline);
    free(cmdline);
    /* the reply names this qube as the other end, as upstream's {domX_id, P} */
    if (send_to_agent(d, &m, sv[0]) < 0) {
        close(sv[0]);
        close(sv[1]);
        log_error("qube=%s op=call result=error reason=\"agent: %s\"", d->qube, strerror(errno));
        return -2;
    }
    close(sv[0]);
    qrexec_params_encode(&m, type, d->domid, port);
    int rc = qrexec_send_all(c->fd, m.data, m.len, sv[1]);
    buf_free(&m);
    close(sv[1]);
    log_info("qube=%s op=call type=%s source_domid=%u port=%u result=%s", d->qube,
             qrexec_msg_type_name(type), req.connect_domain, port, rc < 0 ? "client-gone" : "ok");
    if (rc < 0)
        return -1; /* the port is released when the agent's side ends */
    c->state = CLIENT_RUNNING;
    c->port = port;
    d->port_waiter[port - QREXEC_BASE_DATA_PORT] = c;
    return 0;
}

/* -1 drops the client, -2 ends the daemon. */
static int handle_client(struct daemon *d, struct client *c)
{
    for (;;) {
        int f = qrexec_reader_feed(&c->rd, c->fd);
        if (f == 0)
            return 0;
        if (f < 0)
            return -1; /* EOF, error or oversized: just this client */
        if (qrexec_fds_any(&c->rd.fds)) {
            log_warning("qube=%s op=client result=refused reason=\"file descriptor from client\"",
                        d->qube);
            return -1;
        }
        int rc = 0;
        switch (c->state) {
        case CLIENT_HELLO: {
            const char *why = NULL;
            uint32_t v;
            if (qrexec_hello_decode(&c->rd.hdr, c->rd.payload, QREXEC_CLIENT_PROTOCOL_VERSION,
                                    QREXEC_CLIENT_PROTOCOL_VERSION, &v, &why) < 0 ||
                qrexec_get_u32(c->rd.payload) != QREXEC_CLIENT_PROTOCOL_VERSION) {
                log_warning("qube=%s op=client result=refused reason=\"%s\"", d->qube,
                            why ? why : "incompatible protocol version");
                rc = -1;
            } else {
                c->state = CLIENT_CMDLINE;
            }
            break;
        }
        case CLIENT_CMDLINE: rc = start_call(d, c); break;
        case CLIENT_RUNNING:
            log_warning("qube=%s op=client result=refused reason=\"data after the call\"", d->qube);
            rc = -1;
            break;
        }
        qrexec_reader_next(&c->rd);
        if (rc < 0)
            return rc;
    }
}

static void accept_client(struct daemon *d)
{
    int fd = accept4(d->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0)
        return;
    if (d->nclients >= QREXEC_MAX_CLIENTS) {
        log_warning("qube=%s op=client result=refused reason=\"too many clients\"", d->qube);
        close(fd);
        return;
    }
    struct buf m = BUF_INIT;
    qrexec_hello_encode(&m, QREXEC_CLIENT_PROTOCOL_VERSION);
    int rc = qrexec_send_all(fd, m.data, m.len, -1);
    buf_free(&m);
    if (rc < 0) {
        close(fd);
        return;
    }
    struct client *c = xcalloc(1, sizeof(*c));
    c->fd = fd;
    c->state = CLIENT_HELLO;
    qrexec_reader_init(&c->rd, qrexec_role_max_len(QREXEC_FROM_CLIENT));
    d->clients[d->nclients++] = c;
}

static int refuse_trigger(struct daemon *d, const char ident[QREXEC_SERVICE_PARAMS_SIZE])
{
    struct buf m = BUF_INIT;
    qrexec_msg_encode(&m, MSG_SERVICE_REFUSED, ident, QREXEC_SERVICE_PARAMS_SIZE);
    return send_to_agent(d, &m, -1);
}

/* What a call process starts with: nothing of the daemon's (not the agent's channel, not
 * other clients), its socket to the daemon as fd 3. */
static void call_process_setup(const struct daemon *d, int sock)
{
    if (dup2(sock, 3) < 0)
        _exit(1);
    close_range(4, ~0U, 0);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGCHLD, SIG_DFL);
    log_after_fork();
    /* work a qube asked for (it may run a dom0 service) is no daemon: the OOM killer
     * takes it before this qube's daemon */
    if (set_oom_score_adj(OOM_SCORE_ADJ_DEFAULT) < 0)
        log_warning("qube=%s op=trigger event=oom-score-adj reason=\"%s\"", d->qube,
                    strerror(errno));
}

__attribute__((noreturn)) static void call_process(const struct daemon *d, const char *target,
                                                   const char *service)
{
    struct qrexec_call_request req = { .source = d->qube,
                                       .source_domid = d->domid,
                                       .target = target,
                                       .service = service,
                                       .timeout = d->timeout };
    qrexec_daemon_call(&req, 3);
}

/* A spare waits for the call it is given: the target, then the service's length and bytes
 * (both sanitized by the daemon already), or EOF when the daemon goes. */
struct spare_request {
    char target[sizeof(((struct qrexec_trigger3 *)0)->target_domain)];
    uint32_t service_len;
};

__attribute__((noreturn)) static void spare_wait(const struct daemon *d)
{
    struct spare_request r;
    if (qrexec_recv_all(3, &r, sizeof(r), NULL) < 0 || r.service_len > QREXEC_MAX_SERVICE_NAME_LEN)
        _exit(0);
    r.target[sizeof(r.target) - 1] = '\0';
    char *service = xmalloc(r.service_len + 1);
    if (qrexec_recv_all(3, service, r.service_len, NULL) < 0)
        _exit(0);
    service[r.service_len] = '\0';
    call_process(d, r.target, service);
}

/* Forks the spare for the qube's next call: a call then costs a wake-up, not a fork. Made
 * once the qube has called, again whenever a call process ended. */
static void spare_make(struct daemon *d)
{
    int sv[2];
    if (d->spare_pid > 0 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return;
    pid_t pid = fork();
    if (pid == 0) {
        call_process_setup(d, sv[1]);
        spare_wait(d);
    }
    close(sv[1]);
    if (pid < 0) {
        close(sv[0]);
        return;
    }
    d->spare_pid = pid;
    d->spare_sock = sv[0];
}

/* An idle spare goes at once (it holds nothing), and is gone when this returns: a daemon
 * that exits leaves no process named like it behind. */
static void spare_drop(struct daemon *d)
{
    if (d->spare_pid <= 0)
        return;
    kill(d->spare_pid, SIGKILL);
    while (waitpid(d->spare_pid, NULL, 0) < 0 && errno == EINTR)
        ;
    close(d->spare_sock);
    d->spare_pid = 0;
    d->spare_sock = -1;
}

/* The call to the spare: its pid and socket, or -1 (no spare, or it is gone). */
static pid_t spare_take(struct daemon *d, const struct qrexec_trigger3 *t, int *sock)
{
    if (d->spare_pid <= 0)
        return -1;
    struct spare_request r = { .service_len = (uint32_t)strlen(t->service_name) };
    snprintf(r.target, sizeof(r.target), "%s", t->target_domain);
    if (qrexec_send_all(d->spare_sock, &r, sizeof(r), -1) < 0 ||
        qrexec_send_all(d->spare_sock, t->service_name, r.service_len, -1) < 0) {
        spare_drop(d);
        return -1;
    }
    pid_t pid = d->spare_pid;
    *sock = d->spare_sock;
    d->spare_pid = 0;
    d->spare_sock = -1;
    return pid;
}

/* Starts the process that decides the call (the spare, else a new one); its report arrives
 * on a socket we poll. */
static int start_trigger(struct daemon *d, const struct qrexec_trigger3 *t)
{
    _cleanup_free_ char *svc = log_cut(t->service_name, QREXEC_LOG_SERVICE_MAX);
    /* each call's outcome is logged at its end, with the service and target */
    log_debug("qube=%s op=trigger service=%s target=%s ident=%.32s", d->qube, svc, t->target_domain,
              t->ident);
    if (d->npending >= QREXEC_MAX_CLIENTS) {
        log_warning("qube=%s op=trigger service=%s target=%s result=refused reason=\"%s\"", d->qube,
                    svc, t->target_domain, "too many pending calls");
        return refuse_trigger(d, t->ident);
    }
    d->called = true;
    int report_fd = -1;
    pid_t pid = spare_take(d, t, &report_fd);
    if (pid < 0) {
        int sv[2] = { -1, -1 };
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
            log_warning("qube=%s op=trigger service=%s target=%s result=refused reason=\"%s\"",
                        d->qube, svc, t->target_domain, strerror(errno));
            return refuse_trigger(d, t->ident);
        }
        pid = fork();
        if (pid < 0) {
            close(sv[0]);
            close(sv[1]);
            log_error("qube=%s op=trigger result=error reason=\"fork: %s\"", d->qube,
                      strerror(errno));
            return refuse_trigger(d, t->ident);
        }
        if (pid == 0) {
            call_process_setup(d, sv[1]);
            call_process(d, t->target_domain, t->service_name);
        }
        close(sv[1]);
        report_fd = sv[0];
    }
    struct pending_call *pc = xcalloc(1, sizeof(*pc));
    memcpy(pc->ident, t->ident, sizeof(pc->ident));
    pc->report_fd = report_fd;
    pc->pid = pid;
    pc->service = steal_pointer(&svc);
    snprintf(pc->target, sizeof(pc->target), "%s", t->target_domain);
    d->pending[d->npending++] = pc;
    return 0;
}

static void drop_pending(struct daemon *d, struct pending_call *pc)
{
    for (size_t i = 0; i < d->npending; i++)
        if (d->pending[i] == pc) {
            d->pending[i] = d->pending[--d->npending];
            break;
        }
    close(pc->report_fd);
    free(pc->service);
    free(pc);
}

/* The decision on a pending call: the data socket to the agent, or a refusal. -1 when the
 * agent's channel failed. */
static int finish_trigger(struct daemon *d, struct pending_call *pc)
{
    struct qrexec_call_report r;
    struct qrexec_fds fds = { .n = 0 };
    qrexec_set_nonblock(pc->report_fd, false);
    bool reported = qrexec_recv_all(pc->report_fd, &r, sizeof(r), &fds) == 0;
    bool connect = reported && r.kind == QREXEC_CALL_CONNECT && fds.n == 1 && !fds.overflow;
    int rc;
    if (!connect) {
        if (reported)
            r.reason[sizeof(r.reason) - 1] = '\0';
        log_info("qube=%s op=trigger service=%s target=%s result=refused reason=\"%s\"", d->qube,
                 pc->service, pc->target,
                 reported ? r.reason : "the call's process ended without a decision");
        rc = refuse_trigger(d, pc->ident);
    } else {
        uint32_t port = r.port;
        const char *why = "the target's daemon named no valid port";
        if (port == 0) { /* dom0 runs the service: the port is ours while it runs */
            struct qrexec_port_claim claim = { .by_qube = true, .source = d->domid };
            if (qrexec_ports_take(&d->ports, &claim, &port, &why) == 0)
                d->port_process[port - QREXEC_BASE_DATA_PORT] = pc->pid;
            else
                port = 0;
        }
        if (!qrexec_port_valid(port)) {
            log_warning("qube=%s op=trigger service=%s target=%s result=refused "
                        "reason=\"%s\"",
                        d->qube, pc->service, pc->target, why);
            rc = refuse_trigger(d, pc->ident);
        } else {
            struct buf m = BUF_INIT;
            struct exec_params ep = { .connect_domain = r.domain, .connect_port = port };
            uint8_t h[QREXEC_HDR_SIZE];
            qrexec_hdr_encode(h, MSG_SERVICE_CONNECT,
                              QREXEC_EXEC_PARAMS_SIZE + QREXEC_SERVICE_PARAMS_SIZE);
            buf_append(&m, h, sizeof(h));
            buf_append(&m, &ep, sizeof(ep));
            buf_append(&m, pc->ident, sizeof(pc->ident));
            rc = send_to_agent(d, &m, fds.fd[0]);
        }
    }
    qrexec_fds_close(&fds);
    drop_pending(d, pc);
    return rc < 0 ? -1 : 0;
}

static void reap_children(struct daemon *d)
{
    child_exited = 0;
    bool call_ended = false;
    for (;;) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid <= 0)
            break;
        if (pid == d->spare_pid) { /* gone idle: the next call forks, and makes a new one */
            close(d->spare_sock);
            d->spare_pid = 0;
            d->spare_sock = -1;
        } else {
            call_ended = true;
        }
        for (size_t i = 0; i < QREXEC_MAX_CLIENTS; i++)
            if (d->port_process[i] == pid) {
                d->port_process[i] = 0;
                qrexec_ports_release(&d->ports, QREXEC_BASE_DATA_PORT + (uint32_t)i);
            }
    }
    /* a call ended: the next one finds its process already forked (not while the call it
     * answers is running) */
    if (call_ended && d->called && !stop_signal)
        spare_make(d);
}

/* One complete message from the agent; -1 is a protocol violation. */
static int handle_agent_msg(struct daemon *d)
{
    const char *why = NULL;
    struct msg_header untrusted_hdr = d->agent_rd.hdr;
    const uint8_t *untrusted_payload = d->agent_rd.payload;
    if (qrexec_fds_any(&d->agent_rd.fds)) {
        log_error("qube=%s op=agent event=protocol-violation reason=\"file descriptor from "
                  "agent\" type=0x%x",
                  d->qube, untrusted_hdr.type);
        return -1;
    }
    if (qrexec_check_header(QREXEC_FROM_AGENT, &untrusted_hdr, d->version, &why) < 0) {
        log_error("qube=%s op=agent event=protocol-violation reason=\"%s\" type=0x%x len=%u",
                  d->qube, why, untrusted_hdr.type, untrusted_hdr.len);
        return -1;
    }
    switch (untrusted_hdr.type) {
    case MSG_CONNECTION_TERMINATED: {
        uint32_t untrusted_domain, untrusted_port;
        if (qrexec_params_decode(untrusted_payload, untrusted_hdr.len, &untrusted_domain,
                                 &untrusted_port, &why) < 0)
            return -1;
        if (qrexec_ports_in_use(&d->ports, untrusted_port) &&
            d->port_process[untrusted_port - QREXEC_BASE_DATA_PORT]) {
            /* a dom0 service's port is released when its process ends, which this daemon
             * sees itself: the qube's word would let it start more than its share of them */
            log_warning("qube=%s op=terminated port=%u result=ignored reason=\"port of a "
                        "running dom0 service\"",
                        d->qube, untrusted_port);
            return 0;
        }
        if (!qrexec_ports_release(&d->ports, untrusted_port)) {
            /* as upstream release_vchan_port: nothing to release */
            log_warning("qube=%s op=terminated port=%u result=ignored reason=\"port not in use\"",
                        d->qube, untrusted_port);
            return 0;
        }
        uint32_t port = untrusted_port; /* a port of this daemon's, in use until now */
        size_t i = port - QREXEC_BASE_DATA_PORT;
        if (d->port_waiter[i]) {
            struct client *c = d->port_waiter[i];
            d->port_waiter[i] = NULL;
            drop_client(d, c);
        }
        log_info("qube=%s op=terminated port=%u", d->qube, port);
        return 0;
    }
    case MSG_TRIGGER_SERVICE3: {
        struct qrexec_trigger3 t;
        if (qrexec_trigger3_decode(untrusted_payload, untrusted_hdr.len, &t, &why) < 0) {
            /* well framed, bad content: refuse this request, keep serving the qube */
            log_warning("qube=%s op=trigger result=refused reason=\"%s\"", d->qube, why);
            return t.ident_ok ? refuse_trigger(d, t.ident) : 0;
        }
        int rc = 0;
        if (!t.ident_ok)
            log_warning("qube=%s op=trigger result=refused reason=\"invalid ident\"", d->qube);
        else
            rc = start_trigger(d, &t);
        free(t.service_name);
        return rc;
    }
    case MSG_TRIGGER_SERVICE:
        log_info("qube=%s op=trigger result=refused reason=\"protocol 2 trigger\"", d->qube);
        return 0;
    default: return -1; /* qrexec_check_header let nothing else through */
    }
}

/* 1 keep going, 0 the agent closed, -1 violation or error. */
static int handle_agent(struct daemon *d)
{
    for (;;) {
        int f = qrexec_reader_feed(&d->agent_rd, d->control_fd);
        if (f == 0)
            return 1;
        if (f < 0) {
            if (errno == 0) {
                log_info("qube=%s op=agent event=closed", d->qube);
                return 0;
            }
            log_error("qube=%s op=agent event=protocol-violation reason=\"%s\" type=0x%x len=%u",
                      d->qube, errno == EMSGSIZE ? "message too long" : strerror(errno),
                      d->agent_rd.hdr.type, d->agent_rd.hdr.len);
            return -1;
        }
        int rc = handle_agent_msg(d);
        qrexec_reader_next(&d->agent_rd);
        if (rc < 0)
            return -1;
    }
}

static int serve(struct daemon *d)
{
    qrexec_reader_init(&d->agent_rd, qrexec_role_max_len(QREXEC_FROM_AGENT));
    qrexec_set_nonblock(d->control_fd, true);
    sigset_t empty;
    sigemptyset(&empty);
    int rc = 0;
    struct pollfd *fds = xcalloc(2 * QREXEC_MAX_CLIENTS + 2, sizeof(*fds));
    struct client **polled = xcalloc(QREXEC_MAX_CLIENTS, sizeof(*polled));
    struct pending_call **polled_calls = xcalloc(QREXEC_MAX_CLIENTS, sizeof(*polled_calls));
    for (;;) {
        if (stop_signal) {
            log_info("qube=%s op=stop signal=%d", d->qube, (int)stop_signal);
            break;
        }
        if (child_exited)
            reap_children(d);
        nfds_t n = 0;
        fds[n++] = (struct pollfd){ .fd = d->control_fd, .events = POLLIN };
        fds[n++] = (struct pollfd){ .fd = d->listen_fd, .events = POLLIN };
        size_t nc = d->nclients;
        for (size_t i = 0; i < nc; i++) {
            polled[i] = d->clients[i];
            fds[n++] = (struct pollfd){ .fd = d->clients[i]->fd, .events = POLLIN };
        }
        size_t np = d->npending;
        for (size_t i = 0; i < np; i++) {
            polled_calls[i] = d->pending[i];
            fds[n++] = (struct pollfd){ .fd = d->pending[i]->report_fd, .events = POLLIN };
        }
        /* a run of repeated log lines is summed up when its window ends */
        long log_due = log_tick();
        struct timespec wake = { .tv_sec = log_due / 1000, .tv_nsec = log_due % 1000 * 1000000 };
        if (ppoll(fds, n, log_due >= 0 ? &wake : NULL, &empty) < 0) {
            if (errno == EINTR)
                continue;
            rc = 1;
            break;
        }
        if (fds[0].revents) {
            int a = handle_agent(d);
            if (a <= 0) {
                rc = a < 0 ? 1 : 0;
                break;
            }
        }
        bool stop = false;
        for (size_t i = 0; i < nc && !stop; i++) {
            if (!fds[2 + i].revents)
                continue;
            struct client *c = polled[i];
            bool alive = false; /* the client may have been dropped by the agent's message */
            for (size_t k = 0; k < d->nclients; k++)
                alive |= d->clients[k] == c;
            if (!alive)
                continue;
            int r = handle_client(d, c);
            if (r == -2) {
                rc = 1;
                stop = true;
            } else if (r < 0) {
                drop_client(d, c);
            }
        }
        for (size_t i = 0; i < np && !stop; i++)
            if (fds[2 + nc + i].revents && finish_trigger(d, polled_calls[i]) < 0) {
                rc = 1;
                stop = true;
            }
        if (stop)
            break;
        if (fds[1].revents)
            accept_client(d);
    }
    free(fds);
    free(polled);
    free(polled_calls);
    return rc;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "qube", required_argument, NULL, 'd' },
        { "channel-fd", required_argument, NULL, 'c' },
        { "domid", required_argument, NULL, 'i' },
        { "default-user", required_argument, NULL, 'u' },
        { "timeout", required_argument, NULL, 't' },
        { "quiet", no_argument, NULL, 'q' },
        { "foreground", no_argument, NULL, 'n' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct daemon d = {
        .default_user = "user", .control_fd = -1, .listen_fd = -1, .spare_sock = -1
    };
    long long timeout = -1, fd = -1;
    bool quiet = false, foreground = false;
    int opt;
    while ((opt = getopt_long(argc, argv, "qnh", longopts, NULL)) != -1) {
        switch (opt) {
        case 'd': d.qube = optarg; break;
        case 'c':
            if (parse_ll(optarg, 0, 65535, 0, &fd) < 0) {
                fprintf(stderr, "qrexec-daemon: invalid --channel-fd '%s'\n", optarg);
                return 2;
            }
            break;
        case 'i': {
            long long id;
            if (parse_ll(optarg, 0, 65535, 0, &id) < 0) {
                fprintf(stderr, "qrexec-daemon: invalid --domid '%s'\n", optarg);
                return 2;
            }
            d.domid = (uint32_t)id;
            break;
        }
        case 'u': d.default_user = optarg; break;
        case 't':
            if (parse_ll(optarg, 1, 86400, 0, &timeout) < 0) {
                fprintf(stderr, "qrexec-daemon: invalid --timeout '%s'\n", optarg);
                return 2;
            }
            break;
        case 'q': quiet = true; break;
        case 'n': foreground = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!d.qube || fd < 0 || optind != argc) {
        usage(stderr);
        return 2;
    }
    struct qerror err = { 0 };
    if (validate_qube_name(d.qube, NULL, &err) < 0) {
        fprintf(stderr, "qrexec-daemon: %s\n", err.message);
        return 2;
    }
    if (!qrexec_user_name_ok(d.default_user)) {
        fprintf(stderr, "qrexec-daemon: invalid default user '%s'\n", d.default_user);
        return 2;
    }
    if (timeout < 0) {
        const char *env = getenv("QREXEC_STARTUP_TIMEOUT");
        if (!env || parse_ll(env, 1, 86400, 0, &timeout) < 0)
            timeout = DEFAULT_STARTUP_TIMEOUT;
    }
    d.control_fd = (int)fd;
    d.timeout = timeout;
    signal(SIGPIPE, SIG_IGN);

    int ready[2] = { -1, -1 };
    if (!foreground) {
        if (pipe2(ready, O_CLOEXEC) < 0) {
            perror("qrexec-daemon: pipe");
            return 1;
        }
        pid_t pid = fork();
        if (pid < 0) {
            perror("qrexec-daemon: fork");
            return 1;
        }
        if (pid > 0) {
            close(ready[1]);
            if (!quiet)
                fprintf(stderr, "Waiting for VM's qrexec agent.");
            for (;;) {
                struct pollfd p = { .fd = ready[0], .events = POLLIN };
                int r = poll(&p, 1, 1000);
                if (r < 0 && errno != EINTR)
                    return 1;
                if (r <= 0) {
                    if (!quiet)
                        fprintf(stderr, ".");
                    continue;
                }
                unsigned char b;
                ssize_t got = read(ready[0], &b, 1);
                if (!quiet)
                    fprintf(stderr, "\n");
                if (got == 1 && b == 0)
                    return 0;
                if (got == 1 && b == 1) {
                    fprintf(stderr,
                            "Cannot connect to '%s' qrexec agent for %lld seconds, giving up\n",
                            d.qube, timeout);
                    return 3;
                }
                fprintf(stderr, "Connection to the VM failed\n");
                return 1;
            }
        }
        close(ready[0]);
        setsid();
        int nul = open("/dev/null", O_RDONLY);
        if (nul >= 0) {
            dup2(nul, 0);
            close(nul);
        }
        /* the qube decides much of what goes in here: capped and rotated, and stdout and
         * stderr (whatever else writes there) follow the file */
        if (qroot_mkdirs("var/log/qubes", 0755) == 0) {
            _cleanup_free_ char *rel = xasprintf("var/log/qubes/qrexec.%s.log", d.qube);
            _cleanup_free_ char *path = qroot_path(rel);
            log_open_file(path, LOG_FILE_IS_STDERR);
        }
    }
    /* a qube's load must not make the OOM killer end the daemon of another qube (lowering
     * needs CAP_SYS_RESOURCE) */
    if (set_oom_score_adj(OOM_SCORE_ADJ_QREXEC_DAEMON) < 0)
        log_warning("qube=%s op=oom-score-adj value=%d result=error reason=\"%s\"", d.qube,
                    OOM_SCORE_ADJ_QREXEC_DAEMON, strerror(errno));

    struct sigaction sa = { .sa_handler = on_signal };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGCHLD, &sa, NULL);
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, SIGCHLD);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGHUP);
    sigprocmask(SIG_BLOCK, &block, NULL);

    int h = agent_handshake(&d, (int)timeout);
    if (h == -2) {
        log_error("qube=%s op=hello result=timeout seconds=%lld", d.qube, timeout);
        if (foreground)
            fprintf(stderr, "Cannot connect to '%s' qrexec agent for %lld seconds, giving up\n",
                    d.qube, timeout);
        else {
            unsigned char b = 1;
            if (write(ready[1], &b, 1) < 0) {
                /* the parent is gone; nobody to tell */
            }
        }
        return 3;
    }
    if (h < 0 || create_socket(&d) < 0) {
        if (d.socket_path)
            unlink(d.socket_path);
        return 1;
    }
    log_info("qube=%s op=start socket=%s result=ok", d.qube, d.socket_path);
    if (!foreground) {
        unsigned char b = 0;
        if (write(ready[1], &b, 1) < 0) {
            /* the parent is gone; keep serving */
        }
        close(ready[1]);
    }

    int rc = serve(&d);
    unlink(d.socket_path);
    log_info("qube=%s op=exit status=%d", d.qube, rc);
    while (d.nclients)
        drop_client(&d, d.clients[0]);
    while (d.npending)
        drop_pending(&d, d.pending[0]);
    spare_drop(&d);
    qrexec_reader_free(&d.agent_rd);
    free(d.socket_path);
    close(d.listen_fd);
    log_close();
    return rc;
}
