/* qrexec-agent: the qube's end of the control channel. HELLO, then one forked process per
 * MSG_EXEC_CMDLINE / MSG_JUST_EXEC, and MSG_CONNECTION_TERMINATED when that process ends.
 * It also takes calls from this qube's own programs (qrexec-client-vm) on the trigger socket,
 * forwards them to dom0 as MSG_TRIGGER_SERVICE3 with an ident naming the caller, and hands
 * the caller the data socket dom0 sends back with MSG_SERVICE_CONNECT (or hangs up on it
 * for MSG_SERVICE_REFUSED). */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/parse.h"
#include "common/unix_socket.h"
#include "qrexec/agent_call.h"
#include "qrexec/qrexec_proto.h"
#include "qrexec/transport.h"

struct running_call {
    pid_t pid;
    uint32_t domain;
    uint32_t port;
};

#define DEFAULT_TRIGGER_PATH "/run/qubes/qrexec-agent"
#define MAX_TRIGGER_CLIENTS QREXEC_MAX_CLIENTS

/* A qrexec-client-vm: first sending its request, then waiting for dom0's answer. */
struct trigger_client {
    int fd;
    bool forwarded;
    char ident[QREXEC_SERVICE_PARAMS_SIZE];
    struct qrexec_reader rd;
};

struct agent {
    int control_fd;
    int sig_fd;
    int trigger_fd;
    uint32_t version;
    struct running_call *calls;
    size_t ncalls, cap;
    struct trigger_client *clients[MAX_TRIGGER_CLIENTS];
    size_t nclients;
    unsigned long next_ident;
    pid_t spare_pid; /* the spare call process; 0: none */
    int spare_sock;
};

static void usage(FILE *f)
{
    fprintf(f, "usage: qrexec-agent --channel-fd FD [--trigger-socket PATH]\n"
               "Runs qrexec calls inside a qube: speaks qrexec protocol 3 with qrexec-daemon over\n"
               "the inherited control socket FD and starts one process per call.\n"
               "  --channel-fd FD          the connected control socket (required)\n"
               "  --trigger-socket PATH    where qrexec-client-vm connects\n"
               "                           (default " DEFAULT_TRIGGER_PATH ")\n"
               "  -h, --help               this text\n");
}

static int send_msg(struct agent *a, struct buf *m)
{
    int rc = qrexec_send_all(a->control_fd, m->data, m->len, -1);
    buf_free(m);
    return rc;
}

static int handshake(struct agent *a)
{
    struct buf m = BUF_INIT;
    qrexec_hello_encode(&m, QREXEC_PROTOCOL_VERSION);
    if (send_msg(a, &m) < 0) {
        log_error("op=hello result=error reason=\"%s\"", strerror(errno));
        return -1;
    }
    struct msg_header hdr;
    uint8_t *payload = NULL;
    const char *why = NULL;
    struct qrexec_fds fds = { .n = 0 };
    int rc = qrexec_recv_msg(a->control_fd, QREXEC_FROM_DAEMON, QREXEC_PROTOCOL_VERSION, &hdr,
                             &payload, &fds, &why);
    if (rc == 0)
        rc = qrexec_hello_decode(&hdr, payload, QREXEC_PROTOCOL_VERSION, QREXEC_AGENT_MIN_VERSION,
                                 &a->version, &why);
    qrexec_fds_close(&fds);
    free(payload);
    if (rc < 0) {
        log_error("op=hello result=error reason=\"%s\"", why);
        return -1;
    }
    log_info("op=hello result=ok version=%u", a->version);
    return 0;
}

static void spare_make(struct agent *a);

static void reap(struct agent *a)
{
    bool call_ended = false;
    for (;;) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid <= 0)
            break;
        if (pid == a->spare_pid) { /* gone idle: the next call forks, and makes a new one */
            close(a->spare_sock);
            a->spare_pid = 0;
            a->spare_sock = -1;
            continue;
        }
        for (size_t i = 0; i < a->ncalls; i++) {
            if (a->calls[i].pid != pid)
                continue;
            struct buf m = BUF_INIT;
            qrexec_params_encode(&m, MSG_CONNECTION_TERMINATED, a->calls[i].domain,
                                 a->calls[i].port);
            if (send_msg(a, &m) < 0)
                log_warning("op=terminated port=%u result=error", a->calls[i].port);
            a->calls[i] = a->calls[--a->ncalls];
            call_ended = true;
            break;
        }
    }
    /* a call ended: the next one finds its process already forked (not while the call it
     * answers is running) */
    if (call_ended)
        spare_make(a);
}

/* In a call's process: it must never write to the control channel, and dies with the agent.
 * Returns the agent's pid. */
