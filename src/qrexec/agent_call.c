/* The per-call process of qrexec-agent (upstream agent/qrexec-agent-data.c): HELLO on the data
 * socket, then run "user:command" through /bin/sh -c or a QUBESRPC service, and pump. The
 * process starts before the caller's HELLO is read, so the two overlap. */
#include "qrexec/agent_call.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "common/log.h"
#include "common/log_file.h"
#include "common/unix_socket.h"
#include "qrexec/exec.h"
#include "qrexec/pump.h"
#include "qrexec/qrexec_cmdline.h"
#include "qrexec/qrexec_proto.h"
#include "qrexec/rpc_config.h"
#include "qrexec/service.h"
#include "qrexec/transport.h"

/* What upstream sends when no process could be started: both streams closed, then the code. */
static void send_failure(int fd, int code)
{
    struct buf m = BUF_INIT;
    qrexec_msg_encode(&m, MSG_DATA_STDOUT, NULL, 0);
    qrexec_msg_encode(&m, MSG_DATA_STDERR, NULL, 0);
    qrexec_exit_code_encode(&m, code);
    qrexec_send_all(fd, m.data, m.len, -1);
    buf_free(&m);
}

static void send_exit_code(int fd, int code)
{
    struct buf m = BUF_INIT;
    qrexec_exit_code_encode(&m, code);
    qrexec_send_all(fd, m.data, m.len, -1);
    buf_free(&m);
}

/* A socket service (upstream qrexec-socket-services): connect, send the service descriptor
 * "svc+arg source[ name|keyword target]\0", then the socket is both stdin and stdout. The exit
 * code is always 0. */
static int run_socket_service(int data_fd, uint32_t version, const char *path,
                              const struct qrexec_cmd *cmd, const struct qrexec_rpc_config *conf)
{
    int sock = unix_connect(path, 0, NULL);
    if (sock < 0) {
        int e = errno;
        _cleanup_free_ char *svc = log_cut(cmd->service_full, QREXEC_LOG_SERVICE_MAX);
        log_error("op=call service=%s event=socket-connect-failed reason=\"%s\"", svc, strerror(e));
        send_failure(data_fd, QREXEC_EXIT_PROBLEM);
        return 1;
    }
    int rc = 0;
    if (!conf->skip_service_descriptor) {
        struct buf d = BUF_INIT;
        buf_printf(&d, "%s %s", cmd->service_full, cmd->source);
        if (cmd->target_type)
            buf_printf(&d, " %s %s", cmd->target_type, cmd->target);
        rc = qrexec_send_all(sock, d.data, d.len + 1, -1);
        buf_free(&d);
    }
    int in_fd = rc == 0 ? fcntl(sock, F_DUPFD_CLOEXEC, 3) : -1;
    if (in_fd < 0) {
        close(sock);
        send_failure(data_fd, QREXEC_EXIT_PROBLEM);
        return 1;
    }
    const char *why = NULL;
    struct qrexec_pump_cfg cfg = {
        .remote_fd = data_fd,
        .version = version,
        .is_service = true,
        .in_fd = in_fd,
        .out_fd = sock,
        .err_fd = -1,
        .child = -1,
        .preset_code = 0,
        .exit_on_stdin_eof = conf->exit_on_client_eof,
        .wait_stdin_eof = !conf->exit_on_service_eof,
    };
    if (qrexec_pump_run(&cfg, &why) < 0) {
        log_error("op=call event=data-error reason=\"%s\"", why ? why : "?");
        return 1;
    }
    return 0;
}

/* qubes.WaitForSession before a service whose config asks for it (upstream
 * exec_wait_for_session): run it as the call's user and wait for it. */
static void wait_for_session(const struct qrexec_service_host *host, const char *user,
                             const char *source)
{
    struct qrexec_cmd ws = { .service_name = "qubes.WaitForSession",
                             .service_full = "qubes.WaitForSession+",
                             .service_arg = "",
                             .source = (char *)source };
    char *path = qrexec_find_service(&ws, host->service_path);
    if (!path)
        return;
    char **env = qrexec_service_env(&ws, host->agent_pid);
    char *argv[] = { path, NULL };
    struct qrexec_spawn_opts opts = {
        .user = user, .path = path, .argv = argv, .envp = env, .null_stdio = true
    };
    struct qrexec_child child;
    struct qerror err = { 0 };
    if (qrexec_spawn(&opts, &child, &err) == 0) {
        int status;
        while (waitpid(child.pid, &status, 0) < 0 && errno == EINTR)
            ;
    }
    qrexec_env_free(env);
    free(path);
}

/* The service side of the data connection's handshake. Our HELLO goes first and the caller's
 * is read only when something else must go to it: the process behind the call starts while
 * the caller's HELLO is on its way (the bytes are the handshake's in either order). */
struct call_side {
    int fd;
    bool just_exec;
    bool hello_sent, hello_read, hello_ok;
    uint32_t version;
};

/* The caller's HELLO, read once. false: the handshake failed (logged). */
static bool caller_hello(struct call_side *s)
{
    if (s->hello_read)
        return s->hello_ok;
    s->hello_read = true;
    const char *why = "cannot send HELLO";
    s->hello_ok = s->hello_sent &&
                  qrexec_data_hello_recv(s->fd, QREXEC_DATA_TO_SERVICE, &s->version, &why) == 0;
    if (!s->hello_ok && s->just_exec)
        /* qrexec-client -e may hang up before the handshake: the command still runs, only
         * its start status has nobody to go to */
        log_info("op=call type=JUST_EXEC event=caller-gone");
    else if (!s->hello_ok)
        log_error("op=call event=handshake-failed reason=\"%s\"", why);
    return s->hello_ok;
}

