/* qrexec-agent: the qube's end of the control channel. HELLO, then one forked process per
 * MSG_EXEC_CMDLINE / MSG_JUST_EXEC, and MSG_CONNECTION_TERMINATED when that process ends. */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/log.h"
#include "qrexec/agent_call.h"
#include "qrexec/qrexec_proto.h"
#include "qrexec/transport.h"

struct running_call {
    pid_t pid;
    uint32_t domain;
    uint32_t port;
};

struct agent {
    int control_fd;
    int sig_fd;
    uint32_t version;
    struct running_call *calls;
    size_t ncalls, cap;
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: qrexec-agent --channel-fd FD\n"
            "Runs qrexec calls inside a qube: speaks qrexec protocol 3 with qrexec-daemon over\n"
            "the inherited control socket FD and starts one process per call.\n"
            "  --channel-fd FD   the connected control socket (required)\n"
            "  -h, --help        this text\n");
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
        rc = qrexec_hello_decode(&hdr, payload, QREXEC_PROTOCOL_VERSION,
                                 QREXEC_AGENT_MIN_VERSION, &a->version, &why);
    qrexec_fds_close(&fds);
    free(payload);
    if (rc < 0) {
        log_error("op=hello result=error reason=\"%s\"", why);
        return -1;
    }
    log_info("op=hello result=ok version=%u", a->version);
    return 0;
}

static void reap(struct agent *a)
{
    for (;;) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid <= 0)
            return;
        for (size_t i = 0; i < a->ncalls; i++) {
            if (a->calls[i].pid != pid)
                continue;
            struct buf m = BUF_INIT;
            qrexec_params_encode(&m, MSG_CONNECTION_TERMINATED, a->calls[i].domain,
                                 a->calls[i].port);
            if (send_msg(a, &m) < 0)
                log_warning("op=terminated port=%u result=error", a->calls[i].port);
            a->calls[i] = a->calls[--a->ncalls];
            break;
        }
    }
}

static void start_call(struct agent *a, uint32_t type, const struct qrexec_exec_req *req,
                       int data_fd)
{
    pid_t pid = fork();
    if (pid < 0) {
        log_error("op=call result=error reason=\"fork: %s\"", strerror(errno));
        return;
    }
    if (pid == 0) {
        /* the call must never write to the control channel, and dies with the agent */
        close(a->control_fd);
        close(a->sig_fd);
        pid_t agent = getppid();
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != agent)
            _exit(1);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        qrexec_agent_call(data_fd, type, req->cmdline, (long)agent);
    }
    if (a->ncalls == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 16;
        a->calls = xrealloc(a->calls, a->cap * sizeof(*a->calls));
    }
    a->calls[a->ncalls++] = (struct running_call){ pid, req->connect_domain, req->connect_port };
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
                      "or with a bad port\" port=%u fds=%zu", req.connect_port, fds.n);
            rc = -2;
            break;
        }
        start_call(a, hdr.type, &req, fds.fd[0]);
        break;
    }
    case MSG_SERVICE_CONNECT:
    case MSG_SERVICE_REFUSED:
        /* answers to calls from this qube, which qrexec-client-vm does not make yet */
        log_warning("op=control event=ignored type=%s", qrexec_msg_type_name(hdr.type));
        break;
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
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int control_fd = -1;
    int opt;
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c': {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*optarg == '\0' || *end || v < 0 || v > 65535) {
                fprintf(stderr, "qrexec-agent: invalid --channel-fd '%s'\n", optarg);
                return 2;
            }
            control_fd = (int)v;
            break;
        }
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
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
    struct agent a = { .control_fd = control_fd };
    a.sig_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    if (a.sig_fd < 0) {
        log_error("op=start result=error reason=\"signalfd: %s\"", strerror(errno));
        return 1;
    }
    qrexec_set_nonblock(control_fd, false);
    if (handshake(&a) < 0)
        return 1;

    int rc = 0;
    for (;;) {
        struct pollfd fds[2] = {
            { .fd = a.control_fd, .events = POLLIN },
            { .fd = a.sig_fd, .events = POLLIN },
        };
        if (poll(fds, 2, -1) < 0) {
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
    }
    free(a.calls);
    return rc;
}