static pid_t call_process_setup(struct agent *a)
{
    close(a->control_fd);
    close(a->sig_fd);
    pid_t agent = getppid();
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != agent)
        _exit(1);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    return agent;
}

/* What a spare is given: the message type and the command line (its NUL included), with the
 * data socket attached; EOF when the agent drops it. */
struct spare_request {
    uint32_t type;
    uint32_t cmdline_len;
};

__attribute__((noreturn)) static void spare_wait(pid_t agent)
{
    struct spare_request r;
    struct qrexec_fds fds = { .n = 0 };
    if (qrexec_recv_all(3, &r, sizeof(r), &fds) < 0 || fds.n != 1 || fds.overflow ||
        r.cmdline_len == 0 || r.cmdline_len > QREXEC_MAX_CMD_LEN)
        _exit(0);
    char *cmdline = xmalloc(r.cmdline_len);
    if (qrexec_recv_all(3, cmdline, r.cmdline_len, NULL) < 0 || cmdline[r.cmdline_len - 1])
        _exit(0);
    close(3);
    struct qrexec_service_host host = { .agent_pid = (long)agent };
    qrexec_agent_call(fds.fd[0], r.type, cmdline, &host);
}

/* Forks the spare for the next call dom0 starts here: a call then costs a wake-up, not a
 * fork (a disposable's one call too: the first spare is made at start). It holds nothing of
 * the agent's but its socket (fd 3) and stdio. */
static void spare_make(struct agent *a)
{
    int sv[2];
    if (a->spare_pid > 0 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return;
    pid_t pid = fork();
    if (pid == 0) {
        pid_t agent = call_process_setup(a);
        if (dup2(sv[1], 3) < 0)
            _exit(1);
        close_range(4, ~0U, 0);
        spare_wait(agent);
    }
    close(sv[1]);
    if (pid < 0) {
        close(sv[0]);
        return;
    }
    a->spare_pid = pid;
    a->spare_sock = sv[0];
}

/* The call to the spare: its pid, or -1 (no spare, or it is gone). */
static pid_t spare_take(struct agent *a, uint32_t type, const struct qrexec_exec_req *req,
                        int data_fd)
{
    if (a->spare_pid <= 0)
        return -1;
    size_t len = strlen(req->cmdline) + 1;
    struct spare_request r = { .type = type, .cmdline_len = (uint32_t)len };
    struct buf m = BUF_INIT;
    buf_append(&m, &r, sizeof(r));
    buf_append(&m, req->cmdline, len);
    int rc = qrexec_send_all(a->spare_sock, m.data, m.len, data_fd);
    buf_free(&m);
    pid_t pid = a->spare_pid;
    close(a->spare_sock); /* taken, or gone: no other call goes to it */
    a->spare_pid = 0;
    a->spare_sock = -1;
    return rc < 0 ? -1 : pid;
}

static void start_call(struct agent *a, uint32_t type, const struct qrexec_exec_req *req,
                       int data_fd)
{
    pid_t pid = spare_take(a, type, req, data_fd);
    if (pid < 0)
        pid = fork();
    if (pid < 0) {
        log_error("op=call result=error reason=\"fork: %s\"", strerror(errno));
        return;
    }
    if (pid == 0) {
        pid_t agent = call_process_setup(a);
        struct qrexec_service_host host = { .agent_pid = (long)agent };
        qrexec_agent_call(data_fd, type, req->cmdline, &host);
    }
    if (a->ncalls == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 16;
        a->calls = xrealloc(a->calls, a->cap * sizeof(*a->calls));
    }
    a->calls[a->ncalls++] = (struct running_call){ pid, req->connect_domain, req->connect_port };
}

static int open_trigger_socket(const char *path)
{
    char *dir = xstrdup(path);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = '\0';
        mkdir(dir, 0755);
    }
    free(dir);
    /* every user of the qube may ask for a call, as upstream; policy decides in dom0 */
    int fd = unix_listen(path, 0666, 64, NULL);
    if (fd < 0 && errno == ENAMETOOLONG)
        log_error("op=trigger-socket result=error reason=\"path too long\"");
    else if (fd < 0)
        log_error("op=trigger-socket path=%s result=error reason=\"%s\"", path, strerror(errno));
    return fd;
}

static void drop_trigger_client(struct agent *a, struct trigger_client *c)
{
    for (size_t i = 0; i < a->nclients; i++)
        if (a->clients[i] == c) {
            a->clients[i] = a->clients[--a->nclients];
            break;
        }
    close(c->fd);
    qrexec_reader_free(&c->rd);
    free(c);
}