/* Before an answer other than our HELLO: the whole handshake. Without it a call other than
 * JUST_EXEC ends here, having sent nothing more. */
static void need_caller(struct call_side *s)
{
    if (!caller_hello(s) && !s->just_exec)
        _exit(1);
}

/* A failure answered after the handshake, as it always was. */
static void fail_call(struct call_side *s, int code)
{
    need_caller(s);
    s->just_exec ? send_exit_code(s->fd, code) : send_failure(s->fd, code);
}

void qrexec_agent_call(int data_fd, uint32_t type, const char *cmdline,
                       const struct qrexec_service_host *host)
{
    bool just_exec = type == MSG_JUST_EXEC;
    const char *why = NULL;
    struct call_side side = { .fd = data_fd,
                              .just_exec = just_exec,
                              .version = QREXEC_PROTOCOL_VERSION };
    side.hello_sent = qrexec_data_hello_send(data_fd, &why) == 0;
    if (!side.hello_sent)
        need_caller(&side);

    struct qrexec_cmd cmd;
    struct qerror err = { 0 };
    if (qrexec_cmd_parse(cmdline, &cmd, &err) < 0) {
        log_error("op=call event=bad-cmdline reason=\"%s\"", err.message);
        fail_call(&side, QREXEC_EXIT_PROBLEM);
        _exit(1);
    }

    char *path = NULL;
    char **env = NULL;
    char *argv[4] = { NULL };
    struct qrexec_rpc_config conf = { 0 };
    if (cmd.is_rpc) {
        /* in dom0 this runs for calls qubes ask for and logs to the caller's qrexec log */
        _cleanup_free_ char *svc = log_cut(cmd.service_full, QREXEC_LOG_SERVICE_MAX);
        path = qrexec_find_service(&cmd, host->service_path);
        if (!path) {
            log_error("op=call service=%s source=%s event=service-not-found", svc, cmd.source);
            fail_call(&side, QREXEC_EXIT_SERVICE_NOT_FOUND);
            _exit(0);
        }
        if (qrexec_rpc_config_load(cmd.service_full, cmd.service_name,
                                   host->config_path ? host->config_path
                                                     : QREXEC_GUEST_RPC_CONFIG_PATH,
                                   &conf, &err) < 0) {
            log_error("op=call service=%s event=bad-config reason=\"%s\"", svc, err.message);
            fail_call(&side, QREXEC_EXIT_PROBLEM);
            _exit(1);
        }
        if (conf.force_user && !host->keep_user) {
            free(cmd.user);
            cmd.user = xstrdup(conf.force_user);
        }
        log_info("op=call type=%s user=%s service=%s source=%s", qrexec_msg_type_name(type),
                 cmd.user, svc, cmd.source);
        struct stat st;
        if (!just_exec && stat(path, &st) == 0 && S_ISSOCK(st.st_mode)) {
            need_caller(&side); /* a socket service is connected only to a whole call */
            _exit(run_socket_service(data_fd, side.version, path, &cmd, &conf));
        }
        if (conf.wait_for_session && !cmd.nogui)
            wait_for_session(host, host->keep_user ? NULL : cmd.user, cmd.source);
        env = qrexec_service_env(&cmd, host->agent_pid);
        argv[0] = path;
        argv[1] = cmd.service_arg[0] ? cmd.service_arg : NULL;
    } else {
        path = xstrdup("/bin/sh");
        argv[0] = "sh";
        argv[1] = "-c";
        argv[2] = cmd.command;
        log_info("op=call type=%s user=%s command=shell", qrexec_msg_type_name(type), cmd.user);
    }

    struct qrexec_spawn_opts opts = {
        .user = host->keep_user ? NULL : cmd.user,
        .path = path,
        .argv = argv,
        .envp = env,
        .null_stdio = just_exec,
    };
    struct qrexec_child child;
    int code = qrexec_spawn(&opts, &child, &err);
    if (code < 0) {
        log_error("op=call event=spawn-failed reason=\"%s\"", err.message);
        code = QREXEC_EXIT_PROBLEM;
    }
    if (just_exec) {
        caller_hello(&side);
        send_exit_code(data_fd, code);
        _exit(0);
    }
    if (!caller_hello(&side)) {
        /* it started for a caller that is not one: it goes at once, having had no input
         * and its output going nowhere */
        if (code == 0) {
            kill(-child.pid, SIGKILL); /* its session (setsid) */
            while (waitpid(child.pid, NULL, 0) < 0 && errno == EINTR)
                ;
        }
        _exit(1);
    }
    int status = 0;
    if (code == QREXEC_EXIT_PROBLEM && child.stdout_fd < 0) {
        send_failure(data_fd, code);
    } else {
        struct qrexec_pump_cfg cfg = {
            .remote_fd = data_fd,
            .version = side.version,
            .is_service = true,
            .in_fd = child.stdin_fd,
            .out_fd = child.stdout_fd,
            .err_fd = child.stderr_fd,
            .child = code ? -1 : child.pid,
            .preset_code = code,
        };
        if (qrexec_pump_run(&cfg, &why) < 0) {
            log_error("op=call event=data-error reason=\"%s\"", why ? why : "?");
            status = 1;
        }
    }
    qrexec_rpc_config_free(&conf);
    qrexec_cmd_free(&cmd);
    qrexec_env_free(env);
    free(path);
    _exit(status);
}