static void accept_trigger_client(struct agent *a)
{
    int fd = accept4(a->trigger_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0)
        return;
    if (a->nclients >= MAX_TRIGGER_CLIENTS) {
        log_warning("op=trigger result=refused reason=\"too many pending calls\"");
        close(fd);
        return;
    }
    struct trigger_client *c = xcalloc(1, sizeof(*c));
    c->fd = fd;
    qrexec_reader_init(&c->rd, QREXEC_TRIGGER3_SIZE + QREXEC_MAX_SERVICE_NAME_LEN);
    a->clients[a->nclients++] = c;
}

/* The request of a local client, forwarded with our ident. -1 drops the client, -2 means the
 * control channel failed. */
static int forward_trigger(struct agent *a, struct trigger_client *c)
{
    const char *why = NULL;
    struct msg_header hdr = c->rd.hdr;
    struct qrexec_trigger3 t = { .service_name = NULL };
    if (qrexec_fds_any(&c->rd.fds) || hdr.type != MSG_TRIGGER_SERVICE3 ||
        qrexec_check_header(QREXEC_FROM_AGENT, &hdr, a->version, &why) < 0 ||
        qrexec_trigger3_decode(c->rd.payload, hdr.len, &t, &why) < 0) {
        free(t.service_name);
        log_warning("op=trigger result=refused reason=\"%s\"",
                    why ? why : "not a TRIGGER_SERVICE3 request");
        return -1;
    }
    free(t.service_name); /* valid; dom0 sanitizes it again */
    snprintf(c->ident, sizeof(c->ident), "SOCKET%lu", ++a->next_ident);
    struct trigger_service_params3 params;
    memcpy(&params, c->rd.payload, sizeof(params));
    memset(&params.request_id, 0, sizeof(params.request_id));
    memcpy(params.request_id.ident, c->ident, strlen(c->ident));
    struct buf m = BUF_INIT;
    uint8_t h[QREXEC_HDR_SIZE];
    qrexec_hdr_encode(h, MSG_TRIGGER_SERVICE3, hdr.len);
    buf_append(&m, h, sizeof(h));
    buf_append(&m, &params, sizeof(params));
    buf_append(&m, c->rd.payload + sizeof(params), hdr.len - sizeof(params));
    if (send_msg(a, &m) < 0)
        return -2;
    c->forwarded = true;
    return 0;
}

/* Readable trigger client: its request, or (once forwarded) its hang-up. */
static int handle_trigger_client(struct agent *a, struct trigger_client *c)
{
    if (c->forwarded) {
        char b;
        ssize_t n = recv(c->fd, &b, 1, MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return 0;
        return -1; /* it gave up, or sent more than its request */
    }
    int f = qrexec_reader_feed(&c->rd, c->fd);
    if (f == 0)
        return 0;
    if (f < 0)
        return -1;
    return forward_trigger(a, c);
}

static struct trigger_client *find_trigger_client(struct agent *a, const char *ident)
{
    for (size_t i = 0; i < a->nclients; i++)
        if (a->clients[i]->forwarded &&
            memcmp(a->clients[i]->ident, ident, QREXEC_SERVICE_PARAMS_SIZE) == 0)
            return a->clients[i];
    return NULL;
}

/* dom0's answer to one of our calls: the data socket goes to the caller with the port. */
static void answer_trigger(struct agent *a, uint32_t type, const uint8_t *payload, int data_fd)
{
    const uint8_t *ident =
        type == MSG_SERVICE_CONNECT ? payload + QREXEC_EXEC_PARAMS_SIZE : payload;
    char key[QREXEC_SERVICE_PARAMS_SIZE];
    memcpy(key, ident, sizeof(key));
    struct trigger_client *c = find_trigger_client(a, key);
    if (!c) {
        log_info("op=trigger event=answer-for-gone-caller type=%s", qrexec_msg_type_name(type));
        return;
    }
    if (type == MSG_SERVICE_CONNECT) {
        qrexec_set_nonblock(c->fd, false);
        if (qrexec_send_all(c->fd, payload, QREXEC_EXEC_PARAMS_SIZE, data_fd) < 0)
            log_warning("op=trigger event=caller-gone ident=%.32s", key);
    } else {
        log_info("op=trigger result=refused ident=%.32s", key);
    }
    drop_trigger_client(a, c);
}

/* One message from the daemon; -1: the channel closed, -2: a protocol error. */
static int handle_control(struct agent *a)
{
    struct msg_header hdr;
    uint8_t *untrusted_payload = NULL;
    const char *why = NULL;
    struct qrexec_fds fds = { .n = 0 };
    if (qrexec_recv_msg(a->control_fd, QREXEC_FROM_DAEMON, a->version, &hdr, &untrusted_payload,
                        &fds, &why) < 0) {
        qrexec_fds_close(&fds);
        if (errno == 0 && untrusted_payload == NULL && strcmp(why, "connection closed") == 0) {
            log_info("op=control event=closed");
            return -1;
        }
        log_error("op=control event=protocol-error reason=\"%s\"", why);
        return -2;
    }
    int rc = 0;
    switch (hdr.type) {
    case MSG_EXEC_CMDLINE:
    case MSG_JUST_EXEC: {
        struct qrexec_exec_req req;
        if (qrexec_exec_decode(untrusted_payload, hdr.len, &req, &why) < 0) {
            log_error("op=control event=protocol-error reason=\"%s\"", why);
            rc = -2;
            break;
        }
        if (fds.n != 1 || fds.overflow || !qrexec_port_valid(req.connect_port)) {
            log_error("op=control event=protocol-error reason=\"exec without one data socket "
                      "or with a bad port\" port=%u fds=%zu",
                      req.connect_port, fds.n);
            rc = -2;
            break;
        }
        start_call(a, hdr.type, &req, fds.fd[0]);
        break;
    }
    case MSG_SERVICE_CONNECT:
        if (fds.n != 1 || fds.overflow) {
            log_error("op=control event=protocol-error reason=\"SERVICE_CONNECT without one "
                      "data socket\"");
            rc = -2;
            break;
        }
        answer_trigger(a, hdr.type, untrusted_payload, fds.fd[0]);
        break;
    case MSG_SERVICE_REFUSED: answer_trigger(a, hdr.type, untrusted_payload, -1); break;
    default:
        log_error("op=control event=protocol-error reason=\"unexpected %s\"",
                  qrexec_msg_type_name(hdr.type));
        rc = -2;
        break;
    }
    qrexec_fds_close(&fds);
    free(untrusted_payload);
    return rc;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "channel-fd", required_argument, NULL, 'c' },
        { "trigger-socket", required_argument, NULL, 't' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int control_fd = -1;
    const char *trigger_path = DEFAULT_TRIGGER_PATH;
    int opt;
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c': {
            long long v;
            if (parse_ll(optarg, 0, 65535, 0, &v) < 0) {
                fprintf(stderr, "qrexec-agent: invalid --channel-fd '%s'\n", optarg);
                return 2;
            }
            control_fd = (int)v;
            break;
        }
        case 't': trigger_path = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (control_fd < 0 || optind != argc) {
        usage(stderr);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigprocmask(SIG_BLOCK, &set, NULL);
    struct agent a = { .control_fd = control_fd, .trigger_fd = -1, .spare_sock = -1 };
    a.sig_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    if (a.sig_fd < 0) {
        log_error("op=start result=error reason=\"signalfd: %s\"", strerror(errno));
        return 1;
    }
    qrexec_set_nonblock(control_fd, false);
    if (handshake(&a) < 0)
        return 1;
    /* without the trigger socket, calls from dom0 still work */
    a.trigger_fd = open_trigger_socket(trigger_path);
    spare_make(&a);

    int rc = 0;
    struct pollfd fds[3 + MAX_TRIGGER_CLIENTS];
    struct trigger_client *polled[MAX_TRIGGER_CLIENTS];
    for (;;) {
        fds[0] = (struct pollfd){ .fd = a.control_fd, .events = POLLIN };
        fds[1] = (struct pollfd){ .fd = a.sig_fd, .events = POLLIN };
        fds[2] = (struct pollfd){ .fd = a.trigger_fd, .events = POLLIN };
        size_t nc = a.nclients;
        for (size_t i = 0; i < nc; i++) {
            polled[i] = a.clients[i];
            fds[3 + i] = (struct pollfd){ .fd = a.clients[i]->fd, .events = POLLIN };
        }
        if (poll(fds, 3 + nc, -1) < 0) {
            if (errno == EINTR)
                continue;
            rc = 1;
            break;
        }
        if (fds[1].revents) {
            struct signalfd_siginfo si;
            while (read(a.sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
                ;
            reap(&a);
        }
        if (fds[0].revents) {
            int r = handle_control(&a);
            if (r < 0) {
                rc = r == -1 ? 0 : 1;
                break;
            }
        }
        bool control_failed = false;
        for (size_t i = 0; i < nc && !control_failed; i++) {
            if (!fds[3 + i].revents)
                continue;
            bool alive = false; /* an answer from dom0 may have dropped it already */
            for (size_t k = 0; k < a.nclients; k++)
                alive |= a.clients[k] == polled[i];
            if (!alive)
                continue;
            int r = handle_trigger_client(&a, polled[i]);
            if (r < 0)
                drop_trigger_client(&a, polled[i]);
            control_failed = r == -2;
        }
        if (control_failed) {
            rc = 1;
            break;
        }
        if (fds[2].revents)
            accept_trigger_client(&a);
    }
    while (a.nclients)
        drop_trigger_client(&a, a.clients[0]);
    if (a.trigger_fd >= 0)
        close(a.trigger_fd);
    free(a.calls);
    return rc;
}
